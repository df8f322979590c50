//! Group commit of alert intake. Requests that arrive while a transaction is being written
//! wait in a queue; the next transaction stores all of them at once (a few multi-row
//! statements and one commit), then answers each. Under load this turns hundreds of
//! small transactions into a few large ones; alone, a request is written at once. Every
//! caller still gets its answer only after its alerts are committed.
//!
//! The outcomes are exactly those of accepting the requests one by one in arrival order
//! (see [`accept_batches`]). When a batch fails, each of its requests is retried alone, so
//! one request's failure never fails another's.

pub use crate::intake::Deferral;
use crate::intake::{Arrival, accept_batches};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, JobKind};
use riposte_store::{AlertInsert, Backend, Store, StoreError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most requests one transaction takes.
const MAX_REQUESTS: usize = 256;
/// Most alerts one transaction takes (a request bigger than this is written alone).
const MAX_ALERTS: usize = 1_000;
/// Requests that may wait for a writer before senders wait too.
const QUEUE: usize = 4_096;

/// Alerts to accept, and who brought them.
#[derive(Debug, Clone)]
pub struct IntakeRequest {
    /// Who the audit trail names (an API key, an integration, a connection).
    pub actor: String,
    /// The pull connection that fetched them, if any.
    pub connection_id: Option<String>,
    /// The alerts, in the order they arrived.
    pub alerts: Vec<Alert>,
    /// The push integration the request came through, if any.
    pub integration: Option<IntegrationStamp>,
}

/// A request that came through a push integration.
#[derive(Debug, Clone)]
pub struct IntegrationStamp {
    /// The integration's id (its last use is recorded).
    pub integration: String,
    /// The request's signature and when it stops being valid: a signature seen before is
    /// a replay, and the request is refused.
    pub signature: Option<(String, DateTime<Utc>)>,
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Its signature was already accepted once.
    #[error(
        "this signed request was already accepted (replay refused); sign each request with a fresh timestamp"
    )]
    Replayed,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer is gone (the process is stopping).
    #[error("the intake writer stopped; retry")]
    Stopped,
}

type Answer = Result<Vec<AlertInsert>, IntakeError>;

struct Pending {
    request: IntakeRequest,
    answer: oneshot::Sender<Answer>,
}

/// Back-pressure: when more triage jobs than `queue_limit` wait, alerts are still
/// accepted at once, but the triage of the less severe ones is deferred (`defer`) so more
/// severe alerts are decided first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackPressure {
    /// Runnable triage jobs above which triage is deferred.
    pub queue_limit: u64,
    /// Which alerts are deferred, and for how long.
    pub defer: Deferral,
}

/// How often the triage queue's depth is read (not once per request).
const DEPTH_EVERY: Duration = Duration::from_secs(1);

/// The triage queue's depth, as last read.
#[derive(Default)]
struct Depth {
    read_at: Option<Instant>,
    ready: i64,
}

/// The intake's group-commit writer. Cheap to clone; its writer tasks start on first use
/// (one on SQLite, whose writes are serialized anyway; four on Postgres).
#[derive(Clone)]
pub struct IntakeWriter {
    store: Store,
    sender: Arc<OnceLock<mpsc::Sender<Pending>>>,
    back_pressure: Option<BackPressure>,
}

impl std::fmt::Debug for IntakeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeWriter").finish_non_exhaustive()
    }
}

impl IntakeWriter {
    /// A writer over `store`.
    pub fn new(store: Store) -> Self {
        IntakeWriter {
            store,
            sender: Arc::default(),
            back_pressure: None,
        }
    }

    /// The same writer, deferring low-severity triage when the triage queue is deep.
    pub fn with_back_pressure(mut self, back_pressure: BackPressure) -> Self {
        self.back_pressure = Some(back_pressure);
        self
    }

    /// Stores the request's alerts and enqueues their triage, answering once they are
    /// committed.
    pub async fn submit(&self, request: IntakeRequest) -> Answer {
        let sender = self.sender.get_or_init(|| self.start());
        let (answer, answered) = oneshot::channel();
        sender
            .send(Pending { request, answer })
            .await
            .map_err(|_| IntakeError::Stopped)?;
        answered.await.map_err(|_| IntakeError::Stopped)?
    }

