//! Scheduled hunts in the workers: no outside scheduler.
//!
//! Each worker looks for due hunts (on its [`Clock`]) and starts them through the store's
//! compare-and-set, so one worker records each firing however many run. A run's start job
//! lists its systems (named ones, and the systems of environment scopes as they are now),
//! creates the run's project and one investigation per system in one transaction; targets
//! that cannot be acquired are recorded on the run with their reason. When every
//! investigation of a running run has finished, the run completes with its verdict counts
//! and a job sends `hunt_completed` to the hunt's webhooks.

use crate::imports::{path_scope, resolve_system, system_target};
use crate::investigations::{StartRequest, start_or_join};
use crate::stages::{finish, payload};
use crate::{StageError, Worker};
use chrono::{DateTime, Utc};
use riposte_aws::acquire::{Ec2Acquirer, acquisition_config};
use riposte_model::{
    Accounts, Acquisition, Environment, FailedTarget, HuntRunId, HuntRunStatus, InvestigationPlan,
    NotificationEvent, RuleNotification, Scope, ScopeMatch, ScopeSelector, SystemRef, Target,
};
use riposte_notify::NotificationContext;
use riposte_store::{ClaimedJob, RunStart, Store, StoreError};
use std::sync::{Arc, Mutex};

/// Where a worker reads the time its schedules are judged by: the system clock, or one a
/// test sets.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that only moves when the returned handle moves it.
    pub fn manual(start: DateTime<Utc>) -> (Self, ManualClock) {
        let time = Arc::new(Mutex::new(start));
        let read = time.clone();
        (
            Clock(Arc::new(move || {
                *read.lock().unwrap_or_else(|e| e.into_inner())
            })),
            ManualClock(time),
        )
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// The handle of a [`Clock::manual`].
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// Sets the time.
    pub fn set(&self, time: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = time;
    }
}

/// One system a run investigates: a label for reports, the target, its scope.
struct RunSystem {
    label: String,
    target: Target,
    scope: ScopeMatch,
}

