//! `/api/v1/connections`: pull connections to vendor APIs (CrowdStrike, Defender,
//! GuardDuty). Admins create and delete them; analysts test and trigger polls; viewers
//! read. Credentials are sealed with the master key and never returned.

use super::{audit, field, required_name};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use riposte_sources::FieldError;
use riposte_sources::poll::PollError;
use riposte_store::{Connection, NewConnection, Role};
use riposte_worker::connections::{VENDORS, build_poller, needs_secret};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;
use utoipa::ToSchema;

/// A new pull connection.
#[derive(Serialize, ToSchema)]
#[schema(as = NewConnection)]
#[allow(dead_code)] // documentation only; the body is parsed by hand
pub(crate) struct NewConnectionBody {
    /// A unique name, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// The vendor: `crowdstrike`, `defender` or `guardduty`.
    vendor: String,
    /// The vendor's settings (API base URL, client id, tenant, region, filters…); checked
    /// exactly as polling will use them.
    #[schema(value_type = Object)]
    settings: Value,
    /// The API client secret: required for CrowdStrike and Defender, refused for GuardDuty
    /// (which uses the server's AWS credentials). Stored sealed, never returned.
    secret: Option<String>,
    /// Whether it is polled (default true).
    enabled: Option<bool>,
    /// Seconds between polls, 1–86400 (default 60).
    #[schema(minimum = 1, maximum = 86400)]
    poll_interval_seconds: Option<u64>,
    /// Seconds each window overlaps the previous one, 0–86400 (default 300).
    #[schema(maximum = 86400)]
    overlap_seconds: Option<u64>,
    /// Seconds the first poll reaches back, 0–7776000 (default 86400).
    #[schema(maximum = 7776000)]
    lookback_seconds: Option<u64>,
}

/// A pull connection with its polling state (never its credential).
#[derive(Serialize, ToSchema)]
#[schema(as = Connection)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::Connection`
pub(crate) struct ConnectionDoc {
    /// Id.
    id: String,
    /// Unique name.
    name: String,
    /// Vendor.
    vendor: String,
    /// Vendor settings.
    #[schema(value_type = Object)]
    settings: Value,
    /// Whether a credential is stored.
    has_secret: bool,
    /// Whether it is polled.
    enabled: bool,
    /// Seconds between polls.
    poll_interval_seconds: i64,
    /// Seconds each window overlaps the previous one.
    overlap_seconds: i64,
    /// Seconds the first poll reaches back.
    lookback_seconds: i64,
    /// Alerts updated before this time are all ingested.
    cursor: Option<DateTime<Utc>>,
    /// When the next poll is due.
    next_poll_at: DateTime<Utc>,
    /// When the last poll finished (successfully or not).
    last_polled_at: Option<DateTime<Utc>>,
    /// The last poll's error, cleared by a successful poll.
    last_error: Option<String>,
    /// Consecutive failed polls.
    failures: i64,
    /// New alerts stored from this connection so far.
    alerts_ingested: i64,
    /// When it was created.
    created_at: DateTime<Utc>,
}

/// Every pull connection.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct ConnectionList {
    /// The connections.
    connections: Vec<ConnectionDoc>,
}

/// The result of a connection test.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct ConnectionTest {
    /// Whether the vendor accepted the credential and answered.
    ok: bool,
    /// The connection's vendor.
    vendor: String,
    /// Why the test failed, when it did.
    error: Option<String>,
    /// Whether the failure may pass on retry (network, rate limit), when it failed.
    transient: Option<bool>,
}

/// A payload a connection fetched that could not be turned into alerts.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::IngestError`
pub(crate) struct IngestError {
    /// Id.
    id: String,
    /// The connection that fetched it.
    connection_id: Option<String>,
    /// The source whose parser refused it.
    source: String,
    /// Why.
    error: String,
    /// The payload as received.
    #[schema(value_type = Object)]
    payload: Value,
    /// When.
    received_at: DateTime<Utc>,
}

/// A connection's ingest errors, newest first (at most 200).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct IngestErrorList {
    /// The errors.
    errors: Vec<IngestError>,
}

fn seconds(
    body: &Value,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
    errors: &mut Vec<FieldError>,
) -> Duration {
    match body.get(name) {
        None | Some(Value::Null) => Duration::from_secs(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Duration::from_secs(n),
            _ => {
                errors.push(field(
                    name,
                    format!("must be a whole number of seconds, {min}–{max}"),
                ));
                Duration::from_secs(default)
            }
        },
    }
}

