//! Stage 1: evaluate an accepted alert against the detection rules, resolve its target in
//! the matching rule's environment, and start (or join) an investigation — recording on the
//! alert what every rule said, so an analyst can see why it did or did not trigger a
//! collection.

use super::{finish, payload};
use crate::investigations::{StartRequest, Started, start_or_join};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_model::{
    Alert, AlertDecision, AlertId, DetectionRule, Environment, EvidenceId, EvidenceItem,
    InvestigationId, InvestigationPlan, Provenance, RuleEvaluation, RuleOutcome, RuleRef,
    ScopeMatch,
};
use riposte_rules::{AlertOrigin, Resolution, RuleSet, resolve_target};
use riposte_store::{ClaimedJob, Conn, Store, StoredBlob};
use std::time::Duration;

/// The rules' verdict on one alert.
struct Decision {
    evaluations: Vec<RuleEvaluation>,
    /// The rule that applies and where its target is.
    chosen: Option<(DetectionRule, ScopeMatch)>,
}

fn rule_ref(rule: &DetectionRule) -> RuleRef {
    RuleRef {
        id: rule.id,
        name: rule.spec.name.clone(),
        version: rule.version,
    }
}

/// Evaluates every rule in order; the first that matches and whose environment covers the
/// target decides. Blocking: local scopes read their folders.
fn decide(
    alert: &Alert,
    connection_id: Option<&str>,
    rules: &RuleSet,
    environments: &[Environment],
) -> Decision {
    let mut evaluations = Vec::new();
    let mut chosen = None;
    for m in rules.evaluate(alert, AlertOrigin { connection_id }) {
        let rule = m.rule;
        let mut evaluation = RuleEvaluation {
            rule: rule_ref(rule),
            outcome: m.outcome,
            reason: m.reason,
        };
        if m.outcome == RuleOutcome::Matched && chosen.is_none() {
            let candidates: Vec<&Environment> = match rule.spec.environment_id {
                Some(id) => environments.iter().filter(|e| e.id == id).collect(),
                None => environments.iter().collect(),
            };
            if rule.spec.environment_id.is_some() && candidates.is_empty() {
                evaluation.outcome = RuleOutcome::NotResolved;
                evaluation.reason = format!(
                    "{}; but its environment no longer exists",
                    evaluation.reason
                );
            } else {
                match resolve_target(&alert.target, &candidates) {
                    Resolution::Covered(scope) => {
                        evaluation.outcome = RuleOutcome::Applied;
                        evaluation.reason = format!(
                            "{}; target found in environment {} ({})",
                            evaluation.reason, scope.environment, scope.matched_on
                        );
                        chosen = Some((rule.clone(), scope));
                    }
                    Resolution::NotCovered(reasons) => {
                        evaluation.outcome = RuleOutcome::NotResolved;
                        evaluation.reason = format!(
                            "{}; but no scope covers the target: {}",
                            evaluation.reason,
                            reasons.join("; ")
                        );
                    }
                }
            }
        }
        evaluations.push(evaluation);
    }
    Decision {
        evaluations,
        chosen,
    }
}

/// The one-line decision when no rule applied.
fn no_investigation_summary(evaluations: &[RuleEvaluation]) -> String {
    if evaluations.is_empty() {
        return "no investigation: no detection rule is defined (create one with POST /api/v1/rules)".into();
    }
    let unresolved: Vec<&RuleEvaluation> = evaluations
        .iter()
        .filter(|e| e.outcome == RuleOutcome::NotResolved)
        .collect();
    if let Some(first) = unresolved.first() {
        let why = first
            .reason
            .split_once("; but ")
            .map_or(first.reason.as_str(), |(_, why)| why);
        let others = match unresolved.len() {
            1 => String::new(),
            n => format!(
                " ({} other matching rule(s) could not resolve it either)",
                n - 1
            ),
        };
        return format!(
            "no investigation: rule {} matched, {why}{others}",
            first.rule.name
        );
    }
    let skipped: Vec<&str> = evaluations
        .iter()
        .filter(|e| e.outcome == RuleOutcome::Invalid)
        .map(|e| e.rule.name.as_str())
        .collect();
    let skipped = match skipped.len() {
        0 => String::new(),
        n => format!(
            " ({n} rule(s) skipped: they cannot be compiled: {})",
            skipped.join(", ")
        ),
    };
    let enabled = evaluations
        .iter()
        .filter(|e| !matches!(e.outcome, RuleOutcome::Disabled | RuleOutcome::Invalid))
        .count();
    if enabled == 0 && skipped.is_empty() {
        return format!(
            "no investigation: all {} rule(s) are disabled",
            evaluations.len()
        );
    }
    format!("no investigation: none of the {enabled} enabled rule(s) matched{skipped}")
}

