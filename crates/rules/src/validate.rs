//! Checks on environments and rules before they are stored. Every problem names its
//! field, so a client can point at it.

use crate::{FieldProblem, PatternSet};
use riposte_model::{
    Accounts, AlertSource, Environment, EnvironmentSpec, RuleSource, RuleSpec, Scope, TargetKind,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// The folders local scopes may point into (the server's `--evidence-library` roots).
/// A scope anywhere else is refused: otherwise anyone allowed to edit environments could
/// make Riposte collect the server's own files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceRoots {
    roots: Vec<PathBuf>,
    /// The roots as given (absolute), for the check made before touching the filesystem.
    given: Vec<PathBuf>,
}

impl EvidenceRoots {
    /// The given roots, canonicalized (roots that do not exist are dropped with a warning).
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut canonical = Vec::new();
        let mut given = Vec::new();
        for root in roots {
            match root.canonicalize() {
                Ok(c) => {
                    if let Ok(absolute) = std::path::absolute(&root) {
                        given.push(lexical(&absolute));
                    }
                    canonical.push(c);
                }
                Err(e) => {
                    tracing::warn!(root = %root.display(), error = %e, "evidence root is not usable");
                }
            }
        }
        EvidenceRoots {
            roots: canonical,
            given,
        }
    }

    /// The canonical roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// `Ok(canonical folder)` when `folder` is an existing directory inside a root.
    pub fn check(&self, folder: &str) -> Result<PathBuf, String> {
        self.check_inside(folder, false)
    }

    /// `Ok(canonical path)` when `path` is a host's evidence inside a root: a folder, or a
    /// regular file (a triage package or disk image).
    pub fn check_evidence(&self, path: &str) -> Result<PathBuf, String> {
        self.check_inside(path, true)
    }

    fn check_inside(&self, folder: &str, allow_files: bool) -> Result<PathBuf, String> {
        if self.roots.is_empty() {
            return Err(
                "local evidence is not enabled on this server: start it with --evidence-library DIR, then use folders inside DIR".into(),
            );
        }
        let path = Path::new(folder);
        if !path.is_absolute() {
            return Err(format!("{folder:?} must be an absolute path"));
        }
        let outside = || {
            let roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
            format!(
                "{folder:?} is outside the server's evidence roots ({})",
                roots.join(", ")
            )
        };
        // Outside the roots as written: refused before the filesystem is touched, so the
        // answer is the same whether the path exists or not (no probing of the server).
        let written = lexical(path);
        let under = |p: &Path| {
            self.roots
                .iter()
                .chain(&self.given)
                .any(|r| p.starts_with(r))
        };
        if !under(&written) {
            return Err(outside());
        }
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("cannot open {folder:?}: {e}"))?;
        // Inside as written but a link leads out: the same answer.
        if !self.roots.iter().any(|r| canonical.starts_with(r)) {
            return Err(outside());
        }
        let acceptable = canonical.is_dir() || (allow_files && canonical.is_file());
        if !acceptable {
            let expected = if allow_files {
                "a directory or a regular file"
            } else {
                "a directory"
            };
            return Err(format!("{folder:?} is not {expected}"));
        }
        Ok(canonical)
    }
}

/// `path` with `.` dropped and `..` applied to the components before it, without asking
/// the filesystem.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A pull connection, as rules refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its vendor (`crowdstrike`, `defender`, `guardduty`).
    pub vendor: String,
}

fn check_name(name: &str, problems: &mut Vec<FieldProblem>) {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed != name {
        problems.push(FieldProblem::new(
            "name",
            "must be 1 to 100 characters, without leading or trailing spaces",
        ));
    }
}

