//! Any bytes as a vendor payload (GuardDuty, CrowdStrike, Defender, SentinelOne, Wiz), as
//! pushed to an integration or fetched by a poller; the first byte picks the source. Parse
//! errors are fine, panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_model::AlertSource;

const SOURCES: [AlertSource; 5] = [
    AlertSource::GuardDuty,
    AlertSource::CrowdStrike,
    AlertSource::Defender,
    AlertSource::SentinelOne,
    AlertSource::Wiz,
];

fuzz_target!(|data: &[u8]| {
    let Some((pick, body)) = data.split_first() else {
        return;
    };
    let source = SOURCES[usize::from(*pick) % SOURCES.len()];
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(parser) = riposte_sources::parser(source)
    {
        let _ = parser.parse(&value, chrono::Utc::now());
    }
});