impl Worker {
    /// Starts every due hunt (at most 20 per call); returns how many runs were recorded
    /// (started or skipped) by this worker.
    pub async fn schedule_hunts(&self) -> Result<usize, StoreError> {
        let now = self.config.clock.now();
        let mut recorded = 0;
        for hunt in self.store.due_hunts(now, 20).await? {
            let Some(due) = hunt.next_run_at else {
                continue;
            };
            let next = match hunt.spec.schedule.next_after(now) {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(hunt = %hunt.spec.name, error = %e, "a stored hunt's schedule no longer parses; it is not run");
                    continue;
                }
            };
            let outcome = match self
                .store
                .start_scheduled_run(hunt.id, due, next, now)
                .await?
            {
                RunStart::Started(run) => {
                    tracing::info!(hunt = %hunt.spec.name, run = %run.id, scheduled_for = %due, next = %next, "hunt run started");
                    recorded += 1;
                    "started"
                }
                RunStart::Overlapping { skipped, active } => {
                    tracing::warn!(hunt = %hunt.spec.name, active = %active.id, scheduled_for = %due, "hunt run skipped: the previous run is still going");
                    recorded += usize::from(skipped.is_some());
                    "skipped"
                }
                RunStart::Lost => "lost",
            };
            metrics::counter!("riposte_hunt_runs_total", "outcome" => outcome).increment(1);
        }
        Ok(recorded)
    }

    /// Completes every running run whose investigations have all finished; returns how
    /// many this worker completed.
    pub async fn finish_hunt_runs(&self) -> Result<usize, StoreError> {
        let mut completed = 0;
        for run in self.store.running_hunt_runs().await? {
            let Some(project) = run.project_id else {
                continue;
            };
            if self.store.unfinished_investigations(project).await? > 0 {
                continue;
            }
            let mut counts = self.store.project_counts(project).await?;
            counts.failed_targets = u32::try_from(run.failed_targets.len()).unwrap_or(u32::MAX);
            if self.store.complete_hunt_run(run.id, &counts).await? {
                tracing::info!(run = %run.id, systems = counts.systems, with_alarms = counts.with_alarms.len(), "hunt run completed");
                completed += 1;
            }
        }
        Ok(completed)
    }

    /// The systems of one scope selector as they are now, or why they cannot be listed.
    async fn selector_systems(
        &self,
        index: usize,
        selector: &ScopeSelector,
        environments: &[Environment],
        run: HuntRunId,
    ) -> Vec<Result<RunSystem, FailedTarget>> {
        let at = format!("scopes[{index}]");
        let fail = |target: String, reason: String| Err(FailedTarget { target, reason });
        let wanted = selector.environment.trim();
        let Some(env) = environments
            .iter()
            .find(|e| e.name == wanted || e.id.to_string() == wanted)
        else {
            return vec![fail(at, format!("no environment is named {wanted:?}"))];
        };
        let scopes: Vec<(usize, &Scope)> = match selector.scope_index {
            Some(i) => match env.scopes.get(i) {
                Some(scope) => vec![(i, scope)],
                None => {
                    return vec![fail(
                        at,
                        format!("environment {} has no scope {i}", env.name),
                    )];
                }
            },
            None => env.scopes.iter().enumerate().collect(),
        };
        let mut out = Vec::new();
        for (scope_index, scope) in scopes {
            let here = format!("{at} ({}, scope {scope_index})", env.name);
            match scope {
                Scope::Local(local) => {
                    let folder = std::path::PathBuf::from(&local.folder);
                    let roots = self.config.evidence_roots.clone();
                    let env = env.clone();
                    let listed =
                        tokio::task::spawn_blocking(move || local_systems(&folder, &env, &roots))
                            .await;
                    match listed {
                        Ok(Ok(systems)) => out.extend(systems),
                        Ok(Err(reason)) => out.push(fail(here, reason)),
                        Err(e) => out.push(fail(here, format!("listing failed: {e}"))),
                    }
                }
                Scope::Ssh(ssh) => {
                    let mut named: Vec<SystemRef> = ssh
                        .hostname_patterns
                        .iter()
                        .filter(|p| !p.contains(['*', '?']))
                        .map(|h| {
                            SystemRef::Host(riposte_model::HostSystem {
                                hostname: Some(h.clone()),
                                ip: None,
                            })
                        })
                        .collect();
                    for net in &ssh.cidrs {
                        if net.prefix_len() == net.max_prefix_len() {
                            named.push(SystemRef::Host(riposte_model::HostSystem {
                                hostname: None,
                                ip: Some(net.addr()),
                            }));
                        } else {
                            out.push(fail(
                                format!("{here}: network {net}"),
                                "networks of an SSH scope are not swept for hosts; name the hosts (host name patterns without wildcards, /32 addresses) or list them as systems".into(),
                            ));
                        }
                    }
                    for pattern in ssh
                        .hostname_patterns
                        .iter()
                        .filter(|p| p.contains(['*', '?']))
                    {
                        out.push(fail(
                            format!("{here}: pattern {pattern}"),
                            "host name patterns with wildcards cannot be listed; list the hosts as systems".into(),
                        ));
                    }
                    let only = [env];
                    for system in named {
                        out.push(
                            named_system(&system, &only, &self.config.evidence_roots).map_err(
                                |reason| FailedTarget {
                                    target: system.label(),
                                    reason,
                                },
                            ),
                        );
                    }
                }
                Scope::Aws(aws) => {
                    out.extend(
                        self.aws_systems(&here, env, scope_index, aws, selector, run)
                            .await,
                    );
                }
            }
        }
        out
    }

    /// Every EC2 instance of an AWS scope (narrowed by the selector) as it is now.
    async fn aws_systems(
        &self,
        here: &str,
        env: &Environment,
        scope_index: usize,
        aws: &riposte_model::AwsScope,
        selector: &ScopeSelector,
        run: HuntRunId,
    ) -> Vec<Result<RunSystem, FailedTarget>> {
        let fail = |reason: String| {
            vec![Err(FailedTarget {
                target: here.to_string(),
                reason,
            })]
        };
        let regions: Vec<String> = match (aws.regions.is_empty(), selector.regions.is_empty()) {
            (true, true) => {
                return fail(
                    "the scope covers every region: give the selector's regions to list".into(),
                );
            }
            (true, false) => selector.regions.clone(),
            (false, true) => aws.regions.clone(),
            (false, false) => aws
                .regions
                .iter()
                .filter(|r| selector.regions.iter().any(|s| s.eq_ignore_ascii_case(r)))
                .cloned()
                .collect(),
        };
        let accounts: Vec<Option<String>> = match &aws.accounts {
            Accounts::Listed(ids) => ids
                .iter()
                .filter(|id| selector.accounts.is_empty() || selector.accounts.contains(id))
                .cloned()
                .map(Some)
                .collect(),
            Accounts::All if selector.accounts.is_empty() => vec![None],
            Accounts::All => selector.accounts.iter().cloned().map(Some).collect(),
        };
        if regions.is_empty() || accounts.is_empty() {
            return fail("the selector's accounts or regions are not in the scope".into());
        }
        let mut tags = aws.tags.clone();
        tags.extend(selector.tags.clone());
        let mut out = Vec::new();
        for account in &accounts {
            for region in &regions {
                let place = format!(
                    "{here}: account {}, region {region}",
                    account.as_deref().unwrap_or("(own)")
                );
                let listed = async {
                    let config = acquisition_config(
                        region,
                        account.as_deref(),
                        aws.role_name.as_deref(),
                        &format!("hunt-{run}"),
                    )
                    .await?;
                    Ec2Acquirer::new(&config, self.config.ec2.clone())?
                        .list_instances(&tags)
                        .await
                }
                .await;
                match listed {
                    Ok(ids) => out.extend(ids.into_iter().map(|instance_id| {
                        Ok(RunSystem {
                            label: format!("ec2 {instance_id} ({region})"),
                            target: Target {
                                instance_id: Some(instance_id.clone()),
                                region: Some(region.clone()),
                                account_id: account.clone(),
                                cloud_provider: Some("aws".into()),
                                ..Default::default()
                            },
                            scope: ScopeMatch {
                                environment_id: env.id,
                                environment: env.name.clone(),
                                scope_index,
                                acquisition: Acquisition::Ec2 {
                                    account_id: account.clone(),
                                    region: region.clone(),
                                    instance_id: instance_id.clone(),
                                    role_name: aws.role_name.clone(),
                                },
                                matched_on: format!(
                                    "instance {instance_id} listed by hunt selector {here}"
                                ),
                            },
                        })
                    })),
                    Err(e) => out.push(Err(FailedTarget {
                        target: place,
                        reason: format!("cannot list the instances: {e}"),
                    })),
                }
            }
        }
        out
    }
}

