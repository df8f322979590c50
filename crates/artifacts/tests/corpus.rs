//! The auth-log parser over real logs from the shared corpus (loghub's OpenSSH and Linux
//! samples). They are research-only licensed, so they are read in place, never copied.
//!
//! Every expected number below was established independently of the parser, with grep
//! over the files (commands in the comments; the files have CRLF line endings and the
//! last line has no newline, hence 2000 lines where `wc -l` says 1999).

use chrono::{TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, AuthLog, open_artifact, parser_for};
use riposte_model::{Action, Event};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("linux-logs/loghub").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory \
         (the one holding linux-logs/loghub/)",
        dir.display()
    );
    dir
}

fn parse(
    relative: &str,
    original_path: &str,
    modified: chrono::DateTime<Utc>,
) -> Vec<Result<Event, ArtifactError>> {
    let path = corpus().join(relative);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let parser = parser_for(original_path).expect("auth_log claims the path");
    assert_eq!(parser.name(), "auth_log");
    let ctx = ArtifactContext {
        host: "labsz".into(),
        original_path: original_path.into(),
        modified: Some(modified),
    };
    parser
        .parse(&ctx, open_artifact(file).expect("readable"))
        .collect()
}

fn ok_events(results: Vec<Result<Event, ArtifactError>>) -> Vec<Event> {
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        errors.is_empty(),
        "every line has a valid timestamp, yet: {errors:?}"
    );
    results.into_iter().map(Result::unwrap).collect()
}

fn count(events: &[Event], action: Action, stage: &str) -> usize {
    events
        .iter()
        .filter(|e| e.action == action && e.attr("stage") == Some(stage))
        .count()
}

fn openssh() -> Vec<Event> {
    // mtime in January: the December lines belong to the year before.
    ok_events(parse(
        "linux-logs/loghub/OpenSSH/OpenSSH_2k.log",
        "/var/log/auth.log",
        Utc.with_ymd_and_hms(2016, 1, 4, 0, 0, 0).unwrap(),
    ))
}

#[test]
fn openssh_logons_match_grep() {
    let events = openssh();
    // grep -c 'sshd\[[0-9]*\]: Accepted ' → 1: fztu from 119.137.62.142 port 49116, line 956.
    let logons: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::UserLogon && e.attr("stage") == Some("auth"))
        .collect();
    assert_eq!(logons.len(), 1);
    let fztu = logons[0];
    assert_eq!(
        (
            fztu.attr("username"),
            fztu.attr("remote_ip"),
            fztu.attr("remote_port"),
            fztu.attr("auth_method")
        ),
        (
            Some("fztu"),
            Some("119.137.62.142"),
            Some("49116"),
            Some("password")
        )
    );
    assert_eq!(fztu.origin.record, Some(956));
    assert_eq!(
        fztu.time,
        Some(Utc.with_ymd_and_hms(2015, 12, 10, 9, 32, 20).unwrap())
    );
    // grep -c 'session opened' → 1, grep -c 'session closed' → 1 (both fztu).
    assert_eq!(count(&events, Action::UserLogon, "session"), 1);
    assert_eq!(count(&events, Action::UserLogoff, "session"), 1);
}

