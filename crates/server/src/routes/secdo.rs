//! `POST /publicapi/v2/enrich_with_secdo/`: the SECDO-compatible enrichment API, so any
//! firewall, AV or SIEM script written for SECDO can send alerts unchanged. The `apikey`
//! field of the body is accepted as the credential (a Bearer header works too).

use super::{intake, json_body};
use crate::auth::{authenticate, bearer};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use riposte_model::AlertSource;
use riposte_store::{AlertInsert, Role};

/// Submit a SECDO enrichment request.
///
/// `POST /publicapi/v2/enrich_with_secdo/` (analyst): an alert in SECDO's enrichment format,
/// with the API key in its mandatory `apikey` field (or an `Authorization: Bearer` header).
/// Answers `true` like SECDO does; the alert id is in the `X-Riposte-Alert-Id` header.
#[utoipa::path(
    post,
    path = "/publicapi/v2/enrich_with_secdo/",
    tag = "secdo",
    operation_id = "secdo_enrich",
    security(("api_key" = [])),
    request_body(content = Object, description = "SECDO's enrichment payload: `apikey`, `company`, `timestamp`, `vendor`, `product`, `type`, `severity`, `event_id`, addresses and ports…",
        example = json!({"company": "secdo", "apikey": "rip_…", "timestamp": "1493209485000", "vendor": "Check Point",
            "product": "FireWall-1 GX", "source_ip": "192.168.52.131", "source_port": "59661",
            "destination_ip": "137.254.120.31", "destination_port": "80",
            "type": "OutgoingConnectionEvent", "severity": "HIGH", "event_id": "1674573196751"})),
    responses(
        (status = 200, description = "Accepted (new or duplicate), like SECDO", body = bool,
            content_type = "application/json",
            headers(("x-riposte-alert-id" = String, description = "The alert's id"))),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn enrich(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let payload = json_body(body, &super::limits::VENDOR_ALERT)?;
    let key = bearer(&headers).or_else(|| riposte_sources::secdo_api_key(&payload)).ok_or_else(|| {
        ApiError::Unauthorized("missing API key: send the `apikey` field (mandatory) or `Authorization: Bearer <key>`".into())
    })?;
    let caller = authenticate(&state, key).await?;
    caller.require(Role::Analyst)?;
    let outcomes = intake(
        &state.intake,
        &caller.actor(),
        AlertSource::Secdo,
        &payload,
        None,
    )
    .await?;
    let mut resp = Json(true).into_response();
    if let Some(AlertInsert::Created(id) | AlertInsert::Duplicate(id)) = outcomes.first()
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        resp.headers_mut().insert("x-riposte-alert-id", v);
    }
    Ok(resp)
}

/// Submit a SECDO enrichment request (without the trailing slash).
///
/// `POST /publicapi/v2/enrich_with_secdo` (analyst): the same as
/// `POST /publicapi/v2/enrich_with_secdo/`, for scripts that leave the slash out.
#[utoipa::path(
    post,
    path = "/publicapi/v2/enrich_with_secdo",
    tag = "secdo",
    operation_id = "secdo_enrich_without_slash",
    security(("api_key" = [])),
    request_body(content = Object, description = "SECDO's enrichment payload, as for the path with the trailing slash"),
    responses(
        (status = 200, description = "Accepted (new or duplicate), like SECDO", body = bool,
            content_type = "application/json",
            headers(("x-riposte-alert-id" = String, description = "The alert's id"))),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn enrich_without_slash(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    enrich(state, headers, body).await
}
