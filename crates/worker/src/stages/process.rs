//! Stage 3: parse every collected artifact into timeline events (in parallel, off the
//! async runtime) and store them with per-artifact statistics.

use super::{finish, next, payload};
use crate::pipeline::{ArtifactStats, parse_artifact_with};
use crate::{StageError, Worker};
use riposte_artifacts::ArtifactContext;
use riposte_model::{InvestigationId, InvestigationStatus, JobKind};
use riposte_store::{ClaimedJob, ParseReport, Store};

/// Events inserted per statement batch while loading an artifact's spill file.
const INSERT_BATCH: usize = 1000;
/// Events inserted per transaction.
const COMMIT_EVERY: u64 = 100_000;

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let evidence = w.store.list_evidence(inv).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let runtime = tokio::runtime::Handle::current();
    for item in evidence {
        // Parsers are synchronous: bridge the blob's async stream into them on a blocking
        // thread, so no artifact is ever held in memory whole; its events go to a scratch
        // file as they are parsed, loaded into the store below in a fixed order.
        let stream = w.blobs.get_stream(&item.storage_key).await?;
        let bytes = tokio_util::io::SyncIoBridge::new_with_handle(stream, runtime.clone());
        tasks.spawn_blocking(move || {
            let ctx = ArtifactContext {
                host: item.provenance.host.clone(),
                original_path: item.provenance.original_path.clone(),
                modified: item.provenance.modified,
            };
            let spill = spill_events(&ctx, bytes);
            (item.id, item.provenance.original_path, spill)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (id, path, spill) = r.map_err(|e| StageError::Retry(format!("parser crashed: {e}")))?;
        let (file, stats) = spill?;
        results.push((id, path, file, stats));
    }
    // Deterministic stored ids whatever the completion order: artifacts by path, events
    // in the order their parser read them; the timeline orders them by time.
    crate::pipeline::order_artifacts(&mut results, |r| r.1.as_str());
    let mut tx = w.store.begin().await?;
    Store::delete_events(&mut tx, inv).await?;
    let mut seq = 0u64;
    let mut uncommitted = 0u64;
    let mut reports = Vec::new();
    for (evidence_id, _, file, stats) in results {
        reports.push(ParseReport {
            evidence_id: evidence_id.to_string(),
            parser: stats.parser,
            events: stats.events as i64,
            errors: stats.errors as i64,
            first_error: stats.first_error,
            duration_ms: i64::try_from(stats.duration_ms).unwrap_or(i64::MAX),
        });
        let Some(file) = file else { continue };
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(file));
        loop {
            let mut batch = Vec::with_capacity(INSERT_BATCH);
            for line in lines.by_ref().take(INSERT_BATCH) {
                let line = line.map_err(|e| {
                    StageError::Retry(format!("cannot read parsed events back: {e}"))
                })?;
                let event = serde_json::from_str(&line).map_err(|e| {
                    StageError::Retry(format!("cannot read parsed events back: {e}"))
                })?;
                batch.push(event);
            }
            if batch.is_empty() {
                break;
            }
            Store::insert_events(&mut tx, inv, seq, &batch).await?;
            seq += batch.len() as u64;
            uncommitted += batch.len() as u64;
            // Commit now and then: on SQLite one writer holds the database, and the
            // job's lease renewal must get a turn on a timeline of millions of events.
            // A retried stage deletes what an earlier attempt committed.
            if uncommitted >= COMMIT_EVERY {
                tx.commit().await?;
                tx = w.store.begin().await?;
                uncommitted = 0;
            }
        }
    }
    for report in &reports {
        Store::put_parse_report(&mut tx, inv, report).await?;
    }
    let errors: i64 = reports.iter().map(|r| r.errors).sum();
    Store::audit(
        &mut tx,
        Some(inv),
        &w.actor(),
        "evidence.processed",
        &serde_json::json!({"events": seq, "artifacts": reports.len(), "parse_errors": errors}),
    )
    .await?;
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Detecting, None).await?;
    next(&mut tx, JobKind::Detect, inv).await?;
    metrics::counter!("riposte_events_parsed_total").increment(seq);
    finish(w, tx, job).await
}

/// Parses one artifact into an anonymous scratch file of JSON lines (none when it holds
/// no event), rewound for reading.
fn spill_events(
    ctx: &ArtifactContext,
    input: impl std::io::Read + Send,
) -> Result<(Option<std::fs::File>, ArtifactStats), StageError> {
    use std::io::{Seek, Write};
    let scratch = |e: std::io::Error| {
        StageError::Retry(format!("cannot write parsed events to a scratch file: {e}"))
    };
    let mut out = std::io::BufWriter::new(tempfile::tempfile().map_err(scratch)?);
    let mut failed: Option<std::io::Error> = None;
    let stats = parse_artifact_with(ctx, input, &mut |event| {
        if failed.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut out, &event)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(scratch(e));
    }
    if stats.events == 0 {
        return Ok((None, stats));
    }
    let mut file = out.into_inner().map_err(|e| scratch(e.into_error()))?;
    file.rewind().map_err(scratch)?;
    Ok((Some(file), stats))
}
