//! `/api/v1/rules`: detection rules ("Detections › Rules"). Analysts and admins create,
//! edit (each edit is a new version), enable/disable and delete them; viewers read.
//! Investigations keep the rule version they started with.

use super::environments::connection_infos;
use super::{audit, invalid, problems, resource_id, typed_value};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_model::{DetectionRule, RuleId, RuleSpec};
use riposte_rules::{FieldProblem, validate_rule};
use riposte_store::{Role, RuleVersion};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Every rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct RuleList {
    /// The rules, by name.
    rules: Vec<DetectionRule>,
}

/// One saved version of a rule.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::RuleVersion`
pub(crate) struct RuleVersionDoc {
    /// The version number, from 1.
    version: u32,
    /// The definition at that version.
    spec: RuleSpec,
    /// When it was saved.
    created_at: chrono::DateTime<chrono::Utc>,
    /// Who saved it.
    created_by: String,
}

/// Every version of a rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct RuleVersions {
    /// The rule's id.
    id: RuleId,
    /// Its versions, oldest first.
    #[schema(value_type = Vec<RuleVersionDoc>)]
    versions: Vec<RuleVersion>,
}

/// A rule to create: its definition, and whether it starts enabled (default true).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; the body is a RuleSpec plus `enabled`
pub(crate) struct NewRule {
    /// Start enabled (default true).
    enabled: Option<bool>,
    /// The definition.
    #[serde(flatten)]
    spec: RuleSpec,
}

/// The body as a rule definition, checked against the environments and connections that
/// exist; `enabled` (create only) is taken out first.
async fn validated(
    state: &AppState,
    mut body: Value,
    except: Option<RuleId>,
) -> Result<(RuleSpec, Option<bool>), ApiError> {
    let enabled = match body.as_object_mut().and_then(|o| o.remove("enabled")) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            return invalid(vec![FieldProblem::new("enabled", "must be true or false")]);
        }
    };
    let spec: RuleSpec = typed_value(body)?;
    let environments = state.store.list_environments().await?;
    let connections = connection_infos(state).await?;
    let mut found = validate_rule(&spec, &environments, &connections);
    let taken = state
        .store
        .list_rules()
        .await?
        .iter()
        .any(|r| r.spec.name == spec.name && Some(r.id) != except);
    if taken {
        found.push(FieldProblem::new(
            "name",
            format!("a rule named {:?} already exists", spec.name),
        ));
    }
    problems(found)?;
    Ok((spec, enabled))
}

/// Alerts whose triage failed for good may have failed because of a rule: once the
/// rules change they are triaged again. A failure here is logged; the change stands.
async fn retriage_failed(state: &AppState, caller: &Caller) {
    match riposte_worker::intake::retriage_failed(&state.store, &caller.actor()).await {
        Ok(queued) if !queued.is_empty() => {
            tracing::info!(
                alerts = queued.len(),
                "the rules changed: alerts whose triage failed are triaged again"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot queue the failed alerts' triage again"),
    }
}

/// Create a detection rule.
///
/// `POST /api/v1/rules` (analyst): name; `source` (guardduty, crowdstrike, defender,
/// sentinelone, wiz, secdo, generic or any); `connection_id` (XDR sources) or
/// `environment_id` (required for guardduty and wiz); `filters` (`min_severity`,
/// `finding_types` and `titles` patterns, `tags`); `investigation_type` triage|full;
/// `attach_alert_context`; `actions` (`stop_instance`, `isolate_role`,
/// `isolate_security_group` for EC2 targets, `contain_host` for XDR hosts, each `on`
/// malicious|suspicious); `notifications` (webhook name and events);
/// `join_window_minutes`; `priority`; `enabled`.
#[utoipa::path(
    post,
    path = "/api/v1/rules",
    tag = "rules",
    operation_id = "create_rule",
    security(("api_key" = [])),
    request_body = NewRule,
    responses(
        (status = 201, description = "Created at version 1", body = DetectionRule),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 422, description = "Fields failed validation (unknown source, missing or unknown environment, action not valid for the target kind, name in use…), each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<DetectionRule>), ApiError> {
    caller.require(Role::Analyst)?;
    let (spec, enabled) =
        validated(&state, super::json_body(body, &super::limits::RULE)?, None).await?;
    let rule = state
        .store
        .create_rule(&spec, enabled.unwrap_or(true), &caller.actor())
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "rule.created",
        &json!({"id": rule.id, "name": rule.spec.name, "version": rule.version, "enabled": rule.enabled}),
    )
    .await?;
    retriage_failed(&state, &caller).await;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// List detection rules.
///
/// `GET /api/v1/rules` (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "rules",
    operation_id = "list_rules",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every rule at its current version, by name", body = RuleList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RuleList>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(RuleList {
        rules: state.store.list_rules().await?,
    }))
}

