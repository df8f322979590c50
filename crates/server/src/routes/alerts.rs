//! `POST/GET /api/v1/alerts`: the generic alert intake and the alert list.

use super::{intake, intake_status, json_body};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use riposte_model::{AlertId, AlertSource};
use riposte_store::{AlertInsert, Role, StoredAlert};
use serde::Deserialize;
use serde_json::{Value, json};

/// Paging parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

impl Page {
    pub(crate) fn bounds(&self) -> (i64, i64) {
        (
            self.limit.unwrap_or(50).clamp(1, 500),
            self.offset.unwrap_or(0).max(0),
        )
    }
}

/// `POST /api/v1/alerts` (analyst): one alert in the generic schema.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Analyst)?;
    let payload = json_body(body)?;
    let outcomes = intake(
        &state.store,
        &caller.actor(),
        AlertSource::Generic,
        &payload,
        None,
    )
    .await?;
    let body = match outcomes.as_slice() {
        [AlertInsert::Created(id)] => json!({"alert_id": id, "outcome": "created"}),
        [AlertInsert::Duplicate(id)] => json!({"alert_id": id, "outcome": "duplicate"}),
        many => json!({"alerts": many}),
    };
    Ok((intake_status(&outcomes), Json(body)))
}

/// `POST /api/v1/sources/{source}/alerts` (analyst): a vendor's own payload (GuardDuty
/// finding or EventBridge/SNS event, CrowdStrike, Defender, SentinelOne, Wiz), normalized by
/// that source's parser. Lists of alerts in one payload are accepted as a whole or refused.
pub(crate) async fn create_from_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(source): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Analyst)?;
    let source: AlertSource = source
        .parse()
        .map_err(|e: riposte_model::UnknownValue| ApiError::NotFound(e.to_string()))?;
    let payload = json_body(body)?;
    let outcomes = intake(&state.store, &caller.actor(), source, &payload, None).await?;
    Ok((intake_status(&outcomes), Json(json!({"alerts": outcomes}))))
}

/// `GET /api/v1/alerts` (viewer): newest first, with the triage decision of each.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, offset) = page.bounds();
    let alerts = state.store.list_alerts(limit, offset).await?;
    Ok(Json(
        json!({"alerts": alerts, "total": state.store.count_alerts().await?, "limit": limit, "offset": offset}),
    ))
}

/// `GET /api/v1/alerts/{id}` (viewer).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StoredAlert>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: AlertId = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not an alert id (a UUID)")))?;
    state
        .store
        .get_alert(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("alert {id} not found")))
}
