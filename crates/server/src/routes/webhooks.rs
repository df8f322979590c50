//! `/api/v1/webhooks` (Settings › Integrations › Webhooks): outbound webhooks. Admins
//! create, replace and delete them; analysts send tests; viewers read them and their
//! delivery log. The HMAC secret and the Authorization credential are sealed with the master
//! key and never returned: `has_secret` and `has_auth` say whether they are set. The URL is
//! a credential too (Slack and Teams put their secret in its path): it is sealed, and
//! everyone — admins included — reads it masked (`https://hooks.slack.com/services/***`);
//! admins replace it but never read it back.

use super::{audit, field, invalid, limits, required_name, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use riposte_model::NotificationEvent;
use riposte_notify::presets::{preset, preset_names};
use riposte_notify::{Credential, Dispatcher, GuardedClient, template};
use riposte_rules::FieldProblem;
use riposte_sources::FieldError;
use riposte_store::{DeliveryTarget, Role, SecretChange, Webhook, WebhookSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Most attempts a webhook may ask for.
const MAX_ATTEMPTS: u64 = 10;
/// Longest base delay, in milliseconds (10 minutes).
const MAX_BASE_DELAY_MS: u64 = 600_000;
/// Largest template, in characters.
const MAX_TEMPLATE_CHARS: usize = 64 * 1024;

/// A webhook as created or replaced.
#[derive(Serialize, ToSchema)]
#[schema(as = NewWebhook)]
#[allow(dead_code)] // documentation only; the body is parsed by hand
pub(crate) struct NewWebhookBody {
    /// A unique name, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Where to post (`http`/`https`; for `jira` the site's base URL). Must reach a public
    /// address unless the server's outbound allowlist covers it. It is a credential (Slack
    /// and Teams put their secret in it): stored sealed and never returned, only masked. On
    /// replace: absent, or the masked form the API returned, keeps the stored URL.
    url: String,
    /// `custom` (default), `slack`, `teams` or `jira`.
    preset: Option<String>,
    /// The events to send (at least one).
    events: Vec<NotificationEvent>,
    /// The JSON payload with `$Variables` (see the README); the preset's when absent.
    template: Option<String>,
    /// Preset settings: for `jira`, `project_key` and `issue_type`.
    #[schema(value_type = Object)]
    settings: Option<Value>,
    /// HMAC-SHA256 signing secret (header `X-Riposte-Signature`). On replace: absent keeps
    /// the stored one, `null` removes it.
    secret: Option<String>,
    /// `Authorization` credential: `{"type": "basic", "username", "password"}` or
    /// `{"type": "bearer", "token"}` (required for `jira`). On replace: absent keeps the
    /// stored one, `null` removes it.
    #[schema(value_type = Object)]
    auth: Option<Value>,
    /// Attempts per delivery, 1–10 (default 5).
    #[schema(minimum = 1, maximum = 10)]
    max_attempts: Option<u32>,
    /// First wait between attempts in milliseconds, doubled each time, 0–600000 (default 2000).
    #[schema(maximum = 600000)]
    base_delay_ms: Option<u64>,
    /// Whether events are sent (default true).
    enabled: Option<bool>,
}

/// A webhook (never with its secrets; its URL masked).
#[derive(Serialize, ToSchema)]
#[schema(as = Webhook)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::Webhook`
pub(crate) struct WebhookDoc {
    /// Id.
    id: String,
    /// Unique name.
    name: String,
    /// Where requests go, masked for everyone: scheme, host, port and at most the first
    /// path segment when it is a plain word, the rest `***`, never user info, query or
    /// fragment (`https://hooks.slack.com/services/***`).
    url: String,
    /// The preset.
    preset: String,
    /// The events sent.
    events: Vec<NotificationEvent>,
    /// The template; `null` uses the preset's.
    template: Option<String>,
    /// Preset settings.
    #[schema(value_type = Object)]
    settings: Value,
    /// Whether bodies are signed.
    has_secret: bool,
    /// Whether an Authorization credential is stored.
    has_auth: bool,
    /// Attempts per delivery.
    max_attempts: u32,
    /// First wait between attempts, in milliseconds.
    base_delay_ms: u64,
    /// Whether events are sent.
    enabled: bool,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Last change.
    updated_at: DateTime<Utc>,
}

/// Every webhook.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct WebhookList {
    /// The webhooks, by name.
    webhooks: Vec<WebhookDoc>,
}

/// One attempt in the delivery log.
#[derive(Serialize, ToSchema)]
#[schema(as = DeliveryAttempt)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::DeliveryAttempt`
pub(crate) struct DeliveryDoc {
    /// Id of the attempt.
    id: String,
    /// The webhook.
    target_id: String,
    /// Shared by the attempts of one delivery (header `X-Riposte-Delivery`).
    delivery_id: String,
    /// The event, or `test`.
    event: String,
    /// 1 for the first attempt.
    attempt: u32,
    /// The receiver's HTTP status, when it answered.
    status_code: Option<u16>,
    /// Whether the receiver accepted it.
    ok: bool,
    /// Why it failed.
    error: Option<String>,
    /// The start of the receiver's answer.
    response_excerpt: Option<String>,
    /// When.
    created_at: DateTime<Utc>,
}

/// A webhook's delivery log, newest first (at most 200 attempts).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct DeliveryList {
    /// The attempts.
    deliveries: Vec<DeliveryDoc>,
}

