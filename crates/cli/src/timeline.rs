//! `riposte timeline <evidence>`: the whole timeline of a collection (or one log file) in
//! Timesketch's import format — `message`, `datetime`, `timestamp_desc` plus attributes —
//! as JSON lines or CSV, so analysts can load it into Timesketch or a spreadsheet.

use crate::investigate::gather;
use crate::spill::SpilledTimeline;
use anyhow::Result;
use clap::Args;
use riposte_model::{Action, Event};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::PathBuf;

/// Options of `timeline`.
#[derive(Args)]
pub struct TimelineArgs {
    /// A host's triage collection (a folder laid out like its root filesystem), a triage
    /// package, a disk image, or one log file.
    pub path: PathBuf,
    /// For a disk image: every file and the filesystem timeline (MACB), not just triage.
    #[arg(long)]
    pub full: bool,
    /// Output format.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
    pub format: String,
    /// Host name to record (default: the folder name).
    #[arg(long)]
    pub host: Option<String>,
}

/// Attribute columns of the CSV output; other attributes go to the `attributes` column as JSON.
const CSV_ATTRIBUTES: &[&str] = &[
    "username",
    "remote_ip",
    "remote_port",
    "cmd",
    "file_name",
    "file_path",
    "pid",
    "process",
];
const CSV_HEADER: &[&str] = &[
    "datetime",
    "timestamp",
    "timestamp_desc",
    "message",
    "time_reliable",
    "host",
    "entity",
    "action",
    "parser",
    "source_path",
    "record",
    "username",
    "remote_ip",
    "remote_port",
    "cmd",
    "file_name",
    "file_path",
    "pid",
    "process",
    "attributes",
];

/// What the event's time means, in Timesketch's words.
fn timestamp_desc(action: Action) -> &'static str {
    match action {
        Action::UserLogon => "Logon Time",
        Action::UserLogoff => "Logoff Time",
        Action::UserLogonFailed => "Failed Logon Time",
        Action::UserCreate => "Account Creation Time",
        Action::ProcessRun => "Execution Time",
        _ => "Event Time",
    }
}

/// Timesketch needs a time on every row: untimed events (e.g. a shell history without
/// timestamps) get the epoch and `time_reliable: false`.
fn times(e: &Event) -> (String, i64, bool) {
    match e.time {
        Some(t) => (
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            t.timestamp_micros(),
            true,
        ),
        None => ("1970-01-01T00:00:00Z".to_string(), 0, false),
    }
}

/// One event as a Timesketch JSONL object.
pub fn timesketch_json(e: &Event) -> Value {
    let (datetime, timestamp, reliable) = times(e);
    let mut row = Map::new();
    for (k, v) in &e.attributes {
        row.insert(k.clone(), json!(v));
    }
    for (k, v) in [
        ("message", json!(e.message)),
        ("datetime", json!(datetime)),
        ("timestamp", json!(timestamp)),
        ("timestamp_desc", json!(timestamp_desc(e.action))),
        ("time_reliable", json!(reliable)),
        ("host", json!(e.host)),
        ("entity", json!(e.entity.as_str())),
        ("action", json!(e.action.as_str())),
        ("parser", json!(e.origin.parser)),
        ("source_path", json!(e.origin.path)),
        ("record", json!(e.origin.record)),
    ] {
        row.insert(k.to_string(), v);
    }
    Value::Object(row)
}

fn csv_row(e: &Event) -> Vec<String> {
    let (datetime, timestamp, reliable) = times(e);
    let mut row = vec![
        datetime,
        timestamp.to_string(),
        timestamp_desc(e.action).to_string(),
        e.message.clone(),
        reliable.to_string(),
        e.host.clone(),
        e.entity.as_str().to_string(),
        e.action.as_str().to_string(),
        e.origin.parser.clone(),
        e.origin.path.clone(),
        e.origin.record.map(|r| r.to_string()).unwrap_or_default(),
    ];
    row.extend(
        CSV_ATTRIBUTES
            .iter()
            .map(|k| e.attr(k).unwrap_or_default().to_string()),
    );
    let rest: Map<String, Value> = e
        .attributes
        .iter()
        .filter(|(k, _)| !CSV_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    row.push(if rest.is_empty() {
        String::new()
    } else {
        Value::Object(rest).to_string()
    });
    row
}

/// Writes the timeline, in timeline order, as CSV or JSON lines.
pub(crate) fn write_timeline(
    timeline: &SpilledTimeline,
    format: &str,
    out: impl Write,
) -> Result<()> {
    let mut failed: Option<anyhow::Error> = None;
    if format == "csv" {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(CSV_HEADER)?;
        timeline.for_each_batch(1024, &mut |batch| {
            for e in batch.events {
                if failed.is_none()
                    && let Err(err) = w.write_record(csv_row(e))
                {
                    failed = Some(err.into());
                }
            }
        })?;
        w.flush()?;
    } else {
        let mut out = std::io::BufWriter::new(out);
        timeline.for_each_batch(1024, &mut |batch| {
            for e in batch.events {
                if failed.is_some() {
                    return;
                }
                let written = serde_json::to_writer(&mut out, &timesketch_json(e))
                    .map_err(anyhow::Error::from)
                    .and_then(|()| Ok(out.write_all(b"\n")?));
                if let Err(err) = written {
                    failed = Some(err);
                }
            }
        })?;
        out.flush()?;
    }
    failed.map_or(Ok(()), Err)
}

/// Runs `timeline`.
pub async fn run(args: TimelineArgs) -> Result<()> {
    let evidence = crate::investigate::Evidence::from_argument(&args.path).await?;
    tokio::task::spawn_blocking(move || {
        let gathered = gather(&evidence, args.host, args.full)?;
        write_timeline(&gathered.timeline, &args.format, std::io::stdout().lock())
    })
    .await?
}
