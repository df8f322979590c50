//! `POST /publicapi/v2/enrich_with_secdo/`: the SECDO-compatible enrichment API, so any
//! firewall, AV or SIEM script written for SECDO can send alerts unchanged. The `apikey`
//! field of the body is accepted as the credential (a Bearer header works too).

use super::{intake, json_body};
use crate::auth::{authenticate, bearer};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use riposte_model::AlertSource;
use riposte_store::{AlertInsert, Role};

/// Answers `true` like SECDO does; the alert id is in the `X-Riposte-Alert-Id` header.
pub(crate) async fn enrich(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let payload = json_body(body)?;
    let key = bearer(&headers).or_else(|| riposte_sources::secdo_api_key(&payload)).ok_or_else(|| {
        ApiError::Unauthorized("missing API key: send the `apikey` field (mandatory) or `Authorization: Bearer <key>`".into())
    })?;
    let caller = authenticate(&state, key).await?;
    caller.require(Role::Analyst)?;
    let outcomes = intake(
        &state.store,
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
