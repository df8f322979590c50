//! Any bytes as an `X-Riposte-Signature` header and body of an inbound webhook: refusals
//! are fine, panics are not, and nothing but the real MAC may verify.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    let now = 1_700_000_000;
    if let Ok(ok) = riposte_notify::verify("fuzz-secret", header, body.as_bytes(), now, 300) {
        // Only a header carrying the true MAC for its timestamp can pass.
        let expected = riposte_notify::sign("fuzz-secret", ok.timestamp, body.as_bytes());
        assert!(expected.ends_with(&ok.mac));
    }
});
