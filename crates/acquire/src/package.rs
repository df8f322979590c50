//! Triage packages: `.tar`, `.tar.gz` and `.zip` collections (UAC, KAPE, Velociraptor
//! offline collector, or a plain root filesystem), recognised by content, not by name.
//!
//! Packages are read entry by entry and streamed to the caller; nothing is ever extracted
//! to disk by its path. Entries are untrusted: a name that is absolute or climbs out with
//! `..`, a symbolic or hard link, a device or FIFO, a file over the size cap, entries past
//! the count or total-size cap, and compression ratios typical of decompression bombs are
//! each refused with a reason, and the rest of the package is still read.

mod layout;

pub use layout::Layout;

use crate::AcquireError;
use chrono::{DateTime, Utc};
use riposte_disk::{FileSource, SharedSource, SourceCursor};
use serde::Serialize;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// A package's container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageFormat {
    /// A POSIX (ustar) tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGz,
    /// A zip archive.
    Zip,
}

impl PackageFormat {
    /// The format of the file at `path`, from its first bytes; `None` when it is not a
    /// package (a log file, an image…).
    pub fn detect(path: &Path) -> Result<Option<PackageFormat>, AcquireError> {
        let file = File::open(path).map_err(|e| AcquireError::io(path, e))?;
        Self::detect_in(file).map_err(|e| AcquireError::io(path, e))
    }

    /// The format of the package `source` holds, from its first bytes; `None` when it is
    /// not a package.
    pub fn detect_source(source: &SharedSource) -> io::Result<Option<PackageFormat>> {
        Self::detect_in(SourceCursor::new(source.clone()))
    }

    fn detect_in(mut file: impl Read) -> io::Result<Option<PackageFormat>> {
        let mut head = [0u8; 512];
        let mut filled = 0;
        while filled < head.len() {
            match file.read(&mut head[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let head = &head[..filled];
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Some(PackageFormat::TarGz)
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(PackageFormat::Zip)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(PackageFormat::Tar)
        } else {
            None
        })
    }
}

/// A package entry's reader that notes when the entry's data itself is unreadable
/// (corrupt or cut short), as opposed to a source that failed in transit.
struct Watched<R> {
    inner: R,
    corrupt: Option<String>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Other && e.kind() != io::ErrorKind::Interrupted {
                self.corrupt = Some(e.to_string());
            }
        })
    }
}

/// Caps applied while reading a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageLimits {
    /// Largest single file (default 1 GiB).
    pub max_file_size: u64,
    /// Most bytes read from the whole package, decompressed (default 64 GiB).
    pub max_total_bytes: u64,
    /// Most entries (default 1,000,000).
    pub max_entries: u64,
    /// Highest decompressed:compressed ratio accepted (default 200:1), for entries (zip)
    /// or the whole stream (tar.gz) past 16 MiB.
    pub max_ratio: u64,
}

impl Default for PackageLimits {
    fn default() -> Self {
        PackageLimits {
            max_file_size: 1 << 30,
            max_total_bytes: 64 << 30,
            max_entries: 1_000_000,
            max_ratio: 200,
        }
    }
}

/// Below this many decompressed bytes, no ratio is suspicious.
const RATIO_FLOOR: u64 = 16 << 20;

/// One file read from a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageEntry {
    /// Its name in the archive.
    pub archive_path: String,
    /// Its path on the original system (`/var/log/auth.log`, `C:/Windows/…`).
    pub original_path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time recorded in the archive.
    pub modified: Option<DateTime<Utc>>,
}

/// An entry that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedEntry {
    /// Its name in the archive (or a note for the rest of the archive).
    pub archive_path: String,
    /// Why it was refused.
    pub reason: String,
}

/// What reading a package found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    /// The container format.
    pub format: PackageFormat,
    /// The collector layout recognised.
    pub layout: Layout,
    /// Files passed to the caller, in archive order.
    pub files: Vec<PackageEntry>,
    /// Entries refused, with the reason.
    pub refused: Vec<RefusedEntry>,
    /// Entries not selected, or the collector's own output (logs, reports).
    pub ignored: u64,
}

