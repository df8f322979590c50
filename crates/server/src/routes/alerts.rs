//! `POST/GET /api/v1/alerts`: the generic alert intake and the alert list.

use super::{intake, intake_status, json_body, limits};
use crate::openapi::{ErrorBody, IntakeOutcome, IntakeOutcomes, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use riposte_model::{
    Alert, AlertDecision, AlertId, AlertSource, InvestigationId, Observables, Severity, Target,
};
use riposte_store::{AlertInsert, Role, StoredAlert};
use riposte_worker::intake::{Retriage, retriage_state};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// How many items to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// An alert in the generic schema (`crates/sources/GENERIC_ALERT.md`). Types are strict;
/// unknown fields are accepted and kept in the stored alert's `raw` payload.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; the body is parsed by the generic source's parser
pub(crate) struct GenericAlert {
    /// One-line title.
    title: String,
    /// Severity, any case (`info` is accepted for `informational`).
    severity: Severity,
    /// The system the alert is about.
    target: Target,
    /// When the activity happened (RFC 3339); defaults to the time of receipt.
    time: Option<chrono::DateTime<chrono::Utc>>,
    /// When the activity was first observed (RFC 3339).
    first_seen: Option<chrono::DateTime<chrono::Utc>>,
    /// When the activity was last observed (RFC 3339).
    last_seen: Option<chrono::DateTime<chrono::Utc>>,
    /// Vendor of the product that raised it (default `unknown`).
    vendor: Option<String>,
    /// Product that raised it (default `unknown`).
    product: Option<String>,
    /// The sender's own id for the alert (a string or an integer); with the source it
    /// deduplicates alerts.
    event_id: Option<String>,
    /// Longer description.
    description: Option<String>,
    /// Finding type or category.
    finding_type: Option<String>,
    /// Indicators carried by the alert.
    observables: Option<Observables>,
}

/// A stored alert: the normalized alert with what Riposte decided about it.
#[derive(Serialize, ToSchema)]
#[schema(as = StoredAlert)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::StoredAlert`
pub(crate) struct StoredAlertDoc {
    /// The alert.
    #[serde(flatten)]
    alert: Alert,
    /// The investigation it started or joined, if any.
    investigation_id: Option<InvestigationId>,
    /// Why it did or did not start an investigation.
    decision: Option<String>,
    /// Every rule's outcome for it, when rules were evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_detail: Option<AlertDecision>,
}

/// A page of alerts, newest first.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct AlertList {
    /// The alerts of this page.
    alerts: Vec<StoredAlertDoc>,
    /// How many alerts are stored in all.
    total: i64,
    /// The page size used.
    limit: i64,
    /// The offset used.
    offset: i64,
}

impl Page {
    pub(crate) fn bounds(&self) -> (i64, i64) {
        (
            self.limit.unwrap_or(50).clamp(1, 500),
            self.offset.unwrap_or(0).max(0),
        )
    }
}

