//! Any bytes as a SECDO enrichment request body: parse errors are fine, panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_model::AlertSource;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
        && let Some(parser) = riposte_sources::parser(AlertSource::Secdo)
    {
        let _ = parser.parse(&value, chrono::Utc::now());
    }
});
