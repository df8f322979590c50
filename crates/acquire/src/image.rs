//! Evidence from disk images: every filesystem on every volume of an image (raw, split,
//! E01, VMDK, VHD, VHDX, qcow2), walked without mounting. A triage walk takes what the
//! profile for the filesystem's OS selects (Linux for ext and XFS, Windows for NTFS and
//! FAT, whose names compare without case) and never enters a directory that cannot hold
//! a selected file; a full walk takes every regular file and writes the filesystem
//! timeline as a Sleuth Kit bodyfile. Contents are streamed to the caller one file at a
//! time, so memory does not grow with the image.

use crate::AcquireError;
use crate::triage::{SkipReason, SkippedFile, TriageOptions, TriageProfile};
use riposte_disk::{
    FileKind, FileSystem, FsEntry, FsKind, Image, ImageFormat, PartitionScheme, WalkControl,
    WalkLimits, open_filesystem, open_image, volumes, walk,
};
use riposte_model::ImageLocation;
use serde::Serialize;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What to take from an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSelection {
    /// The triage profile of each filesystem's OS.
    Triage,
    /// Every regular file, plus the filesystem timeline.
    Full,
}

/// One file handed to the caller.
#[derive(Debug)]
pub struct ImageItem<'a> {
    /// Its path on the original system (the path inside its filesystem).
    pub original_path: &'a str,
    /// Its metadata.
    pub entry: &'a FsEntry,
    /// Where it is in the image.
    pub location: ImageLocation,
}

/// One volume of the image and what was taken from it.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeReport {
    /// Partition number (1 for a bare filesystem).
    pub index: usize,
    /// The partition table it comes from.
    pub scheme: PartitionScheme,
    /// Byte offset on the disk.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Partition type.
    pub description: String,
    /// The filesystem found, if any.
    pub filesystem: Option<FsKind>,
    /// Entries seen by the walk.
    pub entries: u64,
    /// Files handed over.
    pub collected: u64,
    /// Why the volume or parts of it could not be read (corrupt directories, …).
    pub problems: Vec<String>,
}

/// What was read from an image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// The container format found by content.
    pub format: ImageFormat,
    /// The files read (segments in order).
    pub files: Vec<PathBuf>,
    /// The disk's size in bytes.
    pub size: u64,
    /// Every volume.
    pub volumes: Vec<VolumeReport>,
    /// Selected entries that were not collected, with the reason.
    pub skipped: Vec<SkippedFile>,
}

/// Called with each selected file and a stream of its contents. An error skips that file
/// (recorded as unreadable); the walk goes on.
pub type ImageVisit<'v> = dyn FnMut(&ImageItem<'_>, &mut dyn Read) -> io::Result<()> + 'v;

/// True when the file at `path` is a disk image (by content) holding at least one
/// volume with a filesystem Riposte reads.
pub fn is_disk_image(path: &Path) -> bool {
    let Ok(image) = open_image(path) else {
        return false;
    };
    volumes(&image.source).is_ok_and(|v| v.iter().any(|v| v.filesystem.is_some()))
}

