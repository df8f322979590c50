//! Stage 1: evaluate an accepted alert against the detection rules, resolve its target in
//! the matching rule's environment, and start (or join) an investigation — recording on the
//! alert what every rule said, so an analyst can see why it did or did not trigger a
//! collection.

use super::{finish, payload};
use crate::investigations::{StartRequest, Started, start_or_join};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_model::JobId;
use riposte_model::{
    Alert, AlertDecision, AlertId, DetectionRule, Environment, EvidenceId, EvidenceItem,
    InvestigationId, InvestigationPlan, Provenance, RuleEvaluation, RuleOutcome, RuleRef,
    ScopeMatch,
};
use riposte_rules::{AlertOrigin, LibraryListings, Resolution, RuleSet, resolve_target_with};
use riposte_store::{ClaimedJob, Conn, NewAuditEntry, Store, StoredBlob};
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
    listings: &LibraryListings,
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
                match resolve_target_with(&alert.target, &candidates, listings) {
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

/// Most triage jobs a worker takes at once. Alerts that start no investigation are
/// decided and recorded together, in one transaction; the others one by one.
pub(crate) const BATCH: usize = 64;

/// A job's alert, ready to be decided.
struct Triage<'j> {
    job: &'j ClaimedJob,
    alert_id: AlertId,
    connection_id: Option<String>,
}

/// Triages one alert.
pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    run_batch(w, std::slice::from_ref(job))
        .await
        .pop()
        .unwrap_or_else(|| Err(StageError::Retry("triage returned no outcome".into())))
}

