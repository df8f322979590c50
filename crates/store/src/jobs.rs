//! Durable jobs on the database itself: no extra queue service.
//!
//! A worker *claims* a job by taking a lease (`locked_by`, `locked_until`) in one atomic
//! statement — `FOR UPDATE SKIP LOCKED` on Postgres so many workers never block each other,
//! a single `UPDATE … RETURNING` on SQLite, whose writes are serialized anyway. The worker
//! renews the lease while it runs. A process that dies (even by SIGKILL) simply stops
//! renewing; once the lease expires the job is claimed again. A stage commits its results,
//! the completion of its job and the enqueue of the next job in one transaction, and the
//! completion only succeeds while the worker still holds the lease — so every stage's
//! effects land exactly once.

use crate::{Backend, Conn, Result, Store, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::{AlertId, InvestigationId, Job, JobId, JobKind, JobStatus};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use std::time::Duration;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The stage to run.
    pub kind: JobKind,
    /// Its input.
    pub payload: serde_json::Value,
    /// The investigation it belongs to, if any (for progress in the API).
    pub investigation_id: Option<InvestigationId>,
    /// Attempts before it fails for good.
    pub max_attempts: u32,
    /// How long after being enqueued it becomes runnable (zero: at once).
    pub delay: Duration,
}

impl NewJob {
    /// A job with the default of 5 attempts.
    pub fn new(
        kind: JobKind,
        payload: serde_json::Value,
        investigation_id: Option<InvestigationId>,
    ) -> Self {
        NewJob {
            kind,
            payload,
            investigation_id,
            max_attempts: 5,
            delay: Duration::ZERO,
        }
    }

    /// The same job, runnable only `delay` after it is enqueued.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// `now` plus `delay`, in the stored milliseconds.
fn run_at(now: i64, delay: Duration) -> i64 {
    now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2))
}

/// A job a worker holds a lease on.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job (attempts already counts this one).
    pub job: Job,
    /// Its investigation, if any.
    pub investigation_id: Option<InvestigationId>,
}

/// Jobs by status.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting.
    pub queued: i64,
    /// Leased by a worker.
    pub running: i64,
    /// Finished.
    pub done: i64,
    /// Given up.
    pub failed: i64,
}

/// One kind of job in the queue (a pipeline stage), for operators.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStage {
    /// The job kind (`triage_alert`, `collect`, `process`, `detect`, `notify`, …).
    pub kind: String,
    /// Waiting, runnable now or later (retries back off).
    pub queued: i64,
    /// Waiting and runnable now.
    pub ready: i64,
    /// Leased by a worker.
    pub running: i64,
    /// Seconds the longest-waiting runnable job has waited since it became runnable.
    pub oldest_ready_secs: Option<f64>,
    /// Finished in the window.
    pub done_recent: i64,
    /// Given up in the window.
    pub failed_recent: i64,
    /// Finished per minute over the window.
    pub per_minute: f64,
}

const RETURNING: &str = "id, kind, payload, status, attempts, max_attempts, run_at, last_error, progress, investigation_id, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<ClaimedJob> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let payload: String = row.try_get("payload")?;
    let status: String = row.try_get("status")?;
    let inv: Option<String> = row.try_get("investigation_id")?;
    let attempts: i64 = row.try_get("attempts")?;
    let max_attempts: i64 = row.try_get("max_attempts")?;
    Ok(ClaimedJob {
        job: Job {
            id: id.parse().map_err(|e| corrupt("jobs.id", e))?,
            kind: kind.parse().map_err(|e| corrupt("jobs.kind", e))?,
            payload: serde_json::from_str(&payload).map_err(|e| corrupt("jobs.payload", e))?,
            status: status.parse().map_err(|e| corrupt("jobs.status", e))?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
            run_at: from_ms(row.try_get("run_at")?),
            last_error: row.try_get("last_error")?,
            progress: row.try_get("progress")?,
            created_at: from_ms(row.try_get("created_at")?),
            updated_at: from_ms(row.try_get("updated_at")?),
        },
        investigation_id: inv
            .map(|s| s.parse().map_err(|e| corrupt("jobs.investigation_id", e)))
            .transpose()?,
    })
}

