//! Cloud acquisition: an EC2 instance's disks as EBS snapshots Riposte makes, waits for,
//! hands to [`crate::EbsSnapshotSource`] for reading in place, and deletes afterwards.
//!
//! - [`ec2`]: `DescribeInstances` → `CreateSnapshot` of every attached EBS volume, with
//!   tags that let a retried job reuse them, a bounded wait with progress, and cleanup.
//! - [`error`]: what can fail, with the IAM permission to grant when AWS refuses a call.

pub mod ec2;
pub mod error;

pub use ec2::{
    AttachedVolume, Cleanup, Ec2AcquireOptions, Ec2Acquirer, InstanceSnapshots, SnapshotProgress,
    VolumeSnapshot,
};
pub use error::{Ec2AcquireError, PendingSnapshot};