/// Each pattern on its own (every bad one is named), then the list as one matcher, the
/// way it is used.
fn check_patterns(field: &str, patterns: &[String], problems: &mut Vec<FieldProblem>) {
    let before = problems.len();
    for (i, p) in patterns.iter().enumerate() {
        if let Err(e) = PatternSet::new(&[p]) {
            problems.push(FieldProblem::new(format!("{field}[{i}]"), e.to_string()));
        }
    }
    if problems.len() == before
        && !patterns.is_empty()
        && let Err(e) = PatternSet::new(patterns)
    {
        problems.push(FieldProblem::new(field, e.to_string()));
    }
}

fn check_tags(field: &str, tags: &BTreeMap<String, String>, problems: &mut Vec<FieldProblem>) {
    for (key, value) in tags {
        if key.trim().is_empty() || key.chars().count() > 128 {
            problems.push(FieldProblem::new(field, "tag keys are 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            problems.push(FieldProblem::new(
                format!("{field}.{key}"),
                "tag values are at most 256 characters (`*` = any value)",
            ));
        }
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`…
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// IAM role names: 1 to 64 of `A-Za-z0-9+=,.@_-`.
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Problems with an environment definition; empty when it can be stored.
pub fn validate_environment(spec: &EnvironmentSpec, roots: &EvidenceRoots) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    check_name(&spec.name, &mut problems);
    if spec.scopes.is_empty() {
        problems.push(FieldProblem::new(
            "scopes",
            "at least one scope (kind aws, ssh or local) is needed",
        ));
    }
    for (i, scope) in spec.scopes.iter().enumerate() {
        let at = |field: &str| format!("scopes[{i}].{field}");
        match scope {
            Scope::Aws(aws) => {
                if let Accounts::Listed(ids) = &aws.accounts {
                    if ids.is_empty() {
                        problems.push(FieldProblem::new(
                            at("accounts"),
                            "list at least one account id, or say \"all\"",
                        ));
                    }
                    for (j, id) in ids.iter().enumerate() {
                        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                            problems.push(FieldProblem::new(
                                format!("scopes[{i}].accounts[{j}]"),
                                format!("{id:?} is not a 12-digit AWS account id"),
                            ));
                        }
                    }
                }
                for (j, region) in aws.regions.iter().enumerate() {
                    if !is_region(region) {
                        problems.push(FieldProblem::new(
                            format!("scopes[{i}].regions[{j}]"),
                            format!("{region:?} is not an AWS region name such as us-east-1"),
                        ));
                    }
                }
                check_tags(&at("tags"), &aws.tags, &mut problems);
                if let Some(role) = &aws.role_name
                    && !is_role_name(role)
                {
                    problems.push(FieldProblem::new(
                        at("role_name"),
                        "an IAM role name is 1 to 64 of letters, digits and +=,.@_-",
                    ));
                }
            }
            Scope::Ssh(ssh) => {
                if ssh.cidrs.is_empty() && ssh.hostname_patterns.is_empty() {
                    problems.push(FieldProblem::new(
                        at("cidrs"),
                        "give networks (cidrs) or hostname_patterns, or both",
                    ));
                }
                check_patterns(
                    &at("hostname_patterns"),
                    &ssh.hostname_patterns,
                    &mut problems,
                );
                if ssh.credential.trim().is_empty() {
                    problems.push(FieldProblem::new(
                        at("credential"),
                        "name the SSH credential Riposte logs in with",
                    ));
                }
                if ssh.port == 0 {
                    problems.push(FieldProblem::new(at("port"), "must be 1 to 65535"));
                }
            }
            Scope::Local(local) => {
                if let Err(problem) = roots.check(&local.folder) {
                    problems.push(FieldProblem::new(at("folder"), problem));
                }
            }
        }
    }
    problems
}

/// Sources whose targets are cloud resources: their rules must name an environment.
fn is_cloud_source(source: RuleSource) -> bool {
    matches!(
        source,
        RuleSource::Only(AlertSource::GuardDuty | AlertSource::Wiz)
    )
}

/// Sources reached through an XDR connection.
fn is_xdr_source(source: RuleSource) -> bool {
    matches!(
        source,
        RuleSource::Only(AlertSource::CrowdStrike | AlertSource::Defender)
    )
}

/// Problems with a rule definition, given the environments and connections that exist;
/// empty when it can be stored.
pub fn validate_rule(
    spec: &RuleSpec,
    environments: &[Environment],
    connections: &[ConnectionInfo],
) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    check_name(&spec.name, &mut problems);
    let environment = match spec.environment_id {
        None => {
            if is_cloud_source(spec.source) {
                problems.push(FieldProblem::new(
                    "environment_id",
                    format!(
                        "missing: a {} rule must name the environment its targets are acquired from",
                        spec.source.as_str()
                    ),
                ));
            }
            None
        }
        Some(id) => {
            let found = environments.iter().find(|e| e.id == id);
            if found.is_none() {
                problems.push(FieldProblem::new(
                    "environment_id",
                    format!("no environment has id {id}"),
                ));
            }
            found
        }
    };
    if let Some(conn_id) = &spec.connection_id {
        if !is_xdr_source(spec.source) {
            problems.push(FieldProblem::new(
                "connection_id",
                "only crowdstrike and defender rules take an XDR connection",
            ));
        } else {
            match connections.iter().find(|c| &c.id == conn_id) {
                None => problems.push(FieldProblem::new(
                    "connection_id",
                    format!("no connection has id {conn_id}"),
                )),
                Some(c) if c.vendor != spec.source.as_str() => problems.push(FieldProblem::new(
                    "connection_id",
                    format!(
                        "connection {} is a {} connection, not {}",
                        c.name,
                        c.vendor,
                        spec.source.as_str()
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    // Each list as one matcher, exactly as triage compiles the rule (`RuleSet::new`).
    check_patterns(
        "filters.finding_types",
        &spec.filters.finding_types,
        &mut problems,
    );
    check_patterns("filters.titles", &spec.filters.titles, &mut problems);
    check_tags("filters.tags", &spec.filters.tags, &mut problems);
    let mut seen = HashSet::new();
    for (i, action) in spec.actions.iter().enumerate() {
        let field = format!("actions[{i}].action");
        let name = action.action.as_str();
        if !seen.insert(action.action) {
            problems.push(FieldProblem::new(field, format!("{name} is listed twice")));
            continue;
        }
        match action.action.target_kind() {
            TargetKind::Ec2Instance => {
                let has_aws = environment
                    .is_some_and(|e| e.scopes.iter().any(|s| matches!(s, Scope::Aws(_))));
                if !has_aws {
                    let which = environment
                        .map(|e| format!("environment {} has no AWS scope", e.name))
                        .unwrap_or_else(|| "the rule names no environment".into());
                    problems.push(FieldProblem::new(
                        field,
                        format!("{name} acts on EC2 instances, but {which}"),
                    ));
                }
            }
            TargetKind::XdrHost => {
                if !is_xdr_source(spec.source) || spec.connection_id.is_none() {
                    problems.push(FieldProblem::new(
                        field,
                        format!(
                            "{name} contains a host through its XDR: the rule needs source crowdstrike or defender and a connection_id"
                        ),
                    ));
                }
            }
        }
    }
    for (i, n) in spec.notifications.iter().enumerate() {
        if n.webhook.trim().is_empty() || n.webhook.chars().count() > 100 {
            problems.push(FieldProblem::new(
                format!("notifications[{i}].webhook"),
                "name the webhook (1 to 100 characters)",
            ));
        }
        if n.events.is_empty() {
            problems.push(FieldProblem::new(
                format!("notifications[{i}].events"),
                "list at least one event",
            ));
        }
    }
    if spec.join_window_minutes > 7 * 24 * 60 {
        problems.push(FieldProblem::new(
            "join_window_minutes",
            "at most 10080 (one week)",
        ));
    }
    problems
}

#[cfg(test)]
mod tests;
