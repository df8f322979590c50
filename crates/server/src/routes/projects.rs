//! `/api/v1/projects`: cases grouping investigations, and imports of named systems into
//! them without an alert — what a scheduled hunt calls (create a project, then import a
//! list of EC2 instances every Sunday).

use super::{audit, invalid, limits, problems, resource_id, typed_body};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use riposte_model::{
    Acquisition, Environment, EnvironmentId, InvestigationId, InvestigationPlan, InvestigationType,
    ProjectId, Scope, ScopeMatch, Tagged, Target, deserialize_tagged,
};
use riposte_rules::{FieldProblem, Resolution, resolve_target};
use riposte_store::{InvestigationSummary, Project, Role};
use riposte_worker::investigations::{StartRequest, start_or_join};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use std::net::IpAddr;
use std::path::PathBuf;
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

/// A system to import (read as [`Tagged`], so a type error names the field:
/// `systems[0].ip`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ImportSystem {
    /// An EC2 instance (acquired through an environment's AWS scope).
    Ec2(Ec2System),
    /// A host of an SSH or local scope, by name or address.
    Host(HostSystem),
    /// An existing EBS snapshot, read in place and never deleted (acquired through an
    /// environment's AWS scope covering its account and region).
    EbsSnapshot(SnapshotSystem),
    /// A triage package or a raw disk image in S3, read in place with range requests
    /// (acquired through an environment's AWS scope covering its account and region).
    S3(S3System),
    /// A collection folder inside an environment's local scope.
    Path(PathSystem),
}

impl Tagged for ImportSystem {
    const VARIANTS: &'static [&'static str] = &["ec2", "host", "ebs_snapshot", "s3", "path"];

    fn variant<'de, D: Deserializer<'de>>(kind: &str, fields: D) -> Result<Self, D::Error> {
        match kind {
            "ec2" => Ec2System::deserialize(fields).map(ImportSystem::Ec2),
            "host" => HostSystem::deserialize(fields).map(ImportSystem::Host),
            "ebs_snapshot" => SnapshotSystem::deserialize(fields).map(ImportSystem::EbsSnapshot),
            "s3" => S3System::deserialize(fields).map(ImportSystem::S3),
            "path" => PathSystem::deserialize(fields).map(ImportSystem::Path),
            other => Err(serde::de::Error::unknown_variant(other, Self::VARIANTS)),
        }
    }
}

impl<'de> Deserialize<'de> for ImportSystem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_tagged(d)
    }
}

/// An EC2 instance to import.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ec2System {
    /// The instance id.
    instance_id: String,
    /// Its region.
    region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default)]
    account_id: Option<String>,
}

/// A host to import, by name or address.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostSystem {
    /// Its host name.
    #[serde(default)]
    hostname: Option<String>,
    /// Its address.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    ip: Option<IpAddr>,
}

/// An EBS snapshot to import.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotSystem {
    /// The snapshot id, `snap-…`.
    snapshot_id: String,
    /// Its region.
    region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default)]
    account_id: Option<String>,
}

/// An object in S3 to import.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3System {
    /// `s3://bucket/key`.
    uri: String,
    /// The bucket's region.
    region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default)]
    account_id: Option<String>,
}

/// A collection folder to import.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathSystem {
    /// Absolute path of the host's folder.
    path: String,
}

/// An import request.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRequest {
    /// The systems (1 to 500).
    systems: Vec<ImportSystem>,
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

/// The target an import names, or why it is malformed.
fn import_target(system: &ImportSystem) -> Result<Target, String> {
    match system {
        ImportSystem::Ec2(Ec2System {
            instance_id,
            region,
            account_id,
        }) => Ok(Target {
            instance_id: Some(instance_id.trim().to_string()),
            region: Some(region.trim().to_string()),
            account_id: account_id.clone(),
            cloud_provider: Some("aws".into()),
            ..Default::default()
        }),
        ImportSystem::Host(HostSystem { hostname, ip }) => {
            if hostname.as_deref().is_none_or(|h| h.trim().is_empty()) && ip.is_none() {
                return Err("give the host's hostname or ip".into());
            }
            Ok(Target {
                hostname: hostname.clone(),
                ips: ip.iter().copied().collect(),
                ..Default::default()
            })
        }
        ImportSystem::EbsSnapshot(SnapshotSystem {
            region, account_id, ..
        })
        | ImportSystem::S3(S3System {
            region, account_id, ..
        }) => Ok(Target {
            region: Some(region.trim().to_string()),
            account_id: account_id.clone(),
            cloud_provider: Some("aws".into()),
            ..Default::default()
        }),
        ImportSystem::Path(_) => Ok(Target::default()),
    }
}

/// An `ebs_snapshot` import: the first AWS scope covering the snapshot's account and
/// region, which lends its role.
fn snapshot_scope(
    snapshot_id: &str,
    region: &str,
    account_id: Option<&str>,
    environments: &[&Environment],
) -> Result<ScopeMatch, String> {
    let snapshot_id = snapshot_id.trim();
    let well_formed = snapshot_id.strip_prefix("snap-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !well_formed {
        return Err("snapshot_id must look like snap-0123456789abcdef0".into());
    }
    aws_scope(region, account_id, environments, |region, role_name| {
        (
            Acquisition::EbsSnapshot {
                account_id: account_id.map(str::to_string),
                region: region.to_string(),
                snapshot_id: snapshot_id.to_string(),
                role_name,
            },
            format!("snapshot {snapshot_id}"),
        )
    })
}