/// What the caller does with each selected file: its metadata and a reader of exactly its
/// bytes.
pub type Visit<'a> = dyn FnMut(&PackageEntry, &mut dyn Read) -> io::Result<()> + 'a;

/// Why an entry name is unsafe, if it is.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("NUL byte in the name");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Some("absolute path (drive letter)");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("path traversal (`..`)");
    }
    None
}

/// Decides which files of a package are read. Any `Fn(&str) -> bool` over original
/// paths is one; a filter that needs to see the whole package first (to recognise the
/// operating system it comes from) implements [`EntryFilter::survey`].
pub trait EntryFilter {
    /// Called once before any entry is read, with the original path of every file of the
    /// package (collector output excluded).
    fn survey(&self, original_paths: &[String]) {
        let _ = original_paths;
    }

    /// True when the file whose path on the original system is `original_path` is read.
    fn accepts(&self, original_path: &str) -> bool;
}

impl<F: Fn(&str) -> bool> EntryFilter for F {
    fn accepts(&self, original_path: &str) -> bool {
        self(original_path)
    }
}

/// Shared bookkeeping of one read.
struct Reading<'a> {
    limits: &'a PackageLimits,
    layout: Layout,
    strip: Option<String>,
    select: &'a dyn EntryFilter,
    entries: u64,
    total: u64,
    files: Vec<PackageEntry>,
    refused: Vec<RefusedEntry>,
    ignored: u64,
}

enum Verdict {
    Read(PackageEntry),
    Skip,
    Stop,
}

impl<'a> Reading<'a> {
    /// A read of a package whose entry names are `names` (the layout is recognised from them).
    fn new(limits: &'a PackageLimits, select: &'a dyn EntryFilter, names: &[String]) -> Self {
        let layout = Layout::detect(names.iter().map(String::as_str));
        let strip = match layout {
            Layout::Plain => Layout::common_top(names.iter().map(String::as_str)),
            _ => None,
        };
        let originals: Vec<String> = names
            .iter()
            .filter(|name| !name.ends_with('/') && unsafe_name(name).is_none())
            .filter_map(|name| layout.original_path(name, strip.as_deref()))
            .collect();
        select.survey(&originals);
        Reading {
            limits,
            layout,
            strip,
            select,
            entries: 0,
            total: 0,
            files: Vec::new(),
            refused: Vec::new(),
            ignored: 0,
        }
    }

    /// Hands one accepted file to `visit` and records it. When the entry's own data
    /// cannot be read (a truncated or corrupt stream: not a failure of `visit`, and not a
    /// transient I/O error of the source), the entry is refused as corrupt and `false`
    /// returned, so the caller can stop where the stream broke.
    fn deliver(
        &mut self,
        package: &Path,
        file: PackageEntry,
        reader: &mut dyn Read,
        visit: &mut Visit<'_>,
    ) -> Result<bool, AcquireError> {
        let mut watched = Watched {
            inner: reader.take(file.size),
            corrupt: None,
        };
        match visit(&file, &mut watched) {
            Ok(()) => {
                self.files.push(file);
                Ok(true)
            }
            Err(_) if watched.corrupt.is_some() => {
                let problem = watched.corrupt.unwrap_or_default();
                self.refuse(&file.archive_path, format!("corrupt entry: {problem}"));
                Ok(false)
            }
            Err(e) => Err(AcquireError::io(package.join(&file.archive_path), e)),
        }
    }

    fn refuse(&mut self, archive_path: &str, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!(entry = %archive_path, %reason, "package entry refused");
        self.refused.push(RefusedEntry {
            archive_path: archive_path.to_string(),
            reason,
        });
    }

