//! What can go wrong snapshotting an instance, and the SDK's errors mapped onto it with
//! the IAM permission to grant named.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// A snapshot still pending when the wait gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSnapshot {
    /// The snapshot.
    pub snapshot_id: String,
    /// The volume it is a snapshot of.
    pub volume_id: String,
    /// Its last reported progress, in percent.
    pub percent: u8,
}

/// Why an instance's volumes could not be snapshotted, or its snapshots not deleted.
#[derive(Debug, thiserror::Error)]
pub enum Ec2AcquireError {
    /// An option is out of range.
    #[error("EC2 acquisition options: {key}: {problem}")]
    InvalidOptions {
        /// The option's key.
        key: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// AWS refused the call: the credentials lack `permission`.
    #[error("{operation} was refused ({message}): the credentials need {permission}")]
    AccessDenied {
        /// The operation refused.
        operation: &'static str,
        /// The IAM permission to grant, e.g. `ec2:CreateSnapshot`.
        permission: &'static str,
        /// AWS's message.
        message: String,
    },
    /// No such instance in this account and region.
    #[error("instance {instance_id} was not found in region {region}; check its id and region")]
    UnknownInstance {
        /// The instance asked for.
        instance_id: String,
        /// The region asked.
        region: String,
    },
    /// The instance has no EBS volume attached: there is nothing to snapshot.
    #[error(
        "instance {instance_id} has no EBS volume attached: there is no disk to acquire \
         (instance-store volumes cannot be snapshotted)"
    )]
    NoVolumes {
        /// The instance.
        instance_id: String,
    },
    /// Snapshots were still `pending` when the configured wait ran out. The snapshots
    /// this acquisition created were deleted (unless snapshots are retained).
    #[error(
        "snapshots of instance {instance_id} were still pending after {}s: {}; \
         raise the snapshot timeout for large volumes",
        waited.as_secs(),
        describe_pending(pending)
    )]
    SnapshotTimeout {
        /// The instance.
        instance_id: String,
        /// How long the wait lasted.
        waited: Duration,
        /// The snapshots not completed.
        pending: Vec<PendingSnapshot>,
    },
    /// AWS reports the snapshot failed (state `error`).
    #[error("snapshot {snapshot_id} of volume {volume_id} failed in AWS: {message}")]
    SnapshotFailed {
        /// The snapshot.
        snapshot_id: String,
        /// Its volume.
        volume_id: String,
        /// AWS's state message.
        message: String,
    },
    /// Any other failure of a call: a service error, a transport error, a timeout.
    #[error("{operation} failed: {message}")]
    Request {
        /// The operation that failed.
        operation: &'static str,
        /// The AWS error code, when AWS answered.
        code: Option<String>,
        /// What happened.
        message: String,
    },
}

fn describe_pending(pending: &[PendingSnapshot]) -> String {
    pending
        .iter()
        .map(|p| format!("{} of {} at {}%", p.snapshot_id, p.volume_id, p.percent))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An EC2 API call Riposte makes to acquire an instance, with the permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    /// The API operation.
    pub operation: &'static str,
    /// The IAM action that allows it.
    pub permission: &'static str,
}

/// An EC2 call, allowed by the IAM action of the same name.
macro_rules! ec2_call {
    ($operation:literal) => {
        Call {
            operation: $operation,
            permission: concat!("ec2:", $operation),
        }
    };
}

pub(crate) const DESCRIBE_INSTANCES: Call = ec2_call!("DescribeInstances");
pub(crate) const DESCRIBE_VOLUMES: Call = ec2_call!("DescribeVolumes");
pub(crate) const CREATE_SNAPSHOT: Call = ec2_call!("CreateSnapshot");
pub(crate) const DESCRIBE_SNAPSHOTS: Call = ec2_call!("DescribeSnapshots");
pub(crate) const DELETE_SNAPSHOT: Call = ec2_call!("DeleteSnapshot");

/// The permission to tag a snapshot at creation, which AWS checks separately.
const CREATE_TAGS: &str = "ec2:CreateTags";

impl Call {
    /// Maps an SDK error of this call. A refused `CreateSnapshot` whose message names
    /// `ec2:CreateTags` is the tagging permission that is missing, not the snapshot's.
    pub(crate) fn error<E>(self, err: SdkError<E, HttpResponse>) -> Ec2AcquireError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = match (err.message(), err.raw_response()) {
            (Some(message), _) => message.to_string(),
            (None, Some(response)) => format!(
                "HTTP {} with an error body the SDK could not read ({})",
                response.status().as_u16(),
                DisplayErrorContext(&err)
            ),
            (None, None) => DisplayErrorContext(&err).to_string(),
        };
        self.refusal(code, message)
    }

    /// The error for AWS's answer `code` and `message` to this call.
    fn refusal(self, code: Option<String>, message: String) -> Ec2AcquireError {
        if code.as_deref().is_some_and(is_access_denied) {
            let permission = if message.contains(CREATE_TAGS) {
                CREATE_TAGS
            } else {
                self.permission
            };
            return Ec2AcquireError::AccessDenied {
                operation: self.operation,
                permission,
                message,
            };
        }
        Ec2AcquireError::Request {
            operation: self.operation,
            code,
            message,
        }
    }
}

/// EC2 says `UnauthorizedOperation`; other services and IAM-enforcing emulators say
/// `AccessDenied` or `AccessDeniedException`.
fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_names_every_pending_snapshot_and_its_progress() {
        let err = Ec2AcquireError::SnapshotTimeout {
            instance_id: "i-1".into(),
            waited: Duration::from_secs(90),
            pending: vec![PendingSnapshot {
                snapshot_id: "snap-1".into(),
                volume_id: "vol-1".into(),
                percent: 42,
            }],
        };
        let message = err.to_string();
        assert!(
            message.contains("after 90s") && message.contains("snap-1 of vol-1 at 42%"),
            "{message}"
        );
    }

    fn refused(call: Call, code: &str, message: &str) -> Ec2AcquireError {
        call.refusal(Some(code.to_string()), message.to_string())
    }

    #[test]
    fn a_refused_call_names_its_permission_and_a_refused_tag_names_create_tags() {
        let denied = |code, message| match refused(CREATE_SNAPSHOT, code, message) {
            Ec2AcquireError::AccessDenied {
                operation,
                permission,
                ..
            } => (operation, permission),
            other => panic!("not AccessDenied: {other:?}"),
        };
        assert_eq!(
            denied(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation."
            ),
            ("CreateSnapshot", "ec2:CreateSnapshot")
        );
        assert_eq!(
            denied(
                "UnauthorizedOperation",
                "User: arn:aws:iam::1:user/x is not authorized to perform: ec2:CreateTags on resource"
            ),
            ("CreateSnapshot", "ec2:CreateTags")
        );
        let delete = refused(DELETE_SNAPSHOT, "AccessDenied", "no");
        assert!(
            delete
                .to_string()
                .contains("the credentials need ec2:DeleteSnapshot"),
            "{delete}"
        );
        let other = refused(CREATE_SNAPSHOT, "IncorrectState", "volume busy");
        assert!(
            matches!(&other, Ec2AcquireError::Request { code: Some(c), .. } if c == "IncorrectState"),
            "{other:?}"
        );
    }

    #[test]
    fn ec2_and_iam_refusals_are_access_denied() {
        for code in [
            "UnauthorizedOperation",
            "AccessDenied",
            "AccessDeniedException",
        ] {
            assert!(is_access_denied(code), "{code}");
        }
        assert!(!is_access_denied("InvalidInstanceID.NotFound"));
    }
}
