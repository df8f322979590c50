//! `/api/v1/projects`: cases grouping investigations, and imports of named systems into
//! them without an alert (a scheduled hunt does the same at each run: see `hunts`).

use super::{audit, invalid, limits, problems, resource_id, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_model::{
    Environment, EnvironmentId, InvestigationId, InvestigationPlan, InvestigationType, ProjectId,
    ScopeMatch, SystemRef, Target,
};
use riposte_rules::FieldProblem;
use riposte_store::{InvestigationSummary, Project, Role};
use riposte_worker::imports::{resolve_system, system_target};
use riposte_worker::investigations::{StartRequest, start_or_join};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// Most systems one import may name.
const MAX_SYSTEMS: usize = 500;

/// A new project.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProject {
    /// A name, 1 to 100 characters.
    name: String,
    /// Free text.
    #[serde(default)]
    description: String,
}

/// A project.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::Project`
pub(crate) struct ProjectDoc {
    /// Id.
    id: ProjectId,
    /// Name.
    name: String,
    /// Free text.
    description: String,
    /// Who created it.
    created_by: String,
    /// When.
    created_at: chrono::DateTime<chrono::Utc>,
}

/// An import request.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRequest {
    /// The systems (1 to 500).
    systems: Vec<SystemRef>,
    /// Triage (default) or full.
    #[serde(default)]
    investigation_type: InvestigationType,
    /// Only resolve in this environment (default: every environment, by name).
    #[serde(default)]
    environment_id: Option<EnvironmentId>,
    /// Keep the EBS snapshots made of EC2 instances after reading them (default: deleted).
    #[serde(default)]
    retain_snapshots: bool,
}

/// One imported system.
#[derive(Serialize, ToSchema)]
pub(crate) struct Imported {
    /// Index of the system in the request.
    system: usize,
    /// The investigation started for it.
    investigation_id: InvestigationId,
    /// Where it was found and how it is acquired.
    scope: ScopeMatch,
}

/// The import's result.
#[derive(Serialize, ToSchema)]
pub(crate) struct ImportResult {
    /// The project.
    project_id: ProjectId,
    /// One investigation per system.
    investigations: Vec<Imported>,
}

/// A project with its investigations.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectDetail {
    /// The project.
    #[schema(value_type = ProjectDoc)]
    project: Project,
    /// Its investigations, oldest first.
    #[schema(value_type = Vec<Object>)]
    investigations: Vec<InvestigationSummary>,
}

/// Every project.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectList {
    /// The newest first.
    #[schema(value_type = Vec<ProjectDoc>)]
    projects: Vec<Project>,
}

/// Create a project.
///
/// `POST /api/v1/projects` (analyst): `{"name": "Sunday hunt", "description": "…"}`.
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    tag = "projects",
    operation_id = "create_project",
    security(("api_key" = [])),
    request_body = NewProject,
    responses(
        (status = 201, description = "Created", body = ProjectDoc),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 422, description = "Fields failed validation, each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    caller.require(Role::Analyst)?;
    let new: NewProject = typed_body(body, &limits::PROJECT)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return invalid(vec![FieldProblem::new(
            "name",
            "must be 1 to 100 characters",
        )]);
    }
    let project = state
        .store
        .create_project(name, &new.description, &caller.actor())
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "project.created",
        &json!({"id": project.id, "name": project.name}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// List projects.
///
/// `GET /api/v1/projects` (viewer): the newest 100.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    tag = "projects",
    operation_id = "list_projects",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The newest projects first", body = ProjectList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ProjectList>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(ProjectList {
        projects: state.store.list_projects(100, 0).await?,
    }))
}

/// Get a project.
///
/// `GET /api/v1/projects/{id}` (viewer): the project and its investigations.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{id}",
    tag = "projects",
    operation_id = "get_project",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project", body = ProjectDetail),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ProjectDetail>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: ProjectId = resource_id(&id, "project")?;
    let project = state
        .store
        .get_project(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no project {id}")))?;
    Ok(Json(ProjectDetail {
        investigations: state.store.project_investigations(id).await?,
        project,
    }))
}

