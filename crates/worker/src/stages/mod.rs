//! One module per pipeline stage.

pub(crate) mod collect;
pub(crate) mod detect;
pub(crate) mod notify;
pub(crate) mod process;
pub(crate) mod respond;
pub(crate) mod triage;

use crate::{StageError, Worker};
use riposte_model::{InvestigationId, JobKind};
use riposte_store::Transaction as Tx;
use riposte_store::{ClaimedJob, NewJob, Store};

/// A string field of a job's payload, parsed.
pub(crate) fn payload<T: std::str::FromStr>(job: &ClaimedJob, key: &str) -> Result<T, StageError> {
    job.job
        .payload
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StageError::Fatal(format!("job payload has no valid `{key}`")))
}

/// Enqueues the next stage for an investigation inside `tx`.
pub(crate) async fn next(
    tx: &mut Tx,
    kind: JobKind,
    inv: InvestigationId,
) -> Result<(), StageError> {
    let job = NewJob::new(
        kind,
        serde_json::json!({"investigation_id": inv.to_string()}),
        Some(inv),
    );
    Store::enqueue(tx, &job).await?;
    Ok(())
}

/// Completes the job and commits the stage's results with it — or rolls everything back
/// when the lease was lost (another worker owns the job now and will redo the stage).
pub(crate) async fn finish(w: &Worker, mut tx: Tx, job: &ClaimedJob) -> Result<(), StageError> {
    if !Store::complete_job(&mut tx, job.job.id, &w.id).await? {
        tx.rollback().await?;
        return Err(StageError::LeaseLost);
    }
    tx.commit().await?;
    Ok(())
}
