//! Stage 2: acquire the evidence the investigation's plan names — for a local evidence
//! library, copy the host's triage files (or every file, for a full acquisition) into the
//! evidence store, hashing while streaming, and record each on the investigation with its
//! provenance (chain of custody).

use super::{finish, next, payload};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_acquire::{all_files, triage_files};
use riposte_model::{
    Acquisition, EvidenceId, EvidenceItem, InvestigationId, InvestigationStatus, InvestigationType,
    JobKind, Provenance,
};
use riposte_store::{ClaimedJob, Store};
use std::path::PathBuf;

pub(crate) async fn run(w: &Worker, job: &ClaimedJob) -> Result<(), StageError> {
    let inv: InvestigationId = payload(job, "investigation_id")?;
    let investigation = w
        .store
        .get_investigation(inv)
        .await?
        .ok_or_else(|| StageError::Fatal(format!("investigation {inv} does not exist")))?;
    let plan = investigation
        .plan
        .ok_or_else(|| StageError::Fatal(format!("investigation {inv} has no acquisition plan")))?;
    let (host, root) = match &plan.scope.acquisition {
        Acquisition::Library {
            host, host_root, ..
        } => (host.clone(), PathBuf::from(host_root)),
        other => {
            return Err(StageError::Fatal(format!(
                "acquisition over {} is not available in this version of Riposte yet (the plan is recorded on the investigation); use a local evidence library scope, or import a triage collection",
                other.method()
            )));
        }
    };
    if let Err(problem) = w.config.evidence_roots.check(&root.display().to_string()) {
        return Err(StageError::Fatal(format!(
            "refusing to collect {}: {problem}",
            root.display()
        )));
    }
    let full = plan.investigation_type == InvestigationType::Full;
    let selection = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            if full {
                all_files(&root)
            } else {
                triage_files(&root)
            }
        })
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
                image: None,
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
