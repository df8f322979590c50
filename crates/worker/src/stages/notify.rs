//! Stage 5: POST the investigation's result to the configured webhook.

use super::{finish, payload};
use crate::{StageError, Worker};
use riposte_model::InvestigationId;
use riposte_store::{ClaimedJob, Store};
use serde_json::json;

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv_id: InvestigationId = payload(job, "investigation_id")?;
    let Some(url) = w.config.webhook_url.clone() else {
        let tx = w.store.begin().await?;
        return finish(w, tx, job).await;
    };
    let inv = w
        .store
        .get_investigation(inv_id)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("investigation {inv_id} does not exist")))?;
    let alarms = w.store.list_alarms(inv_id).await?;
    let event = if alarms.is_empty() {
        "processing_complete"
    } else {
        "processing_with_alarms"
    };
    let body = json!({
        "event": event,
        "title": inv.title,
        "investigation_id": inv.id,
        "host": inv.host,
        "status": inv.status,
        "verdict": inv.verdict.as_ref().map(|v| v.verdict.label()),
        "score": inv.verdict.as_ref().map(|v| v.score),
        "reasons": inv.verdict.as_ref().map(|v| v.reasons.clone()).unwrap_or_default(),
        "alarms": alarms.iter().map(|a| json!({"title": a.title, "severity": a.severity, "detector": a.detector, "mitre": a.mitre})).collect::<Vec<_>>(),
        "alert_ids": inv.alert_ids,
        "url": format!("{}/api/v1/investigations/{}", w.config.public_url.trim_end_matches('/'), inv.id),
    });
    let delivery = w
        .webhooks
        .post_json(&url, &body, w.config.webhook_secret.as_deref())
        .await
        .map_err(|e| match e {
            riposte_notify::NotifyError::Blocked { .. }
            | riposte_notify::NotifyError::InvalidUrl { .. } => StageError::Fatal(e.to_string()),
            other => StageError::Retry(other.to_string()),
        })?;
    let mut tx = w.store.begin().await?;
    Store::audit(
        &mut tx,
        Some(inv_id),
        &w.actor(),
        "notification.sent",
        &json!({"event": event, "status": delivery.status}),
    )
    .await?;
    finish(w, tx, job).await
}
