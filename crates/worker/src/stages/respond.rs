//! Stage 6 (when the rule allows it): take the response actions of the investigation's rule
//! whose trigger its verdict reaches.
//!
//! Each action is recorded `pending` before it runs, so a crash never leaves an action
//! taken without a trace nor runs it twice blindly: a retried stage skips every action
//! already succeeded, failed or rehearsed, and runs a pending one again (the actions check
//! the target's real state, so this never stacks a change). A failed action is recorded
//! with the AWS or vendor error and notified; the stage itself still succeeds, so it is
//! never retried for it. The audit trail names the rule (`rule:<name>`) as the actor.
//! Every completed action is notified (`response_action_taken`, `response_action_failed`)
//! to the subscribed webhooks and SIEM exports and to the rule's own webhooks, once
//! (`response.notified` in the audit trail remembers it across retries).

use super::{finish, payload};
use crate::respond::{Step, execute, steps, target_for};
use crate::{StageError, Worker};
use riposte_model::{
    ActionRecord, ActionStatus, Investigation, InvestigationId, NotificationEvent, ResponseAction,
};
use riposte_notify::NotificationContext;
use riposte_store::{ClaimedJob, Store};
use serde_json::json;
use std::collections::HashSet;

/// The actions of `inv`'s rule that its verdict triggers, in the rule's order.
pub(crate) fn triggered(inv: &Investigation) -> Vec<ResponseAction> {
    let (Some(plan), Some(verdict)) = (&inv.plan, &inv.verdict) else {
        return Vec::new();
    };
    plan.actions
        .iter()
        .filter(|a| a.on.fires_on(verdict.verdict))
        .map(|a| a.action)
        .collect()
}

/// Who the audit trail and the records name: the rule.
fn rule_actor(inv: &Investigation) -> String {
    match inv.plan.as_ref().and_then(|p| p.rule.as_ref()) {
        Some(rule) => format!("rule:{}", rule.name),
        None => "rule:unknown".to_string(),
    }
}

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv_id: InvestigationId = payload(job, "investigation_id")?;
    let inv = w
        .store
        .get_investigation(inv_id)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("investigation {inv_id} does not exist")))?;
    let allowed = triggered(&inv);
    let actor = rule_actor(&inv);
    let existing = w.store.list_action_records(Some(inv_id), 1000, 0).await?;
    let notified = notified_actions(w, inv_id).await?;
    for step in steps(&allowed, &existing, &actor) {
        let record = match step {
            Step::Done(record) if notified.contains(&record.id.to_string()) => continue,
            Step::Done(record) => record,
            Step::Recheck(pending) => {
                tracing::info!(action = %pending.action, id = %pending.id, "re-checking an interrupted response action");
                complete(w, execute(w, pending).await).await?
            }
            Step::Run(action) => match target_for(w, &inv, action).await {
                Ok(target) => {
                    let mut pending = ActionRecord::new(action, target, w.config.response_dry_run)
                        .for_investigation(inv_id)
                        .requested_by(actor.clone());
                    pending.status = ActionStatus::Pending;
                    pending.summary = format!(
                        "{action} on {} requested by {actor} (verdict: {})",
                        pending.target.system_id(),
                        inv.verdict.as_ref().map_or("none", |v| v.verdict.label())
                    );
                    w.store.insert_action_record(&pending).await?;
                    complete(w, execute(w, pending).await).await?
                }
                Err(reason) => {
                    no_target(w, &inv, &actor, action, &reason).await?;
                    continue;
                }
            },
        };
        notify(w, &inv, &record, &actor).await?;
    }
    finish(w, w.store.begin().await?, job).await
}

/// Stores the result of a pending record.
async fn complete(w: &Worker, record: ActionRecord) -> Result<ActionRecord, StageError> {
    if !w.store.complete_action_record(&record).await? {
        // Only the lease holder runs this stage; a record completed meanwhile means the
        // lease was lost: keep what the store has.
        return Err(StageError::LeaseLost);
    }
    metrics::counter!("riposte_response_actions_total", "action" => record.action.as_str(), "status" => record.status.as_str())
        .increment(1);
    Ok(record)
}

