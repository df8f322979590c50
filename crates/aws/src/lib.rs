//! Riposte's one home for the AWS SDK. Everything that talks to AWS APIs lives here, so
//! the SDK's large crates are compiled once, in one leaf crate, and a change elsewhere in
//! the workspace never rebuilds them.
//!
//! - [`guardduty`]: pull mode for GuardDuty findings (an [`AlertPoller`]).
//! - [`respond`]: response actions on EC2 instances (stop, isolate role, isolate security
//!   group) with dry run and release.
//! - [`acquire`]: an EC2 instance's EBS volumes snapshotted (tagged, awaited, reused by
//!   a retried job, deleted afterwards) for reading through [`ebs`].
//! - [`s3`]: an object in S3 (a triage package or a raw disk image) read in place with
//!   range requests, as a `riposte-disk` byte source.
//! - [`evidence`]: the evidence store in an S3 bucket (`--evidence-url s3://…`), shared by
//!   workers on many machines.
//! - [`ebs`]: an EBS snapshot read in place through the EBS direct APIs, as a
//!   `riposte-disk` byte source (lazy verified blocks, cache, parallel read-ahead).
//!
//! Credentials always come from the standard AWS chain (environment, shared profile,
//! web identity, container or instance role), optionally assuming an environment scope's
//! role in the target account; Riposte stores no AWS secrets. Endpoints
//! follow the standard overrides too (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`),
//! which is how tests point the SDK at local fakes.
//!
//! [`AlertPoller`]: riposte_sources::poll::AlertPoller

#![warn(missing_docs)]

pub mod acquire;
pub mod ebs;
pub mod evidence;
pub mod guardduty;
pub mod respond;
pub mod s3;
#[cfg(feature = "testing")]
pub mod testing;

pub use acquire::{Ec2AcquireError, Ec2AcquireOptions, Ec2Acquirer, InstanceSnapshots};
pub use aws_config::SdkConfig;
pub use ebs::{EbsError, EbsReadOptions, EbsReadStats, EbsSnapshotSource};
pub use evidence::{EvidenceBucket, EvidenceStoreError, EvidenceStoreOptions, evidence_store};
pub use guardduty::{GuardDutyPoller, GuardDutySettings};
pub use respond::{ReleaseError, Responder};
pub use s3::{S3Address, S3Error, S3ObjectSource};

/// Loads the shared AWS configuration the standard way: region, credentials, retry and
/// endpoint settings from the environment, the shared config files and the instance.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