/// Import systems into a project.
///
/// `POST /api/v1/projects/{id}/imports` (analyst): `{"systems": [{"kind": "ec2",
/// "instance_id": "i-0123…", "region": "us-east-1"}, {"kind": "ebs_snapshot",
/// "snapshot_id": "snap-0123…", "region": "us-east-1"}, {"kind": "s3", "uri":
/// "s3://evidence/web02.tar.gz", "region": "us-east-1"}, {"kind": "host", "hostname":
/// "web01"}, {"kind": "path", "path": "/srv/evidence/web01"}], "investigation_type":
/// "triage", "retain_snapshots": false}`. Each system is resolved against the environments (or the one named) and
/// gets its own investigation in the project, acquired like an alert's. All or nothing: if
/// any system is malformed or not covered by a scope, nothing is started and the answer
/// names each failing system (`systems[1]`) and why.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{id}/imports",
    tag = "projects",
    operation_id = "import_systems",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The project's id")),
    request_body = ImportRequest,
    responses(
        (status = 202, description = "Investigations started, one per system", body = ImportResult),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "Systems malformed or not covered by any scope, each named with the reason", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ImportResult>), ApiError> {
    caller.require(Role::Analyst)?;
    let id: ProjectId = resource_id(&id, "project")?;
    let project = state
        .store
        .get_project(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no project {id}")))?;
    let request: ImportRequest = typed_body(body, &limits::IMPORT)?;
    if request.systems.is_empty() || request.systems.len() > MAX_SYSTEMS {
        return invalid(vec![FieldProblem::new(
            "systems",
            format!("list 1 to {MAX_SYSTEMS} systems"),
        )]);
    }
    let mut environments = state.store.list_environments().await?;
    if let Some(only) = request.environment_id {
        environments.retain(|e| e.id == only);
        if environments.is_empty() {
            return invalid(vec![FieldProblem::new(
                "environment_id",
                format!("no environment has id {only}"),
            )]);
        }
    }
    let systems = request.systems.clone();
    let roots = state.evidence_roots.clone();
    // Local scopes read their folders: resolve off the async threads.
    let resolved = tokio::task::spawn_blocking(move || {
        let refs: Vec<&Environment> = environments.iter().collect();
        systems
            .iter()
            .enumerate()
            .map(|(i, system)| {
                let at = format!("systems[{i}]");
                let target = system_target(system).map_err(|p| FieldProblem::new(&at, p))?;
                let scope = resolve_system(system, &target, &refs, &roots)
                    .map_err(|p| FieldProblem::new(&at, p))?;
                Ok((target, scope))
            })
            .collect::<Vec<Result<(Target, ScopeMatch), FieldProblem>>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let mut failed: Vec<FieldProblem> = resolved
        .iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    // The same system twice would start two acquisitions of it.
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, item) in resolved.iter().enumerate() {
        let Ok((_, scope)) = item else { continue };
        let key = scope.acquisition.target_key();
        match seen.iter().find(|(k, _)| *k == key) {
            Some((_, first)) => failed.push(FieldProblem::new(
                format!("systems[{i}]"),
                format!("the same system as systems[{first}] ({key})"),
            )),
            None => seen.push((key, i)),
        }
    }
    problems(failed)?;
    let actor = caller.actor();
    let mut tx = state.store.begin().await?;
    let mut investigations = Vec::with_capacity(resolved.len());
    for (system, item) in resolved.into_iter().enumerate() {
        let Ok((target, scope)) = item else { continue };
        let plan = InvestigationPlan {
            rule: None,
            scope: scope.clone(),
            investigation_type: request.investigation_type,
            retain_snapshots: request.retain_snapshots,
            attach_alert_context: false,
            actions: vec![],
            notifications: vec![],
            connection_id: None,
            detections: Default::default(),
        };
        let started = start_or_join(
            &mut tx,
            &actor,
            StartRequest {
                title: format!(
                    "{} of {} ({})",
                    request.investigation_type.as_str(),
                    scope.acquisition.host_label(),
                    project.name
                ),
                target,
                plan,
                project_id: Some(project.id),
                alert_id: None,
                join_window: None,
            },
        )
        .await?;
        investigations.push(Imported {
            system,
            investigation_id: started.id(),
            scope,
        });
    }
    riposte_store::Store::audit(
        &mut tx,
        None,
        &actor,
        "project.imported",
        &json!({"project_id": project.id, "investigations": investigations.iter().map(|i| i.investigation_id).collect::<Vec<_>>()}),
    )
    .await?;
    super::commit(tx).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ImportResult {
            project_id: project.id,
            investigations,
        }),
    ))
}
