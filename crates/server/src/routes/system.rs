//! Health, metrics and the OpenAPI document.

use crate::openapi::{ErrorBody, openapi_json};
use crate::{ApiError, AppState, Caller, metrics_handle};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use riposte_store::Role;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// The health answer.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct Health {
    /// `ok` or `unavailable`.
    status: String,
    /// `unreachable` when the database does not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<String>,
}

/// Health check.
///
/// `GET /health` (no auth): the process is up and the database answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    operation_id = "health",
    responses(
        (status = 200, description = "The process is up and the database answers", body = Health,
            example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = Health,
            example = json!({"status": "unavailable", "database": "unreachable"})),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

/// Prometheus metrics.
///
/// `GET /metrics` (viewer): Prometheus text format, with job queue gauges refreshed on each
/// scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    operation_id = "metrics",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String,
            content_type = "text/plain"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<String, ApiError> {
    caller.require(Role::Viewer)?;
    let counts = state.store.job_counts().await?;
    for (status, n) in [
        ("queued", counts.queued),
        ("running", counts.running),
        ("done", counts.done),
        ("failed", counts.failed),
    ] {
        metrics::gauge!("riposte_jobs", "status" => status).set(n as f64);
    }
    Ok(metrics_handle().render())
}

/// This OpenAPI document.
///
/// `GET /api/v1/openapi.json` (viewer): the OpenAPI 3.1 document of every route, generated
/// from the server's route table.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "system",
    operation_id = "get_openapi_document",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object,
            content_type = "application/json"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn openapi_document(caller: Caller) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], openapi_json()))
}