/// A named system's target and scope among `environments`.
fn named_system(
    system: &SystemRef,
    environments: &[&Environment],
    roots: &riposte_rules::EvidenceRoots,
) -> Result<RunSystem, String> {
    let target = system_target(system)?;
    let scope = resolve_system(system, &target, environments, roots)?;
    Ok(RunSystem {
        label: system.label(),
        target,
        scope,
    })
}

/// Every host folder, package and image of a local scope's folder, by name.
fn local_systems(
    folder: &std::path::Path,
    env: &Environment,
    roots: &riposte_rules::EvidenceRoots,
) -> Result<Vec<Result<RunSystem, FailedTarget>>, String> {
    let entries =
        std::fs::read_dir(folder).map_err(|e| format!("cannot list {}: {e}", folder.display()))?;
    let mut paths: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| {
            e.file_type().is_ok_and(|t| {
                t.is_dir() || (t.is_file() && riposte_acquire::evidence_file(&e.path()).is_some())
            })
        })
        .map(|e| e.path())
        .collect();
    paths.sort();
    let only = [env];
    Ok(paths
        .into_iter()
        .map(|path| {
            let label = format!("path {}", path.display());
            path_scope(&path.display().to_string(), &only, roots)
                .map(|scope| RunSystem {
                    label: label.clone(),
                    target: Target::default(),
                    scope,
                })
                .map_err(|reason| FailedTarget {
                    target: label,
                    reason,
                })
        })
        .collect())
}

