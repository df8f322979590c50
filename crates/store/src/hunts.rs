//! Scheduled hunts and their runs.
//!
//! A due hunt is started by moving its `next_run_at` on with a compare-and-set on the value
//! the worker saw, in the transaction that records the run and queues its start job: of
//! any number of workers (and servers) that see the hunt due, exactly one records the run.
//! A run missed while everything was down is recorded once, for the latest time the
//! schedule fired, because the next time is computed from now rather than from the missed
//! one. A run whose previous run is still going is recorded as skipped.

use crate::{NewJob, Result, Store, Transaction, conflict_on_unique, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::{
    FailedTarget, Hunt, HuntCounts, HuntId, HuntRun, HuntRunId, HuntRunStatus, HuntSpec,
    HuntTrigger, JobKind, ProjectId, Verdict,
};
use sqlx::Row;

const HUNT_COLUMNS: &str = "id, spec, next_run_at, created_by, created_at, updated_at";
const RUN_COLUMNS: &str = "id, hunt_id, trigger, scheduled_for, status, reason, project_id, failed_targets, counts, created_at, finished_at";

fn decode_hunt(row: &sqlx::any::AnyRow) -> Result<Hunt> {
    let id: String = row.try_get("id")?;
    let spec: String = row.try_get("spec")?;
    let next: Option<i64> = row.try_get("next_run_at")?;
    Ok(Hunt {
        id: id.parse().map_err(|e| corrupt("hunts.id", e))?,
        spec: serde_json::from_str(&spec).map_err(|e| corrupt("hunts.spec", e))?,
        next_run_at: next.map(from_ms),
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn decode_run(row: &sqlx::any::AnyRow) -> Result<HuntRun> {
    let id: String = row.try_get("id")?;
    let hunt: String = row.try_get("hunt_id")?;
    let trigger: String = row.try_get("trigger")?;
    let status: String = row.try_get("status")?;
    let project: Option<String> = row.try_get("project_id")?;
    let failed: String = row.try_get("failed_targets")?;
    let counts: Option<String> = row.try_get("counts")?;
    let scheduled: Option<i64> = row.try_get("scheduled_for")?;
    let finished: Option<i64> = row.try_get("finished_at")?;
    Ok(HuntRun {
        id: id.parse().map_err(|e| corrupt("hunt_runs.id", e))?,
        hunt_id: hunt.parse().map_err(|e| corrupt("hunt_runs.hunt_id", e))?,
        trigger: match trigger.as_str() {
            "schedule" => HuntTrigger::Schedule,
            "manual" => HuntTrigger::Manual,
            other => return Err(corrupt("hunt_runs.trigger", other)),
        },
        scheduled_for: scheduled.map(from_ms),
        status: HuntRunStatus::parse(&status)
            .ok_or_else(|| corrupt("hunt_runs.status", &status))?,
        reason: row.try_get("reason")?,
        project_id: project
            .map(|p| p.parse().map_err(|e| corrupt("hunt_runs.project_id", e)))
            .transpose()?,
        failed_targets: serde_json::from_str(&failed)
            .map_err(|e| corrupt("hunt_runs.failed_targets", e))?,
        counts: counts
            .map(|c| serde_json::from_str(&c).map_err(|e| corrupt("hunt_runs.counts", e)))
            .transpose()?,
        created_at: from_ms(row.try_get("created_at")?),
        finished_at: finished.map(from_ms),
    })
}

fn spec_json(spec: &HuntSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| corrupt("hunt", e))
}

fn name_taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a hunt named {name:?} already exists")
}

fn trigger_str(trigger: HuntTrigger) -> &'static str {
    match trigger {
        HuntTrigger::Schedule => "schedule",
        HuntTrigger::Manual => "manual",
    }
}

/// What starting a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStart {
    /// The run was recorded and its start job queued.
    Started(HuntRun),
    /// The previous run was still going: a scheduled run is recorded as skipped (this
    /// one); a manual one is not recorded.
    Overlapping {
        /// The skipped run, for a scheduled start.
        skipped: Option<HuntRun>,
        /// The run still going.
        active: HuntRun,
    },
    /// Another worker started this firing first (or the hunt was changed meanwhile).
    Lost,
}

