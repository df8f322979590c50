//! `/api/v1/siem-exports` (Settings › Integrations › SIEM export): where alarms and verdicts
//! are pushed in batches (Splunk HEC, Elasticsearch/OpenSearch `_bulk`). Admins create,
//! replace and delete them; viewers read them and their delivery log. The credential is
//! sealed with the master key and never returned: `has_auth` says whether one is set.

use super::webhooks::{DeliveryList, enabled, events, number, settings};
use super::{audit, field, required_name};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use riposte_model::NotificationEvent;
use riposte_notify::siem::{batch_size, sink, sink_kinds};
use riposte_notify::{Credential, GuardedClient};
use riposte_sources::FieldError;
use riposte_store::{DeliveryTarget, Role, SecretChange, SiemExport, SiemExportSpec};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Most attempts an export may ask for.
const MAX_ATTEMPTS: u64 = 10;
/// Longest base delay, in milliseconds (10 minutes).
const MAX_BASE_DELAY_MS: u64 = 600_000;

/// A SIEM export as created or replaced.
#[derive(Serialize, ToSchema)]
#[schema(as = NewSiemExport)]
#[allow(dead_code)] // documentation only; the body is parsed by hand
pub(crate) struct NewSiemExportBody {
    /// A unique name, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// `splunk_hec` or `elasticsearch` (also OpenSearch).
    kind: String,
    /// The collector's base URL (`https://splunk:8088`, `https://es:9200`). Must reach a
    /// public address unless the server's outbound allowlist covers it.
    url: String,
    /// The events exported (at least one).
    events: Vec<NotificationEvent>,
    /// Kind settings: `batch_size` (1–10000, default 100); Splunk `index`, `sourcetype`,
    /// `source`; Elasticsearch `index` (default `riposte`).
    #[schema(value_type = Object)]
    settings: Option<Value>,
    /// The collector's credential: `{"type": "splunk", "token"}` (required for
    /// `splunk_hec`); `{"type": "api_key", "key"}`, `{"type": "basic", "username",
    /// "password"}` or `{"type": "bearer", "token"}` for `elasticsearch`. On replace: absent
    /// keeps the stored one, `null` removes it.
    #[schema(value_type = Object)]
    auth: Option<Value>,
    /// Attempts per batch, 1–10 (default 5).
    #[schema(minimum = 1, maximum = 10)]
    max_attempts: Option<u32>,
    /// First wait between attempts in milliseconds, doubled each time, 0–600000 (default 2000).
    #[schema(maximum = 600000)]
    base_delay_ms: Option<u64>,
    /// Whether events are exported (default true).
    enabled: Option<bool>,
}

/// A SIEM export (never with its credential).
#[derive(Serialize, ToSchema)]
#[schema(as = SiemExport)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::SiemExport`
pub(crate) struct SiemExportDoc {
    /// Id.
    id: String,
    /// Unique name.
    name: String,
    /// `splunk_hec` or `elasticsearch`.
    kind: String,
    /// The collector's base URL.
    url: String,
    /// The events exported.
    events: Vec<NotificationEvent>,
    /// Kind settings.
    #[schema(value_type = Object)]
    settings: Value,
    /// Whether a credential is stored.
    has_auth: bool,
    /// Attempts per batch.
    max_attempts: u32,
    /// First wait between attempts, in milliseconds.
    base_delay_ms: u64,
    /// Whether events are exported.
    enabled: bool,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

/// Every SIEM export.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct SiemExportList {
    /// The exports, by name.
    siem_exports: Vec<SiemExportDoc>,
}

/// The credential types each kind accepts, the first being required when `required`.
fn accepted_credentials(kind: &str) -> (&'static [&'static str], bool) {
    match kind {
        "splunk_hec" => (&["splunk"], true),
        _ => (&["api_key", "basic", "bearer"], false),
    }
}

fn credential_type(c: &Credential) -> &'static str {
    match c {
        Credential::Basic { .. } => "basic",
        Credential::Bearer { .. } => "bearer",
        Credential::ApiKey { .. } => "api_key",
        Credential::Splunk { .. } => "splunk",
    }
}

