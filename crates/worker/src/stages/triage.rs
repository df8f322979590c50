//! Stage 1: resolve an accepted alert's target to evidence and open an investigation.

use super::{finish, payload};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_acquire::Resolution;
use riposte_model::{AlertId, Investigation, InvestigationId, InvestigationStatus, JobKind};
use riposte_store::{ClaimedJob, NewJob, Store};

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let alert_id: AlertId = payload(job, "alert_id")?;
    let stored = w
        .store
        .get_alert(alert_id)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("alert {alert_id} does not exist")))?;
    let alert = &stored.alert;
    let resolution = match &w.library {
        None => Resolution::NotFound {
            reason:
                "no evidence source is configured (start the server with --evidence-library DIR)"
                    .into(),
        },
        Some(lib) => {
            let lib = lib.clone();
            let target = alert.target.clone();
            tokio::task::spawn_blocking(move || lib.resolve(&target))
                .await
                .map_err(|e| StageError::Retry(e.to_string()))?
                .map_err(|e| StageError::Retry(e.to_string()))?
        }
    };
    let mut tx = w.store.begin().await?;
    match resolution {
        Resolution::NotFound { reason } => {
            let decision = format!("no investigation: {reason}");
            Store::set_alert_decision(&mut tx, alert_id, None, &decision).await?;
            Store::audit(
                &mut tx,
                None,
                &w.actor(),
                "alert.unresolved",
                &serde_json::json!({"alert_id": alert_id, "reason": reason}),
            )
            .await?;
        }
        Resolution::Found { host, matched_on } => {
            let now = Utc::now();
            let inv = Investigation {
                id: InvestigationId::new(),
                title: format!("{} on {}", alert.title, host.key),
                status: InvestigationStatus::Collecting,
                target: alert.target.clone(),
                host: host.key.clone(),
                alert_ids: vec![alert_id],
                verdict: None,
                error: None,
                created_at: now,
                updated_at: now,
            };
            Store::create_investigation(&mut tx, &inv).await?;
            let decision = format!(
                "investigation {} started: target resolved to evidence library host `{}` ({matched_on})",
                inv.id, host.key
            );
            Store::set_alert_decision(&mut tx, alert_id, Some(inv.id), &decision).await?;
            Store::audit(
                &mut tx,
                Some(inv.id),
                &w.actor(),
                "investigation.started",
                &serde_json::json!({"alert_id": alert_id, "host": host.key, "matched_on": matched_on}),
            )
            .await?;
            let collect = NewJob::new(
                JobKind::Collect,
                serde_json::json!({"investigation_id": inv.id.to_string(), "host": host.key, "host_root": host.root}),
                Some(inv.id),
            );
            Store::enqueue(&mut tx, &collect).await?;
        }
    }
    finish(w, tx, job).await
}