/// Reads the image at `path`: opens its container, lists its volumes, and walks each
/// filesystem, handing every selected file to `visit`. For [`ImageSelection::Full`], one
/// bodyfile line per entry (deleted ones included) goes to `bodyfile`.
pub fn read_image(
    path: &Path,
    selection: ImageSelection,
    options: &TriageOptions,
    visit: &mut ImageVisit<'_>,
    bodyfile: Option<&mut dyn Write>,
) -> Result<ImageReport, AcquireError> {
    let image = open_image(path).map_err(|e| AcquireError::Unsafe {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    read_opened_image(&image, selection, options, visit, bodyfile)
}

/// Like [`read_image`], for a disk whose bytes are already a [`SharedSource`] rather than
/// a file: a remote block device such as an EBS snapshot read through the EBS direct APIs.
/// Build the [`Image`] with the source, [`ImageFormat::Raw`] and, in `files`, the name the
/// evidence is recorded under (e.g. `ebs-snapshot:REGION/SNAPSHOT`): items' locations
/// name it as their image. Reads go through the source on the calling thread.
///
/// [`SharedSource`]: riposte_disk::SharedSource
pub fn read_opened_image(
    image: &Image,
    selection: ImageSelection,
    options: &TriageOptions,
    visit: &mut ImageVisit<'_>,
    mut bodyfile: Option<&mut dyn Write>,
) -> Result<ImageReport, AcquireError> {
    let found = volumes(&image.source).map_err(|e| AcquireError::Unsafe {
        path: image.files.first().cloned().unwrap_or_default(),
        problem: e.to_string(),
    })?;
    let mut report = ImageReport {
        format: image.format,
        files: image.files.clone(),
        size: image.source.len(),
        volumes: Vec::new(),
        skipped: Vec::new(),
    };
    for volume in found {
        let mut volume_report = VolumeReport {
            index: volume.index,
            scheme: volume.scheme,
            offset: volume.offset,
            size: volume.size,
            description: volume.description.clone(),
            filesystem: volume.filesystem,
            entries: 0,
            collected: 0,
            problems: Vec::new(),
        };
        if volume.filesystem.is_some() {
            match open_filesystem(volume.source.clone()) {
                Ok(fs) => {
                    let walker = VolumeWalk {
                        image,
                        partition: volume.index,
                        fs: fs.as_ref(),
                        selection,
                        options,
                    };
                    walker.run(
                        &mut volume_report,
                        &mut report.skipped,
                        visit,
                        match bodyfile {
                            Some(ref mut out) => Some(&mut **out as &mut dyn Write),
                            None => None,
                        },
                    )?;
                }
                Err(e) => volume_report.problems.push(e.to_string()),
            }
        }
        report.volumes.push(volume_report);
    }
    Ok(report)
}

/// The walk of one filesystem.
struct VolumeWalk<'a> {
    image: &'a Image,
    partition: usize,
    fs: &'a dyn FileSystem,
    selection: ImageSelection,
    options: &'a TriageOptions,
}

impl VolumeWalk<'_> {
    fn profile(&self) -> &'static TriageProfile {
        if self.fs.kind().case_insensitive() {
            TriageProfile::windows()
        } else {
            TriageProfile::linux()
        }
    }

    fn selects(&self, path: &str) -> bool {
        match self.selection {
            ImageSelection::Full => true,
            ImageSelection::Triage if self.fs.kind().case_insensitive() => {
                self.profile().matches_ignore_case(path)
            }
            ImageSelection::Triage => self.profile().matches(path),
        }
    }

    fn location(&self, entry: &FsEntry) -> ImageLocation {
        ImageLocation {
            image: self
                .image
                .files
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            format: self.image.format.as_str().to_string(),
            partition: self.partition,
            filesystem: self.fs.kind().as_str().to_string(),
            inode: entry.id,
        }
    }

    fn run(
        &self,
        report: &mut VolumeReport,
        skipped: &mut Vec<SkippedFile>,
        visit: &mut ImageVisit<'_>,
        mut bodyfile: Option<&mut dyn Write>,
    ) -> Result<(), AcquireError> {
        let full = self.selection == ImageSelection::Full;
        let ignore_case = self.fs.kind().case_insensitive();
        let mut write_error = None;
        let problems = walk(self.fs, WalkLimits::default(), |entry| {
            report.entries += 1;
            if full
                && let Some(out) = bodyfile.as_deref_mut()
                && let Err(e) = write_body_line(out, entry)
            {
                write_error = Some(e);
                return WalkControl::Stop;
            }
            match entry.kind {
                FileKind::Directory => {
                    if full || self.profile().could_be_below(&entry.path, ignore_case) {
                        WalkControl::Continue
                    } else {
                        WalkControl::SkipDirectory
                    }
                }
                _ if !self.selects(&entry.path) => WalkControl::Continue,
                FileKind::Symlink => {
                    let target = self
                        .fs
                        .read_link(entry)
                        .unwrap_or_else(|e| format!("an unreadable target ({e})"));
                    skipped.push(skip(entry, SkipReason::Symlink { target }));
                    WalkControl::Continue
                }
                FileKind::Other => {
                    let file_type = "special file";
                    skipped.push(skip(entry, SkipReason::NotRegular { file_type }));
                    WalkControl::Continue
                }
                FileKind::File => {
                    if entry.size > self.options.max_file_size {
                        let reason = SkipReason::TooLarge {
                            size: entry.size,
                            limit: self.options.max_file_size,
                        };
                        skipped.push(skip(entry, reason));
                        return WalkControl::Continue;
                    }
                    let item = ImageItem {
                        original_path: &entry.path,
                        entry,
                        location: self.location(entry),
                    };
                    let result = self
                        .fs
                        .open(entry)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|mut reader| visit(&item, &mut reader));
                    match result {
                        Ok(()) => report.collected += 1,
                        Err(e) => skipped.push(skip(
                            entry,
                            SkipReason::Unreadable {
                                error: e.to_string(),
                            },
                        )),
                    }
                    WalkControl::Continue
                }
            }
        })
        .map_err(|e| AcquireError::Unsafe {
            path: PathBuf::from(format!("partition {}", self.partition)),
            problem: e.to_string(),
        });
        match problems {
            Ok(problems) => report.problems.extend(
                problems
                    .into_iter()
                    .map(|p| format!("{}: {}", p.path, p.error)),
            ),
            Err(e) => report.problems.push(e.to_string()),
        }
        if full && let Some(out) = bodyfile {
            match self.fs.deleted() {
                Ok(deleted) => {
                    for entry in &deleted {
                        write_body_line(out, entry).map_err(|e| AcquireError::io("bodyfile", e))?;
                    }
                }
                Err(e) => report.problems.push(format!("deleted entries: {e}")),
            }
        }
        if let Some(e) = write_error {
            return Err(AcquireError::io("bodyfile", e));
        }
        Ok(())
    }
}

