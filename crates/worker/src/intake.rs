//! Accepting alerts, the same way for every path they arrive by (API, SECDO, push
//! integrations, pollers): store each one unless it is a duplicate, enqueue its triage, and
//! audit who brought it, all inside the caller's transaction.

use riposte_model::{Alert, AlertId, JobId, JobKind, JobStatus, Severity};
use riposte_store::{AlertInsert, Conn, NewAuditEntry, NewJob, Store, StoreError};
use std::time::Duration;

/// The triage job of an alert (`connection_id`: the pull connection that fetched it).
fn triage_job(alert: AlertId, connection_id: Option<&str>) -> NewJob {
    NewJob::new(
        JobKind::TriageAlert,
        serde_json::json!({"alert_id": alert.to_string(), "connection_id": connection_id}),
        None,
    )
}

/// Stores `alerts` and enqueues triage for the new ones, in the caller's transaction.
/// `actor` is who the audit trail names (an API key, an integration, a connection);
/// `connection_id` is the pull connection that fetched them, which rules bound to one
/// XDR connection check.
pub async fn accept_alerts(
    conn: &mut Conn,
    actor: &str,
    connection_id: Option<&str>,
    alerts: &[Alert],
) -> Result<Vec<AlertInsert>, StoreError> {
    let mut outcomes = accept_batches(
        conn,
        &[Arrival {
            actor,
            connection_id,
            alerts,
        }],
        None,
    )
    .await?;
    Ok(outcomes.pop().unwrap_or_default())
}

/// Alerts that arrived together, and who brought them.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// Who the audit trail names (an API key, an integration, a connection).
    pub actor: &'a str,
    /// The pull connection that fetched them, if any.
    pub connection_id: Option<&'a str>,
    /// The alerts, in the order they arrived.
    pub alerts: &'a [Alert],
}

/// Triage put off for alerts below a severity (the queue is too deep): their triage jobs
/// become runnable only after `delay`, so more severe alerts are decided first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferral {
    /// Alerts below this severity are deferred.
    pub below: Severity,
    /// How long their triage waits.
    pub delay: Duration,
}

/// [`accept_alerts`] for many arrivals at once, in a few statements whatever their number:
/// the outcomes (one list per arrival) are exactly those of accepting them one by one in
/// this order — a repeat of an earlier alert of the batch is its duplicate. With a
/// `deferral`, the triage of alerts below its severity waits (the audit entry says so).
pub async fn accept_batches(
    conn: &mut Conn,
    arrivals: &[Arrival<'_>],
    deferral: Option<Deferral>,
) -> Result<Vec<Vec<AlertInsert>>, StoreError> {
    let alerts: Vec<Alert> = arrivals
        .iter()
        .flat_map(|a| a.alerts.iter().cloned())
        .collect();
    let mut flat = Store::insert_alerts(conn, &alerts).await?.into_iter();
    let mut outcomes = Vec::with_capacity(arrivals.len());
    let mut jobs = Vec::new();
    let mut audits = Vec::new();
    for arrival in arrivals {
        let mine: Vec<AlertInsert> = flat.by_ref().take(arrival.alerts.len()).collect();
        for (alert, outcome) in arrival.alerts.iter().zip(&mine) {
            let label = match outcome {
                AlertInsert::Created(id) => {
                    let mut job = triage_job(*id, arrival.connection_id);
                    let mut detail = serde_json::json!({"alert_id": id, "source": alert.source});
                    if let Some(d) = deferral.filter(|d| alert.severity < d.below) {
                        job = job.after(d.delay);
                        detail["triage_deferred_secs"] = d.delay.as_secs().into();
                        metrics::counter!("riposte_triage_deferred_total").increment(1);
                    }
                    jobs.push(job);
                    audits.push(NewAuditEntry {
                        investigation: None,
                        actor: arrival.actor,
                        action: "alert.accepted",
                        detail,
                    });
                    "created"
                }
                AlertInsert::Duplicate(_) => "duplicate",
            };
            metrics::counter!("riposte_alerts_total", "source" => alert.source.as_str(), "outcome" => label)
                .increment(1);
        }
        outcomes.push(mine);
    }
    Store::enqueue_many(conn, &jobs).await?;
    Store::audit_many(conn, &audits).await?;
    Ok(outcomes)
}

/// Whether an alert can be triaged again, and from which connection it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retriage {
    /// It can: the pull connection of its first triage, if any.
    Ready {
        /// The connection that fetched it (rules bound to a connection check it).
        connection_id: Option<String>,
    },
    /// It already started or joined this investigation.
    Investigated(riposte_model::InvestigationId),
    /// A triage job for it is waiting or running.
    Pending,
    /// No such alert.
    Unknown,
}

/// Whether `alert` can be triaged again: only an alert that has no investigation and no
/// triage job waiting (its triage failed, or no rule applied to it).
pub async fn retriage_state(store: &Store, alert: AlertId) -> Result<Retriage, StoreError> {
    let Some(stored) = store.get_alert(alert).await? else {
        return Ok(Retriage::Unknown);
    };
    if let Some(inv) = stored.investigation_id {
        return Ok(Retriage::Investigated(inv));
    }
    let jobs = store.alert_triage_jobs(alert).await?;
    if jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running))
    {
        return Ok(Retriage::Pending);
    }
    let connection_id = jobs
        .first()
        .and_then(|j| j.payload["connection_id"].as_str())
        .map(str::to_string);
    Ok(Retriage::Ready { connection_id })
}

/// Enqueues a new triage of `alert`, audited with `why`, in the caller's transaction.
pub async fn retriage(
    conn: &mut Conn,
    actor: &str,
    alert: AlertId,
    connection_id: Option<&str>,
    why: &str,
) -> Result<JobId, StoreError> {
    let job = Store::enqueue(conn, &triage_job(alert, connection_id)).await?;
    Store::audit(
        conn,
        None,
        actor,
        "alert.retriage",
        &serde_json::json!({"alert_id": alert, "job_id": job, "why": why}),
    )
    .await?;
    Ok(job)
}

/// How many failed triage jobs [`retriage_failed`] looks at per call.
const RETRIAGE_BATCH: i64 = 1000;

/// Triages again every alert whose triage failed for good and that has no decision
/// (called when the rules change: the failure may have been a rule's fault). Returns the
/// alerts queued.
pub async fn retriage_failed(store: &Store, actor: &str) -> Result<Vec<AlertId>, StoreError> {
    let mut queued = Vec::new();
    for alert in store.failed_triage_alerts(RETRIAGE_BATCH).await? {
        let undecided = store
            .get_alert(alert)
            .await?
            .is_some_and(|a| a.decision.is_none());
        if !undecided {
            continue;
        }
        if let Retriage::Ready { connection_id } = retriage_state(store, alert).await? {
            let mut tx = store.begin().await?;
            retriage(
                &mut tx,
                actor,
                alert,
                connection_id.as_deref(),
                "the detection rules changed after its triage failed",
            )
            .await?;
            tx.commit().await?;
            queued.push(alert);
        }
    }
    Ok(queued)
}
