//! `GET /api/v1/investigations[/{id}[/timeline]]`.

use super::alerts::Page;
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use riposte_model::InvestigationId;
use riposte_store::{Role, TimelineQuery};
use serde_json::{Value, json};

fn parse_id(id: &str) -> Result<InvestigationId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not an investigation id (a UUID)")))
}

/// `GET /api/v1/investigations` (viewer): newest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, offset) = page.bounds();
    let items = state.store.list_investigations(limit, offset).await?;
    Ok(Json(
        json!({"investigations": items, "limit": limit, "offset": offset}),
    ))
}

/// `GET /api/v1/investigations/{id}` (viewer): status, verdict, alarms, evidence, event
/// count, the first timeline page, job progress, parse reports and the audit trail.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = parse_id(&id)?;
    let store = &state.store;
    let inv = store
        .get_investigation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("investigation {id} not found")))?;
    let timeline = store
        .timeline(
            id,
            &TimelineQuery {
                limit: Some(50),
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(json!({
        "investigation": inv,
        "alarms": store.list_alarms(id).await?,
        "evidence": store.list_evidence(id).await?,
        "events_count": store.count_events(id).await?,
        "timeline": timeline,
        "jobs": store.investigation_jobs(id).await?,
        "parse_reports": store.parse_reports(id).await?,
        "audit": store.audit_trail(id).await?,
    })))
}

/// `GET /api/v1/investigations/{id}/timeline` (viewer): filtered, cursor-paged events.
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = parse_id(&id)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(format!("bad timeline query: {e}")))?;
    if state.store.get_investigation(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("investigation {id} not found")));
    }
    let page = state.store.timeline(id, &q).await?;
    Ok(Json(json!(page)))
}
