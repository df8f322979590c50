//! FAT12, FAT16 and FAT32, read-only, on top of the [`fatfs`] crate.
//!
//! `fatfs` is path-based: an entry is found again from [`FsEntry::path`] on every call.
//! Its disk is a [`SourceCursor`], whose writes fail, so nothing is ever written to the
//! evidence (`fatfs` writes only when files are created or changed, which this module
//! never asks for; reading does not update access dates with the default options).
//!
//! Entry ids: [`FsEntry::id`] is the entry's first cluster (0 for an empty file), and for
//! the root 0 on FAT12/16 or the root directory's cluster on FAT32. So two names of one
//! directory, or a directory entry pointing back at an ancestor, share an id, and the
//! generic walk enters such a directory once.
//!
//! Robustness: `fatfs` follows cluster chains without detecting cycles, so every
//! directory scan runs under a read budget (a directory holds at most 65,536 entries);
//! file reads stop after the entry's size and never exceed the volume's size; panics of
//! the crate on malformed structures are caught at each call into it and reported as
//! [`FsError::Corrupt`].
//!
//! Limits: deleted entries are not recovered; if a corrupt directory holds two entries
//! with the same name, the first one is the one opened.

#[cfg(test)]
mod tests;

use super::{FileKind, FileSystem, FsEntry, FsError, FsKind, Timestamps};
use crate::source::{SharedSource, SourceCursor};
use chrono::{DateTime, NaiveDate, Utc};
use fatfs::{FatType, FsOptions, ReadWriteSeek};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most entries in one FAT directory (the format's limit).
const MAX_DIR_ENTRIES: usize = 65_536;
/// Bytes one directory scan may read: twice the largest directory (65,536 entries of
/// 32 bytes), which covers its FAT lookups too. A looping cluster chain exhausts it.
const SCAN_BUDGET: u64 = 4 << 20;
/// Budget value meaning "no scan in progress".
const UNLIMITED: u64 = u64::MAX;

/// True if `head` starts with a FAT boot sector: signature `55 AA`, a sane BIOS
/// parameter block and a `FAT` file system type string (FAT12/16 at 54, FAT32 at 82).
pub(super) fn probe(head: &[u8]) -> bool {
    let Some(sector) = head.get(..512) else {
        return false;
    };
    let u16_at = |at: usize| u16::from_le_bytes([sector[at], sector[at + 1]]);
    let bytes_per_sector = u16_at(11);
    let sectors_per_cluster = sector[13];
    let reserved_sectors = u16_at(14);
    let fats = sector[16];
    sector[510..512] == [0x55, 0xAA]
        && bytes_per_sector.is_power_of_two()
        && (512..=4096).contains(&bytes_per_sector)
        && sectors_per_cluster.is_power_of_two()
        && reserved_sectors > 0
        && (1..=2).contains(&fats)
        && (&sector[54..57] == b"FAT" || &sector[82..85] == b"FAT")
}

/// A FAT volume.
pub(super) struct FatFs {
    fs: fatfs::FileSystem<FatIo>,
    /// Bytes the current directory scan may still read ([`UNLIMITED`] outside scans).
    budget: Arc<AtomicU64>,
    root_id: u64,
    volume_len: u64,
}

impl FatFs {
    /// Reads the boot sector of the FAT volume `volume` (which must start at it).
    pub(super) fn open(volume: SharedSource) -> Result<FatFs, FsError> {
        let budget = Arc::new(AtomicU64::new(UNLIMITED));
        let io = FatIo {
            cursor: SourceCursor::new(volume.clone()),
            budget: budget.clone(),
        };
        let fs = guarded("boot sector", || {
            fatfs::FileSystem::new(io, FsOptions::new()).map_err(|e| fat_error("/", e))
        })?;
        let mut root_id = 0;
        if fs.fat_type() == FatType::Fat32 {
            let mut field = [0u8; 4];
            volume.read_exact_at(44, &mut field)?;
            root_id = u64::from(u32::from_le_bytes(field));
        }
        Ok(FatFs {
            fs,
            budget,
            root_id,
            volume_len: volume.len(),
        })
    }

    /// Limits the reads of one directory scan (or path resolution through `depth`
    /// directories) until the returned guard is dropped.
    fn scan_budget(&self, depth: usize) -> ScanGuard<'_> {
        let bytes = SCAN_BUDGET.saturating_mul(depth as u64 + 1);
        self.budget.store(bytes, Ordering::Relaxed);
        ScanGuard(&self.budget)
    }

    /// The directory at `path`.
    fn dir(&self, path: &str) -> Result<fatfs::Dir<'_, FatIo>, FsError> {
        let relative = path.trim_matches('/');
        if relative.is_empty() {
            Ok(self.fs.root_dir())
        } else {
            self.fs
                .root_dir()
                .open_dir(relative)
                .map_err(|e| fat_error(path, e))
        }
    }

    /// The entries of the directory at `path`.
    fn list(&self, path: &str) -> Result<Vec<FsEntry>, FsError> {
        let _budget = self.scan_budget(path.split('/').filter(|p| !p.is_empty()).count());
        let dir = self.dir(path)?;
        let fat_type = self.fs.fat_type();
        let mut entries = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| fat_error(path, e))?;
            let name = entry.file_name();
            if name == "." || name == ".." || name.is_empty() {
                continue;
            }
            if entries.len() >= MAX_DIR_ENTRIES {
                return Err(FsError::corrupt(
                    FsKind::Fat,
                    format!("{path}: more than {MAX_DIR_ENTRIES} directory entries"),
                ));
            }
            let directory = entry.is_dir();
            entries.push(FsEntry {
                path: FsEntry::child_path(path, &name),
                name,
                id: u64::from(first_cluster(&entry, fat_type)),
                kind: if directory {
                    FileKind::Directory
                } else {
                    FileKind::File
                },
                size: if directory { 0 } else { entry.len() },
                mode: None,
                uid: None,
                gid: None,
                times: Timestamps {
                    modified: fat_datetime(entry.modified()),
                    accessed: fat_date(entry.accessed()),
                    changed: None,
                    born: fat_datetime(entry.created()),
                },
                streams: Vec::new(),
                deleted: false,
            });
        }
        Ok(entries)
    }
}