/// Submit an alert.
///
/// `POST /api/v1/alerts` (analyst): one alert in the generic schema. It is stored and its
/// triage enqueued before the answer; a duplicate changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/alerts",
    tag = "alerts",
    operation_id = "create_alert",
    security(("api_key" = [])),
    request_body(content = GenericAlert, description = "An alert in the generic schema"),
    responses(
        (status = 202, description = "Accepted: a new alert was stored and triage enqueued", body = IntakeOutcome),
        (status = 200, description = "Already known: every alert was a duplicate", body = IntakeOutcome),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Analyst)?;
    let payload = json_body(body, &limits::GENERIC_ALERT)?;
    let outcomes = intake(
        &state.intake,
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

/// Submit a vendor's payload.
///
/// `POST /api/v1/sources/{source}/alerts` (analyst): a vendor's own payload (GuardDuty
/// finding or EventBridge/SNS event, CrowdStrike, Defender, SentinelOne, Wiz), normalized by
/// that source's parser. Lists of alerts in one payload are accepted as a whole or refused.
#[utoipa::path(
    post,
    path = "/api/v1/sources/{source}/alerts",
    tag = "sources",
    operation_id = "create_alerts_from_source",
    security(("api_key" = [])),
    params(("source" = AlertSource, Path, description = "The source whose parser reads the payload")),
    request_body(content = Object, description = "The vendor's payload, unchanged"),
    responses(
        (status = 202, description = "Accepted: at least one new alert was stored", body = IntakeOutcomes),
        (status = 200, description = "Already known: every alert was a duplicate", body = IntakeOutcomes),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "The payload's fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
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
    let payload = json_body(body, &limits::VENDOR_ALERT)?;
    let outcomes = intake(&state.intake, &caller.actor(), source, &payload, None).await?;
    Ok((intake_status(&outcomes), Json(json!({"alerts": outcomes}))))
}

/// List alerts.
///
/// `GET /api/v1/alerts` (viewer): newest first, with the triage decision of each.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    operation_id = "list_alerts",
    security(("api_key" = [])),
    params(Page),
    responses(
        (status = 200, description = "A page of alerts", body = AlertList),
        (status = 400, description = "`limit` or `offset` is not an integer"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
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

/// An alert id from the path: 400 when it is not a UUID.
fn alert_id(id: &str) -> Result<AlertId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not an alert id (a UUID)")))
}

/// Get an alert.
///
/// `GET /api/v1/alerts/{id}` (viewer): the normalized alert, its raw payload (credentials
/// removed), and the investigation it started or joined.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    tag = "alerts",
    operation_id = "get_alert",
    security(("api_key" = [])),
    params(("id" = AlertId, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert", body = StoredAlertDoc),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StoredAlert>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = alert_id(&id)?;
    state
        .store
        .get_alert(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("alert {id} not found")))
}

/// A triage queued again.
#[derive(Serialize, ToSchema)]
pub(crate) struct Retriaged {
    /// The alert.
    alert_id: AlertId,
    /// The new triage job.
    job_id: riposte_model::JobId,
}

/// Triage an alert again.
///
/// `POST /api/v1/alerts/{id}/retriage` (analyst): evaluates the alert against the current
/// rules and environments again, as when it arrived (from the same connection). For an
/// alert whose triage failed, or that no rule applied to; 409 when it already started or
/// joined an investigation, or a triage of it is waiting. Audited (`alert.retriage`).
/// Alerts whose triage failed for good are also triaged again automatically whenever a
/// rule is created, changed, enabled, disabled or deleted.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/retriage",
    tag = "alerts",
    operation_id = "retriage_alert",
    security(("api_key" = [])),
    params(("id" = AlertId, Path, description = "The alert's id")),
    responses(
        (status = 202, description = "Triage queued", body = Retriaged),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert has an investigation, or its triage is waiting", body = ErrorBody),
    ),
)]
pub(crate) async fn retriage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Retriaged>), ApiError> {
    caller.require(Role::Analyst)?;
    let id = alert_id(&id)?;
    let connection_id = match retriage_state(&state.store, id).await? {
        Retriage::Ready { connection_id } => connection_id,
        Retriage::Unknown => return Err(ApiError::NotFound(format!("alert {id} not found"))),
        Retriage::Investigated(inv) => {
            return Err(ApiError::Conflict(format!(
                "alert {id} already belongs to investigation {inv}; it is not triaged again"
            )));
        }
        Retriage::Pending => {
            return Err(ApiError::Conflict(format!(
                "a triage of alert {id} is already waiting or running"
            )));
        }
    };
    let mut tx = state.store.begin().await?;
    let job_id = riposte_worker::intake::retriage(
        &mut tx,
        &caller.actor(),
        id,
        connection_id.as_deref(),
        "asked through the API",
    )
    .await?;
    super::commit(tx).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Retriaged {
            alert_id: id,
            job_id,
        }),
    ))
}