    fn start(&self) -> mpsc::Sender<Pending> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match self.store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        let depth = Arc::new(Mutex::new(Depth::default()));
        for _ in 0..writers {
            tokio::spawn(write_batches(
                self.store.clone(),
                receiver.clone(),
                self.back_pressure,
                depth.clone(),
            ));
        }
        sender
    }
}

/// Takes whatever is waiting (at least one request), writes it, answers; until every sender
/// is gone.
async fn write_batches(
    store: Store,
    receiver: Arc<Mutex<mpsc::Receiver<Pending>>>,
    back_pressure: Option<BackPressure>,
    depth: Arc<Mutex<Depth>>,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut alerts = first.request.alerts.len();
            let mut batch = vec![first];
            while batch.len() < MAX_REQUESTS && alerts < MAX_ALERTS {
                match receiver.try_recv() {
                    Ok(next) => {
                        alerts += next.request.alerts.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        metrics::histogram!("riposte_intake_batch_requests").record(batch.len() as f64);
        let requests: Vec<&IntakeRequest> = batch.iter().map(|p| &p.request).collect();
        let deferral = match back_pressure {
            Some(bp) => deferral(&store, bp, &depth).await,
            None => None,
        };
        let started = Instant::now();
        let written = write(&store, &requests, deferral).await;
        metrics::histogram!("riposte_intake_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        let answers = match written {
            Ok(answers) => answers,
            Err(e) if batch.len() == 1 => vec![Err(e.into())],
            Err(e) => {
                tracing::warn!(error = %e, requests = batch.len(), "storing a batch of alerts failed; storing each request alone");
                let mut answers = Vec::with_capacity(batch.len());
                for request in &requests {
                    answers.push(match write(&store, &[request], deferral).await {
                        Ok(mut one) => one.pop().unwrap_or(Err(IntakeError::Stopped)),
                        Err(e) => Err(e.into()),
                    });
                }
                answers
            }
        };
        for (pending, answer) in batch.into_iter().zip(answers) {
            // A caller that went away (its connection closed) still had its alerts stored.
            let _ = pending.answer.send(answer);
        }
    }
}

/// The deferral to apply now: some when the triage queue (read at most once a second) is
/// deeper than the limit.
async fn deferral(store: &Store, bp: BackPressure, depth: &Mutex<Depth>) -> Option<Deferral> {
    let mut depth = depth.lock().await;
    if depth.read_at.is_none_or(|t| t.elapsed() >= DEPTH_EVERY) {
        match store.ready_jobs(JobKind::TriageAlert).await {
            Ok(ready) => depth.ready = ready,
            Err(e) => tracing::warn!(error = %e, "reading the triage queue's depth failed"),
        }
        depth.read_at = Some(Instant::now());
    }
    (u64::try_from(depth.ready).unwrap_or(0) > bp.queue_limit).then_some(bp.defer)
}

/// Writes the requests in one transaction: an answer per request, or the error that
/// rolled the whole transaction back.
async fn write(
    store: &Store,
    requests: &[&IntakeRequest],
    deferral: Option<Deferral>,
) -> Result<Vec<Answer>, StoreError> {
    let mut tx = store.begin().await?;
    let mut replayed = vec![false; requests.len()];
    for (request, replayed) in requests.iter().zip(replayed.iter_mut()) {
        let Some(stamp) = &request.integration else {
            continue;
        };
        if let Some((signature, expires_at)) = &stamp.signature
            && !Store::remember_signature(&mut tx, &stamp.integration, signature, *expires_at)
                .await?
        {
            *replayed = true;
            continue;
        }
        Store::touch_integration(&mut tx, &stamp.integration).await?;
    }
    let arrivals: Vec<Arrival<'_>> = requests
        .iter()
        .zip(&replayed)
        .filter(|(_, replayed)| !**replayed)
        .map(|(r, _)| Arrival {
            actor: &r.actor,
            connection_id: r.connection_id.as_deref(),
            alerts: &r.alerts,
        })
        .collect();
    let mut outcomes = accept_batches(&mut tx, &arrivals, deferral)
        .await?
        .into_iter();
    tx.commit().await?;
    Ok(replayed
        .iter()
        .map(|replayed| {
            if *replayed {
                Err(IntakeError::Replayed)
            } else {
                Ok(outcomes.next().unwrap_or_default())
            }
        })
        .collect())
}
