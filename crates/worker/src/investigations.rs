//! Starting investigations, from a rule's match on an alert or from a project import, and
//! joining alerts to an investigation already open on the same system. Both run inside
//! the caller's transaction, so the investigation, its audit trail and its collection job
//! commit together.

use chrono::Utc;
use riposte_model::{
    AlertId, Investigation, InvestigationId, InvestigationPlan, InvestigationStatus, JobKind,
    ProjectId, Target,
};
use riposte_store::{Conn, NewJob, Store, StoreError};
use std::time::Duration;

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Human title.
    pub title: String,
    /// The system, as the alert or the import named it.
    pub target: Target,
    /// How it is carried out (fixed from now on).
    pub plan: InvestigationPlan,
    /// The project it belongs to (imports).
    pub project_id: Option<ProjectId>,
    /// The alert that triggered it.
    pub alert_id: Option<AlertId>,
    /// Join an investigation on the same system started this recently instead of
    /// starting another; `None` always starts a new one.
    pub join_window: Option<Duration>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A new investigation, with its collection enqueued.
    Created(InvestigationId),
    /// The alert joined this open investigation; nothing new is collected.
    Joined(InvestigationId),
}

impl Started {
    /// The investigation either way.
    pub fn id(self) -> InvestigationId {
        match self {
            Started::Created(id) | Started::Joined(id) => id,
        }
    }
}

/// Starts an investigation (or joins the open one on the same system) in `conn`'s
/// transaction. `actor` is who the audit trail names.
pub async fn start_or_join(
    conn: &mut Conn,
    actor: &str,
    request: StartRequest,
) -> Result<Started, StoreError> {
    let key = request.plan.scope.acquisition.target_key();
    // Serializes concurrent decisions about one system (two workers, two alerts).
    Store::lock_target(conn, &key).await?;
    if let Some(window) = request.join_window {
        let since = Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
        if let Some(open) = Store::joinable_investigation(conn, &key, since).await? {
            if let Some(alert) = request.alert_id {
                Store::link_alert(conn, open, alert).await?;
            }
            Store::audit(
                conn,
                Some(open),
                actor,
                "investigation.alert_joined",
                &serde_json::json!({
                    "alert_id": request.alert_id,
                    "target_key": key,
                    "rule": request.plan.rule,
                    "window_minutes": window.as_secs() / 60,
                }),
            )
            .await?;
            metrics::counter!("riposte_investigations_total", "outcome" => "joined").increment(1);
            return Ok(Started::Joined(open));
        }
    }
    let now = Utc::now();
    let inv = Investigation {
        id: InvestigationId::new(),
        title: request.title,
        status: InvestigationStatus::Collecting,
        target: request.target,
        host: request.plan.scope.acquisition.host_label().to_string(),
        alert_ids: request.alert_id.into_iter().collect(),
        verdict: None,
        error: None,
        project_id: request.project_id,
        plan: Some(request.plan),
        acquisition: None,
        created_at: now,
        updated_at: now,
    };
    Store::create_investigation(conn, &inv).await?;
    let plan = inv.plan.as_ref();
    Store::audit(
        conn,
        Some(inv.id),
        actor,
        "investigation.started",
        &serde_json::json!({
            "alert_id": request.alert_id,
            "project_id": inv.project_id,
            "rule": plan.and_then(|p| p.rule.as_ref()),
            "environment": plan.map(|p| &p.scope.environment),
            "scope_index": plan.map(|p| p.scope.scope_index),
            "acquisition": plan.map(|p| &p.scope.acquisition),
            "matched_on": plan.map(|p| &p.scope.matched_on),
            "investigation_type": plan.map(|p| p.investigation_type),
        }),
    )
    .await?;
    let collect = NewJob::new(
        JobKind::Collect,
        serde_json::json!({"investigation_id": inv.id.to_string()}),
        Some(inv.id),
    );
    Store::enqueue(conn, &collect).await?;
    metrics::counter!("riposte_investigations_total", "outcome" => "started").increment(1);
    Ok(Started::Created(inv.id))
}
