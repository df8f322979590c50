//! `riposte timeline` writes the whole timeline in Timesketch's import format.

mod common;

use common::{BRUTE_IP, library};
use serde_json::Value;
use std::process::Command;

fn riposte(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .expect("run riposte");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn jsonl_and_csv_hold_every_event_with_timesketch_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = library(tmp.path()).join("victim");
    let victim = victim.to_str().unwrap();
    let report: Value =
        serde_json::from_slice(&riposte(&["investigate", "--format", "json", victim])).unwrap();
    let expected = report["events"].as_u64().unwrap() as usize;
    assert!(expected > 10);

    let jsonl = String::from_utf8(riposte(&["timeline", victim])).unwrap();
    let rows: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), expected, "one row per event");
    for row in &rows {
        for field in ["message", "datetime", "timestamp_desc", "timestamp"] {
            assert!(!row[field].is_null(), "{field} missing in {row}");
        }
        assert!(chrono::DateTime::parse_from_rfc3339(row["datetime"].as_str().unwrap()).is_ok());
    }
    // The synthetic root logon from the brute-forcing address, with its attributes flattened.
    let logon = rows
        .iter()
        .find(|r| r["action"] == "logon" && r["remote_ip"] == BRUTE_IP && r["username"] == "root")
        .expect("the root logon from the brute-forcer");
    assert_eq!(logon["timestamp_desc"], "Logon Time");
    assert_eq!(logon["source_path"], "/var/log/auth.log");
    // Shell history without timestamps: marked unreliable, not given a made-up time.
    let shell = rows
        .iter()
        .find(|r| r["parser"] == "shell_history")
        .expect("history rows");
    assert_eq!(shell["time_reliable"], false);
    assert_eq!(shell["timestamp"], 0);
    // Rows are in time order (untimed last).
    let timed: Vec<i64> = rows
        .iter()
        .filter(|r| r["time_reliable"] == true)
        .map(|r| r["timestamp"].as_i64().unwrap())
        .collect();
    assert!(timed.windows(2).all(|w| w[0] <= w[1]));

    let csv_out = riposte(&["timeline", "--format", "csv", victim]);
    let mut reader = csv::Reader::from_reader(&csv_out[..]);
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "datetime");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected);
    assert!(records.iter().all(|r| r.len() == headers.len()));
    let ip_col = headers.iter().position(|h| h == "remote_ip").unwrap();
    assert!(records.iter().any(|r| &r[ip_col] == BRUTE_IP));
}
