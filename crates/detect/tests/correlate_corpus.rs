//! Correlation of real alerts of the shared corpus (normalized by riposte-sources, as the
//! server does) with events that share their observables inside and outside their time
//! window.
//!
//! - GuardDuty `UnauthorizedAccess:EC2/SSHBruteForce` (panther-labs/panther test data):
//!   151.80.19.228 from port 32938 against port 22, first and last seen at
//!   2018-08-26T14:17:23Z, so the default window is 13:47:23–14:47:23. The events are
//!   auth.log lines written for the test, parsed by riposte-artifacts.
//! - CrowdStrike Alerts API `ldt`/`epp` PUP quarantine (elastic/integrations test data):
//!   a file under `\Device\HarddiskVolume3\Users\yuvraj.mahajan\…\openvpn-cds-…exe`, its
//!   SHA-256 and MD5, its command line and the user mohit.jha, at 2023-11-03T18:00:22.328Z
//!   (window 17:30:22–18:30:22). The events are built with the attribute names the EVTX
//!   parser gives Sysmon 1/11 and Security 4624 records.

use chrono::{DateTime, TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::{CorrelationConfig, correlate};
use riposte_model::{Action, Alert, AlertSource, Event, EventOrigin, Observable};
use std::path::PathBuf;

fn alert(source: AlertSource, relative: &str) -> Alert {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join("alerts").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} unreadable ({e}): set RIPOSTE_CORPUS to the shared corpus directory",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("the sample is JSON");
    let parser = riposte_sources::parser(source).expect("a parser for the source");
    let mut alerts = parser.parse(&json, Utc::now()).expect("the sample parses");
    assert_eq!(alerts.len(), 1);
    alerts.remove(0)
}

const AUTH_LOG: &str = "\
Aug 26 13:40:00 ip-172-31-81-237 sshd[2001]: Failed password for root from 151.80.19.228 port 32901 ssh2
Aug 26 14:10:05 ip-172-31-81-237 sshd[2002]: Failed password for root from 151.80.19.228 port 32938 ssh2
Aug 26 14:17:23 ip-172-31-81-237 sshd[2003]: Invalid user admin from 151.80.19.228 port 32940
Aug 26 14:20:00 ip-172-31-81-237 sshd[2004]: Failed password for root from 151.80.19.22 port 32938 ssh2
Aug 26 14:30:00 ip-172-31-81-237 sshd[2005]: Failed password for invalid user test from 203.0.113.9 port 40000 ssh2
Aug 26 14:47:22 ip-172-31-81-237 sshd[2006]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=151.80.19.228  user=root
Aug 26 14:47:24 ip-172-31-81-237 sshd[2007]: Failed password for root from 151.80.19.228 port 33000 ssh2
Aug 26 15:30:00 ip-172-31-81-237 sshd[2008]: Accepted password for ec2-user from 151.80.19.228 port 33100 ssh2
";

fn auth_events() -> Vec<Event> {
    let parser = parser_for("/var/log/auth.log").expect("auth.log parser");
    let ctx = ArtifactContext {
        host: "ip-172-31-81-237".into(),
        original_path: "/var/log/auth.log".into(),
        modified: Utc.with_ymd_and_hms(2018, 9, 1, 0, 0, 0).single(),
    };
    parser
        .parse(&ctx, open_artifact(AUTH_LOG.as_bytes()).expect("in memory"))
        .map(|r| r.expect("every line parses"))
        .collect()
}

/// The sshd pid of each linked event, and what it matched.
fn linked(events: &[Event], c: &riposte_model::Correlation) -> Vec<(String, Vec<Observable>)> {
    c.events
        .iter()
        .map(|ce| {
            let e = &events[ce.event as usize];
            let pid = e.attr("pid").unwrap_or("?").to_string();
            (pid, ce.matched.iter().map(|m| m.observable).collect())
        })
        .collect()
}

