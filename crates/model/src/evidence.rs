//! Collected evidence and its chain of custody.

use crate::{EvidenceId, InvestigationId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an evidence item came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// How it was acquired (e.g. `evidence-library`, `upload`, `ebs-snapshot`).
    pub method: String,
    /// Where it was read from (a library folder, an image file, a snapshot id).
    pub source: String,
    /// The host it belongs to.
    pub host: String,
    /// Its path on the original system.
    pub original_path: String,
    /// Last modification time on the original system, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<DateTime<Utc>>,
    /// Where inside a disk image it was read, when it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageLocation>,
    /// The cloud volume it was read from, when it came from an EBS snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudVolume>,
    /// The SSH session it was read over, when it came from a live host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshOrigin>,
}

/// The SSH session an item was read over: the live-host part of its chain of custody.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SshOrigin {
    /// The address or host name connected to.
    pub address: String,
    /// The port.
    pub port: u16,
    /// The user logged in as.
    pub user: String,
    /// The host key the server proved it holds, `SHA256:…` (as `ssh-keygen -l` prints it).
    pub host_key: String,
    /// True when the item was read as root through `sudo -n`.
    #[serde(default)]
    pub sudo: bool,
    /// The exact command line whose output the item is (live state); none for a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// An EBS snapshot read in place, and the volume and instance it was taken of: the cloud
/// part of a collected item's chain of custody.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CloudVolume {
    /// The AWS account, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The region.
    pub region: String,
    /// The instance the volume was attached to (none for an imported snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The volume snapshotted, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_id: Option<String>,
    /// The snapshot read, `snap-…`.
    pub snapshot_id: String,
    /// The volume's device name on the instance (`/dev/xvda`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// True when Riposte made the snapshot for this investigation (and deletes it after
    /// reading unless told to keep it); false for an imported snapshot.
    #[serde(default)]
    pub created_by_riposte: bool,
}

/// The place of a collected file inside a disk image: enough to find it again with
/// `riposte fs cat` or The Sleuth Kit's `icat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageLocation {
    /// The image file (the first segment of a split image).
    pub image: String,
    /// Its container format (`raw`, `ewf`, `vmdk`, `vhd`, `vhdx`, `qcow2`).
    pub format: String,
    /// The volume: partition number, or 1 for a disk that is one filesystem.
    pub partition: usize,
    /// The filesystem (`ext`, `xfs`, `ntfs`, `fat`).
    pub filesystem: String,
    /// Inode number (ext, XFS) or MFT record number (NTFS); for FAT, the entry's place in
    /// its directory.
    pub inode: u64,
}

/// One collected file, hashed while it was copied into the evidence store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvidenceItem {
    /// Riposte's id for the item.
    pub id: EvidenceId,
    /// The investigation it was collected for.
    pub investigation_id: InvestigationId,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Where it came from.
    pub provenance: Provenance,
    /// The key of its bytes in the evidence store.
    pub storage_key: String,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
}

/// The kind of evidence a collection was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceForm {
    /// A folder laid out like a host's filesystem (or holding loose logs).
    Folder,
    /// A triage package (tar, tar.gz, zip).
    Package,
    /// A disk image.
    Image,
    /// One file.
    File,
    /// A running host reached over SSH: files read over SFTP and its live state.
    Ssh,
}

/// The operating system layout found in a collection, which decides the triage profile.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SystemLayout {
    /// A Windows volume (a drive folder such as `C/`, `Windows/System32` at the root, an
    /// NTFS or FAT filesystem): the Windows triage profile, names compared without case.
    Windows,
    /// A Unix root filesystem (`etc/`, `var/`, … at the root, an ext or XFS filesystem):
    /// the Linux triage profile.
    Linux,
    /// Neither: every file some artifact parser reads, wherever it is.
    LooseLogs,
}

impl SystemLayout {
    /// The name used in the API and reports (`windows`, `linux`, `loose_logs`).
    pub fn as_str(self) -> &'static str {
        match self {
            SystemLayout::Windows => "windows",
            SystemLayout::Linux => "linux",
            SystemLayout::LooseLogs => "loose_logs",
        }
    }
}

/// What an acquisition found and selected, recorded on the investigation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcquisitionSummary {
    /// What the evidence was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<EvidenceForm>,
    /// The layouts detected (a multi-boot disk or a mixed export has several).
    pub layouts: Vec<SystemLayout>,
    /// The selections applied: `linux-triage`, `windows-triage`, `loose-logs`, `full`, …
    pub profiles: Vec<String>,
    /// Items collected.
    pub items: u64,
    /// Items some artifact parser reads.
    pub parsable: u64,
    /// Entries left out (links, special files, limits, unreadable), with reasons in the
    /// audit trail.
    pub skipped: u64,
    /// The EBS snapshots read, when the evidence was a cloud instance's disks or an
    /// imported snapshot (the ids are also in the audit trail from the moment they exist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<CloudVolume>,
}