/// Stores the alert (OCSF) as evidence of the investigation, when its rule asks for it.
async fn attach_context(
    conn: &mut Conn,
    actor: &str,
    investigation: InvestigationId,
    alert_id: AlertId,
    blob: &StoredBlob,
    host: &str,
) -> Result<(), StageError> {
    let item = EvidenceItem {
        id: EvidenceId::new(),
        investigation_id: investigation,
        sha256: blob.sha256.clone(),
        size: blob.size,
        provenance: Provenance {
            method: "alert-context".into(),
            source: format!("alert:{alert_id}"),
            host: host.to_string(),
            original_path: format!("/riposte/alert-context/{alert_id}.ocsf.json"),
            modified: None,
            image: None,
            cloud: None,
            ssh: None,
        },
        storage_key: blob.key.clone(),
        collected_at: Utc::now(),
    };
    if Store::insert_evidence(conn, &item).await? {
        Store::audit(
            conn,
            Some(investigation),
            actor,
            "evidence.alert_context",
            &serde_json::json!({"alert_id": alert_id, "sha256": item.sha256}),
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let alert_id: AlertId = payload(job, "alert_id")?;
    let connection_id = job
        .job
        .payload
        .get("connection_id")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let stored = w
        .store
        .get_alert(alert_id)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("alert {alert_id} does not exist")))?;
    // A rule that cannot be compiled is skipped (and audited below), never failing triage.
    let rules = RuleSet::new(w.store.list_rules().await?);
    let skipped: Vec<(RuleRef, String)> = rules
        .invalid()
        .map(|(rule, why)| (rule_ref(rule), why.to_string()))
        .collect();
    let environments = w.store.list_environments().await?;
    let alert = stored.alert;
    let (alert, decision) = tokio::task::spawn_blocking(move || {
        let decision = decide(&alert, connection_id.as_deref(), &rules, &environments);
        (alert, decision)
    })
    .await
    .map_err(|e| StageError::Retry(e.to_string()))?;

    for e in &decision.evaluations {
        metrics::counter!("riposte_rule_evaluations_total", "outcome" => e.outcome.as_str())
            .increment(1);
    }
    let context_blob = match &decision.chosen {
        Some((rule, _)) if rule.spec.attach_alert_context => {
            let body = serde_json::to_vec_pretty(&alert.to_ocsf())
                .map_err(|e| StageError::Fatal(e.to_string()))?;
            Some(w.blobs.put_stream(&body[..]).await?)
        }
        _ => None,
    };

    let mut tx = w.store.begin().await?;
    let actor = w.actor();
    for (rule, why) in &skipped {
        tracing::warn!(alert = %alert_id, rule = %rule.name, version = rule.version, error = %why, "rule skipped: it cannot be compiled");
        Store::audit(
            &mut tx,
            None,
            &actor,
            "alert.rule_skipped",
            &serde_json::json!({"alert_id": alert_id, "rule": rule, "error": why}),
        )
        .await?;
    }
    match decision.chosen {
        None => {
            let summary = no_investigation_summary(&decision.evaluations);
            let detail = AlertDecision {
                summary: summary.clone(),
                evaluations: decision.evaluations,
                joined: false,
            };
            tracing::info!(alert = %alert_id, decision = %summary, "alert triaged");
            Store::set_alert_decision(&mut tx, alert_id, None, &summary, Some(&detail)).await?;
            Store::audit(
                &mut tx,
                None,
                &actor,
                "alert.no_investigation",
                &serde_json::json!({"alert_id": alert_id, "reason": summary}),
            )
            .await?;
        }
        Some((rule, scope)) => {
            let host = scope.acquisition.host_label().to_string();
            let plan = InvestigationPlan {
                rule: Some(rule_ref(&rule)),
                scope,
                investigation_type: rule.spec.investigation_type,
                retain_snapshots: rule.spec.retain_snapshots,
                attach_alert_context: rule.spec.attach_alert_context,
                actions: rule.spec.actions.clone(),
                notifications: rule.spec.notifications.clone(),
                connection_id: rule.spec.connection_id.clone(),
                detections: Default::default(),
            };
            let window = Duration::from_secs(u64::from(rule.spec.join_window_minutes) * 60);
            let started = start_or_join(
                &mut tx,
                &actor,
                StartRequest {
                    title: format!("{} on {host}", alert.title),
                    target: alert.target.clone(),
                    plan,
                    project_id: None,
                    alert_id: Some(alert_id),
                    join_window: (!window.is_zero()).then_some(window),
                },
            )
            .await?;
            let summary = match started {
                Started::Created(id) => format!(
                    "investigation {id} started by rule {} (version {}): {} acquisition of {host}",
                    rule.spec.name,
                    rule.version,
                    rule.spec.investigation_type.as_str()
                ),
                Started::Joined(id) => format!(
                    "joined investigation {id}, already open on {host} (rule {} version {}, window {} min): nothing new collected",
                    rule.spec.name, rule.version, rule.spec.join_window_minutes
                ),
            };
            tracing::info!(alert = %alert_id, investigation = %started.id(), decision = %summary, "alert triaged");
            let detail = AlertDecision {
                summary: summary.clone(),
                evaluations: decision.evaluations,
                joined: matches!(started, Started::Joined(_)),
            };
            Store::set_alert_decision(
                &mut tx,
                alert_id,
                Some(started.id()),
                &summary,
                Some(&detail),
            )
            .await?;
            if let Some(blob) = &context_blob {
                attach_context(&mut tx, &actor, started.id(), alert_id, blob, &host).await?;
            }
        }
    }
    finish(w, tx, job).await
}
