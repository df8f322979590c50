//! Accepting alerts, the same way for every path they arrive by (API, SECDO, push
//! integrations, pollers): store each one unless it is a duplicate, enqueue its triage, and
//! audit who brought it, all inside the caller's transaction.

use riposte_model::{Alert, JobKind};
use riposte_store::{AlertInsert, Conn, NewJob, Store, StoreError};

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
    let mut outcomes = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let outcome = Store::insert_alert(conn, alert).await?;
        if let AlertInsert::Created(id) = outcome {
            let job = NewJob::new(
                JobKind::TriageAlert,
                serde_json::json!({"alert_id": id.to_string(), "connection_id": connection_id}),
                None,
            );
            Store::enqueue(conn, &job).await?;
            Store::audit(
                conn,
                None,
                actor,
                "alert.accepted",
                &serde_json::json!({"alert_id": id, "source": alert.source}),
            )
            .await?;
        }
        let label = match outcome {
            AlertInsert::Created(_) => "created",
            AlertInsert::Duplicate(_) => "duplicate",
        };
        metrics::counter!("riposte_alerts_total", "source" => alert.source.as_str(), "outcome" => label)
            .increment(1);
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
