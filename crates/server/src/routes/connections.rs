//! `/api/v1/connections`: pull connections to vendor APIs (CrowdStrike, Defender,
//! GuardDuty). Admins create and delete them; analysts test and trigger polls; viewers
//! read. Credentials are sealed with the master key and never returned.

use super::{audit, field, required_name};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_sources::FieldError;
use riposte_sources::poll::PollError;
use riposte_store::{Connection, NewConnection, Role};
use riposte_worker::connections::{VENDORS, build_poller, needs_secret};
use serde_json::{Value, json};
use std::time::Duration;

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

/// `POST /api/v1/connections` (admin).
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let body = super::json_body(body)?;
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

/// `GET /api/v1/connections` (viewer): every connection with its polling state.
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

/// `GET /api/v1/connections/{id}` (viewer).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(json!(find(&state, &id).await?)))
}

/// `POST /api/v1/connections/{id}/test` (analyst): authenticates and makes one cheap read.
/// Answers 200 with `ok: false` and the reason when the vendor refuses.
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

/// `POST /api/v1/connections/{id}/poll` (analyst): poll as soon as a worker is free.
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

/// `GET /api/v1/connections/{id}/errors` (viewer): payloads the connection fetched that
/// could not be turned into alerts, newest first.
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

/// `DELETE /api/v1/connections/{id}` (admin).
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let conn = find(&state, &id).await?;
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
