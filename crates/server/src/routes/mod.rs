//! Route table: one module per resource.

mod alerts;
mod connections;
mod hooks;
mod integrations;
mod investigations;
mod secdo;
mod system;

use crate::{ApiError, AppState, MAX_BODY_BYTES};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use riposte_model::AlertSource;
use riposte_sources::SourceError;
use riposte_store::{AlertInsert, Store};

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
        .route("/hooks/{id}", post(hooks::receive))
        .route(
            "/api/v1/integrations",
            post(integrations::create).get(integrations::list),
        )
        .route(
            "/api/v1/integrations/{id}",
            axum::routing::delete(integrations::delete),
        )
        .route(
            "/api/v1/integrations/{id}/secret",
            post(integrations::rotate_secret),
        )
        .route(
            "/api/v1/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/api/v1/connections/{id}",
            get(connections::get).delete(connections::delete),
        )
        .route("/api/v1/connections/{id}/test", post(connections::test))
        .route("/api/v1/connections/{id}/poll", post(connections::poll_now))
        .route("/api/v1/connections/{id}/errors", get(connections::errors))
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
    parse_json(&body_bytes(body)?)
}

/// The raw body, with 413 for oversized bodies.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(format!("cannot read request body: {e}"))
        }
    })
}

/// Bytes as JSON, with 400 naming where the JSON breaks.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))
}

/// One field's validation problem.
pub(crate) fn field(field: &str, problem: impl Into<String>) -> riposte_sources::FieldError {
    riposte_sources::FieldError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The `name` of a resource being created: trimmed, 1 to 100 characters.
pub(crate) fn required_name(
    body: &serde_json::Value,
    errors: &mut Vec<riposte_sources::FieldError>,
) -> Option<String> {
    match body
        .get("name")
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
    {
        Some(n) if !n.is_empty() && n.len() <= 100 => Some(n.to_string()),
        _ => {
            errors.push(field(
                "name",
                "missing or empty (a string of 1 to 100 characters)",
            ));
            None
        }
    }
}

/// Records an administrative action in the audit trail, in its own transaction.
pub(crate) async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<(), ApiError> {
    let mut tx = store.begin().await?;
    Store::audit(&mut tx, None, actor, action, detail).await?;
    tx.commit()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(())
}

/// Maps a source's refusal to a 400/422 naming the fields.
fn refused(e: SourceError) -> ApiError {
    match e {
        SourceError::NotAnObject => ApiError::BadRequest(e.to_string()),
        SourceError::InvalidFields(fields) => ApiError::Invalid(fields),
    }
}

/// A push integration's request, recorded inside the intake's transaction: the
/// integration's last use, and a signed request's signature (remembered until
/// `expires_at`, so the same request is refused if replayed).
pub(crate) struct IntegrationUse<'a> {
    pub(crate) integration: &'a str,
    pub(crate) signature: Option<(&'a str, chrono::DateTime<chrono::Utc>)>,
}

/// Parses a payload with `source`'s parser, then stores the alerts and enqueues their
/// triage, all before answering. Duplicates are reported and change nothing.
pub(crate) async fn intake(
    store: &Store,
    actor: &str,
    source: AlertSource,
    payload: &serde_json::Value,
    via: Option<IntegrationUse<'_>>,
) -> Result<Vec<AlertInsert>, ApiError> {
    let parser = riposte_sources::parser(source)
        .ok_or_else(|| ApiError::NotFound(format!("no parser for source {source}")))?;
    let alerts = parser.parse(payload, chrono::Utc::now()).map_err(refused)?;
    let mut tx = store.begin().await?;
    if let Some(via) = via {
        if let Some((signature, expires_at)) = via.signature
            && !Store::remember_signature(&mut tx, via.integration, signature, expires_at).await?
        {
            return Err(ApiError::Unauthorized(
                "this signed request was already accepted (replay refused); sign each request with a fresh timestamp".into(),
            ));
        }
        Store::touch_integration(&mut tx, via.integration).await?;
    }
    let outcomes = riposte_worker::intake::accept_alerts(&mut tx, actor, &alerts).await?;
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