#[test]
fn openssh_failures_match_grep_including_repeated_messages() {
    let events = openssh();
    let auth: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::UserLogonFailed && e.attr("stage") == Some("auth"))
        .collect();
    let sum = |evs: &[&Event]| {
        evs.iter()
            .map(|e| e.attr("count").map_or(1, |c| c.parse::<u64>().unwrap()))
            .sum::<u64>()
    };
    // grep -cE 'sshd\[[0-9]+\]: Failed (password|publickey) ' → 518 lines, plus
    // grep 'message repeated' → 2 lines "message repeated 5 times: [ Failed password …]".
    assert_eq!(auth.len(), 518 + 2);
    assert_eq!(sum(&auth), 518 + 5 + 5);
    // The same grep restricted to `from 183.62.140.253 port` → 286, none of them repeated.
    let from_183: Vec<&Event> = auth
        .iter()
        .copied()
        .filter(|e| e.attr("remote_ip") == Some("183.62.140.253"))
        .collect();
    assert_eq!(sum(&from_183), 286);
    // grep 'message repeated' shows 5.36.59.76 (root) and 106.5.5.195: 1 + 5 failures each.
    let from_5_36: Vec<&Event> = auth
        .iter()
        .copied()
        .filter(|e| e.attr("remote_ip") == Some("5.36.59.76"))
        .collect();
    assert_eq!((from_5_36.len(), sum(&from_5_36)), (2, 6));
    // grep -cE 'sshd\[[0-9]+\]: Failed none ' → 4; grep -cE 'sshd\[[0-9]+\]: Invalid user ' → 113.
    assert_eq!(count(&events, Action::UserLogonFailed, "probe"), 4);
    assert_eq!(count(&events, Action::UserLogonFailed, "invalid_user"), 113);
    // grep -c 'pam_unix(sshd:auth): authentication failure;' → 494, plus 10 "PAM N more" lines.
    assert_eq!(count(&events, Action::UserLogonFailed, "pam"), 494 + 10);
    // grep -c '119.137.62.142' → 2 lines (the logon and its disconnect): no failures from it.
    assert!(
        !events.iter().any(|e| e.action == Action::UserLogonFailed
            && e.attr("remote_ip") == Some("119.137.62.142"))
    );
    // Everything else (disconnects, reverse-mapping warnings, check pass) is skipped.
    assert_eq!(events.len(), 1 + 518 + 4 + 2 + 113 + 494 + 10 + 1 + 1);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].origin.record < w[1].origin.record)
    );
    assert!(
        events
            .iter()
            .all(|e| e.origin.record.is_some_and(|r| (1..=2000).contains(&r)))
    );
}

#[test]
fn legacy_redhat_log_with_pam_only_sshd_and_su() {
    let events = ok_events(parse(
        "linux-logs/loghub/Linux/Linux_2k.log",
        "/var/log/secure",
        Utc.with_ymd_and_hms(2005, 7, 28, 0, 0, 0).unwrap(),
    ));
    // grep -cE 'sshd\(pam_unix\)\[[0-9]+\]: authentication failure;' → 489 (+1 from gdm).
    let ssh_pam: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.action == Action::UserLogonFailed
                && e.attr("process") == Some("sshd")
                && e.attr("stage") == Some("pam")
        })
        .collect();
    assert_eq!(ssh_pam.len(), 489);
    // grep -c 'rhost=150.183.249.110' → 80; rhost can also be a host name.
    assert_eq!(
        ssh_pam
            .iter()
            .filter(|e| e.attr("remote_ip") == Some("150.183.249.110"))
            .count(),
        80
    );
    assert!(
        ssh_pam
            .iter()
            .any(|e| e.attr("remote_host") == Some("220-135-151-1.hinet-ip.hinet.net"))
    );
    // grep -cE 'sshd\(pam_unix\)\[[0-9]+\]: session (opened|closed)' → 36 each (user test).
    assert_eq!(count(&events, Action::UserLogon, "session") - 1, 36); // + root's login(pam_unix) on tty2
    assert_eq!(count(&events, Action::UserLogoff, "session") - 1, 36);
    // grep -cE 'su\(pam_unix\)\[[0-9]+\]: session opened' → 86.
    let su: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::UserPrivilege)
        .collect();
    assert_eq!(su.len(), 86);
    assert!(
        su.iter()
            .all(|e| e.attr("process") == Some("su") && e.attr("by_uid") == Some("0"))
    );
    assert_eq!(events.len(), 489 + 1 + 36 + 36 + 86 + 1 + 1);
    // First line: Jun 14 15:16:01, year from the mtime (July 2005).
    assert_eq!(
        events[0].time,
        Some(Utc.with_ymd_and_hms(2005, 6, 14, 15, 16, 1).unwrap())
    );
}

#[test]
fn gzipped_rotation_parses_the_same() {
    use std::io::Write;
    let path = corpus().join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log");
    let bytes = std::fs::read(&path).expect("corpus file");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let ctx = ArtifactContext {
        host: "labsz".into(),
        original_path: "/var/log/auth.log.2.gz".into(),
        modified: None,
    };
    use riposte_artifacts::ArtifactParser;
    let plain = AuthLog
        .parse(&ctx, open_artifact(&bytes[..]).unwrap())
        .filter(Result::is_ok)
        .count();
    let unzipped = AuthLog
        .parse(&ctx, open_artifact(&gz[..]).unwrap())
        .filter(Result::is_ok)
        .count();
    assert_eq!((plain, unzipped), (1144, 1144));
}
