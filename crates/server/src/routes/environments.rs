//! `/api/v1/environments`: named groups of scopes (AWS accounts/regions/tags, SSH
//! inventories, local evidence libraries) that alerts' targets are resolved against.
//! Analysts and admins change them; viewers read.

use super::{audit, invalid, limits, problems, resource_id, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_model::{Environment, EnvironmentId, EnvironmentSpec, Scope, ScopeMatch, Target};
use riposte_rules::{
    ConnectionInfo, FieldProblem, Resolution, resolve_target, validate_environment, validate_rule,
};
use riposte_store::Role;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Every environment.
#[derive(Serialize, ToSchema)]
pub(crate) struct EnvironmentList {
    /// The environments, by name.
    environments: Vec<Environment>,
}

/// The answer of the resolver.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResolveAnswer {
    /// True when a scope covers the target.
    covered: bool,
    /// The environment, scope and acquisition, when covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<ScopeMatch>,
    /// Why each scope tried does not cover it, when nothing does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

/// The body as an environment, validated; local scope folders are stored in their
/// canonical form (no `..`, no links), as they were checked.
async fn validated(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<EnvironmentSpec, ApiError> {
    let mut spec: EnvironmentSpec = typed_body(body, &limits::ENVIRONMENT)?;
    let roots = state.evidence_roots.clone();
    // Local scopes are checked on disk.
    let (spec, found) = tokio::task::spawn_blocking(move || {
        let found = validate_environment(&spec, &roots);
        if found.is_empty() {
            for scope in &mut spec.scopes {
                if let Scope::Local(local) = scope
                    && let Ok(canonical) = roots.check(&local.folder)
                {
                    local.folder = canonical.display().to_string();
                }
            }
        }
        (spec, found)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    problems(found)?;
    Ok(spec)
}

/// Rules that name environment `id` and would become invalid if it became `updated`.
async fn rules_broken_by(
    state: &AppState,
    updated: &Environment,
) -> Result<Vec<FieldProblem>, ApiError> {
    let mut environments = state.store.list_environments().await?;
    environments.retain(|e| e.id != updated.id);
    environments.push(updated.clone());
    let connections: Vec<ConnectionInfo> = connection_infos(state).await?;
    let mut broken = Vec::new();
    for rule in state.store.list_rules().await? {
        if rule.spec.environment_id != Some(updated.id) {
            continue;
        }
        for p in validate_rule(&rule.spec, &environments, &connections) {
            if p.field.starts_with("actions") {
                broken.push(FieldProblem::new(
                    "scopes",
                    format!("rule {} would break: {}", rule.spec.name, p.problem),
                ));
            }
        }
    }
    Ok(broken)
}

/// The connections rules may refer to.
pub(crate) async fn connection_infos(state: &AppState) -> Result<Vec<ConnectionInfo>, ApiError> {
    Ok(state
        .store
        .list_connections()
        .await?
        .into_iter()
        .map(|c| ConnectionInfo {
            id: c.id,
            name: c.name,
            vendor: c.vendor,
        })
        .collect())
}

async fn name_in_use(
    state: &AppState,
    name: &str,
    except: Option<EnvironmentId>,
) -> Result<(), ApiError> {
    let taken = state
        .store
        .list_environments()
        .await?
        .iter()
        .any(|e| e.name == name && Some(e.id) != except);
    if taken {
        return invalid(vec![FieldProblem::new(
            "name",
            format!("an environment named {name:?} already exists"),
        )]);
    }
    Ok(())
}

/// Create an environment.
///
/// `POST /api/v1/environments` (analyst): a name and scopes. Scope kinds: `aws`
/// (`accounts` "all" or ids, `regions`, `tags`, `resource_type` ec2, `role_name`), `ssh`
/// (`cidrs`, `hostname_patterns`, `credential`, `user`, `port`), `local` (`folder`, inside
/// the server's `--evidence-library`).
#[utoipa::path(
    post,
    path = "/api/v1/environments",
    tag = "environments",
    operation_id = "create_environment",
    security(("api_key" = [])),
    request_body = EnvironmentSpec,
    responses(
        (status = 201, description = "Created", body = Environment),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 422, description = "Fields failed validation (unknown scope kind, bad account id or region, folder outside the evidence roots, name in use), each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Environment>), ApiError> {
    caller.require(Role::Analyst)?;
    let spec = validated(&state, body).await?;
    name_in_use(&state, &spec.name, None).await?;
    let env = state.store.create_environment(&spec).await?;
    audit(
        &state.store,
        &caller.actor(),
        "environment.created",
        &json!({"id": env.id, "name": env.name, "scopes": env.scopes}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(env)))
}

/// List environments.
///
/// `GET /api/v1/environments` (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/environments",
    tag = "environments",
    operation_id = "list_environments",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every environment, by name", body = EnvironmentList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<EnvironmentList>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(EnvironmentList {
        environments: state.store.list_environments().await?,
    }))
}