fn auth_change(body: &Value, kind: &str, errors: &mut Vec<FieldError>) -> SecretChange {
    match body.get("auth") {
        None => SecretChange::Keep,
        Some(Value::Null) => SecretChange::Clear,
        Some(v) => match Credential::from_value(v) {
            Ok(c) => {
                let (accepted, _) = accepted_credentials(kind);
                if accepted.contains(&credential_type(&c)) {
                    SecretChange::Set(c.to_stored())
                } else {
                    errors.push(field(
                        "auth",
                        format!("a {kind} export takes a {} credential", accepted.join(", ")),
                    ));
                    SecretChange::Keep
                }
            }
            Err(e) => {
                errors.push(field("auth", e));
                SecretChange::Keep
            }
        },
    }
}

/// What a create or replace body asks for.
struct Parsed {
    spec: SiemExportSpec,
    auth: SecretChange,
}

/// Reads and checks a create/replace body; every problem names its field. `current` is
/// the stored export on replace (its credential may be kept).
async fn parse(
    state: &AppState,
    body: &Value,
    current: Option<&SiemExport>,
) -> Result<Parsed, ApiError> {
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    let name = required_name(body, &mut errors).unwrap_or_default();
    let kind = match body.get("kind") {
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        _ => String::new(),
    };
    let chosen = sink(&kind);
    if chosen.is_none() {
        errors.push(field(
            "kind",
            format!("must be one of {}", sink_kinds().join(", ")),
        ));
    }
    let url = match body.get("url").and_then(Value::as_str).map(str::trim) {
        Some(u) if !u.is_empty() && u.len() <= 2048 => u.to_string(),
        _ => {
            errors.push(field(
                "url",
                "missing: an http(s) URL of at most 2048 characters",
            ));
            String::new()
        }
    };
    let events = events(body, &mut errors);
    let settings = settings(body, &mut errors);
    if let Some(s) = chosen {
        for (at, problem) in s.check_settings(&settings) {
            errors.push(field(&at, problem));
        }
    }
    if let Err((at, problem)) = batch_size(&settings) {
        errors.push(field(&at, problem));
    }
    let auth = auth_change(body, &kind, &mut errors);
    if chosen.is_some() {
        let (accepted, required) = accepted_credentials(&kind);
        let will_have = match &auth {
            SecretChange::Set(_) => true,
            SecretChange::Clear => false,
            SecretChange::Keep => current.is_some_and(|x| x.has_auth && x.kind == kind),
        };
        if required && !will_have {
            errors.push(field(
                "auth",
                format!(
                    "missing: a {kind} export needs a `{}` credential",
                    accepted.join("` or `")
                ),
            ));
        }
    }
    let enabled = enabled(body, &mut errors);
    let max_attempts = number(body, "max_attempts", 5, MAX_ATTEMPTS, 1, &mut errors);
    let base_delay_ms = number(
        body,
        "base_delay_ms",
        2000,
        MAX_BASE_DELAY_MS,
        0,
        &mut errors,
    );
    if !url.is_empty() {
        // The same check every export makes, so a refused address is named now.
        if let Err(e) = GuardedClient::new(state.outbound.clone()).check(&url).await {
            errors.push(field("url", e.to_string()));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Parsed {
        spec: SiemExportSpec {
            name,
            kind,
            url,
            events,
            settings,
            max_attempts: u32::try_from(max_attempts).unwrap_or(5),
            base_delay_ms,
            enabled,
        },
        auth,
    })
}

async fn find(state: &AppState, id: &str) -> Result<SiemExport, ApiError> {
    state
        .store
        .get_siem_export(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no SIEM export {id}")))
}

fn name_taken(e: ApiError) -> ApiError {
    match e {
        ApiError::Conflict(m) => ApiError::Invalid(vec![field("name", m)]),
        other => other,
    }
}

fn detail(x: &SiemExport) -> Value {
    json!({"siem_export_id": x.id, "name": x.name, "kind": x.kind, "url": riposte_notify::redact_url(&x.url)})
}

/// Create a SIEM export.
///
/// `POST /api/v1/siem-exports` (admin): the URL is checked against the outbound policy and
/// the settings against the kind; the credential is stored sealed.
#[utoipa::path(
    post,
    path = "/api/v1/siem-exports",
    tag = "siem-exports",
    operation_id = "create_siem_export",
    security(("api_key" = [])),
    request_body = NewSiemExportBody,
    responses(
        (status = 201, description = "Created (without its credential)", body = SiemExportDoc),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
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
    let body = super::json_body(body, &super::limits::SIEM_EXPORT)?;
    let parsed = parse(&state, &body, None).await?;
    let auth = match &parsed.auth {
        SecretChange::Set(s) => Some(s.as_str()),
        _ => None,
    };
    let created = state
        .store
        .create_siem_export(&state.master_key, &parsed.spec, auth)
        .await
        .map_err(|e| name_taken(e.into()))?;
    audit(
        &state.store,
        &caller.actor(),
        "siem_export.created",
        &detail(&created),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

/// List SIEM exports.
///
/// `GET /api/v1/siem-exports` (viewer): every export, by name, without credentials.
#[utoipa::path(
    get,
    path = "/api/v1/siem-exports",
    tag = "siem-exports",
    operation_id = "list_siem_exports",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every SIEM export", body = SiemExportList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(
        json!({"siem_exports": state.store.list_siem_exports().await?}),
    ))
}

/// Get a SIEM export.
///
/// `GET /api/v1/siem-exports/{id}` (viewer): the export, without its credential.
#[utoipa::path(
    get,
    path = "/api/v1/siem-exports/{id}",
    tag = "siem-exports",
    operation_id = "get_siem_export",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The SIEM export", body = SiemExportDoc),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such SIEM export", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(json!(find(&state, &id).await?)))
}