#[test]
fn guardduty_ssh_brute_force_links_exactly_the_attempts_inside_its_window() {
    let alert = alert(
        AlertSource::GuardDuty,
        "guardduty/panther-ec2-sshbruteforce.json",
    );
    let events = auth_events();
    assert_eq!(events.len(), 8);
    let c = correlate(&alert, &events, &CorrelationConfig::default());
    assert_eq!(
        c.from.map(|t| t.to_rfc3339()).as_deref(),
        Some("2018-08-26T13:47:23+00:00")
    );
    assert_eq!(
        c.to.map(|t| t.to_rfc3339()).as_deref(),
        Some("2018-08-26T14:47:23+00:00")
    );
    // 2001 is before the window, 2007 (one second after it) and 2008 after; 2004 is
    // 151.80.19.22 (a prefix of the address, same port), 2005 another address.
    assert_eq!(
        linked(&events, &c),
        [
            (
                "2002".into(),
                vec![Observable::SourceIp, Observable::SourcePort]
            ),
            ("2003".into(), vec![Observable::SourceIp]),
            ("2006".into(), vec![Observable::SourceIp]),
        ]
    );
    assert_eq!(c.total, 3);
    let first = &c.events[0].matched;
    assert_eq!(
        (first[0].attribute.as_str(), first[0].value.as_str()),
        ("remote_ip", "151.80.19.228")
    );
    assert_eq!(first[1].attribute, "remote_port");

    // A narrower window keeps only the attempt at the alert's own second.
    let narrow = CorrelationConfig {
        window_minutes: 5,
        ..CorrelationConfig::default()
    };
    let c = correlate(&alert, &events, &narrow);
    assert_eq!(
        linked(&events, &c),
        [("2003".into(), vec![Observable::SourceIp])]
    );
}

const PUP_PATH: &str = r"C:\Users\yuvraj.mahajan\AppData\Local\Temp\Temp3cc4c329-2896-461f-9dea-88009eb2e8fb_pfSenseFirewallOpenVPNClients-20230823T120504Z-001.zip\pfSenseFirewallOpenVPNClients\Windows\openvpn-cds-pfSense-UDP4-1194-pfsense-install-2.6.5-I001-amd64.exe";
const PUP_SHA256_UPPER: &str = "B26A6791B72753D2317EFD5E1363D93FDD33E611C8B9E08A3B24EA4D755B81FD";

fn sysmon(time: DateTime<Utc>, id: &str, action: Action, attrs: &[(&str, &str)]) -> Event {
    let origin = EventOrigin {
        parser: "evtx".into(),
        path: r"C:\Windows\System32\winevt\Logs\Microsoft-Windows-Sysmon%4Operational.evtx".into(),
        record: None,
    };
    let mut e = Event::new(
        Some(time),
        "ABC709-1175",
        action,
        format!("Sysmon {id}"),
        origin,
    )
    .with("event_id", id)
    .with("provider", "Microsoft-Windows-Sysmon");
    for (k, v) in attrs {
        e = e.with(k, *v);
    }
    e
}