/// Triages many alerts: the rules and environments are read once, every alert decided
/// from them, and the decisions that start no investigation recorded in one transaction
/// (with their jobs' completion). Decisions and audit entries are the same as triaging
/// each alert alone. One outcome per job, in order.
pub(crate) async fn run_batch(w: &Worker, jobs: &[ClaimedJob]) -> Vec<Result<(), StageError>> {
    let mut outcomes: Vec<Option<Result<(), StageError>>> = jobs.iter().map(|_| None).collect();
    let mut triages = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        match payload::<AlertId>(job, "alert_id") {
            Ok(alert_id) => triages.push((
                i,
                Triage {
                    job,
                    alert_id,
                    connection_id: job
                        .job
                        .payload
                        .get("connection_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                },
            )),
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }
    match decide_all(w, &triages).await {
        Ok((decided, skipped)) => {
            let mut quiet = Vec::new();
            for ((i, triage), found) in triages.into_iter().zip(decided) {
                if let Some((_, decision)) = &found {
                    count_evaluations(decision);
                }
                match found {
                    None => {
                        outcomes[i] = Some(Err(StageError::Fatal(format!(
                            "alert {} does not exist",
                            triage.alert_id
                        ))))
                    }
                    Some((alert, decision)) if decision.chosen.is_some() => {
                        outcomes[i] = Some(
                            apply(w, triage.job, triage.alert_id, alert, decision, &skipped).await,
                        )
                    }
                    Some((alert, decision)) => quiet.push((i, triage, alert, decision)),
                }
            }
            for (i, outcome) in record_quiet(w, quiet, &skipped).await {
                outcomes[i] = Some(outcome);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (i, _) in &triages {
                outcomes[*i] = Some(Err(StageError::Retry(msg.clone())));
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(StageError::Retry("triage skipped the job".into()))))
        .collect()
}

/// The rules' decision on each alert, in order (none when the alert does not exist), and
/// the rules skipped because they cannot be compiled.
#[allow(clippy::type_complexity)]
async fn decide_all(
    w: &Worker,
    triages: &[(usize, Triage<'_>)],
) -> Result<(Vec<Option<(Alert, Decision)>>, Vec<(RuleRef, String)>), StageError> {
    let ids: Vec<AlertId> = triages.iter().map(|(_, t)| t.alert_id).collect();
    let stored: std::collections::HashMap<AlertId, Alert> = w
        .store
        .get_alerts(&ids)
        .await?
        .into_iter()
        .map(|s| (s.alert.id, s.alert))
        .collect();
    // A rule that cannot be compiled is skipped (and audited), never failing triage.
    let rules = RuleSet::new(w.store.list_rules().await?);
    let skipped: Vec<(RuleRef, String)> = rules
        .invalid()
        .map(|(rule, why)| (rule_ref(rule), why.to_string()))
        .collect();
    let environments = w.store.list_environments().await?;
    let inputs: Vec<(Option<String>, Option<Alert>)> = triages
        .iter()
        .map(|(_, t)| (t.connection_id.clone(), stored.get(&t.alert_id).cloned()))
        .collect();
    let decided = tokio::task::spawn_blocking(move || {
        // Each evidence library is listed once for the whole batch.
        let listings = LibraryListings::default();
        inputs
            .into_iter()
            .map(|(connection, alert)| {
                alert.map(|alert| {
                    let decision = decide(
                        &alert,
                        connection.as_deref(),
                        &rules,
                        &environments,
                        &listings,
                    );
                    (alert, decision)
                })
            })
            .collect()
    })
    .await
    .map_err(|e| StageError::Retry(e.to_string()))?;
    Ok((decided, skipped))
}

fn count_evaluations(decision: &Decision) {
    for e in &decision.evaluations {
        metrics::counter!("riposte_rule_evaluations_total", "outcome" => e.outcome.as_str())
            .increment(1);
    }
}

/// Audit entries of the rules skipped for an alert (logged too).
fn skipped_entries<'a>(
    actor: &'a str,
    alert_id: AlertId,
    skipped: &[(RuleRef, String)],
) -> Vec<NewAuditEntry<'a>> {
    skipped
        .iter()
        .map(|(rule, why)| {
            tracing::warn!(alert = %alert_id, rule = %rule.name, version = rule.version, error = %why, "rule skipped: it cannot be compiled");
            NewAuditEntry {
                investigation: None,
                actor,
                action: "alert.rule_skipped",
                detail: serde_json::json!({"alert_id": alert_id, "rule": rule, "error": why}),
            }
        })
        .collect()
}

/// Records the decisions that start no investigation, with their jobs' completion, in one
/// transaction. If it cannot commit as a whole (a lease lost meanwhile), each is recorded
/// alone.
async fn record_quiet(
    w: &Worker,
    quiet: Vec<(usize, Triage<'_>, Alert, Decision)>,
    skipped: &[(RuleRef, String)],
) -> Vec<(usize, Result<(), StageError>)> {
    if quiet.is_empty() {
        return Vec::new();
    }
    let actor = w.actor();
    let summaries: Vec<(String, AlertDecision)> = quiet
        .iter()
        .map(|(_, t, _, decision)| {
            let summary = no_investigation_summary(&decision.evaluations);
            tracing::debug!(alert = %t.alert_id, decision = %summary, "alert triaged");
            let detail = AlertDecision {
                summary: summary.clone(),
                evaluations: decision.evaluations.clone(),
                joined: false,
            };
            (summary, detail)
        })
        .collect();
    let together = async {
        let mut tx = w.store.begin().await?;
        let mut audits = Vec::new();
        for ((_, t, _, _), (summary, _)) in quiet.iter().zip(&summaries) {
            audits.extend(skipped_entries(&actor, t.alert_id, skipped));
            audits.push(NewAuditEntry {
                investigation: None,
                actor: &actor,
                action: "alert.no_investigation",
                detail: serde_json::json!({"alert_id": t.alert_id, "reason": summary}),
            });
        }
        Store::audit_many(&mut tx, &audits).await?;
        let decisions: Vec<(AlertId, &str, &AlertDecision)> = quiet
            .iter()
            .zip(&summaries)
            .map(|((_, t, _, _), (summary, detail))| (t.alert_id, summary.as_str(), detail))
            .collect();
        Store::set_alert_decisions(&mut tx, &decisions).await?;
        let ids: Vec<JobId> = quiet.iter().map(|(_, t, _, _)| t.job.job.id).collect();
        if !Store::complete_jobs(&mut tx, &ids, &w.id).await? {
            tx.rollback().await?;
            return Ok::<bool, StageError>(false);
        }
        tx.commit().await?;
        Ok(true)
    };
    match together.await {
        Ok(true) => {
            tracing::info!(
                alerts = quiet.len(),
                "alerts triaged: none starts an investigation"
            );
            quiet.into_iter().map(|(i, ..)| (i, Ok(()))).collect()
        }
        Ok(false) => {
            // A lease was lost: record each alone, so only that job's outcome is lost.
            let mut outcomes = Vec::with_capacity(quiet.len());
            for (i, t, alert, decision) in quiet {
                outcomes.push((
                    i,
                    apply(w, t.job, t.alert_id, alert, decision, skipped).await,
                ));
            }
            outcomes
        }
        Err(e) => {
            let msg = e.to_string();
            quiet
                .into_iter()
                .map(|(i, ..)| (i, Err(StageError::Retry(msg.clone()))))
                .collect()
        }
    }
}

/// Records one alert's decision — starting or joining an investigation when a rule
/// applies — and completes its job, in one transaction.
async fn apply(
    w: &Worker,
    job: &ClaimedJob,
    alert_id: AlertId,
    alert: Alert,
    decision: Decision,
    skipped: &[(RuleRef, String)],
) -> Result<(), StageError> {
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
    Store::audit_many(&mut tx, &skipped_entries(&actor, alert_id, skipped)).await?;
    match decision.chosen {
        None => {
            let summary = no_investigation_summary(&decision.evaluations);
            let detail = AlertDecision {
                summary: summary.clone(),
                evaluations: decision.evaluations,
                joined: false,
            };
            tracing::debug!(alert = %alert_id, decision = %summary, "alert triaged");
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
