//! `/api/v1/integrations`: push integrations (admin to change, viewer to list). The secret
//! is returned once, at creation or rotation; only its sealed form is stored.

use super::{audit, field, required_name};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use riposte_model::AlertSource;
use riposte_store::{Integration, Role};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A new push integration.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; the body is parsed by hand
pub(crate) struct NewIntegration {
    /// A unique name, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Which source's parser reads its payloads.
    source: AlertSource,
}

/// A push integration (never with its secret, except when created).
#[derive(Serialize, ToSchema)]
#[schema(as = Integration)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::Integration` plus `url`
pub(crate) struct IntegrationDoc {
    /// Random id; the last segment of the integration's URL.
    id: String,
    /// A name to recognise it by (unique).
    name: String,
    /// Which parser reads its payloads.
    source: AlertSource,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When a request last authenticated with it.
    last_used_at: Option<DateTime<Utc>>,
    /// Where the sender posts: `<public URL>/hooks/<id>`.
    url: String,
}

/// A created push integration, with its secret (shown this once).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct CreatedIntegration {
    /// The integration.
    #[serde(flatten)]
    integration: IntegrationDoc,
    /// The secret the sender authenticates with; only its sealed form is stored.
    secret: String,
}

/// Every push integration.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct IntegrationList {
    /// The integrations.
    integrations: Vec<IntegrationDoc>,
}

/// A rotated secret (shown this once).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct RotatedSecret {
    /// The integration's id.
    id: String,
    /// The new secret; the old one stopped working.
    secret: String,
}

fn url(state: &AppState, integration: &Integration) -> String {
    format!(
        "{}/hooks/{}",
        state.public_url.trim_end_matches('/'),
        integration.id
    )
}

/// Create a push integration.
///
/// `POST /api/v1/integrations` (admin): `{"name": "...", "source": "sentinelone"}` →
/// 201 with the integration's URL and secret.
#[utoipa::path(
    post,
    path = "/api/v1/integrations",
    tag = "integrations",
    operation_id = "create_integration",
    security(("api_key" = [])),
    request_body = NewIntegration,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = CreatedIntegration),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
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
    let payload = super::json_body(body, &super::limits::INTEGRATION)?;
    let mut errors = Vec::new();
    let name = required_name(&payload, &mut errors);
    let source = match payload.get("source").and_then(Value::as_str) {
        Some(s) => match s.parse::<AlertSource>() {
            Ok(source) => Some(source),
            Err(e) => {
                errors.push(field("source", e.to_string()));
                None
            }
        },
        None => {
            errors.push(field(
                "source",
                "missing: one of generic, secdo, guardduty, crowdstrike, defender, sentinelone, wiz",
            ));
            None
        }
    };
    let (Some(name), Some(source)) = (name, source) else {
        return Err(ApiError::Invalid(errors));
    };
    if state
        .store
        .list_integrations()
        .await?
        .iter()
        .any(|i| i.name == name)
    {
        return Err(ApiError::Invalid(vec![field(
            "name",
            "an integration with this name exists",
        )]));
    }
    let (integration, secret) = state
        .store
        .create_integration(&state.master_key, &name, source)
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "integration.created",
        &json!({"integration_id": integration.id, "name": integration.name, "source": integration.source}),
    )
    .await?;
    let mut body = serde_json::to_value(&integration).map_err(|e| ApiError::Internal(e.into()))?;
    body["url"] = json!(url(&state, &integration));
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

/// List push integrations.
///
/// `GET /api/v1/integrations` (viewer): every integration with its URL, never its secret.
#[utoipa::path(
    get,
    path = "/api/v1/integrations",
    tag = "integrations",
    operation_id = "list_integrations",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every integration", body = IntegrationList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let integrations: Vec<Value> = state
        .store
        .list_integrations()
        .await?
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            v["url"] = json!(url(&state, i));
            v
        })
        .collect();
    Ok(Json(json!({"integrations": integrations})))
}

/// Rotate a push integration's secret.
///
/// `POST /api/v1/integrations/{id}/secret` (admin): a new secret; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/v1/integrations/{id}/secret",
    tag = "integrations",
    operation_id = "rotate_integration_secret",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The integration's id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = RotatedSecret),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such integration", body = ErrorBody),
    ),
)]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let secret = state
        .store
        .rotate_integration_secret(&state.master_key, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no integration {id}")))?;
    audit(
        &state.store,
        &caller.actor(),
        "integration.secret_rotated",
        &json!({"integration_id": id}),
    )
    .await?;
    Ok(Json(json!({"id": id, "secret": secret})))
}

/// Delete a push integration.
///
/// `DELETE /api/v1/integrations/{id}` (admin): its URL stops accepting requests.
#[utoipa::path(
    delete,
    path = "/api/v1/integrations/{id}",
    tag = "integrations",
    operation_id = "delete_integration",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The integration's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such integration", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if !state.store.delete_integration(&id).await? {
        return Err(ApiError::NotFound(format!("no integration {id}")));
    }
    audit(
        &state.store,
        &caller.actor(),
        "integration.deleted",
        &json!({"integration_id": id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
