//! `POST /hooks/{id}`: push integrations. Each sender (SentinelOne's webhook app, Wiz, a
//! GuardDuty EventBridge API destination, a SIEM script…) gets its own URL and secret, and
//! authenticates every request with either
//! - `Authorization: Bearer <secret>` (what vendor webhook UIs can send), or
//! - `X-Riposte-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`, which
//!   also proves the body is intact; signatures older or newer than five minutes are
//!   refused, and each signature is accepted once.
//!
//! An unknown integration and a wrong secret get the same 401, so the endpoint does not
//! reveal which integration ids exist.

use super::{IntegrationUse, body_bytes, intake, intake_status, parse_json};
use crate::auth::bearer;
use crate::openapi::{ErrorBody, IntakeOutcomes, ValidationErrorBody};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use riposte_notify::SIGNATURE_HEADER;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// How far a signature's timestamp may be from the server clock, either way.
pub(crate) const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

fn unauthorized() -> ApiError {
    ApiError::Unauthorized(
        "webhook authentication failed: send `Authorization: Bearer <integration secret>` or `X-Riposte-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">` for this integration's URL".into(),
    )
}

/// Receive a push integration's payload.
///
/// `POST /hooks/{id}` (the integration's secret, not an API key): authenticates the
/// request with the integration's secret, as `Authorization: Bearer <secret>` or an
/// `X-Riposte-Signature` HMAC, then takes its payload in like any other alert intake
/// (parsed by the integration's source, stored, triaged). An unknown integration and a
/// wrong secret get the same 401.
#[utoipa::path(
    post,
    path = "/hooks/{id}",
    tag = "sources",
    operation_id = "receive_hook",
    security(("integration_secret" = []), ("integration_signature" = [])),
    params(("id" = String, Path, description = "The integration's id (the last segment of its URL)")),
    request_body(content = Object, description = "The vendor's payload, unchanged"),
    responses(
        (status = 202, description = "Accepted: at least one new alert was stored", body = IntakeOutcomes),
        (status = 200, description = "Already known: every alert was a duplicate", body = IntakeOutcomes),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Unknown integration, wrong secret, bad or replayed signature", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "The payload's fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = body_bytes(body)?;
    let Some((integration, secret)) = state
        .store
        .integration_with_secret(&state.master_key, &id)
        .await?
    else {
        return Err(unauthorized());
    };
    let verified = if let Some(header) = headers.get(SIGNATURE_HEADER) {
        let header = header.to_str().map_err(|_| unauthorized())?;
        let now = chrono::Utc::now().timestamp();
        let verified =
            riposte_notify::verify(&secret, header, &bytes, now, SIGNATURE_TOLERANCE_SECONDS)
                .map_err(|e| {
                    tracing::warn!(integration = %integration.name, error = %e, "webhook signature refused");
                    ApiError::Unauthorized(format!("webhook authentication failed: {e}"))
                })?;
        Some(verified)
    } else {
        match bearer(&headers) {
            Some(token) if bool::from(token.trim().as_bytes().ct_eq(secret.as_bytes())) => None,
            _ => {
                tracing::warn!(integration = %integration.name, "webhook bearer token refused");
                return Err(unauthorized());
            }
        }
    };
    let payload = parse_json(&bytes, &super::limits::VENDOR_ALERT)?;
    // The replay-guard entry lives as long as the signature could still pass the window check.
    let via = IntegrationUse {
        integration: &integration.id,
        signature: verified.as_ref().map(|v| {
            let expires_at =
                chrono::DateTime::from_timestamp(v.timestamp + SIGNATURE_TOLERANCE_SECONDS + 1, 0)
                    .unwrap_or_else(chrono::Utc::now);
            (v.mac.as_str(), expires_at)
        }),
    };
    let actor = format!("integration:{}", integration.name);
    let outcomes = intake(
        &state.intake,
        &actor,
        integration.source,
        &payload,
        Some(via),
    )
    .await?;
    Ok((intake_status(&outcomes), Json(json!({"alerts": outcomes}))))
}
