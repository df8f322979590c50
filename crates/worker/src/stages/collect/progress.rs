//! A long collection's progress on its job, for the API: the latest line wins, written
//! by a task of its own so the reader never waits for the database.

use crate::Worker;
use riposte_store::ClaimedJob;
use tokio::sync::mpsc;

/// Sends progress lines to the job's record.
#[derive(Clone)]
pub(crate) struct Progress {
    lines: mpsc::UnboundedSender<String>,
}

impl Progress {
    /// Starts writing the progress of `job`; the writer stops when every sender is gone.
    pub fn start(worker: &Worker, job: &ClaimedJob) -> Self {
        let (lines, mut incoming) = mpsc::unbounded_channel::<String>();
        let store = worker.store.clone();
        let worker_id = worker.id().to_string();
        let job = job.clone();
        tokio::spawn(async move {
            while let Some(mut line) = incoming.recv().await {
                while let Ok(newer) = incoming.try_recv() {
                    line = newer;
                }
                if let Err(e) = store.set_job_progress(&job, &worker_id, &line).await {
                    tracing::warn!(job = %job.job.id, error = %e, "cannot record the job's progress");
                }
            }
        });
        Progress { lines }
    }

    /// Records `line` as what the job is doing now (from any thread).
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(progress = %line, "collect");
        // The writer only ends once every sender is dropped.
        let _ = self.lines.send(line);
    }
}
