//! An existing EBS snapshot imported by id: read in place through the EBS direct APIs
//! like an instance's snapshots, and never deleted (Riposte did not make it). Also the
//! reading both cloud collectors share.

use super::progress::Progress;
use super::sink::BlobSink;
use super::{CloudAccount, CollectContext, Collected, Collector};
use crate::StageError;
use async_trait::async_trait;
use riposte_aws::acquire::{Ec2AcquireError, SnapshotReadError, read_snapshots};
use riposte_aws::{EbsError, SdkConfig};
use riposte_model::{CloudVolume, Provenance};

/// Collects an imported snapshot.
pub(crate) struct SnapshotCollector {
    /// The account and region.
    pub account: CloudAccount,
    /// The snapshot.
    pub snapshot_id: String,
}

#[async_trait]
impl Collector for SnapshotCollector {
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError> {
        let config = self.account.config(cx).await?;
        let volume = CloudVolume {
            account_id: self.account.account_id.clone(),
            region: self.account.region.clone(),
            snapshot_id: self.snapshot_id.clone(),
            ..CloudVolume::default()
        };
        let progress = Progress::start(cx.worker, cx.job);
        let (items, report) = read(
            cx,
            &config,
            vec![volume.clone()],
            &self.snapshot_id,
            &progress,
        )
        .await?;
        Ok(Collected {
            items,
            report,
            source: format!("ebs-snapshot:{}/{}", self.account.region, self.snapshot_id),
            snapshots: vec![volume],
        })
    }
}

/// Reads `volumes` (root first) on a blocking thread, each item stored with its cloud
/// provenance under `host`.
pub(super) async fn read(
    cx: &CollectContext<'_>,
    config: &SdkConfig,
    volumes: Vec<CloudVolume>,
    host: &str,
    progress: &Progress,
) -> Result<
    (
        Vec<(Provenance, riposte_store::StoredBlob)>,
        riposte_acquire::AcquisitionReport,
    ),
    StageError,
> {
    let runtime = tokio::runtime::Handle::current();
    let mut sink = BlobSink::new(runtime.clone(), cx.worker.blobs.clone());
    let config = config.clone();
    let ebs = cx.worker.config.ebs.clone();
    let full = cx.full();
    let host = host.to_string();
    let progress = progress.clone();
    tokio::task::spawn_blocking(move || {
        let options = crate::pipeline::acquire_options(full);
        let mut count = 0u64;
        let read = read_snapshots(&runtime, &config, &volumes, &options, &ebs, &mut |volume, item, reader| {
            count += 1;
            if count % 200 == 1 {
                progress.say(format!(
                    "reading {} ({}): {count} items, now {}",
                    volume.snapshot_id,
                    volume.device_name.as_deref().unwrap_or("imported snapshot"),
                    item.original_path
                ));
            }
            let mut provenance = item.provenance(
                "ebs-snapshot",
                format!("ebs-snapshot:{}/{}", volume.region, volume.snapshot_id),
                &host,
            );
            provenance.cloud = Some(volume.clone());
            sink.put(provenance, reader)
        })
        .map_err(read_error)?;
        for (snapshot, stats) in &read.stats {
            tracing::info!(%snapshot, blocks_listed = stats.blocks_listed, blocks_fetched = stats.blocks_fetched, bytes_fetched = stats.bytes_fetched, "snapshot read statistics");
        }
        progress.say(format!("read {} snapshot(s): {} items", volumes.len(), read.report.items));
        Ok((sink.items, read.report))
    })
    .await
    .map_err(|e| StageError::Retry(format!("collection crashed: {e}")))?
}

/// A failure to get at the account or instance: retried only when AWS or the network
/// failed; refusals and missing things are final and say what to do.
pub(super) fn acquire_error(e: Ec2AcquireError) -> StageError {
    match e {
        Ec2AcquireError::Request { .. } => StageError::Retry(e.to_string()),
        _ => StageError::Fatal(e.to_string()),
    }
}

/// A failure to read a snapshot: retried when AWS throttled or the request failed in
/// transit; a refusal, a missing or deleted snapshot, a bad checksum are final.
fn read_error(e: SnapshotReadError) -> StageError {
    match &e {
        SnapshotReadError::Open {
            source:
                EbsError::Throttled { .. } | EbsError::Request { .. } | EbsError::Cancelled { .. },
            ..
        } => StageError::Retry(e.to_string()),
        _ => StageError::Fatal(e.to_string()),
    }
}
