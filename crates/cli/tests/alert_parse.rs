//! `riposte alert parse`: the built binary on corpus samples (from a file and from stdin)
//! and on bad input (unknown source, unreadable file, invalid JSON, refused payload).

mod common;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sample(rel: &str) -> PathBuf {
    common::corpus().join("alerts").join(rel)
}

/// Runs `riposte alert parse --source <source> <file>`, feeding `stdin` when given.
fn riposte(source: &str, file: &Path, stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["alert", "parse", "--source", source])
        .arg(file)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run riposte");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(bytes).expect("write stdin");
    }
    child.wait_with_output().expect("wait for riposte")
}

/// The alerts printed by a successful run.
fn alerts(out: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Array(items)) => items,
        other => panic!("expected a JSON array on stdout, got {other:?}"),
    }
}

/// Stderr of a run that must fail with exit status 2 and print nothing on stdout.
fn bad_input(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    stderr
}

#[test]
fn a_guardduty_sample_file_prints_the_normalized_alert_without_raw() {
    let out = riposte(
        "guardduty",
        &sample("guardduty/eventbridge-ec2-backdoor-spambot.json"),
        None,
    );
    let alerts = alerts(&out);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert!(a.get("raw").is_none(), "raw must not be printed: {a}");
    assert_eq!(a["source"], "guardduty");
    assert_eq!(a["vendor_event_id"], "7ebc050b71c556086b524045c9067feb");
    assert_eq!(a["finding_type"], "Backdoor:EC2/Spambot");
    assert_eq!(a["severity"], "medium");
    assert_eq!(a["target"]["instance_id"], "i-99999999");
    assert_eq!(a["target"]["region"], "ca-central-1");
    assert_eq!(a["observables"]["destination_port"], 25);
    assert_eq!(a["first_seen"], "2021-03-07T00:29:35.498Z");
    assert_eq!(a["last_seen"], "2021-03-07T00:29:35.498Z");
}

#[test]
fn a_list_payload_prints_one_element_per_alert() {
    let out = riposte(
        "CrowdStrike",
        &sample("crowdstrike/demisto-alertsapi-v2-cloud-ioa-entities-response.json"),
        None,
    );
    let alerts = alerts(&out);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1]["title"], "Another IOA");
    assert!(alerts.iter().all(|a| a.get("raw").is_none()));
}

#[test]
fn a_payload_on_stdin_is_parsed() {
    let path = sample("defender/msdocs-mde-api-alert-meterpreter.json");
    let payload = std::fs::read(&path).expect("read sample");
    let out = riposte("defender", Path::new("-"), Some(&payload));
    let alerts = alerts(&out);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert!(a.get("raw").is_none());
    assert_eq!(a["source"], "defender");
    assert_eq!(
        a["target"]["hostname"],
        "temp123.middleeast.corp.microsoft.com"
    );
    assert_eq!(a["observables"]["username"], "DOMAIN\\temp123");
    assert_eq!(a["first_seen"], "2020-07-20T10:52:17.665436900Z");
}

#[test]
fn an_unknown_source_lists_the_valid_names() {
    let out = riposte(
        "splunk",
        &sample("guardduty/eventbridge-ec2-backdoor-spambot.json"),
        None,
    );
    let stderr = bad_input(&out);
    assert!(stderr.contains("splunk"), "{stderr}");
    assert!(
        stderr.contains("generic, secdo, guardduty, crowdstrike, defender, sentinelone, wiz"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_file_is_bad_input() {
    let missing = Path::new("/nonexistent/riposte/alert.json");
    let stderr = bad_input(&riposte("generic", missing, None));
    assert!(
        stderr.contains("/nonexistent/riposte/alert.json: cannot read"),
        "{stderr}"
    );
}

#[test]
fn invalid_json_names_line_and_column() {
    let payload = b"{\n  \"title\": \"x\",\n  \"severity\": high\n}\n";
    let stderr = bad_input(&riposte("generic", Path::new("-"), Some(payload)));
    assert!(stderr.contains("<stdin>: invalid JSON"), "{stderr}");
    assert!(stderr.contains("line 3, column"), "{stderr}");
}

#[test]
fn a_refused_payload_prints_every_field_error_one_per_line() {
    let payload = br#"{"title": "t", "severity": "urgent",
                       "target": {"ips": ["10.0.0.1", "10.0.0.300"]},
                       "observables": {"destination_port": 70000}}"#;
    let stderr = bad_input(&riposte("generic", Path::new("-"), Some(payload)));
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].contains("refused by the generic parser (3 problem(s))"));
    for expected in [
        "severity: must be one of informational, low, medium, high, critical, got \"urgent\"",
        "target.ips[1]: \"10.0.0.300\" is not an IPv4 or IPv6 address",
        "observables.destination_port: port 70000 is out of range (0–65535)",
    ] {
        assert!(lines.contains(&expected), "{expected:?} not in {lines:?}");
    }
}

#[test]
fn a_payload_that_is_not_an_object_is_refused() {
    let stderr = bad_input(&riposte("wiz", Path::new("-"), Some(b"[1, 2]")));
    assert!(stderr.contains("must be a JSON object"), "{stderr}");
}