/// The job listing a run's systems and starting their investigations.
pub(crate) async fn start_run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let run_id: HuntRunId = payload(job, "run_id")?;
    let Some(run) = w.store.get_hunt_run(run_id).await? else {
        return Err(StageError::Fatal(format!(
            "hunt run {run_id} does not exist"
        )));
    };
    if run.status != HuntRunStatus::Starting {
        return finish(w, w.store.begin().await?, job).await;
    }
    let Some(hunt) = w.store.get_hunt(run.hunt_id).await? else {
        let mut tx = w.store.begin().await?;
        Store::set_hunt_run_started(
            &mut tx,
            run.id,
            None,
            &[],
            HuntRunStatus::Failed,
            Some("the hunt was deleted"),
        )
        .await?;
        return finish(w, tx, job).await;
    };
    let environments = w.store.list_environments().await?;
    let mut found: Vec<Result<RunSystem, FailedTarget>> = Vec::new();
    {
        let systems = hunt.spec.systems.clone();
        let envs = environments.clone();
        let roots = w.config.evidence_roots.clone();
        let named = tokio::task::spawn_blocking(move || {
            let refs: Vec<&Environment> = envs.iter().collect();
            systems
                .iter()
                .enumerate()
                .map(|(i, system)| {
                    named_system(system, &refs, &roots).map_err(|reason| FailedTarget {
                        target: format!("systems[{i}] ({})", system.label()),
                        reason,
                    })
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StageError::Retry(format!("resolving the systems failed: {e}")))?;
        found.extend(named);
    }
    for (i, selector) in hunt.spec.scopes.iter().enumerate() {
        found.extend(w.selector_systems(i, selector, &environments, run.id).await);
    }
    let mut failed = Vec::new();
    let mut systems: Vec<RunSystem> = Vec::new();
    for item in found {
        match item {
            Ok(system) => {
                let key = system.scope.acquisition.target_key();
                if !systems
                    .iter()
                    .any(|s| s.scope.acquisition.target_key() == key)
                {
                    systems.push(system);
                }
            }
            Err(f) => failed.push(f),
        }
    }
    for f in &failed {
        tracing::warn!(hunt = %hunt.spec.name, run = %run.id, target = %f.target, reason = %f.reason, "hunt target not investigated");
    }
    let mut tx = w.store.begin().await?;
    let actor = format!("hunt:{}", hunt.spec.name);
    if systems.is_empty() {
        Store::set_hunt_run_started(
            &mut tx,
            run.id,
            None,
            &failed,
            HuntRunStatus::Failed,
            Some("no system could be investigated"),
        )
        .await?;
        return finish(w, tx, job).await;
    }
    let when = run.scheduled_for.unwrap_or(run.created_at);
    let project = Store::insert_project(
        &mut tx,
        &format!(
            "{} — {}",
            hunt.spec.name,
            hunt.spec.schedule.local_time(when)
        ),
        &format!(
            "Run {} of hunt {} ({:?})",
            run.id, hunt.spec.name, run.trigger
        ),
        &actor,
    )
    .await?;
    let notifications: Vec<RuleNotification> = hunt
        .spec
        .webhooks
        .iter()
        .map(|webhook| RuleNotification {
            webhook: webhook.clone(),
            events: vec![NotificationEvent::ProcessingWithAlarms],
        })
        .collect();
    let mut started = Vec::new();
    for system in systems {
        let plan = InvestigationPlan {
            rule: None,
            scope: system.scope.clone(),
            investigation_type: hunt.spec.investigation_type,
            retain_snapshots: false,
            attach_alert_context: false,
            actions: vec![],
            notifications: notifications.clone(),
            connection_id: None,
            detections: hunt.spec.detections.clone(),
        };
        let inv = start_or_join(
            &mut tx,
            &actor,
            StartRequest {
                title: format!(
                    "{} of {} ({})",
                    hunt.spec.investigation_type.as_str(),
                    system.scope.acquisition.host_label(),
                    hunt.spec.name
                ),
                target: system.target,
                plan,
                project_id: Some(project.id),
                alert_id: None,
                join_window: None,
            },
        )
        .await?;
        started.push(serde_json::json!({"system": system.label, "investigation_id": inv.id()}));
    }
    Store::set_hunt_run_started(
        &mut tx,
        run.id,
        Some(project.id),
        &failed,
        HuntRunStatus::Running,
        None,
    )
    .await?;
    Store::audit(
        &mut tx,
        None,
        &actor,
        "hunt.run_started",
        &serde_json::json!({"hunt_id": hunt.id, "run_id": run.id, "project_id": project.id, "investigations": started, "failed_targets": failed}),
    )
    .await?;
    finish(w, tx, job).await
}

/// The job sending a completed run's summary to the hunt's webhooks.
pub(crate) async fn notify_run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let run_id: HuntRunId = payload(job, "run_id")?;
    let Some(run) = w.store.get_hunt_run(run_id).await? else {
        return Err(StageError::Fatal(format!(
            "hunt run {run_id} does not exist"
        )));
    };
    let hunt = w.store.get_hunt(run.hunt_id).await?;
    let name = hunt
        .as_ref()
        .map_or_else(|| run.hunt_id.to_string(), |h| h.spec.name.clone());
    let counts = run.counts.clone().unwrap_or_default();
    let mut details = format!(
        "{} systems: {} Malicious Activity Identified, {} Suspicious Activity, {} No Evidence Found, {} failed; {} targets not investigated.",
        counts.systems,
        counts.malicious,
        counts.suspicious,
        counts.no_evidence,
        counts.failed,
        counts.failed_targets
    );
    if counts.with_alarms.is_empty() {
        details.push_str("\nNo system raised alarms.");
    } else {
        details.push_str(&format!(
            "\nSystems with alarms: {}",
            counts.with_alarms.join(", ")
        ));
    }
    for f in run.failed_targets.iter().take(10) {
        details.push_str(&format!("\nNot investigated: {}: {}", f.target, f.reason));
    }
    let base = w.config.public_url.trim_end_matches('/');
    let context = NotificationContext {
        title: format!("Hunt {name} completed"),
        details,
        verdict: None,
        score: None,
        severity: None,
        host: None,
        url: Some(match run.project_id {
            Some(p) => format!("{base}/api/v1/projects/{p}"),
            None => format!("{base}/api/v1/hunts/{}/runs", run.hunt_id),
        }),
        investigation_id: None,
        alert_id: None,
        source: Some("hunt".into()),
        alarms: vec![],
        action: None,
        error: None,
        time: run.finished_at,
    };
    let named: Vec<RuleNotification> = hunt
        .as_ref()
        .map(|h| {
            h.spec
                .webhooks
                .iter()
                .map(|webhook| RuleNotification {
                    webhook: webhook.clone(),
                    events: vec![NotificationEvent::HuntCompleted],
                })
                .collect()
        })
        .unwrap_or_default();
    let outcomes = w
        .dispatcher
        .dispatch_for(NotificationEvent::HuntCompleted, &context, &named)
        .await
        .map_err(|e| StageError::Retry(e.to_string()))?;
    let mut tx = w.store.begin().await?;
    Store::audit(
        &mut tx,
        None,
        &w.actor(),
        "hunt.run_notified",
        &serde_json::json!({"run_id": run.id, "deliveries": outcomes.iter().map(|o| serde_json::json!({"target": o.name, "delivered": o.report.ok()})).collect::<Vec<_>>()}),
    )
    .await?;
    finish(w, tx, job).await
}