    /// Decides about a regular file entry of `size` bytes.
    fn consider(&mut self, name: &str, size: u64, modified: Option<DateTime<Utc>>) -> Verdict {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            self.refuse(
                "(rest of the package)",
                format!("more than {} entries", self.limits.max_entries),
            );
            return Verdict::Stop;
        }
        if let Some(why) = unsafe_name(name) {
            self.refuse(name, why);
            return Verdict::Skip;
        }
        let Some(original) = self.layout.original_path(name, self.strip.as_deref()) else {
            self.ignored += 1;
            return Verdict::Skip;
        };
        if !self.select.accepts(&original) {
            self.ignored += 1;
            return Verdict::Skip;
        }
        if size > self.limits.max_file_size {
            self.refuse(
                name,
                format!(
                    "{size} bytes, over the {}-byte limit",
                    self.limits.max_file_size
                ),
            );
            return Verdict::Skip;
        }
        if self.total.saturating_add(size) > self.limits.max_total_bytes {
            self.refuse(
                "(rest of the package)",
                format!("more than {} bytes in total", self.limits.max_total_bytes),
            );
            return Verdict::Stop;
        }
        self.total += size;
        Verdict::Read(PackageEntry {
            archive_path: name.to_string(),
            original_path: original,
            size,
            modified,
        })
    }

    fn report(self, format: PackageFormat) -> PackageReport {
        PackageReport {
            format,
            layout: self.layout,
            files: self.files,
            refused: self.refused,
            ignored: self.ignored,
        }
    }
}

/// Reads the package at `path`: recognises its format and layout, then calls `visit` for
/// each safe file whose original path `select` accepts. Problems with single entries are
/// in [`PackageReport::refused`]; an error means the package could not be read at all
/// (or `visit` failed).
pub fn read_package(
    path: &Path,
    limits: &PackageLimits,
    select: &dyn EntryFilter,
    visit: &mut Visit<'_>,
) -> Result<PackageReport, AcquireError> {
    let file = File::open(path).map_err(|e| AcquireError::io(path, e))?;
    let source: SharedSource =
        Arc::new(FileSource::new(file).map_err(|e| AcquireError::io(path, e))?);
    read_package_source(&source, path, limits, select, visit)
}

/// Like [`read_package`], for a package whose bytes are a [`SharedSource`] (an object in
/// S3 read with range requests), named `path` in reports and errors.
pub fn read_package_source(
    source: &SharedSource,
    path: &Path,
    limits: &PackageLimits,
    select: &dyn EntryFilter,
    visit: &mut Visit<'_>,
) -> Result<PackageReport, AcquireError> {
    let format = PackageFormat::detect_source(source)
        .map_err(|e| AcquireError::io(path, e))?
        .ok_or_else(|| AcquireError::Unsafe {
            path: path.to_path_buf(),
            problem: "not a tar, tar.gz or zip package".into(),
        })?;
    match format {
        PackageFormat::Zip => read_zip(source, path, limits, select, visit),
        PackageFormat::Tar | PackageFormat::TarGz => {
            read_tar(source, path, format, limits, select, visit)
        }
    }
}

fn open_tar(source: &SharedSource, format: PackageFormat) -> tar::Archive<Box<dyn Read + Send>> {
    // Large buffered reads: a remote source answers each read with a request.
    let file = io::BufReader::with_capacity(1 << 20, SourceCursor::new(source.clone()));
    let reader: Box<dyn Read + Send> = match format {
        PackageFormat::TarGz => Box::new(flate2::read::MultiGzDecoder::new(file)),
        _ => Box::new(file),
    };
    tar::Archive::new(reader)
}

fn bad_package(path: &Path, e: impl std::fmt::Display) -> AcquireError {
    AcquireError::Unsafe {
        path: path.to_path_buf(),
        problem: format!("corrupt package: {e}"),
    }
}

