//! Stage 2: acquire the evidence the investigation's plan names, through the acquisition
//! path `riposte investigate` uses ([`riposte_acquire::acquire`]): a library host's
//! folder, triage package or disk image, the operating system it holds deciding the
//! triage profile. What is the stage's own: each item is streamed into the evidence
//! store, hashed on the way, and recorded on the investigation with its provenance (chain
//! of custody); skipped entries and the acquisition summary go to the audit trail.

use super::{finish, next, payload};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_acquire::{AcquireError, AcquisitionReport, acquire};
use riposte_model::{
    Acquisition, EvidenceId, EvidenceItem, InvestigationId, InvestigationStatus, InvestigationType,
    JobKind, Provenance,
};
use riposte_store::{BlobStore, ClaimedJob, Store, StoredBlob};
use std::io::{self, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

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
    if let Err(problem) = w
        .config
        .evidence_roots
        .check_evidence(&root.display().to_string())
    {
        return Err(StageError::Fatal(format!(
            "refusing to collect {}: {problem}",
            root.display()
        )));
    }
    let full = plan.investigation_type == InvestigationType::Full;
    let (collected, report) = collect(w.blobs.clone(), host.clone(), root.clone(), full).await?;
    let summary = report.summary();
    let mut tx = w.store.begin().await?;
    for (provenance, blob) in collected {
        let item = EvidenceItem {
            id: EvidenceId::new(),
            investigation_id: inv,
            sha256: blob.sha256,
            size: blob.size,
            provenance,
            storage_key: blob.key,
            collected_at: Utc::now(),
        };
        if Store::insert_evidence(&mut tx, &item).await? {
            Store::audit(
                &mut tx,
                Some(inv),
                &w.actor(),
                "evidence.collected",
                &serde_json::json!({"path": item.provenance.original_path, "sha256": item.sha256, "size": item.size, "image": item.provenance.image}),
            )
            .await?;
        }
    }
    for skipped in &report.skipped {
        Store::audit(
            &mut tx,
            Some(inv),
            &w.actor(),
            "evidence.skipped",
            &serde_json::json!({"path": skipped.path, "reason": skipped.reason}),
        )
        .await?;
    }
    Store::audit(
        &mut tx,
        Some(inv),
        &w.actor(),
        "evidence.acquired",
        &serde_json::json!({"source": root.display().to_string(), "acquisition": summary}),
    )
    .await?;
    Store::set_acquisition(&mut tx, inv, &summary).await?;
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Processing, None).await?;
    next(&mut tx, JobKind::Process, inv).await?;
    finish(w, tx, job).await
}

/// Acquires the library host's evidence through the shared acquisition path, on a
/// blocking thread, each item streamed into the blob store as it is reached (nothing is
/// extracted to disk; blobs are content-addressed, so re-collecting after a crash stores
/// nothing twice).
async fn collect(
    blobs: BlobStore,
    host: String,
    path: PathBuf,
    full: bool,
) -> Result<(Vec<(Provenance, StoredBlob)>, AcquisitionReport), StageError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let source = path.display().to_string();
        let mut items = Vec::new();
        let report = acquire(
            &path,
            &crate::pipeline::acquire_options(full),
            &mut |item, reader| {
                let blob = runtime
                    .block_on(blobs.put_stream(BlockingReader(reader)))
                    .map_err(io::Error::other)?;
                let provenance = Provenance {
                    method: if item.image.is_some() {
                        "disk-image".into()
                    } else {
                        "evidence-library".into()
                    },
                    // A folder's file is its own source; a package's or image's item
                    // comes from the package or image.
                    source: item
                        .local
                        .map_or_else(|| source.clone(), |l| l.local_path.display().to_string()),
                    host: host.clone(),
                    original_path: item.original_path.to_string(),
                    modified: item.modified,
                    image: item.image.clone(),
                };
                items.push((provenance, blob));
                Ok(())
            },
        )
        .map_err(|e| match e {
            AcquireError::Io { .. } => StageError::Retry(format!("cannot collect {source}: {e}")),
            _ => StageError::Fatal(format!("cannot collect {source}: {e}")),
        })?;
        Ok((items, report))
    })
    .await
    .map_err(|e| StageError::Retry(format!("collection crashed: {e}")))?
}

/// A synchronous reader as an `AsyncRead`, for a future driven by `block_on` on a
/// blocking thread (never on the runtime's workers): each poll reads synchronously.
struct BlockingReader<'a>(&'a mut dyn Read);

impl AsyncRead for BlockingReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.get_mut().0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}
