//! A library host: its folder, triage package or disk image on the server's storage,
//! inside the evidence roots the server was started with.

use super::sink::BlobSink;
use super::{CollectContext, Collected, Collector, acquire_failure};
use crate::StageError;
use async_trait::async_trait;
use riposte_acquire::acquire;
use std::path::PathBuf;

/// Collects a library host's evidence.
pub(crate) struct LibraryCollector {
    /// The host's key.
    pub host: String,
    /// Its folder (or package, or image).
    pub root: PathBuf,
}

#[async_trait]
impl Collector for LibraryCollector {
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError> {
        let root = self.root.clone();
        if let Err(problem) = cx
            .worker
            .config
            .evidence_roots
            .check_evidence(&root.display().to_string())
        {
            return Err(StageError::Fatal(format!(
                "refusing to collect {}: {problem}",
                root.display()
            )));
        }
        let host = self.host.clone();
        let full = cx.full();
        let mut sink = BlobSink::new(tokio::runtime::Handle::current(), cx.worker.blobs.clone());
        tokio::task::spawn_blocking(move || {
            let source = root.display().to_string();
            let report = acquire(
                &root,
                &crate::pipeline::acquire_options(full),
                &mut |item, reader| {
                    let method = if item.image.is_some() {
                        "disk-image"
                    } else {
                        "evidence-library"
                    };
                    // A folder's file is its own source; a package's or image's item
                    // comes from the package or image.
                    let from = item
                        .local
                        .map_or_else(|| source.clone(), |l| l.local_path.display().to_string());
                    let provenance = item.provenance(method, from, &host);
                    sink.put(provenance, reader)
                },
            )
            .map_err(|e| acquire_failure(&source, e))?;
            Ok(Collected {
                items: sink.items,
                report,
                source,
                snapshots: Vec::new(),
            })
        })
        .await
        .map_err(|e| StageError::Retry(format!("collection crashed: {e}")))?
    }
}