/// The ids of the actions whose notification was already sent.
async fn notified_actions(w: &Worker, inv: InvestigationId) -> Result<HashSet<String>, StageError> {
    Ok(w.store
        .audit_trail(inv)
        .await?
        .iter()
        .filter(|e| e.action == "response.notified")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
        .filter_map(|d| d["action_id"].as_str().map(str::to_string))
        .collect())
}

/// An action with nothing to act on: audited and notified as failed, without a record
/// (there is no system to name).
async fn no_target(
    w: &Worker,
    inv: &Investigation,
    actor: &str,
    action: ResponseAction,
    reason: &str,
) -> Result<(), StageError> {
    tracing::warn!(investigation = %inv.id, %action, reason, "response action not possible");
    let mut conn = w.store.pool().acquire().await?;
    Store::audit(
        &mut conn,
        Some(inv.id),
        actor,
        "response.failed",
        &json!({"action": action, "error": {"message": reason}}),
    )
    .await?;
    drop(conn);
    let mut context = context(w, inv);
    context.action = Some(action.to_string());
    context.error = Some(reason.to_string());
    dispatch(w, inv, NotificationEvent::ResponseActionFailed, &context).await?;
    Ok(())
}

/// Notifies a completed action and remembers it was notified.
async fn notify(
    w: &Worker,
    inv: &Investigation,
    record: &ActionRecord,
    actor: &str,
) -> Result<(), StageError> {
    let event = match record.status {
        ActionStatus::Failed => NotificationEvent::ResponseActionFailed,
        _ => NotificationEvent::ResponseActionTaken,
    };
    let mut context = context(w, inv);
    let rehearsal = if record.status == ActionStatus::DryRun {
        " (dry run)"
    } else {
        ""
    };
    context.action = Some(format!(
        "{}{rehearsal} on {}: {}",
        record.action,
        record.target.system_id(),
        record.summary
    ));
    context.error = record.error.as_ref().map(|e| e.to_string());
    let deliveries = dispatch(w, inv, event, &context).await?;
    let mut conn = w.store.pool().acquire().await?;
    Store::audit(
        &mut conn,
        Some(inv.id),
        actor,
        "response.notified",
        &json!({"action_id": record.id, "event": event, "deliveries": deliveries}),
    )
    .await?;
    Ok(())
}

/// Sends `event` to the subscribed webhooks and exports and the rule's own webhooks;
/// returns who got it (failed deliveries are in the delivery log, not errors).
async fn dispatch(
    w: &Worker,
    inv: &Investigation,
    event: NotificationEvent,
    context: &NotificationContext,
) -> Result<Vec<serde_json::Value>, StageError> {
    let rule = inv
        .plan
        .as_ref()
        .map(|p| p.notifications.as_slice())
        .unwrap_or_default();
    let outcomes = w
        .dispatcher
        .dispatch_for(event, context, rule)
        .await
        .map_err(|e| StageError::Retry(e.to_string()))?;
    Ok(outcomes
        .iter()
        .map(|o| json!({"target": o.name, "delivered": o.report.ok()}))
        .collect())
}

/// What every action notification says about the investigation.
fn context(w: &Worker, inv: &Investigation) -> NotificationContext {
    NotificationContext {
        title: inv.title.clone(),
        verdict: inv.verdict.as_ref().map(|v| v.verdict.label().to_string()),
        score: inv.verdict.as_ref().map(|v| v.score),
        host: Some(inv.host.clone()),
        url: Some(format!(
            "{}/api/v1/investigations/{}",
            w.config.public_url.trim_end_matches('/'),
            inv.id
        )),
        investigation_id: Some(inv.id.to_string()),
        alert_id: inv.alert_ids.first().map(|a| a.to_string()),
        time: Some(chrono::Utc::now()),
        ..Default::default()
    }
}
