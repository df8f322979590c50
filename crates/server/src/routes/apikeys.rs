//! `/api/v1/apikeys`: API keys, for admins (Settings › API keys). A key is shown once, at
//! creation; only its hash is stored. Revoking a key ends its console sessions too.

use super::{audit, invalid, limits, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_rules::FieldProblem;
use riposte_store::Role;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A key to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiKey {
    /// Who or what uses it, 1 to 100 characters.
    name: String,
    /// `viewer`, `analyst` or `admin`.
    role: String,
}

/// Create an API key.
///
/// `POST /api/v1/apikeys` (admin): `{"name": "siem", "role": "viewer"}` → the key, shown
/// this once (`key`), with its id and prefix.
#[utoipa::path(
    post,
    path = "/api/v1/apikeys",
    tag = "system",
    operation_id = "create_api_key",
    security(("api_key" = [])),
    request_body = NewApiKey,
    responses(
        (status = 201, description = "Created; `key` is shown only now", body = Object),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let new: NewApiKey = typed_body(body, &limits::API_KEY)?;
    let name = new.name.trim();
    let mut found = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        found.push(FieldProblem::new("name", "must be 1 to 100 characters"));
    }
    let role: Option<Role> = new.role.parse().ok();
    if role.is_none() {
        found.push(FieldProblem::new(
            "role",
            "must be viewer, analyst or admin",
        ));
    }
    let Some(role) = role.filter(|_| found.is_empty()) else {
        return invalid(found);
    };
    let (record, key) = state.store.create_api_key(name, role).await?;
    audit(
        &state.store,
        &caller.actor(),
        "apikey.created",
        &json!({"id": record.id, "name": record.name, "role": record.role, "prefix": record.prefix}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": record.id, "name": record.name, "role": record.role, "prefix": record.prefix, "created_at": record.created_at, "key": key}),
        ),
    ))
}

/// List API keys.
///
/// `GET /api/v1/apikeys` (admin): active keys (name, role, prefix), never their secrets.
#[utoipa::path(
    get,
    path = "/api/v1/apikeys",
    tag = "system",
    operation_id = "list_api_keys",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Active keys, oldest first", body = Object),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(json!({"apikeys": state.store.list_api_keys().await?})))
}

/// Revoke an API key.
///
/// `DELETE /api/v1/apikeys/{id}` (admin): the key stops working at once, and its console
/// sessions end.
#[utoipa::path(
    delete,
    path = "/api/v1/apikeys/{id}",
    tag = "system",
    operation_id = "revoke_api_key",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such active key", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if !state.store.revoke_api_key(&id).await? {
        return Err(ApiError::NotFound(format!("no active API key {id}")));
    }
    audit(
        &state.store,
        &caller.actor(),
        "apikey.revoked",
        &json!({"id": id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
