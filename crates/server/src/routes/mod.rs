//! Route table: one module per resource.

mod alerts;
mod investigations;
mod secdo;
mod system;

use crate::{ApiError, AppState, Caller, MAX_BODY_BYTES};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use riposte_model::{AlertSource, JobKind};
use riposte_sources::SourceError;
use riposte_store::{AlertInsert, NewJob, Store};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/alerts", post(alerts::create).get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::get))
        .route(
            "/api/v1/sources/{source}/alerts",
            post(alerts::create_from_source),
        )
        .route("/publicapi/v2/enrich_with_secdo/", post(secdo::enrich))
        .route("/publicapi/v2/enrich_with_secdo", post(secdo::enrich))
        .route("/api/v1/investigations", get(investigations::list))
        .route("/api/v1/investigations/{id}", get(investigations::get))
        .route(
            "/api/v1/investigations/{id}/timeline",
            get(investigations::timeline),
        )
        .fallback(|| async {
            ApiError::NotFound("no such route; see the API section of the README".into())
        })
}

/// The body as JSON, with 413 for oversized bodies and 400 naming where the JSON breaks.
pub(crate) fn json_body(
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Value, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(format!("cannot read request body: {e}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))
}

/// Maps a source's refusal to a 400/422 naming the fields.
fn refused(e: SourceError) -> ApiError {
    match e {
        SourceError::NotAnObject => ApiError::BadRequest(e.to_string()),
        SourceError::InvalidFields(fields) => ApiError::Invalid(fields),
    }
}

/// Parses a payload with `source`'s parser, then stores the alerts and enqueues their
/// triage, all before answering. Duplicates are reported and change nothing.
pub(crate) async fn intake(
    store: &Store,
    caller: &Caller,
    source: AlertSource,
    payload: &serde_json::Value,
) -> Result<Vec<AlertInsert>, ApiError> {
    let parser = riposte_sources::parser(source)
        .ok_or_else(|| ApiError::NotFound(format!("no parser for source {source}")))?;
    let alerts = parser.parse(payload, chrono::Utc::now()).map_err(refused)?;
    let mut tx = store.begin().await?;
    let mut outcomes = Vec::with_capacity(alerts.len());
    for alert in &alerts {
        let outcome = Store::insert_alert(&mut tx, alert).await?;
        if let AlertInsert::Created(id) = outcome {
            let job = NewJob::new(
                JobKind::TriageAlert,
                serde_json::json!({"alert_id": id.to_string()}),
                None,
            );
            Store::enqueue(&mut tx, &job).await?;
            Store::audit(
                &mut tx,
                None,
                &caller.actor(),
                "alert.accepted",
                &serde_json::json!({"alert_id": id, "source": alert.source}),
            )
            .await?;
        }
        let label = match outcome {
            AlertInsert::Created(_) => "created",
            AlertInsert::Duplicate(_) => "duplicate",
        };
        metrics::counter!("riposte_alerts_total", "source" => alert.source.as_str(), "outcome" => label)
            .increment(1);
        outcomes.push(outcome);
    }
    tx.commit()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(outcomes)
}

/// 202 when anything new was accepted, 200 when everything was a duplicate.
pub(crate) fn intake_status(outcomes: &[AlertInsert]) -> StatusCode {
    if outcomes
        .iter()
        .any(|o| matches!(o, AlertInsert::Created(_)))
    {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}
