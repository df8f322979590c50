//! What can go wrong reading a snapshot, and the SDK's errors mapped onto it with the
//! snapshot, the block and the IAM permission to check named.

use aws_sdk_ebs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ebs::operation::get_snapshot_block::GetSnapshotBlockError;
use aws_sdk_ebs::operation::list_snapshot_blocks::ListSnapshotBlocksError;
use aws_sdk_ebs::types::{AccessDeniedExceptionReason, ResourceNotFoundExceptionReason};
use std::io;

/// The EBS direct API operation that lists a snapshot's blocks.
pub const LIST_SNAPSHOT_BLOCKS: &str = "ListSnapshotBlocks";
/// The EBS direct API operation that reads one block.
pub const GET_SNAPSHOT_BLOCK: &str = "GetSnapshotBlock";

/// Why a snapshot, or one block of it, could not be read. Cloneable: a block fetched for
/// several readers at once hands each of them the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EbsError {
    /// An option is out of range.
    #[error("EBS read options: {key}: {problem}")]
    InvalidOptions {
        /// The option's key.
        key: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// AWS refused the call: the credentials lack `permission`.
    #[error(
        "{operation} on snapshot {snapshot} was refused ({message}): the credentials need {permission}"
    )]
    AccessDenied {
        /// The snapshot.
        snapshot: String,
        /// The operation refused.
        operation: &'static str,
        /// The IAM permission to grant: `ebs:ListSnapshotBlocks`, `ebs:GetSnapshotBlock`,
        /// or `kms:Decrypt` on the snapshot's KMS key.
        permission: &'static str,
        /// AWS's message.
        message: String,
    },
    /// The snapshot does not exist (in this account and region) when it is opened.
    #[error(
        "snapshot {snapshot} was not found in region {region} ({message}); check its id and region"
    )]
    SnapshotNotFound {
        /// The snapshot.
        snapshot: String,
        /// The region asked.
        region: String,
        /// AWS's message.
        message: String,
    },
    /// The snapshot disappeared after it was opened.
    #[error(
        "snapshot {snapshot} was deleted while it was being read: block {block} is gone ({message})"
    )]
    SnapshotDeleted {
        /// The snapshot.
        snapshot: String,
        /// The block being read.
        block: u64,
        /// AWS's message.
        message: String,
    },
    /// AWS kept throttling through every retry.
    #[error(
        "{operation} on snapshot {snapshot} was still throttled after {attempts} attempts ({message}); \
         lower the read concurrency or try again later"
    )]
    Throttled {
        /// The snapshot.
        snapshot: String,
        /// The operation throttled.
        operation: &'static str,
        /// Attempts allowed per request.
        attempts: u32,
        /// AWS's message.
        message: String,
    },
    /// A block's data does not hash to the SHA-256 checksum AWS sent with it.
    #[error(
        "block {block} of snapshot {snapshot} fails its checksum: AWS sent SHA-256 {expected}, \
         the data received hashes to {actual}"
    )]
    ChecksumMismatch {
        /// The snapshot.
        snapshot: String,
        /// The block index.
        block: u64,
        /// The checksum AWS sent (base64).
        expected: String,
        /// The checksum of the data received (base64).
        actual: String,
    },
    /// A block arrived in a shape that cannot be trusted (wrong length, no checksum, an
    /// unknown checksum algorithm).
    #[error("block {block} of snapshot {snapshot}: {problem}")]
    BadBlock {
        /// The snapshot.
        snapshot: String,
        /// The block index.
        block: u64,
        /// What is wrong.
        problem: String,
    },
    /// The listing of blocks is unusable (no block size, a block outside the volume).
    #[error("snapshot {snapshot}: unusable block listing: {problem}")]
    BadListing {
        /// The snapshot.
        snapshot: String,
        /// What is wrong.
        problem: String,
    },
    /// Any other failure of a call: a service error, a transport error, a timeout.
    #[error("{operation} on snapshot {snapshot}{} failed: {message}", block_suffix(*.block))]
    Request {
        /// The snapshot.
        snapshot: String,
        /// The operation that failed.
        operation: &'static str,
        /// The block, for `GetSnapshotBlock`.
        block: Option<u64>,
        /// What happened.
        message: String,
    },
    /// The tokio runtime that runs the requests shut down before the block arrived.
    #[error(
        "the read of block {block} of snapshot {snapshot} was abandoned: its tokio runtime shut down"
    )]
    Cancelled {
        /// The snapshot.
        snapshot: String,
        /// The block index.
        block: u64,
    },
}

fn block_suffix(block: Option<u64>) -> String {
    block.map(|b| format!(", block {b},")).unwrap_or_default()
}