/// Get one detection rule.
///
/// `GET /api/v1/rules/{id}` (viewer): the current version.
#[utoipa::path(
    get,
    path = "/api/v1/rules/{id}",
    tag = "rules",
    operation_id = "get_rule",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = DetectionRule),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DetectionRule>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: RuleId = resource_id(&id, "rule")?;
    state
        .store
        .get_rule(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no rule {id}")))
}

/// Edit a detection rule.
///
/// `PUT /api/v1/rules/{id}` (analyst): the whole definition. Saves a new version;
/// investigations already started keep theirs.
#[utoipa::path(
    put,
    path = "/api/v1/rules/{id}",
    tag = "rules",
    operation_id = "update_rule",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    request_body = RuleSpec,
    responses(
        (status = 200, description = "Saved as a new version", body = DetectionRule),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DetectionRule>, ApiError> {
    caller.require(Role::Analyst)?;
    let id: RuleId = resource_id(&id, "rule")?;
    if state.store.get_rule(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no rule {id}")));
    }
    let (spec, enabled) = validated(
        &state,
        super::json_body(body, &super::limits::RULE)?,
        Some(id),
    )
    .await?;
    if enabled.is_some() {
        return invalid(vec![FieldProblem::new(
            "enabled",
            "use POST /api/v1/rules/{id}/enable or /disable (enabling is not a new version)",
        )]);
    }
    let rule = state
        .store
        .update_rule(id, &spec, &caller.actor())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no rule {id}")))?;
    audit(
        &state.store,
        &caller.actor(),
        "rule.updated",
        &json!({"id": rule.id, "name": rule.spec.name, "version": rule.version}),
    )
    .await?;
    retriage_failed(&state, &caller).await;
    Ok(Json(rule))
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    id: &str,
    enabled: bool,
) -> Result<Json<DetectionRule>, ApiError> {
    caller.require(Role::Analyst)?;
    let id: RuleId = resource_id(id, "rule")?;
    let rule = state
        .store
        .set_rule_enabled(id, enabled)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no rule {id}")))?;
    let action = if enabled {
        "rule.enabled"
    } else {
        "rule.disabled"
    };
    audit(
        &state.store,
        &caller.actor(),
        action,
        &json!({"id": rule.id, "name": rule.spec.name, "version": rule.version}),
    )
    .await?;
    retriage_failed(state, caller).await;
    Ok(Json(rule))
}

/// Enable a detection rule.
///
/// `POST /api/v1/rules/{id}/enable` (analyst). Not a new version.
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/enable",
    tag = "rules",
    operation_id = "enable_rule",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Enabled", body = DetectionRule),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
)]
pub(crate) async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DetectionRule>, ApiError> {
    set_enabled(&state, &caller, &id, true).await
}

/// Disable a detection rule.
///
/// `POST /api/v1/rules/{id}/disable` (analyst). A disabled rule never fires; alerts
/// record that it was skipped.
#[utoipa::path(
    post,
    path = "/api/v1/rules/{id}/disable",
    tag = "rules",
    operation_id = "disable_rule",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Disabled", body = DetectionRule),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
)]
pub(crate) async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DetectionRule>, ApiError> {
    set_enabled(&state, &caller, &id, false).await
}

/// A rule's versions.
///
/// `GET /api/v1/rules/{id}/versions` (viewer): every saved version, oldest first (kept
/// after the rule is deleted, for the investigations that name them).
#[utoipa::path(
    get,
    path = "/api/v1/rules/{id}/versions",
    tag = "rules",
    operation_id = "rule_versions",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The versions", body = RuleVersions),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such rule, ever", body = ErrorBody),
    ),
)]
pub(crate) async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RuleVersions>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: RuleId = resource_id(&id, "rule")?;
    let versions = state.store.rule_versions(id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no rule {id}")));
    }
    Ok(Json(RuleVersions { id, versions }))
}

/// Delete a detection rule.
///
/// `DELETE /api/v1/rules/{id}` (analyst). Its versions stay, for the investigations it
/// started.
#[utoipa::path(
    delete,
    path = "/api/v1/rules/{id}",
    tag = "rules",
    operation_id = "delete_rule",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let id: RuleId = resource_id(&id, "rule")?;
    if !state.store.delete_rule(id).await? {
        return Err(ApiError::NotFound(format!("no rule {id}")));
    }
    audit(
        &state.store,
        &caller.actor(),
        "rule.deleted",
        &json!({"id": id}),
    )
    .await?;
    retriage_failed(&state, &caller).await;
    Ok(StatusCode::NO_CONTENT)
}