fn read_tar(
    source: &SharedSource,
    path: &Path,
    format: PackageFormat,
    limits: &PackageLimits,
    select: &dyn EntryFilter,
    visit: &mut Visit<'_>,
) -> Result<PackageReport, AcquireError> {
    let compressed = source.len().max(1);
    // Pass 1: the names, to recognise the layout (headers only; data is skipped).
    let mut names = Vec::new();
    {
        let mut archive = open_tar(source, format);
        let mut seen: u64 = 0;
        for entry in archive.entries().map_err(|e| bad_package(path, e))? {
            let Ok(entry) = entry else { break };
            seen += entry.header().size().unwrap_or(0);
            if names.len() as u64 > limits.max_entries
                || (seen > RATIO_FLOOR && seen / compressed > limits.max_ratio)
            {
                break;
            }
            if entry.header().entry_type().is_file() {
                names.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
            }
        }
    }
    let mut reading = Reading::new(limits, select, &names);
    // Pass 2: stream the selected files.
    let mut archive = open_tar(source, format);
    let mut decompressed: u64 = 0;
    for entry in archive.entries().map_err(|e| bad_package(path, e))? {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                reading.refuse("(rest of the package)", format!("corrupt tar entry: {e}"));
                break;
            }
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.header().size().unwrap_or(0);
        decompressed = decompressed.saturating_add(size);
        if format == PackageFormat::TarGz
            && decompressed > RATIO_FLOOR
            && decompressed / compressed > limits.max_ratio
        {
            reading.refuse(
                "(rest of the package)",
                format!(
                    "decompressed size over {}× the package's size: a decompression bomb?",
                    limits.max_ratio
                ),
            );
            break;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            reading.refuse(&name, format!("link to {target}, not followed"));
            continue;
        }
        if !kind.is_file() {
            reading.refuse(&name, "special file (device, FIFO), not a regular file");
            continue;
        }
        let modified = entry
            .header()
            .mtime()
            .ok()
            .and_then(|t| DateTime::from_timestamp(i64::try_from(t).ok()?, 0));
        match reading.consider(&name, size, modified) {
            Verdict::Stop => break,
            Verdict::Skip => continue,
            Verdict::Read(file) => {
                if !reading.deliver(path, file, &mut entry, visit)? {
                    reading.refuse(
                        "(rest of the package)",
                        "the stream is corrupt or cut short from here",
                    );
                    break;
                }
            }
        }
    }
    Ok(reading.report(format))
}

/// A zip entry's modification time (zip stores local time without a zone; read as UTC).
fn zip_time(t: Option<zip::DateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    chrono::NaiveDate::from_ymd_opt(
        i32::from(t.year()),
        u32::from(t.month()),
        u32::from(t.day()),
    )?
    .and_hms_opt(
        u32::from(t.hour()),
        u32::from(t.minute()),
        u32::from(t.second()),
    )
    .map(|n| n.and_utc())
}

fn read_zip(
    source: &SharedSource,
    path: &Path,
    limits: &PackageLimits,
    select: &dyn EntryFilter,
    visit: &mut Visit<'_>,
) -> Result<PackageReport, AcquireError> {
    let file = io::BufReader::with_capacity(256 << 10, SourceCursor::new(source.clone()));
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad_package(path, e))?;
    let names: Vec<String> = archive
        .file_names_raw()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let mut reading = Reading::new(limits, select, &names);
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                let name = names.get(index).cloned().unwrap_or_default();
                reading.refuse(&name, format!("unreadable entry: {e}"));
                continue;
            }
        };
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            reading.refuse(&name, "symbolic link, not followed");
            continue;
        }
        if entry.encrypted() {
            reading.refuse(&name, "encrypted entry");
            continue;
        }
        if let Some(mode) = entry.unix_mode()
            && mode & 0o170000 != 0
            && mode & 0o170000 != 0o100000
        {
            reading.refuse(&name, "special file (device, FIFO), not a regular file");
            continue;
        }
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        if size > RATIO_FLOOR && size / packed > limits.max_ratio {
            reading.refuse(
                &name,
                format!(
                    "compression ratio {}:1 over the {}:1 limit: a decompression bomb?",
                    size / packed,
                    limits.max_ratio
                ),
            );
            continue;
        }
        let modified = zip_time(entry.last_modified());
        match reading.consider(&name, size, modified) {
            Verdict::Stop => break,
            Verdict::Skip => continue,
            // Zip entries stand alone: a corrupt one does not stop the others.
            Verdict::Read(file) => {
                reading.deliver(path, file, &mut entry, visit)?;
            }
        }
    }
    Ok(reading.report(PackageFormat::Zip))
}

#[cfg(test)]
mod tests;