/// Get one environment.
///
/// `GET /api/v1/environments/{id}` (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/environments/{id}",
    tag = "environments",
    operation_id = "get_environment",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The environment's id")),
    responses(
        (status = 200, description = "The environment", body = Environment),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such environment", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Environment>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: EnvironmentId = resource_id(&id, "environment")?;
    state
        .store
        .get_environment(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no environment {id}")))
}

/// Replace an environment.
///
/// `PUT /api/v1/environments/{id}` (analyst): the whole definition, as for creation.
/// Refused when a rule using the environment would lose what its actions need (an AWS
/// scope for EC2 actions).
#[utoipa::path(
    put,
    path = "/api/v1/environments/{id}",
    tag = "environments",
    operation_id = "update_environment",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The environment's id")),
    request_body = EnvironmentSpec,
    responses(
        (status = 200, description = "Updated", body = Environment),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such environment", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Environment>, ApiError> {
    caller.require(Role::Analyst)?;
    let id: EnvironmentId = resource_id(&id, "environment")?;
    let Some(current) = state.store.get_environment(id).await? else {
        return Err(ApiError::NotFound(format!("no environment {id}")));
    };
    let spec = validated(&state, body).await?;
    name_in_use(&state, &spec.name, Some(id)).await?;
    let proposed = Environment {
        name: spec.name.clone(),
        description: spec.description.clone(),
        scopes: spec.scopes.clone(),
        ..current
    };
    problems(rules_broken_by(&state, &proposed).await?)?;
    let env = state
        .store
        .update_environment(id, &spec)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no environment {id}")))?;
    audit(
        &state.store,
        &caller.actor(),
        "environment.updated",
        &json!({"id": env.id, "name": env.name, "scopes": env.scopes}),
    )
    .await?;
    Ok(Json(env))
}

/// Delete an environment.
///
/// `DELETE /api/v1/environments/{id}` (analyst). Refused (409) while a rule uses it.
#[utoipa::path(
    delete,
    path = "/api/v1/environments/{id}",
    tag = "environments",
    operation_id = "delete_environment",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The environment's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such environment", body = ErrorBody),
        (status = 409, description = "Rules still use it; they are named", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let id: EnvironmentId = resource_id(&id, "environment")?;
    let users: Vec<String> = state
        .store
        .list_rules()
        .await?
        .into_iter()
        .filter(|r| r.spec.environment_id == Some(id))
        .map(|r| r.spec.name)
        .collect();
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "rules {} use this environment: point them at another environment or delete them first",
            users.join(", ")
        )));
    }
    if !state.store.delete_environment(id).await? {
        return Err(ApiError::NotFound(format!("no environment {id}")));
    }
    audit(
        &state.store,
        &caller.actor(),
        "environment.deleted",
        &json!({"id": id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolve a target.
///
/// `POST /api/v1/environments/resolve` (viewer): a target (`instance_id`, `hostname`,
/// `ips`, `account_id`, `region`, `cloud_provider`, `tags`) → which environment and scope
/// covers it and how it would be acquired, or why no scope does. Environments are tried
/// by name, scopes in order.
#[utoipa::path(
    post,
    path = "/api/v1/environments/resolve",
    tag = "environments",
    operation_id = "resolve_target",
    security(("api_key" = [])),
    request_body = Target,
    responses(
        (status = 200, description = "Covered (with the scope) or not (with every scope's reason)", body = ResolveAnswer),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 422, description = "The target is malformed", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let target: Target = typed_body(body, &limits::RESOLVE)?;
    let environments = state.store.list_environments().await?;
    let resolution = tokio::task::spawn_blocking(move || {
        let refs: Vec<&Environment> = environments.iter().collect();
        resolve_target(&target, &refs)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let answer = match resolution {
        Resolution::Covered(scope) => ResolveAnswer {
            covered: true,
            scope: Some(scope),
            reasons: vec![],
        },
        Resolution::NotCovered(reasons) => ResolveAnswer {
            covered: false,
            scope: None,
            reasons,
        },
    };
    Ok(Json(json!(answer)))
}