impl Store {
    /// Stores a new hunt; [`crate::StoreError::Conflict`] if the name is taken.
    pub async fn create_hunt(
        &self,
        spec: &HuntSpec,
        next_run_at: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<Hunt> {
        let now = from_ms(ms(Utc::now()));
        let hunt = Hunt {
            id: HuntId::new(),
            spec: spec.clone(),
            next_run_at: next_run_at.map(|t| from_ms(ms(t))),
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO hunts (id, name, spec, enabled, next_run_at, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(hunt.id.to_string())
        .bind(&spec.name)
        .bind(spec_json(spec)?)
        .bind(i64::from(spec.enabled))
        .bind(hunt.next_run_at.map(ms))
        .bind(actor)
        .bind(ms(now))
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        Ok(hunt)
    }

    /// Replaces a hunt's definition and its next run time; `None` when it does not exist.
    pub async fn update_hunt(
        &self,
        id: HuntId,
        spec: &HuntSpec,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<Option<Hunt>> {
        let done = sqlx::query(
            "UPDATE hunts SET name = $1, spec = $2, enabled = $3, next_run_at = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&spec.name)
        .bind(spec_json(spec)?)
        .bind(i64::from(spec.enabled))
        .bind(next_run_at.map(ms))
        .bind(ms(Utc::now()))
        .bind(id.to_string())
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_hunt(id).await
    }

    /// One hunt.
    pub async fn get_hunt(&self, id: HuntId) -> Result<Option<Hunt>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HUNT_COLUMNS} FROM hunts WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_hunt).transpose()
    }

    /// Every hunt, by name.
    pub async fn list_hunts(&self) -> Result<Vec<Hunt>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HUNT_COLUMNS} FROM hunts ORDER BY name"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_hunt).collect()
    }

