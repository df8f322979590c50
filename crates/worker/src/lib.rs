//! The durable pipeline. A [`Worker`] claims jobs from the store and runs the stage each
//! one names — triage the alert, collect, process, detect, notify, and respond when the
//! rule allows an action for the verdict — committing the stage's
//! results, its own completion and the next stage's job in one transaction. Any number of
//! workers (threads of `riposte serve`, or `riposte worker` processes on Postgres) can run.

pub mod bootstrap;
pub mod connections;
pub mod group_commit;
pub mod hunts;
pub mod imports;
pub mod intake;
pub mod investigations;
pub mod pipeline;
mod polling;
pub mod respond;
mod stages;

use chrono::Utc;
use riposte_detect::{DetectionEngine, VerdictPolicy};
use riposte_model::{InvestigationStatus, JobKind};
use riposte_notify::{OutboundPolicy, WebhookSender};
use riposte_store::{BlobStore, ClaimedJob, MasterKey, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Loads a hunt's own detections (IOC feeds, YARA rule folders) into an engine that extends
/// the server's; the error says what could not be loaded.
pub type ExtraDetectionsLoader = Arc<
    dyn Fn(DetectionEngine, &riposte_model::ExtraDetections) -> Result<DetectionEngine, String>
        + Send
        + Sync,
>;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Where to POST investigation results.
    pub webhook_url: Option<String>,
    /// Secret to sign webhook bodies with (HMAC-SHA256).
    pub webhook_secret: Option<String>,
    /// Which non-public addresses webhooks may reach.
    pub outbound: OutboundPolicy,
    /// The server's external base URL, for links in notifications.
    pub public_url: String,
    /// How long a claimed job is leased before another worker may take it over.
    pub lease: Duration,
    /// How often an idle worker polls for work.
    pub poll_interval: Duration,
    /// Pause before each stage (testing aid: makes a pipeline slow enough to kill mid-way).
    pub stage_delay: Duration,
    /// The verdict policy.
    pub verdict_policy: VerdictPolicy,
    /// The detectors run over each timeline (the registry, plus Sigma rules when loaded).
    pub detection: Arc<DetectionEngine>,
    /// How events are correlated with the investigation's alert (the time window).
    pub correlation: riposte_detect::CorrelationConfig,
    /// Opens connection credentials for polling.
    pub master_key: MasterKey,
    /// The only folders local evidence is read from (`--evidence-library`): a local scope
    /// pointing elsewhere (say, saved before the server was restarted with another
    /// library) is refused at collection time too.
    pub evidence_roots: riposte_rules::EvidenceRoots,
    /// Rehearse every rule-triggered response action (`--response-dry-run`): AWS actions
    /// run with the EC2 DryRun flag or skip their mutating calls, XDR containment only
    /// checks the connection; each is recorded `dry_run` and notified.
    pub response_dry_run: bool,
    /// How EC2 instances are snapshotted (the wait's timeout and polling).
    pub ec2: riposte_aws::Ec2AcquireOptions,
    /// How EBS snapshots are read (requests in flight, cache, retries).
    pub ebs: riposte_aws::EbsReadOptions,
    /// The time hunts' schedules are judged by (the system clock; tests set their own).
    pub clock: hunts::Clock,
    /// How often a worker looks for due hunts and finished hunt runs.
    pub hunt_interval: Duration,
    /// Loads the detections a hunt adds (none: investigations that ask for some fail,
    /// saying so).
    pub extra_detections: Option<ExtraDetectionsLoader>,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("public_url", &self.public_url)
            .field("lease", &self.lease)
            .field("poll_interval", &self.poll_interval)
            .field("detection", &self.detection)
            .field("evidence_roots", &self.evidence_roots)
            .field("response_dry_run", &self.response_dry_run)
            .field("clock", &self.clock)
            .field("hunt_interval", &self.hunt_interval)
            .field("extra_detections", &self.extra_detections.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            webhook_url: None,
            webhook_secret: None,
            outbound: OutboundPolicy::default(),
            public_url: "http://127.0.0.1:8080".into(),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            stage_delay: Duration::ZERO,
            verdict_policy: VerdictPolicy::default(),
            detection: Arc::new(DetectionEngine::new()),
            correlation: riposte_detect::CorrelationConfig::default(),
            master_key: MasterKey::generate(),
            evidence_roots: riposte_rules::EvidenceRoots::default(),
            response_dry_run: false,
            ec2: riposte_aws::Ec2AcquireOptions::default(),
            ebs: riposte_aws::EbsReadOptions::default(),
            clock: hunts::Clock::system(),
            hunt_interval: Duration::from_secs(5),
            extra_detections: None,
        }
    }
}

