//! `/api/v1/hunts`: scheduled hunts — systems (or environment scopes listed at run time)
//! investigated on a cron schedule by the workers, each run in a project of its own, with
//! a summary sent to webhooks. Analysts write, viewers read.

use super::{audit, limits, problems, resource_id, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use riposte_model::{Hunt, HuntId, HuntRun, HuntSpec, SystemRef};
use riposte_rules::FieldProblem;
use riposte_store::{Role, RunStart};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Every hunt.
#[derive(Serialize, ToSchema)]
pub(crate) struct HuntList {
    /// By name.
    hunts: Vec<Hunt>,
}

/// A hunt's runs.
#[derive(Serialize, ToSchema)]
pub(crate) struct HuntRunList {
    /// The newest 100 first.
    runs: Vec<HuntRun>,
}

/// The body as a hunt, checked: schedule, systems' shape, environments and webhooks
/// named. Returns it with the next time it runs (none while disabled).
async fn validated(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<(HuntSpec, Option<chrono::DateTime<Utc>>), ApiError> {
    let mut spec: HuntSpec = typed_body(body, &limits::HUNT)?;
    spec.name = spec.name.trim().to_string();
    let mut found = Vec::new();
    if spec.name.is_empty() || spec.name.chars().count() > 100 {
        found.push(FieldProblem::new("name", "must be 1 to 100 characters"));
    }
    let next = match spec.schedule.next_after(Utc::now()) {
        Ok(next) => Some(next),
        Err(e) => {
            found.push(FieldProblem::new(format!("schedule.{}", e.field), e.reason));
            None
        }
    };
    if spec.systems.is_empty() && spec.scopes.is_empty() {
        found.push(FieldProblem::new(
            "systems",
            "name at least one system, or one environment scope in `scopes`",
        ));
    }
    for (i, system) in spec.systems.iter().enumerate() {
        if let Err(problem) = riposte_worker::imports::system_target(system) {
            found.push(FieldProblem::new(format!("systems[{i}]"), problem));
        }
    }
    // Paths are checked on disk: off the async threads.
    let roots = state.evidence_roots.clone();
    let (spec, on_disk) = tokio::task::spawn_blocking(move || {
        let mut on_disk = Vec::new();
        for (i, system) in spec.systems.iter().enumerate() {
            if let SystemRef::Path(p) = system
                && let Err(problem) = roots.check_evidence(&p.path)
            {
                on_disk.push(FieldProblem::new(format!("systems[{i}].path"), problem));
            }
        }
        check_detections(&roots, &mut spec.detections, &mut on_disk);
        (spec, on_disk)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    found.extend(on_disk);
    let environments = state.store.list_environments().await?;
    for (i, selector) in spec.scopes.iter().enumerate() {
        let wanted = selector.environment.trim();
        match environments
            .iter()
            .find(|e| e.name == wanted || e.id.to_string() == wanted)
        {
            None => found.push(FieldProblem::new(
                format!("scopes[{i}].environment"),
                format!("no environment is named {wanted:?}"),
            )),
            Some(env) => {
                if let Some(index) = selector.scope_index
                    && index >= env.scopes.len()
                {
                    found.push(FieldProblem::new(
                        format!("scopes[{i}].scope_index"),
                        format!("environment {} has {} scopes", env.name, env.scopes.len()),
                    ));
                }
            }
        }
    }
    let webhooks = state.store.list_webhooks().await?;
    for (i, name) in spec.webhooks.iter().enumerate() {
        if !webhooks.iter().any(|w| w.name == *name || w.id == *name) {
            found.push(FieldProblem::new(
                format!("webhooks[{i}]"),
                format!("no webhook is named {name:?} (Settings › Integrations › Webhooks)"),
            ));
        }
    }
    problems(found)?;
    let next = next.filter(|_| spec.enabled);
    Ok((spec, next))
}

/// A hunt's own IOC feeds (files) and YARA rule folders must lie inside the server's
/// evidence roots (so no request can make the server read anything else); they are kept
/// in their canonical form, a feed's `FORMAT:` prefix kept.
fn check_detections(
    roots: &riposte_rules::EvidenceRoots,
    detections: &mut riposte_model::ExtraDetections,
    found: &mut Vec<FieldProblem>,
) {
    for (i, feed) in detections.ioc_feeds.iter_mut().enumerate() {
        let (format, path) = match feed.split_once(':') {
            Some((format, path)) if !format.contains('/') => (Some(format.to_string()), path),
            _ => (None, feed.as_str()),
        };
        match roots.check_evidence(path) {
            Ok(canonical) if canonical.is_file() => {
                let canonical = canonical.display().to_string();
                *feed = match format {
                    Some(format) => format!("{format}:{canonical}"),
                    None => canonical,
                };
            }
            Ok(_) => found.push(FieldProblem::new(
                format!("detections.ioc_feeds[{i}]"),
                format!("{path:?} is not a file"),
            )),
            Err(problem) => found.push(FieldProblem::new(
                format!("detections.ioc_feeds[{i}]"),
                problem,
            )),
        }
    }
    for (i, folder) in detections.yara_rules.iter_mut().enumerate() {
        match roots.check(folder) {
            Ok(canonical) => *folder = canonical.display().to_string(),
            Err(problem) => found.push(FieldProblem::new(
                format!("detections.yara_rules[{i}]"),
                problem,
            )),
        }
    }
}

/// Create a hunt.
///
/// `POST /api/v1/hunts` (analyst): `{"name": "Sunday hunt", "schedule": {"cron": "0 2 * * SUN",
/// "time_zone": "Europe/London"}, "systems": [{"kind": "ec2", "instance_id": "i-0123…",
/// "region": "eu-west-2"}], "scopes": [{"environment": "prod", "tags": {"tier":
/// "critical"}}], "investigation_type": "triage", "webhooks": ["soc-slack"]}`. The
/// schedule is checked (five cron fields, an IANA time zone), systems are checked for
/// shape, environments and webhooks must exist; each problem is named (`schedule.cron`,
/// `systems[2]`, `scopes[0].environment`).
#[utoipa::path(
    post,
    path = "/api/v1/hunts",
    tag = "hunts",
    operation_id = "create_hunt",
    security(("api_key" = [])),
    request_body = HuntSpec,
    responses(
        (status = 201, description = "Created, with its next run time", body = Hunt),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Hunt>), ApiError> {
    caller.require(Role::Analyst)?;
    let (spec, next) = validated(&state, body).await?;
    let hunt = state
        .store
        .create_hunt(&spec, next, &caller.actor())
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "hunt.created",
        &json!({"id": hunt.id, "name": hunt.spec.name, "schedule": hunt.spec.schedule}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(hunt)))
}

/// List hunts.
///
/// `GET /api/v1/hunts` (viewer): every hunt with its next run time.
#[utoipa::path(
    get,
    path = "/api/v1/hunts",
    tag = "hunts",
    operation_id = "list_hunts",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Every hunt, by name", body = HuntList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<HuntList>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(HuntList {
        hunts: state.store.list_hunts().await?,
    }))
}