/// The result of a test delivery.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct WebhookTest {
    /// Whether the receiver accepted the test.
    ok: bool,
    /// The delivery's id in the log.
    delivery_id: String,
    /// The receiver's HTTP status, when it answered.
    status_code: Option<u16>,
    /// Why it failed, when it did.
    error: Option<String>,
    /// The start of the receiver's answer.
    response_excerpt: Option<String>,
}

/// What a create or replace body asks for, secrets apart.
struct Parsed {
    spec: WebhookSpec,
    secret: SecretChange,
    auth: SecretChange,
}

fn secret_change(body: &Value, errors: &mut Vec<FieldError>) -> SecretChange {
    match body.get("secret") {
        None => SecretChange::Keep,
        Some(Value::Null) => SecretChange::Clear,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => SecretChange::Set(s.clone()),
        Some(_) => {
            errors.push(field(
                "secret",
                "must be a string of 1 to 1024 bytes, or null",
            ));
            SecretChange::Keep
        }
    }
}

fn auth_change(body: &Value, errors: &mut Vec<FieldError>) -> SecretChange {
    match body.get("auth") {
        None => SecretChange::Keep,
        Some(Value::Null) => SecretChange::Clear,
        Some(v) => match Credential::from_value(v) {
            Ok(c @ (Credential::Basic { .. } | Credential::Bearer { .. })) => {
                SecretChange::Set(c.to_stored())
            }
            Ok(_) => {
                errors.push(field(
                    "auth",
                    "webhooks take `basic` or `bearer` credentials",
                ));
                SecretChange::Keep
            }
            Err(e) => {
                errors.push(field("auth", e));
                SecretChange::Keep
            }
        },
    }
}

/// A whole-number field between `min` and `max`; `default` when absent.
pub(super) fn number(
    body: &Value,
    name: &str,
    default: u64,
    max: u64,
    min: u64,
    errors: &mut Vec<FieldError>,
) -> u64 {
    match body.get(name) {
        None | Some(Value::Null) => default,
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.push(field(name, format!("must be a whole number, {min}–{max}")));
                default
            }
        },
    }
}

/// The non-empty `events` list of a webhook or SIEM export body.
pub(super) fn events(body: &Value, errors: &mut Vec<FieldError>) -> Vec<NotificationEvent> {
    match body.get("events") {
        Some(v @ Value::Array(items)) if !items.is_empty() => {
            match serde_path_to_error::deserialize::<_, Vec<NotificationEvent>>(v.clone()) {
                Ok(mut events) => {
                    events.dedup();
                    events
                }
                Err(e) => {
                    errors.push(field(
                        &format!("events{}", e.path()),
                        "must be one of alert_received, investigation_started, processing_complete, processing_with_alarms, response_action_taken, response_action_failed",
                    ));
                    Vec::new()
                }
            }
        }
        _ => {
            errors.push(field(
                "events",
                "missing: a non-empty list of events to send",
            ));
            Vec::new()
        }
    }
}

/// The `settings` object of a body (`{}` when absent).
pub(super) fn settings(body: &Value, errors: &mut Vec<FieldError>) -> Value {
    match body.get("settings") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            errors.push(field("settings", "must be an object"));
            json!({})
        }
    }
}

/// The `enabled` flag of a body (true when absent).
pub(super) fn enabled(body: &Value, errors: &mut Vec<FieldError>) -> bool {
    match body.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(field("enabled", "must be true or false"));
            true
        }
    }
}

/// The webhook a replace body applies to: as listed, and its URL opened.
struct Current {
    webhook: Webhook,
    url: String,
}

/// The URL of a body. Admins never read the URL back, so a replace without one, or with
/// the masked form the API returned, keeps the stored URL.
fn url(body: &Value, current: Option<&Current>, errors: &mut Vec<FieldError>) -> String {
    let given = body.get("url").map(|v| v.as_str().map(str::trim));
    match (given, current) {
        (None, Some(c)) => c.url.clone(),
        (Some(Some(u)), Some(c)) if u == c.webhook.url => c.url.clone(),
        (Some(Some(u)), _) if !u.is_empty() && u.len() <= 2048 => u.to_string(),
        _ => {
            errors.push(field(
                "url",
                "missing: an http(s) URL of at most 2048 characters",
            ));
            String::new()
        }
    }
}