/// Create a pull connection.
///
/// `POST /api/v1/connections` (admin): the settings (and secret) are checked by building
/// the vendor's client exactly as polling will; the secret is stored sealed.
#[utoipa::path(
    post,
    path = "/api/v1/connections",
    tag = "connections",
    operation_id = "create_connection",
    security(("api_key" = [])),
    request_body = NewConnectionBody,
    responses(
        (status = 201, description = "Created", body = ConnectionDoc),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Fields failed validation (including a name already in use), each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let body = super::json_body(body, &super::limits::CONNECTION)?;
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    let name = required_name(&body, &mut errors).unwrap_or_default();
    let vendors: Vec<&str> = VENDORS.iter().map(|(v, _)| *v).collect();
    let vendor = body
        .get("vendor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let secret_needed = needs_secret(&vendor);
    if secret_needed.is_none() {
        errors.push(field(
            "vendor",
            format!("must be one of {}", vendors.join(", ")),
        ));
    }
    let settings = body.get("settings").cloned().unwrap_or(Value::Null);
    if !settings.is_object() {
        errors.push(field(
            "settings",
            "missing (an object with the vendor's settings)",
        ));
    }
    let secret = match body.get("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(field("secret", "must be a non-empty string"));
            None
        }
    };
    match (secret_needed, &secret) {
        (Some(true), None) => errors.push(field(
            "secret",
            format!("missing: a {vendor} connection needs its API client secret"),
        )),
        (Some(false), Some(_)) => errors.push(field(
            "secret",
            format!("a {vendor} connection takes no secret (it uses the server's AWS credentials)"),
        )),
        _ => {}
    }
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(field("enabled", "must be true or false"));
            true
        }
    };
    let poll_interval = seconds(&body, "poll_interval_seconds", 60, 1, 86_400, &mut errors);
    let overlap = seconds(&body, "overlap_seconds", 300, 0, 86_400, &mut errors);
    let lookback = seconds(
        &body,
        "lookback_seconds",
        86_400,
        0,
        90 * 86_400,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    // Building the poller validates the settings exactly as polling will use them.
    if let Err(e) = build_poller(&vendor, &settings, secret.clone(), &state.outbound).await {
        let at = match &e {
            PollError::Config(m) if m.contains("secret") => "secret",
            _ => "settings",
        };
        return Err(ApiError::Invalid(vec![field(at, e.to_string())]));
    }
    if state
        .store
        .list_connections()
        .await?
        .iter()
        .any(|c| c.name == name)
    {
        return Err(ApiError::Invalid(vec![field(
            "name",
            "a connection with this name exists",
        )]));
    }
    let new = NewConnection {
        name,
        vendor,
        settings,
        secret,
        enabled,
        poll_interval,
        overlap,
        lookback,
    };
    let created = state
        .store
        .create_connection(&state.master_key, &new)
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "connection.created",
        &connection_detail(&created),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

/// List pull connections.
///
/// `GET /api/v1/connections` (viewer): every connection with its polling state.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "connections",
    operation_id = "list_connections",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every connection", body = ConnectionList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(
        json!({"connections": state.store.list_connections().await?}),
    ))
}

async fn find(state: &AppState, id: &str) -> Result<Connection, ApiError> {
    state
        .store
        .get_connection(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connection {id}")))
}

/// Get a pull connection.
///
/// `GET /api/v1/connections/{id}` (viewer): the connection with its polling state.
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    operation_id = "get_connection",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The connection", body = ConnectionDoc),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(json!(find(&state, &id).await?)))
}

/// Test a pull connection.
///
/// `POST /api/v1/connections/{id}/test` (analyst): authenticates and makes one cheap read.
/// Answers 200 with `ok: false` and the reason when the vendor refuses.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/test",
    tag = "connections",
    operation_id = "test_connection",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The test's result (`ok: false` with the reason when the vendor refused)", body = ConnectionTest),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let conn = find(&state, &id).await?;
    let secret = state
        .store
        .connection_secret(&state.master_key, &id)
        .await?;
    let result = match build_poller(&conn.vendor, &conn.settings, secret, &state.outbound).await {
        Ok(poller) => poller.test().await,
        Err(e) => Err(e),
    };
    Ok(Json(match result {
        Ok(()) => json!({"ok": true, "vendor": conn.vendor}),
        Err(e) => {
            json!({"ok": false, "vendor": conn.vendor, "error": e.to_string(), "transient": e.is_transient()})
        }
    }))
}

/// Poll a pull connection now.
///
/// `POST /api/v1/connections/{id}/poll` (analyst): poll as soon as a worker is free.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/poll",
    tag = "connections",
    operation_id = "poll_connection",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 202, description = "The poll is due now"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
)]
pub(crate) async fn poll_now(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    if !state.store.poll_connection_now(&id).await? {
        return Err(ApiError::NotFound(format!("no connection {id}")));
    }
    Ok(StatusCode::ACCEPTED)
}

/// List a pull connection's ingest errors.
///
/// `GET /api/v1/connections/{id}/errors` (viewer): payloads the connection fetched that
/// could not be turned into alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}/errors",
    tag = "connections",
    operation_id = "list_connection_errors",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "The ingest errors, newest first", body = IngestErrorList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
    ),
)]
pub(crate) async fn errors(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    find(&state, &id).await?;
    Ok(Json(
        json!({"errors": state.store.list_ingest_errors(Some(&id), 200).await?}),
    ))
}

/// Delete a pull connection.
///
/// `DELETE /api/v1/connections/{id}` (admin): polling stops; its stored credential is
/// deleted with it. Refused (409) while a detection rule is bound to it.
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}",
    tag = "connections",
    operation_id = "delete_connection",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such connection", body = ErrorBody),
        (status = 409, description = "Detection rules are bound to it; they are named", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let conn = find(&state, &id).await?;
    let bound: Vec<String> = state
        .store
        .list_rules()
        .await?
        .into_iter()
        .filter(|r| r.spec.connection_id.as_deref() == Some(id.as_str()))
        .map(|r| r.spec.name)
        .collect();
    if !bound.is_empty() {
        return Err(ApiError::Conflict(format!(
            "rules {} are bound to this connection: bind them to another connection or delete them first",
            bound.join(", ")
        )));
    }
    state.store.delete_connection(&id).await?;
    audit(
        &state.store,
        &caller.actor(),
        "connection.deleted",
        &connection_detail(&conn),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn connection_detail(conn: &Connection) -> Value {
    json!({"connection_id": conn.id, "name": conn.name, "vendor": conn.vendor})
}