async fn existing(state: &AppState, id: &str) -> Result<Hunt, ApiError> {
    let id: HuntId = resource_id(id, "hunt")?;
    state
        .store
        .get_hunt(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no hunt {id}")))
}

/// Get a hunt.
///
/// `GET /api/v1/hunts/{id}` (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/hunts/{id}",
    tag = "hunts",
    operation_id = "get_hunt",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The hunt's id")),
    responses(
        (status = 200, description = "The hunt", body = Hunt),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such hunt", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Hunt>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(existing(&state, &id).await?))
}

/// Replace a hunt.
///
/// `PUT /api/v1/hunts/{id}` (analyst): the same body as creation; the next run time is
/// computed again from the new schedule (a run under way goes on).
#[utoipa::path(
    put,
    path = "/api/v1/hunts/{id}",
    tag = "hunts",
    operation_id = "update_hunt",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The hunt's id")),
    request_body = HuntSpec,
    responses(
        (status = 200, description = "Replaced", body = Hunt),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such hunt", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Hunt>, ApiError> {
    caller.require(Role::Analyst)?;
    let hunt = existing(&state, &id).await?;
    let (spec, next) = validated(&state, body).await?;
    let updated = state
        .store
        .update_hunt(hunt.id, &spec, next)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no hunt {}", hunt.id)))?;
    audit(
        &state.store,
        &caller.actor(),
        "hunt.updated",
        &json!({"id": updated.id, "name": updated.spec.name, "schedule": updated.spec.schedule, "enabled": updated.spec.enabled}),
    )
    .await?;
    Ok(Json(updated))
}

/// Delete a hunt.
///
/// `DELETE /api/v1/hunts/{id}` (analyst): the hunt and its run history; the runs'
/// projects and investigations stay.
#[utoipa::path(
    delete,
    path = "/api/v1/hunts/{id}",
    tag = "hunts",
    operation_id = "delete_hunt",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The hunt's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such hunt", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Analyst)?;
    let hunt = existing(&state, &id).await?;
    if !state.store.delete_hunt(hunt.id).await? {
        return Err(ApiError::NotFound(format!("no hunt {}", hunt.id)));
    }
    audit(
        &state.store,
        &caller.actor(),
        "hunt.deleted",
        &json!({"id": hunt.id, "name": hunt.spec.name}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a hunt now.
///
/// `POST /api/v1/hunts/{id}/run` (analyst): records a run and queues it for the workers,
/// whatever the schedule (and for a disabled hunt too). 409 when the previous run is
/// still going, naming it.
#[utoipa::path(
    post,
    path = "/api/v1/hunts/{id}/run",
    tag = "hunts",
    operation_id = "run_hunt",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The hunt's id")),
    responses(
        (status = 202, description = "The run, queued", body = HuntRun),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such hunt", body = ErrorBody),
        (status = 409, description = "The previous run is still going", body = ErrorBody),
    ),
)]
pub(crate) async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<HuntRun>), ApiError> {
    caller.require(Role::Analyst)?;
    let hunt = existing(&state, &id).await?;
    match state.store.start_manual_run(hunt.id, Utc::now()).await? {
        RunStart::Started(run) => {
            audit(
                &state.store,
                &caller.actor(),
                "hunt.run_requested",
                &json!({"id": hunt.id, "run_id": run.id}),
            )
            .await?;
            Ok((StatusCode::ACCEPTED, Json(run)))
        }
        RunStart::Overlapping { active, .. } => Err(ApiError::Conflict(format!(
            "run {} of this hunt (started {}) is still {}; wait for it to complete",
            active.id,
            active.created_at.to_rfc3339(),
            active.status.as_str()
        ))),
        RunStart::Lost => Err(ApiError::Conflict(
            "the hunt changed meanwhile; try again".into(),
        )),
    }
}

/// List a hunt's runs.
///
/// `GET /api/v1/hunts/{id}/runs` (viewer): the newest 100, each with its status
/// (`starting`, `running`, `completed`, `skipped`, `failed`), project, the targets that
/// could not be investigated and why, and (once completed) its verdict counts.
#[utoipa::path(
    get,
    path = "/api/v1/hunts/{id}/runs",
    tag = "hunts",
    operation_id = "list_hunt_runs",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The hunt's id")),
    responses(
        (status = 200, description = "The newest runs first", body = HuntRunList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such hunt", body = ErrorBody),
    ),
)]
pub(crate) async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HuntRunList>, ApiError> {
    caller.require(Role::Viewer)?;
    let hunt = existing(&state, &id).await?;
    Ok(Json(HuntRunList {
        runs: state.store.list_hunt_runs(hunt.id, 100).await?,
    }))
}
