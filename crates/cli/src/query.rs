//! `riposte query`: the event query of `GET /api/v1/events` (SECDO's URL semantics)
//! straight against a data directory's store.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Options of `query`.
#[derive(Args)]
pub struct QueryArgs {
    /// The query, as in a SECDO URL: `entity=process&action=run&attr=file_name:powershell.exe,cmd:*download*|*encoded*`
    /// (plus `since`, `until`, `investigation`, `limit`, `cursor`).
    pub query: String,
    /// Data directory of the server.
    #[arg(long, env = "RIPOSTE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Database URL (default: SQLite in the data directory).
    #[arg(long, env = "RIPOSTE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Output: one JSON object per line, or a table.
    #[arg(long, default_value = "table", value_parser = ["table", "jsonl"])]
    pub format: String,
}

/// Runs `query`.
pub async fn run(args: QueryArgs) -> Result<()> {
    // A full URL (or its fragment) is accepted as copied: only its query string counts.
    let raw = args
        .query
        .rsplit_once('?')
        .map_or(args.query.as_str(), |(_, q)| q);
    let (query, search) = riposte_server::parse_event_query(raw).map_err(anyhow::Error::msg)?;
    let store = crate::serve::open_store(&args.data_dir, args.database_url.as_deref()).await?;
    let hits = store
        .query_events(&query, &search)
        .await
        .context("the query failed")?;
    if args.format == "jsonl" {
        for hit in &hits.events {
            println!("{}", serde_json::to_string(hit)?);
        }
    } else {
        println!(
            "{:<27} {:<36} {:<16} {:<17} message",
            "time", "investigation", "host", "action"
        );
        for hit in &hits.events {
            let time = hit.event.time.map_or_else(
                || "-".to_string(),
                |t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            );
            println!(
                "{time:<27} {:<36} {:<16} {:<17} {}",
                hit.investigation_id.to_string(),
                hit.event.host,
                hit.event.action.as_str(),
                hit.event.message
            );
        }
    }
    eprintln!(
        "{} event(s) for {query} ({} examined){}",
        hits.events.len(),
        hits.examined,
        hits.next_cursor
            .as_deref()
            .map(|c| format!("; more with cursor={c}"))
            .unwrap_or_default()
    );
    Ok(())
}