impl From<EbsError> for io::Error {
    fn from(err: EbsError) -> io::Error {
        let kind = match err {
            EbsError::AccessDenied { .. } => io::ErrorKind::PermissionDenied,
            EbsError::SnapshotNotFound { .. } | EbsError::SnapshotDeleted { .. } => {
                io::ErrorKind::NotFound
            }
            EbsError::ChecksumMismatch { .. } | EbsError::BadBlock { .. } => {
                io::ErrorKind::InvalidData
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Error codes of throttling (the SDK's standard retry already backed off on these).
const THROTTLING_CODES: &[&str] = &[
    "RequestThrottledException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "SlowDown",
];

/// The error for a failed call of `operation` on `snapshot` (at `block` for reads), whose
/// requests were allowed `attempts` attempts.
pub(super) fn call_error<E>(
    err: SdkError<E>,
    snapshot: &str,
    region: &str,
    operation: &'static str,
    block: Option<u64>,
    attempts: u32,
) -> EbsError
where
    E: Reasons + ProvideErrorMetadata + std::error::Error + 'static,
{
    CallFailure::new(err).into_error(snapshot, region, operation, block, attempts)
}

/// What the reader needs to know about one failed call.
struct CallFailure {
    code: Option<String>,
    status: Option<u16>,
    message: String,
    denied_dependency: bool,
    snapshot_gone: bool,
}

/// What the typed errors of both operations say beyond their code: whether an
/// `AccessDeniedException` is about a dependency (the KMS key), and whether a
/// `ResourceNotFoundException` is about the snapshot.
pub(super) trait Reasons {
    /// (denied by a dependency, the snapshot is gone)
    fn reasons(&self) -> (bool, bool);
}

macro_rules! reasons {
    ($($error:ident),*) => {$(
        impl Reasons for $error {
            fn reasons(&self) -> (bool, bool) {
                match self {
                    $error::AccessDeniedException(e) => (
                        *e.reason() == AccessDeniedExceptionReason::DependencyAccessDenied,
                        false,
                    ),
                    $error::ResourceNotFoundException(e) => {
                        (false, not_found_is_snapshot(e.reason()))
                    }
                    _ => (false, false),
                }
            }
        }
    )*};
}

reasons!(ListSnapshotBlocksError, GetSnapshotBlockError);

impl CallFailure {
    /// A failed call of either operation.
    fn new<E>(err: SdkError<E>) -> Self
    where
        E: Reasons + ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (denied_dependency, snapshot_gone) = err
            .as_service_error()
            .map_or((false, false), Reasons::reasons);
        let code = err.code().map(str::to_string);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let message = match (err.message(), &code, status) {
            (Some(m), Some(c), _) => format!("{c}: {m}"),
            (Some(m), None, _) => m.to_string(),
            (None, _, Some(s)) => format!("HTTP {s}: {}", DisplayErrorContext(&err)),
            (None, _, None) => DisplayErrorContext(&err).to_string(),
        };
        CallFailure {
            code,
            status,
            message,
            denied_dependency,
            snapshot_gone,
        }
    }

    fn is_code(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }

    /// The error for this failure of `operation` on `snapshot` (at `block` for reads).
    fn into_error(
        self,
        snapshot: &str,
        region: &str,
        operation: &'static str,
        block: Option<u64>,
        attempts: u32,
    ) -> EbsError {
        let snapshot = snapshot.to_string();
        let denied = self.is_code(&[
            "AccessDeniedException",
            "AccessDenied",
            "UnauthorizedOperation",
        ]) || self.status == Some(403);
        if denied {
            let permission = if self.denied_dependency {
                "kms:Decrypt on the snapshot's KMS key"
            } else if operation == LIST_SNAPSHOT_BLOCKS {
                "ebs:ListSnapshotBlocks"
            } else {
                "ebs:GetSnapshotBlock"
            };
            return EbsError::AccessDenied {
                snapshot,
                operation,
                permission,
                message: self.message,
            };
        }
        if self.snapshot_gone {
            return match block {
                Some(block) => EbsError::SnapshotDeleted {
                    snapshot,
                    block,
                    message: self.message,
                },
                None => EbsError::SnapshotNotFound {
                    snapshot,
                    region: region.to_string(),
                    message: self.message,
                },
            };
        }
        if self.is_code(THROTTLING_CODES) || self.status == Some(429) {
            return EbsError::Throttled {
                snapshot,
                operation,
                attempts,
                message: self.message,
            };
        }
        let message = match self.status {
            Some(s) if s >= 500 => format!("{} (after {attempts} attempts)", self.message),
            _ => self.message,
        };
        EbsError::Request {
            snapshot,
            operation,
            block,
            message,
        }
    }
}

/// A `ResourceNotFoundException` is about the snapshot unless its reason names something
/// else (a KMS grant or key, an image).
fn not_found_is_snapshot(reason: Option<&ResourceNotFoundExceptionReason>) -> bool {
    matches!(
        reason,
        None | Some(ResourceNotFoundExceptionReason::SnapshotNotFound)
    )
}