/// What one turn of the worker loop ran.
enum Ran {
    /// Nothing was runnable.
    Nothing,
    /// One job.
    Job,
    /// A batch of this many triage jobs.
    TriageBatch(usize),
}

/// How long a worker lets alerts gather after a partial triage batch.
const TRIAGE_GATHER: Duration = Duration::from_millis(20);

/// Why a job that used up its attempts is given up.
fn gave_up(job: &ClaimedJob) -> String {
    format!(
        "gave up after {} attempts (the worker running it stopped each time)",
        job.job.max_attempts
    )
}

/// A stage failure.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Worth retrying (database busy, webhook receiver down, …).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (missing alert, unreadable payload): the job fails now.
    #[error("{0}")]
    Fatal(String),
    /// The worker lost its lease while running; another worker owns the job now.
    #[error("lease lost")]
    LeaseLost,
}

impl From<riposte_store::StoreError> for StageError {
    fn from(e: riposte_store::StoreError) -> Self {
        StageError::Retry(e.to_string())
    }
}

impl From<riposte_store::SqlxError> for StageError {
    fn from(e: riposte_store::SqlxError) -> Self {
        StageError::Retry(e.to_string())
    }
}

/// Runs pipeline jobs.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    blobs: BlobStore,
    config: Arc<WorkerConfig>,
    webhooks: WebhookSender,
    /// The webhooks and SIEM exports configured in Settings › Integrations.
    dispatcher: riposte_notify::Dispatcher,
    /// Engines extended with a hunt's detections, by what they add (loaded once).
    extended: Arc<
        std::sync::Mutex<
            std::collections::HashMap<riposte_model::ExtraDetections, Arc<DetectionEngine>>,
        >,
    >,
    id: String,
}

impl Worker {
    /// A worker over a store and an evidence blob store.
    pub fn new(store: Store, blobs: BlobStore, config: WorkerConfig) -> Self {
        let webhooks = WebhookSender::new(config.outbound.clone());
        let dispatcher = riposte_notify::Dispatcher::new(
            store.clone(),
            config.master_key.clone(),
            config.outbound.clone(),
        );
        let id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Worker {
            store,
            blobs,
            config: Arc::new(config),
            webhooks,
            dispatcher,
            extended: Arc::default(),
            id,
        }
    }

