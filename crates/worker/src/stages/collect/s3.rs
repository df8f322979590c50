//! A triage package or a raw disk image in S3, read in place with range requests (an
//! import by `s3://` address): packages stream, images are read where the filesystem
//! walk needs, nothing is downloaded whole.

use super::progress::Progress;
use super::sink::BlobSink;
use super::{CloudAccount, CollectContext, Collected, Collector, acquire_failure};
use crate::StageError;
use async_trait::async_trait;
use riposte_acquire::acquire_source;
use riposte_aws::s3::DEFAULT_CHUNK;
use riposte_aws::{S3Address, S3Error, S3ObjectSource};
use riposte_disk::SharedSource;
use std::sync::Arc;

/// Collects an object in S3.
pub(crate) struct S3Collector {
    /// The account and the bucket's region.
    pub account: CloudAccount,
    /// The object.
    pub address: S3Address,
}

#[async_trait]
impl Collector for S3Collector {
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError> {
        let config = self.account.config(cx).await?;
        let source = S3ObjectSource::open(&config, &self.address, DEFAULT_CHUNK)
            .await
            .map_err(|e| match e {
                S3Error::Request { .. } => StageError::Retry(e.to_string()),
                _ => StageError::Fatal(e.to_string()),
            })?;
        let progress = Progress::start(cx.worker, cx.job);
        let name = self.address.to_string();
        let host = cx.plan.scope.acquisition.host_label().to_string();
        let mut sink = BlobSink::new(tokio::runtime::Handle::current(), cx.worker.blobs.clone());
        let full = cx.full();
        tokio::task::spawn_blocking(move || {
            let source: SharedSource = Arc::new(source);
            let mut count = 0u64;
            let report = acquire_source(
                &source,
                &name,
                &crate::pipeline::acquire_options(full),
                &mut |item, reader| {
                    count += 1;
                    if count % 200 == 1 {
                        progress.say(format!(
                            "reading {name}: {count} items, now {}",
                            item.original_path
                        ));
                    }
                    let provenance = item.provenance("s3", name.as_str(), &host);
                    sink.put(provenance, reader)
                },
            )
            .map_err(|e| acquire_failure(&name, e))?;
            progress.say(format!("read {name}: {} items", report.items));
            Ok(Collected {
                items: sink.items,
                report,
                source: name,
                snapshots: Vec::new(),
            })
        })
        .await
        .map_err(|e| StageError::Retry(format!("collection crashed: {e}")))?
    }
}
