//! `/api/v1/integrations`: push integrations (admin to change, viewer to list). The secret
//! is returned once, at creation or rotation; only its sealed form is stored.

use super::{audit, field, required_name};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_model::AlertSource;
use riposte_store::{Integration, Role};
use serde_json::{Value, json};

fn url(state: &AppState, integration: &Integration) -> String {
    format!(
        "{}/hooks/{}",
        state.public_url.trim_end_matches('/'),
        integration.id
    )
}

/// `POST /api/v1/integrations` (admin): `{"name": "...", "source": "sentinelone"}` →
/// 201 with the integration's URL and secret.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let payload = super::json_body(body)?;
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

/// `GET /api/v1/integrations` (viewer): every integration with its URL, never its secret.
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

/// `POST /api/v1/integrations/{id}/secret` (admin): a new secret; the old one stops working.
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

/// `DELETE /api/v1/integrations/{id}` (admin): its URL stops accepting requests.
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
