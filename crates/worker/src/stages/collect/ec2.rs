//! An EC2 instance: every attached EBS volume snapshotted (tagged with the investigation,
//! reused by a retried job), the snapshots read in place through the EBS direct APIs, and
//! deleted once the acquisition ends — after success or failure, unless the rule or import
//! retains them, or a retryable failure will be retried (the next attempt reuses them and
//! cleans up). The snapshot ids are in the audit trail from the moment they exist.

use super::ebs_snapshot::{acquire_error, read};
use super::progress::Progress;
use super::{CloudAccount, CollectContext, Collected, Collector};
use crate::StageError;
use async_trait::async_trait;
use riposte_aws::acquire::{Ec2Acquirer, InstanceSnapshots};
use serde_json::json;

/// Collects an EC2 instance's disks.
pub(crate) struct Ec2Collector {
    /// The account and region.
    pub account: CloudAccount,
    /// The instance.
    pub instance_id: String,
}

impl Ec2Collector {
    /// Deletes the snapshots (or records them retained) and says so in the audit trail.
    /// A failed deletion is recorded, not fatal: the evidence is already read.
    async fn clean_up(
        &self,
        cx: &CollectContext<'_>,
        acquirer: &Ec2Acquirer,
        snapshots: &InstanceSnapshots,
    ) -> Result<(), StageError> {
        match acquirer.cleanup(snapshots).await {
            Ok(cleanup) => {
                cx.audit(
                    "acquisition.snapshots_cleaned",
                    json!({"instance_id": self.instance_id, "deleted": cleanup.deleted, "already_gone": cleanup.already_gone, "retained": cleanup.retained}),
                )
                .await
            }
            Err(e) => {
                tracing::error!(investigation = %cx.investigation, instance = %self.instance_id, error = %e, "cannot delete the acquisition's snapshots");
                cx.audit(
                    "acquisition.snapshots_not_deleted",
                    json!({"instance_id": self.instance_id, "snapshots": snapshots.snapshots.iter().map(|s| &s.snapshot_id).chain(snapshots.leftovers.iter()).collect::<Vec<_>>(), "error": e.to_string()}),
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Collector for Ec2Collector {
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError> {
        let investigation = cx.investigation.to_string();
        let config = self.account.config(cx).await?;
        let mut options = cx.worker.config.ec2.clone();
        options.retain_snapshots = cx.plan.retain_snapshots;
        let acquirer = Ec2Acquirer::new(&config, options).map_err(acquire_error)?;
        let progress = Progress::start(cx.worker, cx.job);
        progress.say(format!(
            "snapshotting the EBS volumes of {}",
            self.instance_id
        ));
        let snapshots = acquirer
            .snapshot_instance(&investigation, &self.instance_id, |p| {
                progress.say(format!(
                    "snapshot {} of {} ({}): {}%",
                    p.snapshot_id, p.volume_id, p.device_name, p.percent
                ));
            })
            .await
            .map_err(acquire_error)?;
        let volumes = snapshots.volumes(self.account.account_id.as_deref());
        cx.audit(
            "acquisition.snapshots",
            json!({"instance_id": self.instance_id, "region": self.account.region, "account_id": self.account.account_id,
                   "snapshots": snapshots.snapshots.iter().map(|s| json!({"snapshot_id": s.snapshot_id, "volume_id": s.volume.volume_id, "device_name": s.volume.device_name, "root": s.volume.root, "reused": s.reused})).collect::<Vec<_>>(),
                   "leftovers": snapshots.leftovers}),
        )
        .await?;
        let read = read(cx, &config, volumes.clone(), &self.instance_id, &progress).await;
        let kept_for_retry = matches!(read, Err(StageError::Retry(_))) && cx.will_retry();
        if !kept_for_retry {
            self.clean_up(cx, &acquirer, &snapshots).await?;
        }
        let (items, report) = read?;
        let source = format!(
            "aws:{}:{}:{}",
            self.account.account_id.as_deref().unwrap_or("-"),
            self.account.region,
            self.instance_id
        );
        Ok(Collected {
            items,
            report,
            source,
            snapshots: volumes,
        })
    }
}