#[test]
fn crowdstrike_file_alert_links_its_file_hash_command_and_user() {
    let alert = alert(
        AlertSource::CrowdStrike,
        "crowdstrike/elastic-alertsapi-ldt-epp-quarantine-pup.json",
    );
    let cmdline = alert
        .observables
        .command_line
        .clone()
        .expect("a command line");
    let t = |h, m, s| Utc.with_ymd_and_hms(2023, 11, 3, h, m, s).unwrap();
    let hashes = format!(
        "SHA1=0000000000000000000000000000000000000000,MD5=CDF9CFEBB400CE89D5B6032BFCDC693B,SHA256={PUP_SHA256_UPPER}"
    );
    let other_dir = r"C:\Users\mohit.jha\Downloads\openvpn-cds-pfSense-UDP4-1194-pfsense-install-2.6.5-I001-amd64.exe";
    let events = vec![
        // 0: the process itself, in the window: path (drive vs \Device\ volume), hash in
        // upper case inside Sysmon's Hashes, command line, user with its domain.
        sysmon(
            t(18, 0, 20),
            "1",
            Action::ProcessRun,
            &[
                ("Image", PUP_PATH),
                ("file_path", PUP_PATH),
                ("cmd", &cmdline),
                ("process_hash", &hashes),
                ("User", r"ABC\mohit.jha"),
            ],
        ),
        // 1: the file written, path in another case.
        sysmon(
            t(17, 59, 0),
            "11",
            Action::FileCreate,
            &[
                ("TargetFilename", &PUP_PATH.to_uppercase()),
                ("User", r"NT AUTHORITY\SYSTEM"),
            ],
        ),
        // 2: a copy under the same name elsewhere: the weak file-name match.
        sysmon(
            t(18, 5, 0),
            "11",
            Action::FileCreate,
            &[
                ("TargetFilename", other_dir),
                ("User", r"NT AUTHORITY\SYSTEM"),
            ],
        ),
        // 3: the same hash two hours before: outside the window.
        sysmon(
            t(16, 0, 0),
            "1",
            Action::ProcessRun,
            &[("Image", PUP_PATH), ("process_hash", &hashes)],
        ),
        // 4: the user's logon, name in another case.
        sysmon(
            t(18, 10, 0),
            "4624",
            Action::UserLogon,
            &[("TargetUserName", "Mohit.Jha")],
        ),
        // 5: an unrelated process of another user.
        sysmon(
            t(18, 2, 0),
            "1",
            Action::ProcessRun,
            &[
                ("Image", r"C:\Windows\System32\notepad.exe"),
                ("User", r"ABC\someone"),
            ],
        ),
        // 6: the path again, an hour after: outside.
        sysmon(
            t(19, 0, 0),
            "11",
            Action::FileCreate,
            &[("TargetFilename", PUP_PATH)],
        ),
    ];
    let c = correlate(&alert, &events, &CorrelationConfig::default());
    let got: Vec<(u64, Vec<Observable>)> = c
        .events
        .iter()
        .map(|ce| (ce.event, ce.matched.iter().map(|m| m.observable).collect()))
        .collect();
    use Observable::*;
    assert_eq!(
        got,
        [
            (1, vec![FilePath]),
            (0, vec![FileHash, FilePath, CommandLine, Username]),
            (2, vec![FileName]),
            (4, vec![Username]),
        ]
    );
    assert!(!FilePath.is_weak() && FileName.is_weak());
    let hash = &c.events[1].matched[0];
    assert_eq!(
        (hash.attribute.as_str(), hash.value.as_str()),
        ("process_hash", hashes.as_str())
    );

    // Bounded: the strongest kept, the total still counted, still in time order.
    let two = CorrelationConfig {
        max_events: 2,
        ..CorrelationConfig::default()
    };
    let c = correlate(&alert, &events, &two);
    assert_eq!(c.total, 4);
    let kept: Vec<u64> = c.events.iter().map(|ce| ce.event).collect();
    assert_eq!(kept, [1, 0]);
}

#[test]
fn scope_of_the_correlated_attempts() {
    let alert = alert(
        AlertSource::GuardDuty,
        "guardduty/panther-ec2-sshbruteforce.json",
    );
    let events = auth_events();
    let c = correlate(&alert, &events, &CorrelationConfig::default());
    let s = riposte_detect::scope(&[], &events, &[], &c);
    // The three linked lines: 2002 (root), 2003 (admin, an unknown user), 2006 (root).
    assert_eq!(s.events, 3);
    let entries = |v: &[riposte_model::ScopeEntry]| -> Vec<(String, u64, u64)> {
        v.iter()
            .map(|e| (e.value.clone(), e.events, e.alarm_events))
            .collect()
    };
    assert_eq!(entries(&s.hosts), [("ip-172-31-81-237".into(), 3, 0)]);
    assert_eq!(
        entries(&s.users),
        [("root".into(), 2, 0), ("admin".into(), 1, 0)]
    );
    let ips: Vec<(&str, riposte_model::IpLocality, u64)> = s
        .ips
        .iter()
        .map(|i| (i.ip.as_str(), i.locality, i.events))
        .collect();
    assert_eq!(
        ips,
        [("151.80.19.228", riposte_model::IpLocality::External, 3)]
    );
    assert!(s.files.is_empty());
    // sshd names no image: no processes.
    assert!(s.processes.is_empty(), "{:?}", s.processes);
}
