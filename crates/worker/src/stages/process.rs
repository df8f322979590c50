//! Stage 3: parse every collected artifact into timeline events (in parallel, off the
//! async runtime) and store them with per-artifact statistics.

use super::{finish, next, payload};
use crate::pipeline::{order_events, parse_artifact};
use crate::{StageError, Worker};
use riposte_artifacts::ArtifactContext;
use riposte_model::{InvestigationId, InvestigationStatus, JobKind};
use riposte_store::{ClaimedJob, ParseReport, Store};

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let evidence = w.store.list_evidence(inv).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let runtime = tokio::runtime::Handle::current();
    for item in evidence {
        // Parsers are synchronous: bridge the blob's async stream into them on a blocking
        // thread, so no artifact is ever held in memory whole.
        let stream = w.blobs.get_stream(&item.storage_key).await?;
        let bytes = tokio_util::io::SyncIoBridge::new_with_handle(stream, runtime.clone());
        tasks.spawn_blocking(move || {
            let ctx = ArtifactContext {
                host: item.provenance.host.clone(),
                original_path: item.provenance.original_path.clone(),
                modified: item.provenance.modified,
            };
            let (events, stats) = parse_artifact(&ctx, bytes);
            (item.id, item.provenance.original_path, events, stats)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.map_err(|e| StageError::Retry(format!("parser crashed: {e}")))?);
    }
    // Deterministic order whatever the completion order: by path, then by time.
    crate::pipeline::order_artifacts(&mut results, |r| r.1.as_str());
    let mut events = Vec::new();
    let mut reports = Vec::new();
    for (evidence_id, _, mut evs, stats) in results {
        reports.push(ParseReport {
            evidence_id: evidence_id.to_string(),
            parser: stats.parser,
            events: stats.events as i64,
            errors: stats.errors as i64,
            first_error: stats.first_error,
            duration_ms: i64::try_from(stats.duration_ms).unwrap_or(i64::MAX),
        });
        events.append(&mut evs);
    }
    order_events(&mut events);
    let mut tx = w.store.begin().await?;
    Store::delete_events(&mut tx, inv).await?;
    Store::insert_events(&mut tx, inv, 0, &events).await?;
    for report in &reports {
        Store::put_parse_report(&mut tx, inv, report).await?;
    }
    let errors: i64 = reports.iter().map(|r| r.errors).sum();
    Store::audit(&mut tx, Some(inv), &w.actor(), "evidence.processed", &serde_json::json!({"events": events.len(), "artifacts": reports.len(), "parse_errors": errors})).await?;
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Detecting, None).await?;
    next(&mut tx, JobKind::Detect, inv).await?;
    metrics::counter!("riposte_events_parsed_total").increment(events.len() as u64);
    finish(w, tx, job).await
}