fn skip(entry: &FsEntry, reason: SkipReason) -> SkippedFile {
    tracing::debug!(path = %entry.path, %reason, "image: skipped");
    SkippedFile {
        original_path: entry.path.clone(),
        reason,
    }
}

/// One line of a Sleuth Kit 3 bodyfile:
/// `MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime`, times in Unix seconds
/// (0 when unknown). Deleted entries get TSK's ` (deleted)` suffix.
pub fn write_body_line(out: &mut dyn Write, entry: &FsEntry) -> io::Result<()> {
    let seconds = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(0, |t| t.timestamp());
    let name = entry.path.replace('\n', "\\n");
    let deleted = if entry.deleted { " (deleted)" } else { "" };
    writeln!(
        out,
        "0|{name}{deleted}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        entry.id,
        mode_string(entry),
        entry.uid.unwrap_or(0),
        entry.gid.unwrap_or(0),
        entry.size,
        seconds(entry.times.accessed),
        seconds(entry.times.modified),
        seconds(entry.times.changed),
        seconds(entry.times.born),
    )
}

/// TSK's mode column: `r/rrw-r--r--` (name type / meta type and permissions).
fn mode_string(entry: &FsEntry) -> String {
    let kind = match entry.kind {
        FileKind::File => 'r',
        FileKind::Directory => 'd',
        FileKind::Symlink => 'l',
        FileKind::Other => '-',
    };
    let mode = entry.mode.unwrap_or(match entry.kind {
        FileKind::Directory => 0o755,
        _ => 0o644,
    });
    let mut text = format!("{kind}/{kind}");
    for shift in [6u32, 3, 0] {
        let bits = (mode >> shift) & 7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}
