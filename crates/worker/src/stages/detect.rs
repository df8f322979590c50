//! Stage 4: run the detectors over the timeline and the collected files, store the alarms,
//! reach the verdict; then notify, and respond when the rule has actions the verdict
//! triggers.

use super::{finish, next, payload};
use crate::pipeline::{DETECT_BATCH, Detected, EventSource, detect_stream};
use crate::{StageError, Worker};
use riposte_detect::{Batch, CollectedFile};
use riposte_model::{Event, EvidenceItem, InvestigationId, JobKind};
use riposte_store::{ClaimedJob, Store};

/// An investigation's timeline read from the store, for detection on a blocking thread.
struct StoreTimeline {
    store: Store,
    runtime: tokio::runtime::Handle,
    investigation: InvestigationId,
}

impl EventSource for StoreTimeline {
    type Error = StageError;

    fn for_each_batch(&mut self, each: &mut dyn FnMut(Batch<'_>)) -> Result<(), StageError> {
        let mut after = None;
        loop {
            let page = self.runtime.block_on(async {
                let mut conn = self.store.pool().acquire().await?;
                Store::events_after(&mut conn, self.investigation, after, DETECT_BATCH).await
            })?;
            let Some(&(seq, sort, _)) = page.last() else {
                return Ok(());
            };
            after = Some((sort, seq));
            let (ids, events): (Vec<u64>, Vec<Event>) =
                page.into_iter().map(|(seq, _, e)| (seq, e)).unzip();
            each(Batch::new(&ids, &events));
        }
    }

    fn fetch(&mut self, ids: &[u64]) -> Result<Vec<(u64, Event)>, StageError> {
        Ok(self.runtime.block_on(async {
            let mut conn = self.store.pool().acquire().await?;
            Store::events_by_seq(&mut conn, self.investigation, ids).await
        })?)
    }
}

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let investigation = w.store.get_investigation(inv).await?;
    let extra = investigation
        .as_ref()
        .and_then(|i| i.plan.as_ref())
        .map(|p| p.detections.clone())
        .unwrap_or_default();
    let engine = w.engine_for(&extra).await?;
    // The file detectors (YARA, IOC hashes and paths) read the collected files: their
    // content is fetched from the evidence store into a scratch folder, removed after.
    let (files, scratch) = if engine.has_file_detectors() {
        let evidence = w.store.list_evidence(inv).await?;
        fetch_files(w, evidence, engine.content_limit()).await?
    } else {
        (Vec::new(), None)
    };
    // The alert the investigation was opened for, to correlate the timeline with.
    let alert = match investigation.as_ref().and_then(|i| i.alert_ids.first()) {
        Some(id) => w.store.get_alert(*id).await?.map(|a| a.alert),
        None => None,
    };
    let policy = w.config.verdict_policy.clone();
    let correlation = w.config.correlation.clone();
    // The timeline streams from the store page by page (the detectors run on a blocking
    // thread that drives the queries), so memory does not grow with the events.
    let mut source = StoreTimeline {
        store: w.store.clone(),
        runtime: tokio::runtime::Handle::current(),
        investigation: inv,
    };
    let detected = tokio::task::spawn_blocking(move || {
        detect_stream(
            &engine,
            &mut source,
            &files,
            &policy,
            alert.as_ref(),
            &correlation,
        )
    })
    .await
    .map_err(|e| StageError::Retry(format!("detector crashed: {e}")))??;
    let Detected {
        alarms,
        verdict,
        story,
        events,
    } = detected;
    tracing::debug!(investigation = %inv, events, alarms = alarms.len(), "detection done");
    drop(scratch);
    let mut verdict = verdict;
    if let Some(inv) = &investigation
        && let Some(acquisition) = &inv.acquisition
    {
        crate::pipeline::qualify_verdict(&mut verdict, &inv.host, acquisition);
    }
    let mut tx = w.store.begin().await?;
    Store::replace_alarms(&mut tx, inv, &alarms).await?;
    Store::set_verdict(&mut tx, inv, &verdict).await?;
    Store::put_story(&mut tx, inv, &story).await?;
    Store::audit(
        &mut tx,
        Some(inv),
        &w.actor(),
        "verdict.reached",
        &serde_json::json!({"verdict": verdict.verdict, "score": verdict.score, "alarms": alarms.len(), "inconclusive": verdict.inconclusive, "warnings": verdict.warnings}),
    )
    .await?;
    // Always: the configured webhook, and the webhooks and SIEM exports of Settings.
    next(&mut tx, JobKind::Notify, inv).await?;
    // The rule's response actions, when the verdict reaches their trigger.
    if let Some(mut investigation) = investigation {
        investigation.verdict = Some(verdict.clone());
        let actions = super::respond::triggered(&investigation);
        if !actions.is_empty() {
            Store::audit(
                &mut tx,
                Some(inv),
                &w.actor(),
                "response.triggered",
                &serde_json::json!({"verdict": verdict.verdict, "actions": actions, "dry_run": w.config.response_dry_run}),
            )
            .await?;
            next(&mut tx, JobKind::Respond, inv).await?;
        }
    }
    metrics::counter!("riposte_verdicts_total", "verdict" => verdict.verdict.label()).increment(1);
    finish(w, tx, job).await
}

/// The collected files for the file detectors; with a content limit, the content of each
/// file up to that size is copied out of the evidence store into the returned scratch
/// folder (kept alive by the caller while the detectors run).
async fn fetch_files(
    w: &Worker,
    evidence: Vec<EvidenceItem>,
    content_limit: Option<u64>,
) -> Result<(Vec<CollectedFile>, Option<tempfile::TempDir>), StageError> {
    let Some(limit) = content_limit else {
        let files = evidence
            .into_iter()
            .map(|item| CollectedFile {
                item,
                content: None,
            })
            .collect();
        return Ok((files, None));
    };
    let scratch = tempfile::tempdir()
        .map_err(|e| StageError::Retry(format!("cannot create a scratch folder: {e}")))?;
    let mut files = Vec::with_capacity(evidence.len());
    for (n, item) in evidence.into_iter().enumerate() {
        let content = if item.size <= limit {
            let path = scratch.path().join(format!("{n:06}"));
            let mut reader = w.blobs.get_stream(&item.storage_key).await?;
            let mut out = tokio::fs::File::create(&path)
                .await
                .map_err(|e| StageError::Retry(format!("cannot write {}: {e}", path.display())))?;
            tokio::io::copy(&mut reader, &mut out).await.map_err(|e| {
                StageError::Retry(format!("cannot fetch evidence {}: {e}", item.id))
            })?;
            Some(path)
        } else {
            None
        };
        files.push(CollectedFile { item, content });
    }
    Ok((files, Some(scratch)))
}
