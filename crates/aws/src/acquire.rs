//! Cloud acquisition: an EC2 instance's disks as EBS snapshots Riposte makes, waits for,
//! hands to [`crate::EbsSnapshotSource`] for reading in place, and deletes afterwards.
//!
//! - [`ec2`]: `DescribeInstances` → `CreateSnapshot` of every attached EBS volume, with
//!   tags that let a retried job reuse them, a bounded wait with progress, and cleanup.
//! - [`wait`]: the bounded wait for snapshots to complete, with their progress.
//! - [`read`]: the snapshots read in place and acquired like disk images, one report.
//! - [`credentials`]: `sts:AssumeRole` into another account's role, the session named
//!   after the investigation.
//! - [`error`]: what can fail, with the IAM permission to grant when AWS refuses a call.
//!
//! The IAM permissions an acquisition needs, action by action:
//!
//! | Action | Why |
//! |---|---|
//! | `ec2:DescribeInstances` | the instance's attached EBS volumes and root device |
//! | `ec2:DescribeVolumes` | the volumes' tags, copied onto their snapshots |
//! | `ec2:DescribeSnapshots` | an earlier attempt's snapshots (by tag), and progress |
//! | `ec2:CreateSnapshot` | one snapshot per volume |
//! | `ec2:CreateTags` | the snapshots' tags, set as they are created |
//! | `ec2:DeleteSnapshot` | cleanup of the snapshots Riposte made |
//! | `ebs:ListSnapshotBlocks`, `ebs:GetSnapshotBlock` | reading the snapshots ([`crate::ebs`]) |
//! | `kms:Decrypt` | reading snapshots of encrypted volumes, on their KMS key |
//! | `sts:AssumeRole` | only when acquiring through another account's role |

pub mod credentials;
pub mod ec2;
pub mod error;
pub mod read;
pub mod wait;

pub use credentials::{AssumeRole, EXTERNAL_ID_ENV, acquisition_config, assume_role};
pub use ec2::{
    AttachedVolume, Cleanup, Ec2AcquireOptions, Ec2Acquirer, FoundSnapshot, InstanceSnapshots,
    VolumeSnapshot,
};
pub use error::{Ec2AcquireError, PendingSnapshot};
pub use read::{SnapshotReadError, SnapshotVisit, SnapshotsRead, read_snapshots};
pub use wait::SnapshotProgress;
