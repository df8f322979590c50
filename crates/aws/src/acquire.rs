//! Cloud acquisition: an EC2 instance's disks as EBS snapshots Riposte makes, waits for,
//! hands to [`crate::EbsSnapshotSource`] for reading in place, and deletes afterwards.
//!
//! - [`ec2`]: `DescribeInstances` → `CreateSnapshot` of every attached EBS volume, with
//!   tags that let a retried job reuse them, a bounded wait with progress, and cleanup.
//! - [`credentials`]: `sts:AssumeRole` into another account's role, the session named
//!   after the investigation.
//! - [`error`]: what can fail, with the IAM permission to grant when AWS refuses a call.

pub mod credentials;
pub mod ec2;
pub mod error;

pub use credentials::{AssumeRole, assume_role};
pub use ec2::{
    AttachedVolume, Cleanup, Ec2AcquireOptions, Ec2Acquirer, InstanceSnapshots, SnapshotProgress,
    VolumeSnapshot,
};
pub use error::{Ec2AcquireError, PendingSnapshot};