impl FileSystem for FatFs {
    fn kind(&self) -> FsKind {
        FsKind::Fat
    }

    fn root(&self) -> Result<FsEntry, FsError> {
        Ok(FsEntry {
            name: String::new(),
            path: "/".into(),
            id: self.root_id,
            kind: FileKind::Directory,
            size: 0,
            mode: None,
            uid: None,
            gid: None,
            times: Timestamps::default(),
            streams: Vec::new(),
            deleted: false,
        })
    }

    fn read_dir(&self, dir: &FsEntry) -> Result<Vec<FsEntry>, FsError> {
        if dir.kind != FileKind::Directory {
            return Err(FsError::WrongKind {
                path: dir.path.clone(),
                problem: "is not a directory".into(),
            });
        }
        guarded(&dir.path, || self.list(&dir.path))
    }

    fn open(&self, file: &FsEntry) -> Result<Box<dyn Read + '_>, FsError> {
        if file.kind == FileKind::Directory {
            return Err(FsError::WrongKind {
                path: file.path.clone(),
                problem: "is a directory".into(),
            });
        }
        let path = file.path.trim_matches('/');
        let depth = path.split('/').count();
        let handle = guarded(&file.path, || {
            let _budget = self.scan_budget(depth);
            self.fs
                .root_dir()
                .open_file(path)
                .map_err(|e| fat_error(&file.path, e))
        })?;
        Ok(Box::new(GuardedRead(handle.take(self.volume_len))))
    }

    fn read_link(&self, link: &FsEntry) -> Result<String, FsError> {
        Err(FsError::WrongKind {
            path: link.path.clone(),
            problem: "FAT has no symbolic links".into(),
        })
    }
}