fn lease_end(lease: Duration) -> i64 {
    ms(Utc::now()) + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    /// Enqueues a job to run now.
    pub async fn enqueue(conn: &mut Conn, job: &NewJob) -> Result<JobId> {
        let mut ids = Self::enqueue_many(conn, std::slice::from_ref(job)).await?;
        ids.pop()
            .ok_or_else(|| corrupt("jobs", "enqueueing a job gave no id"))
    }

    /// Enqueues many jobs (each runnable after its `delay`), in one statement per few
    /// hundred.
    pub async fn enqueue_many(conn: &mut Conn, jobs: &[NewJob]) -> Result<Vec<JobId>> {
        const CHUNK: usize = 300;
        const COLUMNS: usize = 10;
        let now = ms(Utc::now());
        let mut ids = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, investigation_id, created_at, updated_at) VALUES {}",
                crate::values_placeholders(chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for job in chunk {
                let id = JobId::new();
                query = query
                    .bind(id.to_string())
                    .bind(job.kind.as_str())
                    .bind(job.payload.to_string())
                    .bind(JobStatus::Queued.as_str())
                    .bind(0i64)
                    .bind(i64::from(job.max_attempts))
                    .bind(run_at(now, job.delay))
                    .bind(job.investigation_id.map(|i| i.to_string()))
                    .bind(now)
                    .bind(now);
                ids.push(id);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(ids)
    }

    /// Takes a lease on the next runnable job: a queued job whose time has come, or a
    /// running job whose lease expired (its worker died), which is queued again first
    /// (it keeps its place: its `run_at` is older than any new job's).
    pub async fn claim_job(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>> {
        self.requeue_expired_leases().await?;
        Ok(self.claim(worker, lease, None, 1).await?.pop())
    }

    /// How many jobs of `kind` wait and are runnable now.
    pub async fn ready_jobs(&self, kind: JobKind) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND run_at <= $1 AND kind = $2",
        )
        .bind(ms(Utc::now()))
        .bind(kind.as_str())
        .fetch_one(self.pool())
        .await?)
    }

    /// Queues again the running jobs whose lease expired (their worker stopped renewing
    /// it: it died or hung). Its late commit would fail: completing needs the lease.
    async fn requeue_expired_leases(&self) -> Result<()> {
        let now = ms(Utc::now());
        // Read first: a read never waits for SQLite's write lock, and leases rarely expire.
        let expired: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM jobs WHERE status = 'running' AND locked_until < $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        if expired.is_none() {
            return Ok(());
        }
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $1
             WHERE status = 'running' AND locked_until < $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes leases on up to `limit` runnable queued jobs of one kind at once, oldest
    /// first (a worker that handles that kind in batches; [`Store::claim_job`] queues
    /// expired leases again).
    pub async fn claim_jobs_of_kind(
        &self,
        worker: &str,
        lease: Duration,
        kind: JobKind,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>> {
        self.claim(worker, lease, Some(kind), limit).await
    }

    /// Leases up to `limit` due queued jobs (of `kind`, when given), oldest first.
    async fn claim(
        &self,
        worker: &str,
        lease: Duration,
        kind: Option<JobKind>,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let of_kind = if kind.is_some() { " AND kind = $5" } else { "" };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $2, updated_at = $3
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3{of_kind}
                          ORDER BY run_at, created_at LIMIT $4{skip_locked})
             RETURNING {RETURNING}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(lease_end(lease))
            .bind(ms(Utc::now()))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        if let Some(kind) = kind {
            query = query.bind(kind.as_str());
        }
        let _turn = self.write_turn().await;
        let rows = query.fetch_all(self.pool()).await?;
        let mut jobs: Vec<ClaimedJob> = rows.iter().map(decode).collect::<Result<_>>()?;
        jobs.sort_by_key(|j| (j.job.run_at, j.job.created_at));
        Ok(jobs)
    }

    /// Extends the leases of many jobs; the ones still held.
    pub async fn renew_leases(
        &self,
        jobs: &[JobId],
        worker: &str,
        lease: Duration,
    ) -> Result<Vec<JobId>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE jobs SET locked_until = $1 WHERE locked_by = $2 AND status = 'running' AND id IN ({}) RETURNING id",
            crate::id_list(jobs.len(), 3)
        );
        let _turn = self.write_turn().await;
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(lease_end(lease))
            .bind(worker);
        for job in jobs {
            query = query.bind(job.to_string());
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                id.parse().map_err(|e| corrupt("jobs.id", e))
            })
            .collect()
    }

    /// Completes many jobs in one statement; false (and nothing should be committed) when
    /// the worker lost the lease of any of them.
    pub async fn complete_jobs(conn: &mut Conn, jobs: &[JobId], worker: &str) -> Result<bool> {
        if jobs.is_empty() {
            return Ok(true);
        }
        let sql = format!(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = $1
             WHERE locked_by = $2 AND status = 'running' AND id IN ({})",
            crate::id_list(jobs.len(), 3)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(ms(Utc::now()))
            .bind(worker);
        for job in jobs {
            query = query.bind(job.to_string());
        }
        let done = query.execute(&mut *conn).await?;
        Ok(done.rows_affected() == jobs.len() as u64)
    }

    /// Extends a lease; false when the worker lost it (it must stop and not commit).
    pub async fn renew_lease(&self, job: JobId, worker: &str, lease: Duration) -> Result<bool> {
        Ok(!self.renew_leases(&[job], worker, lease).await?.is_empty())
    }

    /// Marks a job done, inside the transaction that commits its results. False when the
    /// worker no longer holds the lease: the caller must roll back.
    pub async fn complete_job(conn: &mut Conn, job: JobId, worker: &str) -> Result<bool> {
        Self::complete_jobs(conn, &[job], worker).await
    }

    /// Records a failed attempt: queued again at `retry_at`, or failed for good when `None`.
    pub async fn fail_job(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let (status, run_at) = match retry_at {
            Some(t) => (JobStatus::Queued, ms(t)),
            None => (JobStatus::Failed, ms(Utc::now())),
        };
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = $4
             WHERE id = $5 AND locked_by = $6 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(run_at)
        .bind(error)
        .bind(ms(Utc::now()))
        .bind(job.to_string())
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts of jobs by status.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            .fetch_all(self.pool())
            .await?;
        let mut counts = JobCounts::default();
        for r in rows {
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            match status.as_str() {
                "queued" => counts.queued = n,
                "running" => counts.running = n,
                "done" => counts.done = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The queue by job kind at `now`: waiting, runnable, running, the age of the oldest
    /// runnable job, and what finished within `window` before `now`. Kinds with no job are
    /// left out.
    pub async fn queue_stages(
        &self,
        now: chrono::DateTime<Utc>,
        window: Duration,
    ) -> Result<Vec<QueueStage>> {
        let window_ms = i64::try_from(window.as_millis())
            .unwrap_or(i64::MAX / 2)
            .max(1);
        let now_ms = ms(now);
        let rows = sqlx::query(
            "SELECT kind,
                SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END) AS queued,
                SUM(CASE WHEN status = 'queued' AND run_at <= $1 THEN 1 ELSE 0 END) AS ready,
                SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS running,
                MIN(CASE WHEN status = 'queued' AND run_at <= $1 THEN run_at END) AS oldest_ready,
                SUM(CASE WHEN status = 'done' AND updated_at >= $2 THEN 1 ELSE 0 END) AS done_recent,
                SUM(CASE WHEN status = 'failed' AND updated_at >= $2 THEN 1 ELSE 0 END) AS failed_recent
             FROM jobs GROUP BY kind ORDER BY kind",
        )
        .bind(now_ms)
        .bind(now_ms - window_ms)
        .fetch_all(self.pool())
        .await?;
        let mut stages = Vec::with_capacity(rows.len());
        for r in rows {
            let count =
                |name: &str| -> Result<i64> { Ok(r.try_get::<Option<i64>, _>(name)?.unwrap_or(0)) };
            let oldest: Option<i64> = r.try_get("oldest_ready")?;
            let done_recent = count("done_recent")?;
            stages.push(QueueStage {
                kind: r.try_get("kind")?,
                queued: count("queued")?,
                ready: count("ready")?,
                running: count("running")?,
                oldest_ready_secs: oldest.map(|at| (now_ms - at).max(0) as f64 / 1000.0),
                done_recent,
                failed_recent: count("failed_recent")?,
                per_minute: done_recent as f64 * 60_000.0 / window_ms as f64,
            });
        }
        Ok(stages)
    }

    /// Records what a running job is doing now (shown with the investigation's jobs). Only
    /// while the caller still holds the job's lease; false when it does not.
    pub async fn set_job_progress(
        &self,
        job: &ClaimedJob,
        worker: &str,
        progress: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET progress = $1, updated_at = $2 WHERE id = $3 AND locked_by = $4",
        )
        .bind(progress)
        .bind(ms(Utc::now()))
        .bind(job.job.id.to_string())
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The jobs of an investigation, oldest first (its progress).
    pub async fn investigation_jobs(&self, inv: InvestigationId) -> Result<Vec<Job>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RETURNING} FROM jobs WHERE investigation_id = $1 ORDER BY created_at, id"
        )))
        .bind(inv.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| decode(r).map(|c| c.job)).collect()
    }

    /// All jobs of a kind, oldest first (for tests and the admin view).
    pub async fn jobs_of_kind(&self, kind: JobKind) -> Result<Vec<Job>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RETURNING} FROM jobs WHERE kind = $1 ORDER BY created_at, id"
        )))
        .bind(kind.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| decode(r).map(|c| c.job)).collect()
    }

    /// The triage jobs of one alert, oldest first (its payload names the alert).
    pub async fn alert_triage_jobs(&self, alert: AlertId) -> Result<Vec<Job>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RETURNING} FROM jobs WHERE kind = $1 AND payload LIKE $2 ORDER BY created_at, id"
        )))
        .bind(JobKind::TriageAlert.as_str())
        .bind(format!("%\"alert_id\":\"{alert}\"%"))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| decode(r).map(|c| c.job)).collect()
    }

    /// The alerts of the `limit` most recent triage jobs that failed for good (an alert
    /// may since have been triaged again: callers check).
    pub async fn failed_triage_alerts(&self, limit: i64) -> Result<Vec<AlertId>> {
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM jobs WHERE kind = $1 AND status = $2 ORDER BY updated_at DESC LIMIT $3",
        )
        .bind(JobKind::TriageAlert.as_str())
        .bind(JobStatus::Failed.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut ids = Vec::new();
        for p in payloads {
            let payload: serde_json::Value =
                serde_json::from_str(&p).map_err(|e| corrupt("jobs.payload", e))?;
            let id = payload["alert_id"]
                .as_str()
                .ok_or_else(|| corrupt("jobs.payload", "a triage job without alert_id"))?
                .parse()
                .map_err(|e| corrupt("jobs.payload", e))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
