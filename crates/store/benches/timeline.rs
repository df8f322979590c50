//! Timeline queries on an investigation with millions of events, on SQLite: each of the
//! API's filters, first page and deep pages, is timed (median of repeated runs).
//!
//! `cargo bench -p riposte-store --bench timeline` — `RIPOSTE_BENCH_EVENTS` (default
//! 5,000,000) events; `RIPOSTE_BENCH_DIR` keeps the database between runs.

use chrono::{TimeZone, Utc};
use riposte_model::{
    Action, Event, EventOrigin, Investigation, InvestigationId, InvestigationStatus, Target,
};
use riposte_store::{Store, TimelineQuery};
use std::time::{Duration, Instant};

const USERS: [&str; 8] = [
    "root", "alice", "bob", "carol", "dave", "www-data", "postgres", "eve",
];
const ACTIONS: [Action; 6] = [
    Action::ProcessRun,
    Action::FileWrite,
    Action::NetworkOutgoing,
    Action::UserLogon,
    Action::UserLogonFailed,
    Action::FileCreate,
];

/// A deterministic synthetic event: one per second over the investigation, a spread of
/// actions, users and hosts, a rare action every 100,000 events, and 1% untimed.
fn event(i: u64) -> Event {
    let rare = i % 100_000 == 7;
    let action = if rare {
        Action::FileDelete
    } else {
        ACTIONS[(i % 6) as usize]
    };
    let time = (i % 100 != 99).then(|| Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap());
    let user = USERS[(i % 8) as usize];
    let host = format!("host{:02}", i % 20);
    Event::new(
        time,
        host,
        action,
        format!("{} by {user}: /usr/bin/tool --arg {i} ", action.as_str()),
        EventOrigin {
            parser: "bench".into(),
            path: "/var/log/bench.log".into(),
            record: Some(i),
        },
    )
    .with("username", user)
    .with("remote_ip", format!("10.0.{}.{}", (i / 256) % 256, i % 256))
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

#[tokio::main]
async fn main() {
    let total: u64 = std::env::var("RIPOSTE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let keep = std::env::var_os("RIPOSTE_BENCH_DIR").map(std::path::PathBuf::from);
    let scratch = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("timeline-{total}.db"));
    let marker = dir.join(format!("timeline-{total}.inv"));
    let existed = db.exists() && marker.exists();
    let store = Store::open_sqlite(&db).await.unwrap();
    let inv = if existed {
        std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    } else {
        let inv = Investigation {
            id: InvestigationId::new(),
            title: "bench".into(),
            status: InvestigationStatus::Complete,
            target: Target::default(),
            host: "host00".into(),
            alert_ids: Vec::new(),
            verdict: None,
            error: None,
            project_id: None,
            plan: None,
            acquisition: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let mut tx = store.begin().await.unwrap();
        Store::create_investigation(&mut tx, &inv).await.unwrap();
        tx.commit().await.unwrap();
        let started = Instant::now();
        let chunk = 100_000u64;
        for start in (0..total).step_by(chunk as usize) {
            let events: Vec<Event> = (start..(start + chunk).min(total)).map(event).collect();
            let mut tx = store.begin().await.unwrap();
            Store::insert_events(&mut tx, inv.id, start, &events)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let took = started.elapsed();
        println!(
            "inserted {total} events in {:.1} s ({:.0} events/s)",
            took.as_secs_f64(),
            total as f64 / took.as_secs_f64()
        );
        std::fs::write(&marker, inv.id.to_string()).unwrap();
        inv.id
    };
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "database {} ({} MiB), {total} events",
        db.display(),
        size >> 20
    );

    // A cursor deep into the timeline: page through 50 pages of 1000 first.
    let mut deep = TimelineQuery {
        limit: Some(1000),
        ..TimelineQuery::default()
    };
    for _ in 0..50 {
        let page = store.timeline(inv, &deep).await.unwrap();
        deep.cursor = page.next_cursor;
    }
    deep.limit = Some(100);
    let mid_us = (1_700_000_000i64 + total as i64 / 2) * 1_000_000;
    let cases: Vec<(&str, TimelineQuery)> = vec![
        ("first page", TimelineQuery::default()),
        ("page after 50,000 events (cursor)", deep),
        (
            "newest first",
            TimelineQuery {
                descending: true,
                ..Default::default()
            },
        ),
        (
            "time range (middle hour)",
            TimelineQuery {
                from_us: Some(mid_us),
                to_us: Some(mid_us + 3_600_000_000),
                ..Default::default()
            },
        ),
        (
            "action = logon",
            TimelineQuery {
                action: Some(Action::UserLogon),
                ..Default::default()
            },
        ),
        (
            "rare action (1 in 100,000)",
            TimelineQuery {
                action: Some(Action::FileDelete),
                ..Default::default()
            },
        ),
        (
            "entity = network",
            TimelineQuery {
                entity: Some(riposte_model::EntityKind::Network),
                ..Default::default()
            },
        ),
        (
            "host = host07",
            TimelineQuery {
                host: Some("host07".into()),
                ..Default::default()
            },
        ),
        (
            "username = eve",
            TimelineQuery {
                username: Some("eve".into()),
                ..Default::default()
            },
        ),
        (
            "user + time range",
            TimelineQuery {
                username: Some("bob".into()),
                from_us: Some(mid_us),
                ..Default::default()
            },
        ),
        (
            "text '--arg 4242' (frequent prefix)",
            TimelineQuery {
                text: Some("--arg 4242".into()),
                ..Default::default()
            },
        ),
        (
            "text matching one event",
            TimelineQuery {
                text: Some(format!("--arg {} ", total - 2)),
                ..Default::default()
            },
        ),
        (
            "text in 1 of 8 events ('by eve')",
            TimelineQuery {
                text: Some("by eve".into()),
                ..Default::default()
            },
        ),
        (
            "text in an attribute (one IP)",
            TimelineQuery {
                text: Some("10.0.3.7".into()),
                ..Default::default()
            },
        ),
        (
            "text in no event",
            TimelineQuery {
                text: Some("no such text".into()),
                ..Default::default()
            },
        ),
    ];
    println!(
        "{:<42} {:>10} {:>8}",
        "query (page of 100)", "median", "rows"
    );
    for (name, query) in cases {
        let mut runs = Vec::new();
        let mut rows = 0;
        for _ in 0..7 {
            let started = Instant::now();
            let page = store.timeline(inv, &query).await.unwrap();
            runs.push(started.elapsed());
            rows = page.events.len();
        }
        println!(
            "{name:<42} {:>8.1} ms {rows:>8}",
            median(runs).as_secs_f64() * 1000.0
        );
    }
}
