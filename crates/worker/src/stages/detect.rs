//! Stage 4: run the detectors over the timeline, store the alarms, reach the verdict; then
//! notify, and respond when the rule has actions the verdict triggers.

use super::{finish, next, payload};
use crate::pipeline::detect;
use crate::{StageError, Worker};
use riposte_model::{InvestigationId, JobKind};
use riposte_store::{ClaimedJob, Store};

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let mut conn = w.store.pool().acquire().await?;
    let events = Store::all_events(&mut conn, inv).await?;
    drop(conn);
    let policy = w.config.verdict_policy.clone();
    let engine = w.config.detection.clone();
    let (alarms, verdict) = tokio::task::spawn_blocking(move || detect(&engine, &events, &policy))
        .await
        .map_err(|e| StageError::Retry(format!("detector crashed: {e}")))?;
    let mut tx = w.store.begin().await?;
    Store::replace_alarms(&mut tx, inv, &alarms).await?;
    Store::set_verdict(&mut tx, inv, &verdict).await?;
    Store::audit(
        &mut tx,
        Some(inv),
        &w.actor(),
        "verdict.reached",
        &serde_json::json!({"verdict": verdict.verdict, "score": verdict.score, "alarms": alarms.len()}),
    )
    .await?;
    // Always: the configured webhook, and the webhooks and SIEM exports of Settings.
    next(&mut tx, JobKind::Notify, inv).await?;
    // The rule's response actions, when the verdict reaches their trigger.
    if let Some(mut investigation) = Store::get_investigation_on(&mut tx, inv).await? {
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
