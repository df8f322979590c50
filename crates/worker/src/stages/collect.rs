//! Stage 2: acquire the evidence the investigation's plan names. A library host is a
//! folder (its triage files, or every file for a full acquisition), a triage package, or
//! a disk image (the triage profile of each filesystem's OS, or every file plus the
//! filesystem timeline). Each item is streamed into the evidence store, hashed on the
//! way, and recorded on the investigation with its provenance (chain of custody).

use super::{finish, next, payload};
use crate::{StageError, Worker};
use chrono::Utc;
use riposte_acquire::{
    HostEvidence, ImageSelection, PackageLimits, TriageOptions, TriageProfile, all_files,
    evidence_file, read_image, read_package, triage_files,
};
use riposte_model::{
    Acquisition, EvidenceId, EvidenceItem, InvestigationId, InvestigationStatus, InvestigationType,
    JobKind, Provenance,
};
use riposte_store::{BlobStore, ClaimedJob, Store, StoredBlob};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Where the filesystem timeline of a full image acquisition is filed.
pub const FILESYSTEM_TIMELINE: &str = "/$Riposte/filesystem-timeline.body";

/// What collection produced: stored items, and selected entries left out with the reason.
#[derive(Default)]
struct Collected {
    items: Vec<(Provenance, StoredBlob)>,
    skipped: Vec<(String, String)>,
}

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
    let is_file = std::fs::symlink_metadata(&root).is_ok_and(|m| m.is_file());
    let collected = if is_file {
        collect_file(w.blobs.clone(), host.clone(), root.clone(), full).await?
    } else {
        collect_folder(&w.blobs, &host, &root, full).await?
    };
    let mut tx = w.store.begin().await?;
    for (provenance, blob) in collected.items {
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
    for (path, reason) in &collected.skipped {
        Store::audit(
            &mut tx,
            Some(inv),
            &w.actor(),
            "evidence.skipped",
            &serde_json::json!({"path": path, "reason": reason}),
        )
        .await?;
    }
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Processing, None).await?;
    next(&mut tx, JobKind::Process, inv).await?;
    finish(w, tx, job).await
}

/// A host folder: its triage files, or every file.
async fn collect_folder(
    blobs: &BlobStore,
    host: &str,
    root: &Path,
    full: bool,
) -> Result<Collected, StageError> {
    let selection = {
        let root = root.to_path_buf();
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
    let mut collected = Collected::default();
    for file in &selection.files {
        // `open` refuses a file swapped for a symbolic link since it was selected.
        let std_file = file.open().map_err(|e| StageError::Retry(e.to_string()))?;
        let blob = blobs
            .put_stream(tokio::fs::File::from_std(std_file))
            .await?;
        let provenance = Provenance {
            method: "evidence-library".into(),
            source: file.local_path.display().to_string(),
            host: host.to_string(),
            original_path: file.original_path.clone(),
            modified: file.modified,
            image: None,
        };
        collected.items.push((provenance, blob));
    }
    collected.skipped = selection
        .skipped
        .iter()
        .map(|s| (s.original_path.clone(), s.reason.to_string()))
        .collect();
    Ok(collected)
}

/// A package or image file: read on a blocking thread, each entry streamed into the
/// blob store as it is reached (nothing is extracted to disk).
async fn collect_file(
    blobs: BlobStore,
    host: String,
    path: PathBuf,
    full: bool,
) -> Result<Collected, StageError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> Result<Collected, StageError> {
        let Some((_, kind)) = evidence_file(&path) else {
            return Err(StageError::Fatal(format!(
                "{} is neither a triage package nor a disk image Riposte reads",
                path.display()
            )));
        };
        let store = |reader: &mut dyn Read| {
            runtime
                .block_on(blobs.put_stream(BlockingReader(reader)))
                .map_err(io::Error::other)
        };
        let mut collected = Collected::default();
        let source = path.display().to_string();
        match kind {
            HostEvidence::Package => {
                let report = read_package(
                    &path,
                    &PackageLimits::default(),
                    // Unix paths go through the Linux profile unless the acquisition is
                    // full; Windows collections were already chosen by their collector.
                    &|original| {
                        full || !original.starts_with('/')
                            || TriageProfile::linux().matches(original)
                    },
                    &mut |entry, reader| {
                        let blob = store(reader)?;
                        let provenance = Provenance {
                            method: "evidence-library".into(),
                            source: source.clone(),
                            host: host.clone(),
                            original_path: entry.original_path.clone(),
                            modified: entry.modified,
                            image: None,
                        };
                        collected.items.push((provenance, blob));
                        Ok(())
                    },
                )
                .map_err(|e| StageError::Fatal(format!("cannot read the package: {e}")))?;
                collected.skipped.extend(
                    report
                        .refused
                        .into_iter()
                        .map(|r| (r.archive_path, r.reason.to_string())),
                );
            }
            HostEvidence::Image => {
                let selection = if full {
                    ImageSelection::Full
                } else {
                    ImageSelection::Triage
                };
                let mut body = tempfile::tempfile()
                    .map_err(|e| StageError::Retry(format!("cannot stage the timeline: {e}")))?;
                let mut body_writer = io::BufWriter::new(&mut body);
                let report = read_image(
                    &path,
                    selection,
                    &TriageOptions::default(),
                    &mut |item, reader| {
                        let blob = store(reader)?;
                        let provenance = Provenance {
                            method: "disk-image".into(),
                            source: source.clone(),
                            host: host.clone(),
                            original_path: item.original_path.to_string(),
                            modified: item.entry.times.modified,
                            image: Some(item.location.clone()),
                        };
                        collected.items.push((provenance, blob));
                        Ok(())
                    },
                    full.then_some(&mut body_writer as &mut dyn io::Write),
                )
                .map_err(|e| StageError::Fatal(format!("cannot read the disk image: {e}")))?;
                io::Write::flush(&mut body_writer)
                    .map_err(|e| StageError::Retry(format!("cannot stage the timeline: {e}")))?;
                drop(body_writer);
                if full {
                    io::Seek::rewind(&mut body)
                        .map_err(|e| StageError::Retry(format!("cannot read the timeline: {e}")))?;
                    let blob = store(&mut body)
                        .map_err(|e| StageError::Retry(format!("cannot store the timeline: {e}")))?;
                    let provenance = Provenance {
                        method: "disk-image".into(),
                        source: source.clone(),
                        host: host.clone(),
                        original_path: FILESYSTEM_TIMELINE.into(),
                        modified: None,
                        image: None,
                    };
                    collected.items.push((provenance, blob));
                }
                for volume in &report.volumes {
                    for problem in &volume.problems {
                        tracing::warn!(image = %source, partition = volume.index, %problem, "image volume problem");
                        collected
                            .skipped
                            .push((format!("partition {}", volume.index), problem.clone()));
                    }
                }
                collected.skipped.extend(
                    report
                        .skipped
                        .into_iter()
                        .map(|s| (s.original_path, s.reason.to_string())),
                );
            }
            HostEvidence::Folder => {
                return Err(StageError::Fatal(format!(
                    "{} is a folder, not a package or image",
                    path.display()
                )));
            }
        }
        Ok(collected)
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
