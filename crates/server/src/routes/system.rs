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
    let stages = state
        .store
        .queue_stages(chrono::Utc::now(), QUEUE_WINDOW)
        .await?;
    for stage in &stages {
        let kind = stage.kind.clone();
        metrics::gauge!("riposte_queue_ready", "kind" => kind.clone()).set(stage.ready as f64);
        metrics::gauge!("riposte_queue_running", "kind" => kind.clone()).set(stage.running as f64);
        metrics::gauge!("riposte_queue_oldest_ready_seconds", "kind" => kind.clone())
            .set(stage.oldest_ready_secs.unwrap_or(0.0));
        metrics::gauge!("riposte_stage_done_per_minute", "kind" => kind).set(stage.per_minute);
    }
    Ok(metrics_handle().render())
}

/// The window over which finished jobs are counted for throughput.
const QUEUE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// The job queue by pipeline stage.
///
/// `GET /api/v1/system/queue` (viewer): for each job kind, how many jobs wait (and how many
/// of them are runnable now), how many run, how long the oldest runnable job has waited,
/// and how many finished or failed in the last five minutes (with the rate per minute).
/// The same figures are on `/metrics` (`riposte_queue_ready`, `riposte_queue_running`,
/// `riposte_queue_oldest_ready_seconds`, `riposte_stage_done_per_minute`).
#[utoipa::path(
    get,
    path = "/api/v1/system/queue",
    tag = "system",
    operation_id = "get_queue",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The queue by stage", body = Object,
            example = json!({"window_secs": 300, "stages": [{"kind": "detect", "queued": 3,
                "ready": 2, "running": 1, "oldest_ready_secs": 4.2, "done_recent": 120,
                "failed_recent": 0, "per_minute": 24.0}]})),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn queue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let stages = state
        .store
        .queue_stages(chrono::Utc::now(), QUEUE_WINDOW)
        .await?;
    Ok(Json(
        json!({"window_secs": QUEUE_WINDOW.as_secs(), "stages": stages}),
    ))
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