/// Reads and checks a create/replace body; every problem names its field. `current` is
/// the stored webhook on replace (its URL and credential may be kept).
async fn parse(
    state: &AppState,
    body: &Value,
    current: Option<&Current>,
) -> Result<Parsed, ApiError> {
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    let name = required_name(body, &mut errors).unwrap_or_default();
    let preset_name = match body.get("preset") {
        None | Some(Value::Null) => "custom".to_string(),
        Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
        Some(_) => String::new(),
    };
    let chosen = preset(&preset_name);
    if chosen.is_none() {
        errors.push(field(
            "preset",
            format!("must be one of {}", preset_names().join(", ")),
        ));
    }
    let url = url(body, current, &mut errors);
    let events = events(body, &mut errors);
    let settings = settings(body, &mut errors);
    let template_text = match body.get("template") {
        None | Some(Value::Null) => None,
        Some(Value::String(t))
            if !t.trim().is_empty() && t.chars().count() <= MAX_TEMPLATE_CHARS =>
        {
            Some(t.clone())
        }
        Some(_) => {
            errors.push(field(
                "template",
                format!(
                    "must be a non-empty string of at most {MAX_TEMPLATE_CHARS} characters, or null"
                ),
            ));
            None
        }
    };
    if let Some(p) = chosen {
        for (at, problem) in p.check_settings(&settings) {
            errors.push(field(&at, problem));
        }
        if let Some(t) = &template_text
            && let Err(e) = template::check(t, p.extra_variables())
        {
            errors.push(field("template", e.to_string()));
        }
    }
    let secret = secret_change(body, &mut errors);
    let auth = auth_change(body, &mut errors);
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
    if let Some(p) = chosen
        && p.requires_auth()
    {
        let will_have = match &auth {
            SecretChange::Set(_) => true,
            SecretChange::Clear => false,
            SecretChange::Keep => current.is_some_and(|c| c.webhook.has_auth),
        };
        if !will_have {
            errors.push(field(
                "auth",
                format!(
                    "missing: the {} preset needs a `basic` or `bearer` credential",
                    p.name()
                ),
            ));
        }
    }
    if !url.is_empty() {
        // The same check every delivery makes, so a refused address is named now.
        let endpoint = chosen.map_or(url.clone(), |p| p.endpoint(&url));
        if let Err(e) = GuardedClient::new(state.outbound.clone())
            .check(&endpoint)
            .await
        {
            errors.push(field("url", e.to_string()));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Parsed {
        spec: WebhookSpec {
            name,
            url,
            preset: preset_name,
            events,
            template: template_text,
            settings,
            max_attempts: u32::try_from(max_attempts).unwrap_or(5),
            base_delay_ms,
            enabled,
        },
        secret,
        auth,
    })
}

async fn find(state: &AppState, id: &str) -> Result<Webhook, ApiError> {
    state
        .store
        .get_webhook(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))
}

fn name_taken(e: ApiError) -> ApiError {
    match e {
        ApiError::Conflict(m) => ApiError::Invalid(vec![field("name", m)]),
        other => other,
    }
}

/// The audit trail's record of a webhook (its URL masked, as stored in clear).
fn detail(w: &Webhook) -> Value {
    json!({"webhook_id": w.id, "name": w.name, "preset": w.preset, "url": w.url})
}

/// Create a webhook.
///
/// `POST /api/v1/webhooks` (admin): the URL is checked against the outbound policy and the
/// template rendered once with hostile values to prove it stays valid JSON; the URL and
/// secrets are stored sealed, and the answer shows the URL masked.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    operation_id = "create_webhook",
    security(("api_key" = [])),
    request_body = NewWebhookBody,
    responses(
        (status = 201, description = "Created (without its secrets)", body = WebhookDoc),
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
    let body = super::json_body(body, &super::limits::WEBHOOK)?;
    let parsed = parse(&state, &body, None).await?;
    let set = |c: &SecretChange| match c {
        SecretChange::Set(s) => Some(s.clone()),
        _ => None,
    };
    let created = state
        .store
        .create_webhook(
            &state.master_key,
            &parsed.spec,
            set(&parsed.secret).as_deref(),
            set(&parsed.auth).as_deref(),
        )
        .await
        .map_err(|e| name_taken(e.into()))?;
    audit(
        &state.store,
        &caller.actor(),
        "webhook.created",
        &detail(&created),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

/// List webhooks.
///
/// `GET /api/v1/webhooks` (viewer): every webhook, by name, without secrets, URLs masked.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every webhook", body = WebhookList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(
        json!({"webhooks": state.store.list_webhooks().await?}),
    ))
}

