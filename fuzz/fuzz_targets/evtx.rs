//! Any bytes as a Windows event log (`ElfFile\0` forced in at 0 once the input is long
//! enough, so the fuzzer spends its time past the magic check): records may fail, the
//! parser must never panic, hang or stop early on its own. Panics inside the `evtx` crate
//! count as crashes too (the parser catches them in production, but they are bugs).
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_artifacts::{ArtifactContext, parser_for};

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 8 {
        bytes[..8].copy_from_slice(b"ElfFile\0");
    }
    let ctx = ArtifactContext {
        host: "fuzz".into(),
        original_path: "C:\\Windows\\System32\\winevt\\Logs\\Security.evtx".into(),
        modified: None,
    };
    let Some(parser) = parser_for(&ctx.original_path) else {
        return;
    };
    for record in parser.parse(&ctx, Box::new(std::io::Cursor::new(bytes))) {
        std::hint::black_box(record.ok());
    }
});
