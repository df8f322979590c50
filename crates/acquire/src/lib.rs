//! Evidence acquisition: the local evidence library (one folder, triage package or disk
//! image per host), and the one path that turns a piece of evidence into items to
//! collect — [`acquire`] — shared by `riposte investigate` and the worker.
//!
//! [`EvidenceLibrary`] finds the collection an alert's [`Target`](riposte_model::Target)
//! refers to; [`acquire`] reads it, the operating system it holds deciding the
//! [`TriageProfile`] that selects the files worth collecting.
//!
//! Collections are untrusted input: nothing here ever follows a symbolic link, so a link
//! planted in a collection (say `etc -> /etc`) cannot make Riposte read the server's own
//! files or anything outside the host folder.

#![warn(missing_docs)]

mod acquisition;
mod identity;
mod image;
mod library;
mod package;
mod pattern;
mod resolve;
mod safe;
mod triage;

pub use acquisition::{
    AcquireOptions, AcquireVisit, AcquiredItem, AcquisitionReport, FILESYSTEM_TIMELINE,
    LOOSE_MAX_FILES, PackageSummary, SkippedEntry, acquire, acquire_opened_image, acquire_source,
    guess_original_path,
};
pub use image::{
    ImageItem, ImageReport, ImageSelection, ImageVisit, VolumeReport, is_disk_image, read_image,
    read_opened_image, write_body_line,
};
pub use library::{EvidenceLibrary, HostEvidence, LibraryHost, evidence_file};
pub use package::{
    EntryFilter, Layout, PackageEntry, PackageFormat, PackageLimits, PackageReport, RefusedEntry,
    Visit, read_package, read_package_source,
};
pub use resolve::Resolution;
pub use triage::{
    CollectedFile, DEFAULT_MAX_FILE_SIZE, SkipReason, SkippedFile, TriageOptions, TriageProfile,
    TriageSelection, all_files, triage_files,
};

use std::io;
use std::path::PathBuf;

/// What can go wrong while reading an evidence library.
#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    /// A path that must be a directory (the library, a host folder) is not one.
    #[error("{} is not a directory", .path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Reading a file or directory failed.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A path was refused because reading it could leave the evidence (a symbolic link,
    /// a file replaced since it was selected, …).
    #[error("refusing to read {}: {problem}", .path.display())]
    Unsafe {
        /// The path refused.
        path: PathBuf,
        /// Why.
        problem: String,
    },
    /// A triage profile line is not a valid pattern.
    #[error("triage profile {profile}, line {line}: {problem}")]
    InvalidProfile {
        /// The profile's name.
        profile: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
}

impl AcquireError {
    /// An [`AcquireError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        AcquireError::Io {
            path: path.into(),
            source,
        }
    }
}
