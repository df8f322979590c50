//! Any bytes through every IOC importer (CSV, STIX 2.1, MISP, LOKI lists), then the
//! indicators indexed and matched against a fixed event built from the same bytes: none
//! of it may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_detect::StreamDetector;
use riposte_detect::ioc::{IocDetector, IocDetectorConfig, IocSet, importers};
use riposte_model::{Action, Event, EventOrigin};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let mut indicators = Vec::new();
    for importer in importers() {
        if let Ok(import) = importer.import(data, "fuzz") {
            indicators.extend(import.indicators);
        }
    }
    let text = String::from_utf8_lossy(data);
    let event = Event::new(
        None,
        "h",
        Action::ProcessRun,
        "fuzz",
        EventOrigin::default(),
    )
    .with("cmd", text.as_ref())
    .with("url", text.as_ref())
    .with("remote_host", text.as_ref())
    .with("file_path", text.as_ref())
    .with("process_hash", text.as_ref());
    let detector = IocDetector::new(
        Arc::new(IocSet::new(indicators)),
        IocDetectorConfig::default(),
    );
    let _ = detector.detect(&[event]);
});
