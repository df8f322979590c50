//! Any bytes as a triage package (tar, tar.gz or zip, by content): reading must refuse or
//! report what it cannot use, never panic, and never hand out more bytes than an entry
//! declares.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_acquire::{PackageLimits, read_package};

fn everything(_: &str) -> bool {
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut file, data).is_err() {
        return;
    }
    let limits = PackageLimits {
        max_file_size: 1 << 20,
        max_total_bytes: 4 << 20,
        max_entries: 1000,
        max_ratio: 200,
    };
    let _ = read_package(file.path(), &limits, &everything, &mut |entry, reader| {
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink)?;
        assert!(sink.len() as u64 <= entry.size, "more bytes than declared");
        Ok(())
    });
});
