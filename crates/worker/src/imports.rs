//! Naming systems to investigate without an alert (project imports, scheduled hunts):
//! the target a named system stands for and the environment scope that acquires it.

use riposte_model::{
    Acquisition, Ec2System, Environment, HostSystem, S3System, Scope, ScopeMatch, SnapshotSystem,
    SystemRef, Target,
};
use riposte_rules::{EvidenceRoots, Resolution, resolve_target};
use std::path::PathBuf;

/// The scope acquiring `system` (the first that covers it), or why none does.
pub fn resolve_system(
    system: &SystemRef,
    target: &Target,
    environments: &[&Environment],
    roots: &EvidenceRoots,
) -> Result<ScopeMatch, String> {
    match system {
        SystemRef::Path(p) => path_scope(&p.path, environments, roots),
        SystemRef::EbsSnapshot(SnapshotSystem {
            snapshot_id,
            region,
            account_id,
        }) => snapshot_scope(snapshot_id, region, account_id.as_deref(), environments),
        SystemRef::S3(S3System {
            uri,
            region,
            account_id,
        }) => s3_scope(uri, region, account_id.as_deref(), environments),
        SystemRef::Ec2(_) | SystemRef::Host(_) => match resolve_target(target, environments) {
            Resolution::Covered(scope) => Ok(scope),
            Resolution::NotCovered(reasons) => {
                Err(format!("no scope covers it: {}", reasons.join("; ")))
            }
        },
    }
}

/// The target an import names, or why it is malformed.
pub fn system_target(system: &SystemRef) -> Result<Target, String> {
    match system {
        SystemRef::Ec2(Ec2System {
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
        SystemRef::Host(HostSystem { hostname, ip }) => {
            if hostname.as_deref().is_none_or(|h| h.trim().is_empty()) && ip.is_none() {
                return Err("give the host's hostname or ip".into());
            }
            Ok(Target {
                hostname: hostname.clone(),
                ips: ip.iter().copied().collect(),
                ..Default::default()
            })
        }
        SystemRef::EbsSnapshot(SnapshotSystem {
            region, account_id, ..
        })
        | SystemRef::S3(S3System {
            region, account_id, ..
        }) => Ok(Target {
            region: Some(region.trim().to_string()),
            account_id: account_id.clone(),
            cloud_provider: Some("aws".into()),
            ..Default::default()
        }),
        SystemRef::Path(_) => Ok(Target::default()),
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
pub fn path_scope(
    path: &str,
    environments: &[&Environment],
    roots: &EvidenceRoots,
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