/// An `s3` import: the first AWS scope covering the bucket's account and region.
fn s3_scope(
    uri: &str,
    region: &str,
    account_id: Option<&str>,
    environments: &[&Environment],
) -> Result<ScopeMatch, String> {
    let address = riposte_model::S3Address::parse(uri.trim())?;
    aws_scope(region, account_id, environments, |region, role_name| {
        (
            Acquisition::S3 {
                account_id: account_id.map(str::to_string),
                region: region.to_string(),
                bucket: address.bucket.clone(),
                key: address.key.clone(),
                role_name,
            },
            format!("object {address}"),
        )
    })
}

/// The first AWS scope covering `account_id` (when the scope lists accounts) and
/// `region`: the acquisition `make` builds with its role, or why none covers it.
fn aws_scope(
    region: &str,
    account_id: Option<&str>,
    environments: &[&Environment],
    make: impl Fn(&str, Option<String>) -> (Acquisition, String),
) -> Result<ScopeMatch, String> {
    let region = region.trim();
    if region.is_empty()
        || region.len() > 32
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("region must be an AWS region such as us-east-1".into());
    }
    if let Some(account) = account_id
        && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("account_id must be 12 digits".into());
    }
    let mut reasons = Vec::new();
    for env in environments {
        for (index, scope) in env.scopes.iter().enumerate() {
            let Scope::Aws(aws) = scope else { continue };
            if let riposte_model::Accounts::Listed(ids) = &aws.accounts {
                match account_id {
                    Some(a) if ids.iter().any(|id| id == a) => {}
                    Some(a) => {
                        reasons.push(format!("{}: account {a} is not listed", env.name));
                        continue;
                    }
                    None => {
                        reasons.push(format!(
                            "{}: the scope lists accounts; give account_id",
                            env.name
                        ));
                        continue;
                    }
                }
            }
            if !aws.regions.is_empty()
                && !aws.regions.iter().any(|r| r.eq_ignore_ascii_case(region))
            {
                reasons.push(format!("{}: region {region} is not covered", env.name));
                continue;
            }
            let (acquisition, what) = make(region, aws.role_name.clone());
            return Ok(ScopeMatch {
                environment_id: env.id,
                environment: env.name.clone(),
                scope_index: index,
                acquisition,
                matched_on: format!(
                    "{what} in account {}, region {region}",
                    account_id.unwrap_or("(unknown)")
                ),
            });
        }
    }
    reasons.truncate(5);
    Err(if reasons.is_empty() {
        "no environment has an AWS scope".into()
    } else {
        format!("no AWS scope covers it: {}", reasons.join("; "))
    })
}

/// A `path` import: the local scope containing the folder (or package or image file), with
/// it as the host.
fn path_scope(
    path: &str,
    environments: &[&Environment],
    roots: &riposte_rules::EvidenceRoots,
) -> Result<ScopeMatch, String> {
    let canonical = roots.check_evidence(path)?;
    let host = if canonical.is_file() {
        riposte_acquire::evidence_file(&canonical)
            .map(|(key, _)| key)
            .ok_or_else(|| format!("{path:?} is neither a triage package nor a disk image"))?
    } else {
        canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| format!("{path:?} names no host folder"))?
    };
    for env in environments {
        for (index, scope) in env.scopes.iter().enumerate() {
            let Scope::Local(local) = scope else { continue };
            let Ok(folder) = PathBuf::from(&local.folder).canonicalize() else {
                continue;
            };
            if canonical.parent() == Some(folder.as_path()) {
                return Ok(ScopeMatch {
                    environment_id: env.id,
                    environment: env.name.clone(),
                    scope_index: index,
                    acquisition: Acquisition::Library {
                        folder: local.folder.clone(),
                        host: host.clone(),
                        host_root: canonical.display().to_string(),
                    },
                    matched_on: format!("path {}", canonical.display()),
                });
            }
        }
    }
    Err(format!(
        "{path:?} is not a host folder of any environment's local scope"
    ))
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
                let target = import_target(system).map_err(|p| FieldProblem::new(&at, p))?;
                let scope = match system {
                    ImportSystem::Path(PathSystem { path }) => path_scope(path, &refs, &roots),
                    ImportSystem::EbsSnapshot(SnapshotSystem {
                        snapshot_id,
                        region,
                        account_id,
                    }) => snapshot_scope(snapshot_id, region, account_id.as_deref(), &refs),
                    ImportSystem::S3(S3System {
                        uri,
                        region,
                        account_id,
                    }) => s3_scope(uri, region, account_id.as_deref(), &refs),
                    _ => match resolve_target(&target, &refs) {
                        Resolution::Covered(scope) => Ok(scope),
                        Resolution::NotCovered(reasons) => {
                            Err(format!("no scope covers it: {}", reasons.join("; ")))
                        }
                    },
                }
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