    /// Deletes a hunt and its run history (the runs' projects and investigations stay);
    /// false when it did not exist.
    pub async fn delete_hunt(&self, id: HuntId) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM hunt_runs WHERE hunt_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM hunts WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Enabled hunts whose schedule fired at or before `now`, the most overdue first.
    pub async fn due_hunts(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Hunt>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HUNT_COLUMNS} FROM hunts WHERE enabled = 1 AND next_run_at <= $1
             ORDER BY next_run_at LIMIT $2"
        )))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_hunt).collect()
    }

    /// The run of `hunt` still going, if any.
    async fn active_run(tx: &mut Transaction, hunt: HuntId) -> Result<Option<HuntRun>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM hunt_runs WHERE hunt_id = $1 AND status IN ('starting', 'running')
             ORDER BY created_at DESC LIMIT 1"
        )))
        .bind(hunt.to_string())
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(decode_run).transpose()
    }

    async fn insert_run(tx: &mut Transaction, run: &HuntRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO hunt_runs (id, hunt_id, trigger, scheduled_for, status, reason, project_id, failed_targets, counts, created_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, '[]', NULL, $7, $8)",
        )
        .bind(run.id.to_string())
        .bind(run.hunt_id.to_string())
        .bind(trigger_str(run.trigger))
        .bind(run.scheduled_for.map(ms))
        .bind(run.status.as_str())
        .bind(run.reason.as_deref())
        .bind(ms(run.created_at))
        .bind(run.finished_at.map(ms))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records a run of `hunt` and queues its start, or reports the run still going.
    async fn record_run(
        tx: &mut Transaction,
        hunt: HuntId,
        trigger: HuntTrigger,
        scheduled_for: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<RunStart> {
        let now = from_ms(ms(now));
        let mut run = HuntRun {
            id: HuntRunId::new(),
            hunt_id: hunt,
            trigger,
            scheduled_for: scheduled_for.map(|t| from_ms(ms(t))),
            status: HuntRunStatus::Starting,
            reason: None,
            project_id: None,
            failed_targets: Vec::new(),
            counts: None,
            created_at: now,
            finished_at: None,
        };
        if let Some(active) = Self::active_run(tx, hunt).await? {
            if trigger == HuntTrigger::Manual {
                return Ok(RunStart::Overlapping {
                    skipped: None,
                    active,
                });
            }
            run.status = HuntRunStatus::Skipped;
            run.reason = Some(format!(
                "the previous run ({}, started {}) was still going",
                active.id,
                active.created_at.to_rfc3339()
            ));
            run.finished_at = Some(now);
            Self::insert_run(tx, &run).await?;
            return Ok(RunStart::Overlapping {
                skipped: Some(run),
                active,
            });
        }
        Self::insert_run(tx, &run).await?;
        Store::enqueue(
            tx,
            &NewJob::new(
                JobKind::StartHuntRun,
                serde_json::json!({"run_id": run.id}),
                None,
            ),
        )
        .await?;
        Ok(RunStart::Started(run))
    }

    /// Starts the run for the firing of `hunt`'s schedule at `due` (the `next_run_at` the
    /// caller read) and moves `next_run_at` to `next`, all or nothing. [`RunStart::Lost`]
    /// when `next_run_at` is no longer `due` (another worker started it, or the hunt was
    /// edited or disabled).
    pub async fn start_scheduled_run(
        &self,
        hunt: HuntId,
        due: DateTime<Utc>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RunStart> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE hunts SET next_run_at = $1 WHERE id = $2 AND enabled = 1 AND next_run_at = $3",
        )
        .bind(ms(next))
        .bind(hunt.to_string())
        .bind(ms(due))
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(RunStart::Lost);
        }
        let start = Self::record_run(&mut tx, hunt, HuntTrigger::Schedule, Some(due), now).await;
        let start = match start {
            Err(crate::StoreError::Database(e))
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Ok(RunStart::Lost);
            }
            other => other?,
        };
        tx.commit().await?;
        Ok(start)
    }

    /// Starts a run of `hunt` now, unless one is still going.
    pub async fn start_manual_run(&self, hunt: HuntId, now: DateTime<Utc>) -> Result<RunStart> {
        let mut tx = self.begin().await?;
        let start = Self::record_run(&mut tx, hunt, HuntTrigger::Manual, None, now).await?;
        tx.commit().await?;
        Ok(start)
    }

    /// One run.
    pub async fn get_hunt_run(&self, id: HuntRunId) -> Result<Option<HuntRun>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM hunt_runs WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_run).transpose()
    }

    /// A hunt's runs, the newest first.
    pub async fn list_hunt_runs(&self, hunt: HuntId, limit: i64) -> Result<Vec<HuntRun>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM hunt_runs WHERE hunt_id = $1 ORDER BY created_at DESC, id LIMIT $2"
        )))
        .bind(hunt.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_run).collect()
    }

    /// Runs whose investigations are under way.
    pub async fn running_hunt_runs(&self) -> Result<Vec<HuntRun>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM hunt_runs WHERE status = 'running' ORDER BY created_at"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_run).collect()
    }

    /// Marks a starting run as running in `project` (or failed, when nothing could be
    /// started), with the targets that could not be investigated; false when the run was
    /// not starting any more (the start job ran before and committed).
    pub async fn set_hunt_run_started(
        conn: &mut crate::Conn,
        run: HuntRunId,
        project: Option<ProjectId>,
        failed_targets: &[FailedTarget],
        status: HuntRunStatus,
        reason: Option<&str>,
    ) -> Result<bool> {
        let finished = (!status.is_active()).then(|| ms(Utc::now()));
        let done = sqlx::query(
            "UPDATE hunt_runs SET status = $1, project_id = $2, failed_targets = $3, reason = $4, finished_at = $5
             WHERE id = $6 AND status = 'starting'",
        )
        .bind(status.as_str())
        .bind(project.map(|p| p.to_string()))
        .bind(serde_json::to_string(failed_targets).map_err(|e| corrupt("failed_targets", e))?)
        .bind(reason)
        .bind(finished)
        .bind(run.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many of a project's investigations are not finished yet.
    pub async fn unfinished_investigations(&self, project: ProjectId) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM investigations WHERE project_id = $1 AND status NOT IN ('complete', 'failed')",
        )
        .bind(project.to_string())
        .fetch_one(self.pool())
        .await?)
    }

    /// The verdict counts of a project's investigations, for a run's summary.
    pub async fn project_counts(&self, project: ProjectId) -> Result<HuntCounts> {
        let rows = sqlx::query(
            "SELECT i.host, i.status, i.verdict, (SELECT COUNT(*) FROM alarms a WHERE a.investigation_id = i.id) AS alarms
             FROM investigations i WHERE i.project_id = $1 ORDER BY i.host",
        )
        .bind(project.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut counts = HuntCounts::default();
        for row in &rows {
            let host: String = row.try_get("host")?;
            let status: String = row.try_get("status")?;
            let verdict: Option<String> = row.try_get("verdict")?;
            let alarms: i64 = row.try_get("alarms")?;
            counts.systems += 1;
            if status == "failed" {
                counts.failed += 1;
            }
            match verdict.as_deref() {
                Some(v) if v == Verdict::Malicious.label() => counts.malicious += 1,
                Some(v) if v == Verdict::Suspicious.label() => counts.suspicious += 1,
                Some(v) if v == Verdict::NoEvidence.label() => counts.no_evidence += 1,
                _ => {}
            }
            if alarms > 0 {
                counts.with_alarms.push(host);
            }
        }
        Ok(counts)
    }

    /// Completes a running run with its counts and queues its summary, once: false when
    /// the run was not running (another worker completed it).
    pub async fn complete_hunt_run(&self, run: HuntRunId, counts: &HuntCounts) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE hunt_runs SET status = 'completed', counts = $1, finished_at = $2 WHERE id = $3 AND status = 'running'",
        )
        .bind(serde_json::to_string(counts).map_err(|e| corrupt("counts", e))?)
        .bind(ms(Utc::now()))
        .bind(run.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Store::enqueue(
            &mut tx,
            &NewJob::new(
                JobKind::NotifyHuntRun,
                serde_json::json!({"run_id": run}),
                None,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
