//! Stage 2: acquire the evidence the investigation's plan names, and record it.
//!
//! How evidence is reached depends on the plan's acquisition, one [`Collector`] each:
//! - [`library`]: a library host's folder, triage package or disk image;
//! - [`ec2`]: an EC2 instance's EBS volumes, snapshotted, read in place through the EBS
//!   direct APIs and deleted afterwards;
//! - [`ebs_snapshot`]: an existing EBS snapshot, read in place and kept;
//! - [`s3`]: a triage package or raw disk image in S3, read in place with range requests;
//! - [`ssh`]: a running Linux host over SSH: its triage files over SFTP and its live state.
//!
//! All of them go through the acquisition path `riposte investigate` uses
//! ([`riposte_acquire`]: the operating system each disk or folder holds decides the
//! triage profile). What is the stage's own: each item is streamed into the evidence
//! store, hashed on the way, and recorded on the investigation with its provenance (chain
//! of custody); skipped entries and the acquisition summary go to the audit trail.

mod ebs_snapshot;
mod ec2;
mod library;
mod progress;
mod s3;
mod sink;
mod ssh;

use super::{finish, next, payload};
use crate::{StageError, Worker};
use async_trait::async_trait;
use chrono::Utc;
use riposte_acquire::{AcquireError, AcquisitionReport};
use riposte_aws::SdkConfig;
use riposte_aws::acquire::acquisition_config;
use riposte_model::{
    Acquisition, CloudVolume, EvidenceId, EvidenceItem, InvestigationId, InvestigationPlan,
    InvestigationStatus, InvestigationType, JobKind, Provenance,
};
use riposte_store::{ClaimedJob, Store, StoredBlob};

/// What a collector works for: the worker, its job, the investigation and its plan.
pub(crate) struct CollectContext<'a> {
    /// The worker (store, blobs, configuration).
    pub worker: &'a Worker,
    /// The collect job (attempts, lease).
    pub job: &'a ClaimedJob,
    /// The investigation.
    pub investigation: InvestigationId,
    /// Its plan.
    pub plan: &'a InvestigationPlan,
}

impl CollectContext<'_> {
    /// True for a full acquisition.
    pub fn full(&self) -> bool {
        self.plan.investigation_type == InvestigationType::Full
    }

    /// True when a retryable failure will be retried (attempts remain).
    pub fn will_retry(&self) -> bool {
        self.job.job.attempts < self.job.job.max_attempts
    }

    /// Records `event` in the audit trail at once, in its own transaction: chain of
    /// custody that must survive even if the stage later fails (snapshots made).
    pub async fn audit(&self, event: &str, detail: serde_json::Value) -> Result<(), StageError> {
        let mut conn = self.worker.store.pool().acquire().await?;
        Store::audit(
            &mut conn,
            Some(self.investigation),
            &self.worker.actor(),
            event,
            &detail,
        )
        .await?;
        Ok(())
    }
}

/// What a collector gathered, for the stage to record.
pub(crate) struct Collected {
    /// Each item's provenance and the blob it was stored as.
    pub items: Vec<(Provenance, StoredBlob)>,
    /// The acquisition's report.
    pub report: AcquisitionReport,
    /// What was read, for the audit trail (a folder, `aws:…:i-…`, a snapshot).
    pub source: String,
    /// The EBS snapshots read, if any.
    pub snapshots: Vec<CloudVolume>,
}

/// The AWS account a cloud collector works in: region, account and the scope's role.
pub(crate) struct CloudAccount {
    /// The account, when known.
    pub account_id: Option<String>,
    /// The region.
    pub region: String,
    /// The scope's role in the account, if any.
    pub role_name: Option<String>,
}

impl CloudAccount {
    /// The SDK configuration for the investigation: the standard chain, the role assumed.
    pub async fn config(&self, cx: &CollectContext<'_>) -> Result<SdkConfig, StageError> {
        acquisition_config(
            &self.region,
            self.account_id.as_deref(),
            self.role_name.as_deref(),
            &cx.investigation.to_string(),
        )
        .await
        .map_err(ebs_snapshot::acquire_error)
    }
}

/// A failed acquisition of `name`: retried when reading failed in transit (the next
/// attempt may get through), final when the evidence is corrupt or unsupported.
pub(crate) fn acquire_failure(name: &str, e: AcquireError) -> StageError {
    match e {
        AcquireError::Io { .. } => StageError::Retry(format!("cannot collect {name}: {e}")),
        _ => StageError::Fatal(format!("cannot collect {name}: {e}")),
    }
}

/// One way of reaching a system's evidence.
#[async_trait]
pub(crate) trait Collector: Send + Sync {
    /// Acquires the evidence, streaming each item into the evidence store. Anything the
    /// collector made to read it (snapshots) is cleaned up before it returns, unless a
    /// retryable failure will be retried (the next attempt reuses it).
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError>;
}

/// The collector of each acquisition method: the one place they are registered.
fn collector_for(acquisition: &Acquisition) -> Result<Box<dyn Collector>, StageError> {
    match acquisition {
        Acquisition::Library {
            host, host_root, ..
        } => Ok(Box::new(library::LibraryCollector {
            host: host.clone(),
            root: host_root.into(),
        })),
        Acquisition::Ec2 {
            account_id,
            region,
            instance_id,
            role_name,
        } => Ok(Box::new(ec2::Ec2Collector {
            account: CloudAccount {
                account_id: account_id.clone(),
                region: region.clone(),
                role_name: role_name.clone(),
            },
            instance_id: instance_id.clone(),
        })),
        Acquisition::EbsSnapshot {
            account_id,
            region,
            snapshot_id,
            role_name,
        } => Ok(Box::new(ebs_snapshot::SnapshotCollector {
            account: CloudAccount {
                account_id: account_id.clone(),
                region: region.clone(),
                role_name: role_name.clone(),
            },
            snapshot_id: snapshot_id.clone(),
        })),
        Acquisition::S3 {
            account_id,
            region,
            bucket,
            key,
            role_name,
        } => Ok(Box::new(s3::S3Collector {
            account: CloudAccount {
                account_id: account_id.clone(),
                region: region.clone(),
                role_name: role_name.clone(),
            },
            address: riposte_model::S3Address {
                bucket: bucket.clone(),
                key: key.clone(),
            },
        })),
        Acquisition::Ssh {
            address,
            port,
            user,
            credential,
            known_hosts,
            trust_on_first_use,
            sudo,
        } => Ok(Box::new(ssh::SshCollector {
            address: address.clone(),
            port: *port,
            user: user.clone(),
            credential: credential.clone(),
            known_hosts: known_hosts.clone(),
            trust_on_first_use: *trust_on_first_use,
            sudo: *sudo,
        })),
    }
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
    let collector = collector_for(&plan.scope.acquisition)?;
    let cx = CollectContext {
        worker: w,
        job,
        investigation: inv,
        plan: &plan,
    };
    let collected = collector.collect(&cx).await?;
    let mut summary = collected.report.summary();
    summary.snapshots = collected.snapshots.clone();
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
                &serde_json::json!({"path": item.provenance.original_path, "sha256": item.sha256, "size": item.size, "image": item.provenance.image, "cloud": item.provenance.cloud}),
            )
            .await?;
        }
    }
    for skipped in &collected.report.skipped {
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
        &serde_json::json!({"source": collected.source, "acquisition": summary}),
    )
    .await?;
    Store::set_acquisition(&mut tx, inv, &summary).await?;
    Store::set_investigation_status(&mut tx, inv, InvestigationStatus::Processing, None).await?;
    next(&mut tx, JobKind::Process, inv).await?;
    finish(w, tx, job).await
}