/// Get a webhook.
///
/// `GET /api/v1/webhooks/{id}` (viewer): the webhook, without secrets, its URL masked (for
/// admins too: the URL is a credential).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "get_webhook",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The webhook", body = WebhookDoc),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
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

/// Replace a webhook.
///
/// `PUT /api/v1/webhooks/{id}` (admin): the whole configuration is replaced; `url` is kept
/// when absent or given as the masked form the API shows, `secret` and `auth` are kept when
/// absent, removed when `null`.
#[utoipa::path(
    put,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "update_webhook",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    request_body = NewWebhookBody,
    responses(
        (status = 200, description = "Replaced (without its secrets)", body = WebhookDoc),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
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
    let webhook = find(&state, &id).await?;
    let body = super::json_body(body, &super::limits::WEBHOOK)?;
    let url = state
        .store
        .webhook_secrets(&state.master_key, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?
        .url;
    let parsed = parse(&state, &body, Some(&Current { webhook, url })).await?;
    let updated = state
        .store
        .update_webhook(
            &state.master_key,
            &id,
            &parsed.spec,
            parsed.secret,
            parsed.auth,
        )
        .await
        .map_err(|e| name_taken(e.into()))?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?;
    audit(
        &state.store,
        &caller.actor(),
        "webhook.updated",
        &detail(&updated),
    )
    .await?;
    Ok(Json(json!(updated)))
}

/// Delete a webhook.
///
/// `DELETE /api/v1/webhooks/{id}` (admin): the webhook, its secrets and its delivery log.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "delete_webhook",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let current = find(&state, &id).await?;
    state.store.delete_webhook(&id).await?;
    audit(
        &state.store,
        &caller.actor(),
        "webhook.deleted",
        &detail(&current),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test notification.
///
/// `POST /api/v1/webhooks/{id}/test` (analyst): one sample notification (event `test`),
/// once, signed and authenticated as real ones; the attempt goes to the delivery log.
/// Answers 200 with `ok: false` and the reason when the receiver refuses.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "test_webhook",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The test's result (`ok: false` with the reason when it failed)", body = WebhookTest),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let webhook = find(&state, &id).await?;
    let dispatcher = Dispatcher::new(
        state.store.clone(),
        state.master_key.clone(),
        state.outbound.clone(),
    );
    let outcome = dispatcher
        .send_test(&webhook)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let last = outcome.report.attempts.last();
    Ok(Json(json!({
        "ok": outcome.report.ok(),
        "delivery_id": outcome.delivery_id,
        "status_code": last.and_then(|a| a.status),
        "error": last.and_then(|a| a.error.clone()),
        "response_excerpt": last.and_then(|a| a.excerpt.clone()),
    })))
}

/// List a webhook's deliveries.
///
/// `GET /api/v1/webhooks/{id}/deliveries` (viewer): every attempt (status, error, start
/// of the answer), newest first, at most 200.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The attempts, newest first", body = DeliveryList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
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
        .list_deliveries(DeliveryTarget::Webhook, &id, 200)
        .await?;
    Ok(Json(json!({"deliveries": attempts})))
}

/// What to preview.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    /// `custom`, `slack`, `teams` or `jira`.
    preset: String,
    /// The template (the preset's when absent).
    #[serde(default)]
    template: Option<String>,
    /// The preset's settings (JIRA project key, issue type).
    #[serde(default)]
    settings: Option<Value>,
}

/// Preview a webhook's body.
///
/// `POST /api/v1/webhooks/preview` (analyst): the body a webhook with this preset and
/// template would send for the sample notification, as the console's live preview shows
/// it; 422 naming `template` (or `preset`) when it cannot render. Nothing is sent.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/preview",
    tag = "webhooks",
    operation_id = "preview_webhook",
    security(("api_key" = [])),
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The rendered body", body = Object),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 422, description = "The template or preset is wrong, named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn preview(
    State(_state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let request: PreviewRequest = typed_body(body, &limits::WEBHOOK_PREVIEW)?;
    let settings = request.settings.unwrap_or_else(|| json!({}));
    match riposte_notify::preview(&request.preset, request.template.as_deref(), &settings) {
        Ok(rendered) => Ok(Json(json!({"body": rendered}))),
        Err(problem) => {
            let field = if problem.starts_with("unknown preset") {
                "preset"
            } else {
                "template"
            };
            invalid(vec![FieldProblem::new(field, problem)])
        }
    }
}