/// The disk `fatfs` reads: a [`SourceCursor`] (writes fail) whose reads count against
/// the current directory scan's budget.
struct FatIo {
    cursor: SourceCursor,
    budget: Arc<AtomicU64>,
}

impl Read for FatIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len() as u64;
        let charged = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| match left {
                UNLIMITED => Some(UNLIMITED),
                left => left.checked_sub(want),
            });
        if charged.is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "directory scan read too much: looping cluster chain",
            ));
        }
        self.cursor.read(buf)
    }
}

impl Write for FatIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.cursor.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.cursor.flush()
    }
}

impl Seek for FatIo {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.cursor.seek(pos)
    }
}

/// Lifts the scan budget when dropped.
struct ScanGuard<'a>(&'a AtomicU64);

impl Drop for ScanGuard<'_> {
    fn drop(&mut self) {
        self.0.store(UNLIMITED, Ordering::Relaxed);
    }
}

/// A file reader whose `fatfs` panics (malformed cluster numbers) become I/O errors.
struct GuardedRead<R>(R);

impl<R: Read> Read for GuardedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        catch_unwind(AssertUnwindSafe(|| self.0.read(buf))).unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt fat filesystem: the fatfs crate panicked on a malformed cluster chain",
            ))
        })
    }
}

/// The first cluster of `entry` (0 if none).
///
/// `fatfs` 0.3.6 keeps the cluster fields crate-private but prints them in the entry's
/// derived `Debug` output (`first_cluster_hi: N`, `first_cluster_lo: N`), which is read
/// here; the version is pinned, and a test checks the value against `mshowfat`.
fn first_cluster<T: ReadWriteSeek>(entry: &fatfs::DirEntry<'_, T>, fat_type: FatType) -> u32 {
    let debug = format!("{entry:?}");
    let field = |name: &str| -> u32 {
        debug
            .split_once(name)
            .and_then(|(_, rest)| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .unwrap_or(0)
    };
    let high = if fat_type == FatType::Fat32 {
        field("first_cluster_hi: ")
    } else {
        0
    };
    (high << 16) | field("first_cluster_lo: ")
}

/// A FAT date and time as UTC. FAT stores local time without a zone; it is taken as UTC
/// here (the offset of the machine that wrote it is unknown). `None` if invalid (zero).
fn fat_datetime(value: fatfs::DateTime) -> Option<DateTime<Utc>> {
    let (d, t) = (value.date, value.time);
    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))?
        .and_hms_milli_opt(
            u32::from(t.hour),
            u32::from(t.min),
            u32::from(t.sec),
            u32::from(t.millis),
        )
        .map(|n| n.and_utc())
}

/// A FAT date (midnight, taken as UTC like [`fat_datetime`]); `None` if invalid (zero).
fn fat_date(date: fatfs::Date) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )?
    .and_hms_opt(0, 0, 0)
    .map(|n| n.and_utc())
}

/// An error of `fatfs` about `path`: corruption unless the image itself failed to read.
fn fat_error(path: &str, error: io::Error) -> FsError {
    match error.kind() {
        io::ErrorKind::NotFound => FsError::NotFound { path: path.into() },
        io::ErrorKind::Other
        | io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::UnexpectedEof => FsError::corrupt(FsKind::Fat, format!("{path}: {error}")),
        _ => FsError::Io(error),
    }
}

/// Runs `f`, which calls into `fatfs`, turning a panic of the crate on malformed data into
/// [`FsError::Corrupt`].
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, FsError>) -> Result<T, FsError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(FsError::corrupt(
            FsKind::Fat,
            format!("{what}: the fatfs crate panicked on malformed structures"),
        ))
    })
}
