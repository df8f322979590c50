//! Stage 2: copy the host's triage files into the evidence store, hashing while streaming,
//! and record each on the investigation with its provenance (chain of custody).

use super::{finish, next, payload};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_acquire::triage_files;
use riposte_model::{
    EvidenceId, EvidenceItem, InvestigationId, InvestigationStatus, JobKind, Provenance,
};
use riposte_store::{ClaimedJob, Store};
use std::path::PathBuf;

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let host: String = payload(job, "host")?;
    let root: PathBuf = payload(job, "host_root")?;
    let selection = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || triage_files(&root))
            .await
            .map_err(|e| StageError::Retry(e.to_string()))?
            .map_err(|e| StageError::Retry(e.to_string()))?
    };
    // Blobs are content-addressed, so re-collecting after a crash stores nothing twice.
    let mut items = Vec::with_capacity(selection.files.len());
    for file in &selection.files {
        // `open` refuses a file swapped for a symbolic link since it was selected.
        let std_file = file.open().map_err(|e| StageError::Retry(e.to_string()))?;
        let reader = tokio::fs::File::from_std(std_file);
        let blob = w.blobs.put_stream(reader).await?;
        items.push(EvidenceItem {
            id: EvidenceId::new(),
            investigation_id: inv,
            sha256: blob.sha256,
            size: blob.size,
            provenance: Provenance {
                method: "evidence-library".into(),
                source: file.local_path.display().to_string(),
                host: host.clone(),
                original_path: file.original_path.clone(),
                modified: file.modified,
            },
            storage_key: blob.key,
            collected_at: Utc::now(),
        });
    }
    let mut tx = w.store.begin().await?;
    for item in &items {
        if Store::insert_evidence(&mut tx, item).await? {
            Store::audit(
                &mut tx,
                Some(inv),
                &w.actor(),
                "evidence.collected",
                &serde_json::json!({"path": item.provenance.original_path, "sha256": item.sha256, "size": item.size}),
            )
            .await?;
        }
    }
    for skipped in &selection.skipped {
        Store::audit(&mut tx, Some(inv), &w.actor(), "evidence.skipped", &serde_json::json!({"path": skipped.original_path, "reason": skipped.reason.to_string()})).await?;
    }
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Processing, None).await?;
    next(&mut tx, JobKind::Process, inv).await?;
    finish(w, tx, job).await
}
