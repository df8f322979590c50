//! Detections and verdict over real SSH logs from the shared corpus (loghub; research-only
//! licence, so read in place, never copied), parsed by riposte-artifacts.
//!
//! The expected sources were established independently of both crates, with grep and a
//! ten-line sliding-window script over the `Failed password|publickey` lines (plus the
//! `message repeated N times` lines) of each source:
//!
//! | source          | failures | most within 10 min |
//! |-----------------|---------:|-------------------:|
//! | 183.62.140.253  |      286 |                279 |
//! | 187.141.143.180 |       80 |                 80 |
//! | 103.99.0.122    |       46 |                 30 |
//! | 112.95.230.3    |       26 |                 26 |
//! | 5.188.10.180    |       18 |                 18 |
//! | 185.190.58.151  |       17 |                 17 |
//! | 123.235.32.19   |        7 |                  7 | ← the next one: below the threshold
//!
//! The only `Accepted` line is fztu from 119.137.62.142, an address with no failures
//! (`grep -c 119.137.62.142` → 2: the logon and its disconnect).

use chrono::{TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::{VerdictPolicy, run_detectors};
use riposte_model::{Alarm, Event, Severity, Verdict};
use std::path::PathBuf;

const OPENSSH: &str = "linux-logs/loghub/OpenSSH/OpenSSH_2k.log";
const BRUTE_FORCERS: [&str; 6] = [
    "183.62.140.253",
    "187.141.143.180",
    "103.99.0.122",
    "112.95.230.3",
    "5.188.10.180",
    "185.190.58.151",
];

fn corpus_file(relative: &str) -> Vec<u8> {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("test corpus file {} unreadable ({e}): set RIPOSTE_CORPUS to the shared corpus directory", path.display())
    })
}

fn events(bytes: &[u8], original_path: &str, modified: chrono::DateTime<Utc>) -> Vec<Event> {
    let parser = parser_for(original_path).expect("a parser claims the path");
    let ctx = ArtifactContext {
        host: "labsz".into(),
        original_path: original_path.into(),
        modified: Some(modified),
    };
    let records: Vec<_> = parser
        .parse(&ctx, open_artifact(bytes).expect("readable"))
        .collect();
    records
        .into_iter()
        .map(|r| r.expect("the corpus lines all parse"))
        .collect()
}

fn openssh(extra: &str) -> Vec<Event> {
    let mut bytes = corpus_file(OPENSSH);
    bytes.extend_from_slice(b"\n"); // the file's last line has no newline
    bytes.extend_from_slice(extra.as_bytes());
    events(
        &bytes,
        "/var/log/auth.log",
        Utc.with_ymd_and_hms(2016, 1, 4, 0, 0, 0).unwrap(),
    )
}

fn source_of(alarm: &Alarm) -> &str {
    let rest = alarm.title.split(" from ").nth(1).unwrap_or("");
    rest.split(' ').next().unwrap_or("")
}

#[test]
fn openssh_brute_forcers_are_found_and_nothing_succeeded() {
    let events = openssh("");
    let alarms = run_detectors(&events);
    let mut sources: Vec<&str> = alarms.iter().map(source_of).collect();
    sources.sort_unstable();
    let mut expected = BRUTE_FORCERS.to_vec();
    expected.sort_unstable();
    assert_eq!(
        sources,
        expected,
        "{:#?}",
        alarms.iter().map(|a| &a.title).collect::<Vec<_>>()
    );
    assert!(
        alarms
            .iter()
            .all(|a| a.detector == "ssh_bruteforce" && a.severity == Severity::Medium)
    );

    let top = alarms
        .iter()
        .find(|a| source_of(a) == "183.62.140.253")
        .unwrap();
    assert!(
        top.title
            .contains("286 failures against users root, oracle"),
        "{}",
        top.title
    );
    assert!(
        top.description.contains("up to 279 within 10 min"),
        "{}",
        top.description
    );
    assert_eq!(top.event_refs.len(), 50);
    for &r in &top.event_refs {
        let e = &events[r as usize];
        assert_eq!(
            (e.attr("remote_ip"), e.attr("stage")),
            (Some("183.62.140.253"), Some("auth")),
            "ref {r}"
        );
    }
    let peaks: Vec<(&str, &str)> = [
        ("187.141.143.180", "up to 80 "),
        ("103.99.0.122", "up to 30 "),
        ("185.190.58.151", "up to 17 "),
    ]
    .into_iter()
    .collect();
    for (ip, peak) in peaks {
        let a = alarms.iter().find(|a| source_of(a) == ip).unwrap();
        assert!(a.description.contains(peak), "{ip}: {}", a.description);
    }

    let verdict = VerdictPolicy::default().decide(&alarms);
    assert_eq!(
        (verdict.verdict, verdict.score),
        (Verdict::Suspicious, 20),
        "{:#?}",
        verdict.reasons
    );
    assert_eq!(verdict.reasons.len(), 6);
}

#[test]
fn a_logon_from_a_brute_forcer_after_its_burst_is_malicious() {
    // Synthetic: 183.62.140.253's last failure is at 11:04:43; it then gets in.
    let events = openssh(
        "Dec 10 11:15:00 LabSZ sshd[31337]: Accepted password for root from 183.62.140.253 port 4242 ssh2\n",
    );
    let alarms = run_detectors(&events);
    let success: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.detector == "ssh_bruteforce_success")
        .collect();
    assert_eq!(success.len(), 1);
    let a = success[0];
    assert_eq!(
        a.title,
        "Successful SSH logon after brute force from 183.62.140.253 (user root)"
    );
    assert_eq!(a.severity, Severity::High);
    assert_eq!(
        *a.event_refs.last().unwrap() as usize,
        events.len() - 1,
        "the logon is referenced"
    );
    // Still one alarm per source: the other five stay plain brute force.
    assert_eq!(alarms.len(), 6);
    assert_eq!(
        alarms
            .iter()
            .filter(|a| a.detector == "ssh_bruteforce")
            .count(),
        5
    );

    let verdict = VerdictPolicy::default().decide(&alarms);
    assert_eq!(verdict.verdict, Verdict::Malicious);
    assert_eq!(verdict.score, 80);
    assert_eq!(verdict.reasons[0], format!("[high] {} (+60)", a.title));
}

#[test]
fn legacy_pam_only_log_still_shows_brute_force() {
    // Linux_2k.log's sshd logs only `sshd(pam_unix)` failure lines; the same sliding-window
    // script over `rhost=` values gives 27 sources with >= 10 within 10 minutes, the
    // largest 150.183.249.110 (grep -c 'rhost=150.183.249.110' → 80, all on Jul 10).
    let bytes = corpus_file("linux-logs/loghub/Linux/Linux_2k.log");
    let events = events(
        &bytes,
        "/var/log/secure",
        Utc.with_ymd_and_hms(2005, 7, 28, 0, 0, 0).unwrap(),
    );
    let alarms = run_detectors(&events);
    assert_eq!(alarms.len(), 27);
    assert!(
        alarms
            .iter()
            .all(|a| a.detector == "ssh_bruteforce" && a.description.contains("PAM"))
    );
    let biggest = alarms
        .iter()
        .find(|a| source_of(a) == "150.183.249.110")
        .expect("150.183.249.110 found");
    assert!(biggest.title.contains("80 failures"), "{}", biggest.title);
    assert!(
        alarms
            .iter()
            .any(|a| source_of(a) == "220-135-151-1.hinet-ip.hinet.net")
    );
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::Suspicious
    );
}