    /// This worker's id (recorded as the lease holder).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` turns true: poll a due connection, claim and run a job, repeat;
    /// sleeps when idle.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(worker = %self.id, "worker started");
        let mut hunts_checked: Option<std::time::Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if hunts_checked.is_none_or(|t| t.elapsed() >= self.config.hunt_interval) {
                hunts_checked = Some(std::time::Instant::now());
                if let Err(e) = self.schedule_hunts().await {
                    tracing::warn!(error = %e, "looking for due hunts failed; retrying");
                }
                if let Err(e) = self.finish_hunt_runs().await {
                    tracing::warn!(error = %e, "looking for finished hunt runs failed; retrying");
                }
            }
            let polled = match self.poll_one().await {
                Ok(polled) => polled,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a connection to poll failed; retrying");
                    false
                }
            };
            match self.run_next().await {
                Ok(Ran::Job) => continue,
                Ok(Ran::TriageBatch(n)) if n >= stages::triage::BATCH => continue,
                Ok(Ran::TriageBatch(_)) => {
                    // A partial batch: let the next alerts gather for a moment, so a
                    // storm is triaged in full batches (fewer, larger transactions).
                    tokio::select! {
                        _ = tokio::time::sleep(TRIAGE_GATHER) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
                Ok(Ran::Nothing) if polled => continue,
                Ok(Ran::Nothing) => {}
                Err(e) => tracing::warn!(error = %e, "claiming a job failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Claims and runs one job — or a batch of triage jobs when the first one claimed is
    /// one; false when there was nothing to do.
    pub async fn run_one(&self) -> Result<bool, riposte_store::StoreError> {
        Ok(!matches!(self.run_next().await?, Ran::Nothing))
    }

    async fn run_next(&self) -> Result<Ran, riposte_store::StoreError> {
        let Some(job) = self.store.claim_job(&self.id, self.config.lease).await? else {
            return Ok(Ran::Nothing);
        };
        if job.job.kind == JobKind::TriageAlert {
            let mut jobs = vec![job];
            jobs.extend(
                self.store
                    .claim_jobs_of_kind(
                        &self.id,
                        self.config.lease,
                        JobKind::TriageAlert,
                        stages::triage::BATCH - 1,
                    )
                    .await?,
            );
            let claimed = jobs.len();
            self.run_triage_batch(jobs).await?;
            return Ok(Ran::TriageBatch(claimed));
        }
        let kind = job.job.kind;
        let span =
            tracing::info_span!("job", id = %job.job.id, kind = %kind, attempt = job.job.attempts);
        let _enter = span.enter();
        drop(_enter);
        if job.job.attempts > job.job.max_attempts {
            self.give_up(&job, &gave_up(&job)).await?;
            return Ok(Ran::Job);
        }
        let renewer = self.spawn_lease_renewal(std::slice::from_ref(&job));
        let started = std::time::Instant::now();
        let outcome = self.dispatch(&job).await;
        renewer.abort();
        self.settle(&job, outcome, started.elapsed()).await?;
        Ok(Ran::Job)
    }

    /// Runs claimed triage jobs together (see `stages::triage::run_batch`).
    async fn run_triage_batch(
        &self,
        jobs: Vec<ClaimedJob>,
    ) -> Result<(), riposte_store::StoreError> {
        let mut runnable = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.job.attempts > job.job.max_attempts {
                self.give_up(&job, &gave_up(&job)).await?;
            } else {
                runnable.push(job);
            }
        }
        if runnable.is_empty() {
            return Ok(());
        }
        let renewer = self.spawn_lease_renewal(&runnable);
        let started = std::time::Instant::now();
        if !self.config.stage_delay.is_zero() {
            tokio::time::sleep(self.config.stage_delay).await;
        }
        let outcomes = stages::triage::run_batch(self, &runnable).await;
        renewer.abort();
        // Each job is charged its share of the batch's time.
        let each = started.elapsed() / u32::try_from(runnable.len()).unwrap_or(u32::MAX);
        for (job, outcome) in runnable.iter().zip(outcomes) {
            self.settle(job, outcome, each).await?;
        }
        Ok(())
    }

    /// Records a job's outcome: done, retried later with backoff, or failed for good.
    async fn settle(
        &self,
        job: &ClaimedJob,
        outcome: Result<(), StageError>,
        took: Duration,
    ) -> Result<(), riposte_store::StoreError> {
        let kind = job.job.kind;
        let outcome_label = match &outcome {
            Ok(()) => "done",
            Err(StageError::Retry(_)) => "retry",
            Err(StageError::Fatal(_)) => "failed",
            Err(StageError::LeaseLost) => "lease_lost",
        };
        metrics::counter!("riposte_jobs_total", "kind" => kind.as_str(), "outcome" => outcome_label).increment(1);
        metrics::histogram!("riposte_job_seconds", "kind" => kind.as_str())
            .record(took.as_secs_f64());
        match outcome {
            // Triage is logged per batch; one line per alert would flood the log in a storm.
            Ok(()) if kind == JobKind::TriageAlert => {
                tracing::debug!(job = %job.job.id, kind = %kind, ms = took.as_millis() as u64, "job done")
            }
            Ok(()) => {
                tracing::info!(job = %job.job.id, kind = %kind, ms = took.as_millis() as u64, "job done")
            }
            Err(StageError::LeaseLost) => {
                tracing::warn!(job = %job.job.id, "lost the lease; another worker took the job over")
            }
            Err(StageError::Retry(msg)) if job.job.attempts < job.job.max_attempts => {
                let backoff = Duration::from_secs(2u64.saturating_pow(job.job.attempts).min(300));
                tracing::warn!(job = %job.job.id, kind = %kind, error = %msg, retry_in_s = backoff.as_secs(), "job failed; will retry");
                let at = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                self.store
                    .fail_job(job.job.id, &self.id, &msg, Some(at))
                    .await?;
            }
            Err(StageError::Retry(msg)) | Err(StageError::Fatal(msg)) => {
                tracing::error!(job = %job.job.id, kind = %kind, error = %msg, "job failed for good");
                self.give_up(job, &msg).await?;
            }
        }
        Ok(())
    }

    async fn dispatch(&self, job: &ClaimedJob) -> Result<(), StageError> {
        if !self.config.stage_delay.is_zero() {
            tokio::time::sleep(self.config.stage_delay).await;
        }
        match job.job.kind {
            JobKind::TriageAlert => stages::triage::run(self, job).await,
            JobKind::Collect => stages::collect::run(self, job).await,
            JobKind::Process => stages::process::run(self, job).await,
            JobKind::Detect => stages::detect::run(self, job).await,
            JobKind::Notify => stages::notify::run(self, job).await,
            JobKind::Respond => stages::respond::run(self, job).await,
            JobKind::StartHuntRun => hunts::start_run(self, job).await,
            JobKind::NotifyHuntRun => hunts::notify_run(self, job).await,
        }
    }

    async fn give_up(&self, job: &ClaimedJob, msg: &str) -> Result<(), riposte_store::StoreError> {
        self.store.fail_job(job.job.id, &self.id, msg, None).await?;
        if let Some(inv) = job.investigation_id {
            // A failed notification or response does not undo a verdict; any other stage
            // fails the investigation.
            let mut conn = self.store.pool().acquire().await?;
            if !matches!(job.job.kind, JobKind::Notify | JobKind::Respond) {
                let error = format!("{} stage failed: {msg}", job.job.kind);
                Store::set_investigation_status(
                    &mut conn,
                    inv,
                    InvestigationStatus::Failed,
                    Some(&error),
                )
                .await?;
            }
            Store::audit(
                &mut conn,
                Some(inv),
                &self.actor(),
                "job.failed",
                &serde_json::json!({"kind": job.job.kind, "error": msg}),
            )
            .await?;
        }
        Ok(())
    }

    fn spawn_lease_renewal(&self, jobs: &[ClaimedJob]) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let mut ids: Vec<riposte_model::JobId> = jobs.iter().map(|j| j.job.id).collect();
        let worker = self.id.clone();
        let lease = self.config.lease;
        tokio::spawn(async move {
            while !ids.is_empty() {
                tokio::time::sleep(lease / 3).await;
                match store.renew_leases(&ids, &worker, lease).await {
                    Ok(held) => ids.retain(|id| held.contains(id)),
                    Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
                }
            }
        })
    }

    /// The detection engine for an investigation: the server's, extended with what its
    /// plan adds (loaded once per worker and kept).
    pub(crate) async fn engine_for(
        &self,
        extra: &riposte_model::ExtraDetections,
    ) -> Result<Arc<DetectionEngine>, StageError> {
        if extra.is_empty() {
            return Ok(self.config.detection.clone());
        }
        if let Some(engine) = self
            .extended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(extra)
        {
            return Ok(engine.clone());
        }
        let Some(loader) = self.config.extra_detections.clone() else {
            return Err(StageError::Fatal(
                "this worker cannot load a hunt's IOC feeds and YARA rules".into(),
            ));
        };
        let base = self.config.detection.clone();
        let wanted = extra.clone();
        let engine =
            tokio::task::spawn_blocking(move || loader(DetectionEngine::extending(base), &wanted))
                .await
                .map_err(|e| {
                    StageError::Retry(format!("loading the hunt's detections crashed: {e}"))
                })?
                .map_err(|e| {
                    StageError::Fatal(format!("cannot load the hunt's detections: {e}"))
                })?;
        let engine = Arc::new(engine);
        self.extended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(extra.clone(), engine.clone());
        Ok(engine)
    }

    pub(crate) fn actor(&self) -> String {
        format!("worker:{}", self.id)
    }
}
