//! Read-only access to disk evidence: images ([`image`]), the partitions inside them
//! ([`volume`]) and the filesystems on those ([`fs`]), all streaming and without
//! mounting, root or a kernel driver.
//!
//! Everything here reads untrusted bytes: sizes and counts read from an image are
//! bounded before use, loops in on-disk structures are detected, and a corrupt
//! structure is an error naming it, never a panic.

#![warn(missing_docs)]

pub mod fs;
pub mod image;
pub mod source;
pub mod volume;

pub use fs::{
    FileKind, FileSystem, FsEntry, FsError, FsKind, OpenFsError, Timestamps, WalkControl,
    WalkLimits, WalkProblem, detect, lookup, open_filesystem, walk,
};
pub use image::{Image, ImageError, ImageFormat, format_from_magic, open_image};
pub use source::{
    ByteSource, FileSource, LockedReader, MemorySource, SharedSource, Slice, SourceCursor,
};
pub use volume::{PartitionScheme, Volume, VolumeError, volumes};
