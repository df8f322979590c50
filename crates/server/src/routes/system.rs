//! Health and metrics.

use crate::{ApiError, AppState, Caller, metrics_handle};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use riposte_store::Role;
use serde_json::json;

/// `GET /health` (no auth): the process is up and the database answers.
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

/// `GET /metrics`: Prometheus text format, with job queue gauges refreshed on each scrape.
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
