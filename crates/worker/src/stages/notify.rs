//! Stage 5: tell the world. The investigation's result goes to the webhook given on the
//! command line (`--webhook-url`, a signed JSON body), and to every webhook and SIEM export
//! of Settings › Integrations subscribed to "processing complete" or "processing with
//! alarms", or named for it by the investigation's rule (their templates, presets, retries
//! and delivery log are `riposte-notify`'s).

use super::{finish, payload};
use crate::{StageError, Worker};
use riposte_model::{InvestigationId, NotificationEvent};
use riposte_notify::{AlarmSummary, NotificationContext};
use riposte_store::{ClaimedJob, Store};
use serde_json::json;

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv_id: InvestigationId = payload(job, "investigation_id")?;
    let inv = w
        .store
        .get_investigation(inv_id)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("investigation {inv_id} does not exist")))?;
    let alarms = w.store.list_alarms(inv_id).await?;
    let (event, kind) = if alarms.is_empty() {
        ("processing_complete", NotificationEvent::ProcessingComplete)
    } else {
        (
            "processing_with_alarms",
            NotificationEvent::ProcessingWithAlarms,
        )
    };
    let url = format!(
        "{}/api/v1/investigations/{}",
        w.config.public_url.trim_end_matches('/'),
        inv.id
    );
    let mut sent = Vec::new();
    if let Some(webhook_url) = w.config.webhook_url.clone() {
        let body = json!({
            "event": event,
            "title": inv.title,
            "investigation_id": inv.id,
            "host": inv.host,
            "status": inv.status,
            "verdict": inv.verdict.as_ref().map(|v| v.verdict.label()),
            "score": inv.verdict.as_ref().map(|v| v.score),
            "reasons": inv.verdict.as_ref().map(|v| v.reasons.clone()).unwrap_or_default(),
            "inconclusive": inv.verdict.as_ref().is_some_and(|v| v.inconclusive),
            "warnings": inv.verdict.as_ref().map(|v| v.warnings.clone()).unwrap_or_default(),
            "alarms": alarms.iter().map(|a| json!({"title": a.title, "severity": a.severity, "detector": a.detector, "mitre": a.mitre})).collect::<Vec<_>>(),
            "alert_ids": inv.alert_ids,
            "url": url,
        });
        let delivery = w
            .webhooks
            .post_json(&webhook_url, &body, w.config.webhook_secret.as_deref())
            .await
            .map_err(|e| match e {
                riposte_notify::NotifyError::Blocked { .. }
                | riposte_notify::NotifyError::InvalidUrl { .. } => {
                    StageError::Fatal(e.to_string())
                }
                other => StageError::Retry(other.to_string()),
            })?;
        sent.push(json!({"target": "--webhook-url", "status": delivery.status}));
    }
    let context = NotificationContext {
        title: inv.title.clone(),
        details: inv
            .verdict
            .as_ref()
            .map(|v| {
                v.warnings
                    .iter()
                    .chain(&v.reasons)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        verdict: inv.verdict.as_ref().map(|v| v.display_label()),
        score: inv.verdict.as_ref().map(|v| v.score),
        severity: alarms
            .iter()
            .map(|a| a.severity)
            .max()
            .map(|s| s.to_string()),
        host: Some(inv.host.clone()),
        url: Some(url),
        investigation_id: Some(inv.id.to_string()),
        alert_id: inv.alert_ids.first().map(|a| a.to_string()),
        source: None,
        alarms: alarms
            .iter()
            .map(|a| AlarmSummary {
                detector: a.detector.clone(),
                title: a.title.clone(),
                severity: a.severity.to_string(),
                mitre: a.mitre.iter().map(|m| m.technique.clone()).collect(),
            })
            .collect(),
        action: None,
        error: None,
        time: Some(chrono::Utc::now()),
    };
    // Failed deliveries are in the delivery log; only the store failing is retried here.
    let rule = inv
        .plan
        .as_ref()
        .map(|p| p.notifications.as_slice())
        .unwrap_or_default();
    let outcomes = w
        .dispatcher
        .dispatch_for(kind, &context, rule)
        .await
        .map_err(|e| StageError::Retry(e.to_string()))?;
    for outcome in &outcomes {
        sent.push(json!({"target": outcome.name, "delivered": outcome.report.ok()}));
    }
    let mut tx = w.store.begin().await?;
    if !sent.is_empty() {
        Store::audit(
            &mut tx,
            Some(inv_id),
            &w.actor(),
            "notification.sent",
            &json!({"event": event, "deliveries": sent}),
        )
        .await?;
    }
    finish(w, tx, job).await
}
