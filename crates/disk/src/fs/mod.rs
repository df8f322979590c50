//! Filesystems, read-only: each one turns a volume into a tree of [`FsEntry`] with
//! metadata and readable contents. One filesystem per file, behind [`FileSystem`];
//! [`open_filesystem`] finds which one a volume holds from its superblock.

mod ext;
mod fat;
mod ntfs;
mod walk;
mod xfs;

pub use walk::{WalkControl, WalkLimits, WalkProblem, lookup, walk};

use crate::source::SharedSource;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read};

/// The filesystems Riposte reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    /// ext2, ext3 or ext4.
    Ext,
    /// XFS (v4 and v5).
    Xfs,
    /// NTFS.
    Ntfs,
    /// FAT12, FAT16 or FAT32.
    Fat,
}

impl FsKind {
    /// Lower-case name: `ext`, `xfs`, `ntfs`, `fat`.
    pub fn as_str(self) -> &'static str {
        match self {
            FsKind::Ext => "ext",
            FsKind::Xfs => "xfs",
            FsKind::Ntfs => "ntfs",
            FsKind::Fat => "fat",
        }
    }

    /// True for filesystems whose names compare without case (NTFS, FAT).
    pub fn case_insensitive(self) -> bool {
        matches!(self, FsKind::Ntfs | FsKind::Fat)
    }
}

impl fmt::Display for FsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: device, FIFO, socket, reparse point without data.
    Other,
}

/// The four MACB timestamps, each when the filesystem records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamps {
    /// M: content last modified.
    pub modified: Option<DateTime<Utc>>,
    /// A: last accessed.
    pub accessed: Option<DateTime<Utc>>,
    /// C: metadata last changed (inode change; NTFS MFT entry change).
    pub changed: Option<DateTime<Utc>>,
    /// B: born (created).
    pub born: Option<DateTime<Utc>>,
}

/// One file, directory or link of a filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsEntry {
    /// The entry's name (lossy UTF-8); empty for the root.
    pub name: String,
    /// Absolute path inside the filesystem, `/`-separated; `/` for the root.
    pub path: String,
    /// Inode number (ext, XFS), MFT record number (NTFS), or the entry's position in
    /// its directory (FAT, which has no inodes).
    pub id: u64,
    /// What it is.
    pub kind: FileKind,
    /// Size of the (default) data in bytes.
    pub size: u64,
    /// Unix mode bits including the file type, where the filesystem has them.
    pub mode: Option<u32>,
    /// Owner user id, where the filesystem has one.
    pub uid: Option<u32>,
    /// Owner group id, where the filesystem has one.
    pub gid: Option<u32>,
    /// MACB timestamps.
    pub times: Timestamps,
    /// Names of the alternate data streams (NTFS), empty elsewhere.
    pub streams: Vec<String>,
    /// True for an entry recovered from unallocated metadata (a deleted file).
    pub deleted: bool,
}

impl FsEntry {
    /// The path of a child named `name` of the directory at `parent`.
    pub fn child_path(parent: &str, name: &str) -> String {
        if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        }
    }
}

/// What can go wrong reading a filesystem.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// Reading the underlying image failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The on-disk structures are inconsistent (truncated, out of range, looping, …).
    #[error("corrupt {fs} filesystem: {problem}")]
    Corrupt {
        /// Which filesystem.
        fs: FsKind,
        /// What is wrong, with the structure and offset where known.
        problem: String,
    },
    /// No entry at this path.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path looked up.
        path: String,
    },
    /// The entry is not of the kind the operation needs.
    #[error("{path}: {problem}")]
    WrongKind {
        /// The entry's path.
        path: String,
        /// E.g. "is a directory", "is not a directory".
        problem: String,
    },
    /// A valid feature this reader does not implement.
    #[error("unsupported {fs} feature: {feature}")]
    Unsupported {
        /// Which filesystem.
        fs: FsKind,
        /// The feature.
        feature: String,
    },
}

impl FsError {
    /// A [`FsError::Corrupt`] for `fs`.
    pub fn corrupt(fs: FsKind, problem: impl Into<String>) -> Self {
        FsError::Corrupt {
            fs,
            problem: problem.into(),
        }
    }
}

/// A mounted-in-memory, read-only filesystem.
///
/// Implementations never follow symbolic links and never trust a size or count read from
/// disk without bounding it: corrupt images produce [`FsError`], never a panic, an
/// endless loop or an allocation sized by the image.
pub trait FileSystem {
    /// Which filesystem this is.
    fn kind(&self) -> FsKind;

    /// The root directory.
    fn root(&self) -> Result<FsEntry, FsError>;

    /// The entries of a directory, without `.` and `..`.
    fn read_dir(&self, dir: &FsEntry) -> Result<Vec<FsEntry>, FsError>;

    /// The contents (default data stream) of a regular file, streamed: memory use does
    /// not grow with the file's size.
    fn open(&self, file: &FsEntry) -> Result<Box<dyn Read + '_>, FsError>;

    /// A named data stream (NTFS alternate data stream) of a file.
    fn open_stream(&self, file: &FsEntry, stream: &str) -> Result<Box<dyn Read + '_>, FsError> {
        let _ = stream;
        Err(FsError::WrongKind {
            path: file.path.clone(),
            problem: format!("{} has no named data streams", self.kind()),
        })
    }

    /// Where a symbolic link points (not followed).
    fn read_link(&self, link: &FsEntry) -> Result<String, FsError>;

    /// Entries recovered from unallocated metadata (deleted files), where the filesystem
    /// makes that cheap; empty otherwise.
    fn deleted(&self) -> Result<Vec<FsEntry>, FsError> {
        Ok(Vec::new())
    }
}

/// Which filesystem the volume holds, from its superblock magic; `None` if none known.
pub fn detect(volume: &SharedSource) -> Option<FsKind> {
    let mut head = vec![0u8; 4096];
    let n = volume.read_at(0, &mut head).ok()?;
    head.truncate(n);
    probe(&head)
}

/// Which filesystem starts with these bytes (at least the first 2 KiB of the volume).
pub fn probe(head: &[u8]) -> Option<FsKind> {
    if ext::probe(head) {
        Some(FsKind::Ext)
    } else if xfs::probe(head) {
        Some(FsKind::Xfs)
    } else if ntfs::probe(head) {
        Some(FsKind::Ntfs)
    } else if fat::probe(head) {
        Some(FsKind::Fat)
    } else {
        None
    }
}

/// Opens the filesystem on `volume`, whichever it is.
pub fn open_filesystem(volume: SharedSource) -> Result<Box<dyn FileSystem>, OpenFsError> {
    match detect(&volume) {
        Some(FsKind::Ext) => Ok(Box::new(ext::ExtFs::open(volume)?)),
        Some(FsKind::Xfs) => Ok(Box::new(xfs::XfsFs::open(volume)?)),
        Some(FsKind::Ntfs) => Ok(Box::new(ntfs::NtfsFs::open(volume)?)),
        Some(FsKind::Fat) => Ok(Box::new(fat::FatFs::open(volume)?)),
        None => Err(OpenFsError::Unknown),
    }
}

/// Why a volume could not be opened as a filesystem.
#[derive(Debug, thiserror::Error)]
pub enum OpenFsError {
    /// No known superblock.
    #[error("no ext2/3/4, XFS, NTFS or FAT filesystem found (unknown superblock)")]
    Unknown,
    /// A known filesystem whose structures cannot be read.
    #[error(transparent)]
    Fs(#[from] FsError),
}
