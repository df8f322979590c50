//! Any text as a Sigma rule file (one or many YAML documents, correlations included), as a
//! `--sigma-rules` folder or a hunt supplies them: loading must report what it cannot use,
//! never panic, and the rules it loads must run over a few Windows and Linux events
//! without panicking or hanging.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_detect::StreamDetector;
use riposte_detect::{Sigma, SigmaRules};
use riposte_model::{Action, Event, EventOrigin};

fn event(parser: &str, action: Action, pairs: &[(&str, &str)]) -> Event {
    let origin = EventOrigin { parser: parser.into(), path: "/fuzz".into(), record: Some(1) };
    pairs.iter().fold(Event::new(None, "ws1", action, "fuzz", origin), |e, (k, v)| e.with(*k, *v))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = SigmaRules::from_yaml("fuzz.yml", text);
    std::hint::black_box(rules.report().counts());
    let events = [
        event("evtx", Action::ProcessRun, &[
            ("channel", "Microsoft-Windows-Sysmon/Operational"), ("event_id", "1"),
            ("Image", "C:\\Windows\\System32\\whoami.exe"), ("CommandLine", "whoami /all"),
            ("ParentImage", "C:\\Windows\\System32\\cmd.exe"), ("User", "CORP\\alice"),
        ]),
        event("evtx", Action::UserLogon, &[
            ("channel", "Security"), ("event_id", "4624"), ("LogonType", "10"),
            ("IpAddress", "203.0.113.7"), ("TargetUserName", "admin"),
        ]),
        event("auth_log", Action::UserLogon, &[("username", "root"), ("remote_ip", "198.51.100.2")]),
    ];
    std::hint::black_box(Sigma::new(rules).detect(&events));
});