/// Replace a SIEM export.
///
/// `PUT /api/v1/siem-exports/{id}` (admin): the whole configuration is replaced; `auth` is
/// kept when absent, removed when `null`.
#[utoipa::path(
    put,
    path = "/api/v1/siem-exports/{id}",
    tag = "siem-exports",
    operation_id = "update_siem_export",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The export's id")),
    request_body = NewSiemExportBody,
    responses(
        (status = 200, description = "Replaced (without its credential)", body = SiemExportDoc),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such SIEM export", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let current = find(&state, &id).await?;
    let body = super::json_body(body, &super::limits::SIEM_EXPORT)?;
    let parsed = parse(&state, &body, Some(&current)).await?;
    // A credential of another kind is not kept when the kind changes.
    let auth = match parsed.auth {
        SecretChange::Keep if current.kind != parsed.spec.kind => SecretChange::Clear,
        other => other,
    };
    let updated = state
        .store
        .update_siem_export(&state.master_key, &id, &parsed.spec, auth)
        .await
        .map_err(|e| name_taken(e.into()))?
        .ok_or_else(|| ApiError::NotFound(format!("no SIEM export {id}")))?;
    audit(
        &state.store,
        &caller.actor(),
        "siem_export.updated",
        &detail(&updated),
    )
    .await?;
    Ok(Json(json!(updated)))
}

/// Delete a SIEM export.
///
/// `DELETE /api/v1/siem-exports/{id}` (admin): the export, its credential and its
/// delivery log.
#[utoipa::path(
    delete,
    path = "/api/v1/siem-exports/{id}",
    tag = "siem-exports",
    operation_id = "delete_siem_export",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The export's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such SIEM export", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let current = find(&state, &id).await?;
    state.store.delete_siem_export(&id).await?;
    audit(
        &state.store,
        &caller.actor(),
        "siem_export.deleted",
        &detail(&current),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a SIEM export's deliveries.
///
/// `GET /api/v1/siem-exports/{id}/deliveries` (viewer): every attempt to push a batch
/// (status, error, start of the answer), newest first, at most 200.
#[utoipa::path(
    get,
    path = "/api/v1/siem-exports/{id}/deliveries",
    tag = "siem-exports",
    operation_id = "list_siem_export_deliveries",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The attempts, newest first", body = DeliveryList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such SIEM export", body = ErrorBody),
    ),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    find(&state, &id).await?;
    let attempts = state
        .store
        .list_deliveries(DeliveryTarget::SiemExport, &id, 200)
        .await?;
    Ok(Json(json!({"deliveries": attempts})))
}
