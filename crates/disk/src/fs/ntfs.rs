//! NTFS, read-only, on top of the [`ntfs`] crate.
//!
//! The crate parses the boot sector, MFT records and attributes (including attribute
//! lists, so files fragmented over several MFT records are read whole). Everything the
//! crate produces is turned into owned data at once, so nothing returned here borrows it:
//!
//! * an attribute value becomes a [`Stream`]: the bytes of a resident value, or the list
//!   of data runs of a non-resident one, read later through
//!   [`ByteSource::read_at`](crate::source::ByteSource::read_at) with
//!   sparse runs as zeros. Memory grows with the number of fragments, never with the size
//!   of the file;
//! * directory indexes (`$I30`) are parsed here, not by the crate: the `$INDEX_ROOT`
//!   node and every in-use record of `$INDEX_ALLOCATION` (per the `$I30` bitmap) are read
//!   once, in order, instead of following B-tree child pointers, so a corrupt index
//!   cannot make the traversal loop.
//!
//! Every call into the crate goes through [`guarded`], which turns a panic of the crate on
//! malformed structures into [`FsError::Corrupt`].
//!
//! Limits: compressed and encrypted (EFS) data streams are refused with
//! [`FsError::Unsupported`]; an `$MFT` that itself needs an attribute list (extremely
//! fragmented MFT) is not readable by the crate; the initialized size of a stream is not
//! honoured (bytes past it are read from disk rather than as zeros).

#[cfg(test)]
mod tests;

use super::{FileKind, FileSystem, FsEntry, FsError, FsKind, Timestamps};
use crate::source::{SharedSource, SourceCursor};
use chrono::{DateTime, Utc};
use ntfs::attribute_value::NtfsAttributeValue;
use ntfs::structured_values::{NtfsAttributeList, NtfsFileAttributeFlags};
use ntfs::{Ntfs, NtfsAttributeFlags, NtfsAttributeType, NtfsError, NtfsFile, NtfsTime};
use std::collections::HashSet;
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// MFT record number of the root directory.
const ROOT_RECORD: u64 = 5;
/// Most attributes (including attribute-list entries) looked at per file.
const MAX_ATTRIBUTES: usize = 65_536;
/// Most data runs accepted for one stream.
const MAX_RUNS: usize = 1 << 20;
/// Most index entries read for one directory.
const MAX_DIR_ENTRIES: usize = 1 << 22;
/// Largest `$I30` bitmap read (enough for 2^27 index records).
const MAX_BITMAP_BYTES: u64 = 1 << 24;
/// `IO_REPARSE_TAG_MOUNT_POINT` (junction).
const TAG_MOUNT_POINT: u32 = 0xA000_0003;
/// `IO_REPARSE_TAG_SYMLINK`.
const TAG_SYMLINK: u32 = 0xA000_000C;
/// `IO_REPARSE_TAG_LX_SYMLINK` (symbolic link created by WSL).
const TAG_LX_SYMLINK: u32 = 0xA000_001D;
/// Name of the directory index.
const I30: &str = "$I30";

/// True if `head` starts with an NTFS boot sector (OEM id `NTFS    ` at offset 3).
pub(super) fn probe(head: &[u8]) -> bool {
    head.get(3..11) == Some(b"NTFS    ".as_slice())
}

/// An NTFS volume.
pub(super) struct NtfsFs {
    volume: SharedSource,
    ntfs: Ntfs,
}

impl NtfsFs {
    /// Reads the boot sector of the NTFS volume `volume` (which must start at the boot
    /// sector) and checks that the root directory's MFT record can be read.
    pub(super) fn open(volume: SharedSource) -> Result<NtfsFs, FsError> {
        if volume.len() < 512 {
            // The crate panics (`unreachable!`) on a boot sector cut short.
            return Err(corrupt(format!(
                "volume of {} bytes is shorter than a boot sector",
                volume.len()
            )));
        }
        let mut cursor = SourceCursor::new(volume.clone());
        let ntfs = guarded("boot sector", || {
            Ntfs::new(&mut cursor).map_err(crate_error)
        })?;
        let fs = NtfsFs { volume, ntfs };
        fs.root()?;
        Ok(fs)
    }

    /// A fresh `Read + Seek` view of the volume for one call into the crate.
    fn cursor(&self) -> SourceCursor {
        SourceCursor::new(self.volume.clone())
    }

    /// Everything the listing needs about MFT record `record`.
    fn describe(&self, record: u64) -> Result<RecordInfo, FsError> {
        guarded("MFT record", || {
            let mut fs = self.cursor();
            let file = self.ntfs.file(&mut fs, record).map_err(crate_error)?;
            let info = file.info().map_err(crate_error)?;
            let mut described = RecordInfo {
                in_use: file.flags().contains(ntfs::NtfsFileFlags::IN_USE),
                directory: file.is_directory(),
                times: Timestamps {
                    modified: nt_time(info.modification_time()),
                    accessed: nt_time(info.access_time()),
                    changed: nt_time(info.mft_record_modification_time()),
                    born: nt_time(info.creation_time()),
                },
                size: 0,
                streams: Vec::new(),
                reparse_tag: None,
            };
            let reparse = info
                .file_attributes()
                .contains(NtfsFileAttributeFlags::REPARSE_POINT);
            let mut seen_data = false;
            let mut attributes = file.attributes();
            let mut count = 0usize;
            while let Some(item) = attributes.next(&mut fs) {
                count += 1;
                if count > MAX_ATTRIBUTES {
                    return Err(corrupt(format!("record {record}: too many attributes")));
                }
                let item = item.map_err(crate_error)?;
                let attribute = item.to_attribute().map_err(crate_error)?;
                match attribute.ty() {
                    Ok(NtfsAttributeType::Data) => {
                        let name = attribute.name().map_err(crate_error)?.to_string_lossy();
                        if name.is_empty() {
                            if !seen_data {
                                described.size = attribute.value_length();
                                seen_data = true;
                            }
                        } else if !described.streams.contains(&name) {
                            described.streams.push(name);
                        }
                    }
                    Ok(NtfsAttributeType::ReparsePoint) if reparse && attribute.is_resident() => {
                        let value = attribute.value(&mut fs).map_err(crate_error)?;
                        if let NtfsAttributeValue::Resident(value) = value {
                            described.reparse_tag = value
                                .data()
                                .get(..4)
                                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        }
                    }
                    // Unknown attribute types are not an error for a listing.
                    _ => {}
                }
            }
            Ok(described)
        })
    }

    /// The value of the attribute of type `ty` named `name` (compared without ASCII case)
    /// of MFT record `record`, resolved to owned data; `None` if there is none.
    fn resolve(
        &self,
        record: u64,
        ty: NtfsAttributeType,
        name: &str,
    ) -> Result<Option<Stream>, FsError> {
        guarded("attribute", || {
            let mut fs = self.cursor();
            let file = self.ntfs.file(&mut fs, record).map_err(crate_error)?;
            let mut attributes = file.attributes();
            let mut count = 0usize;
            while let Some(item) = attributes.next(&mut fs) {
                count += 1;
                if count > MAX_ATTRIBUTES {
                    return Err(corrupt(format!("record {record}: too many attributes")));
                }
                let item = item.map_err(crate_error)?;
                let attribute = item.to_attribute().map_err(crate_error)?;
                if attribute.ty().ok() != Some(ty) {
                    continue;
                }
                let attribute_name = attribute.name().map_err(crate_error)?.to_string_lossy();
                if !attribute_name.eq_ignore_ascii_case(name) {
                    continue;
                }
                let flags = attribute.flags();
                if !attribute.is_resident() {
                    if flags.contains(NtfsAttributeFlags::COMPRESSED) {
                        return Err(unsupported("compressed data streams"));
                    }
                    if flags.contains(NtfsAttributeFlags::ENCRYPTED) {
                        return Err(unsupported("encrypted (EFS) data streams"));
                    }
                }
                let size = attribute.value_length();
                let stream = match attribute.value(&mut fs).map_err(crate_error)? {
                    NtfsAttributeValue::Resident(value) => Stream::Resident(value.data().to_vec()),
                    NtfsAttributeValue::NonResident(value) => Stream::Runs {
                        runs: collect_runs(value.data_runs(), Vec::new())?,
                        size,
                    },
                    NtfsAttributeValue::AttributeListNonResident(_) => Stream::Runs {
                        runs: self.listed_runs(&mut fs, &file, ty, name)?,
                        size,
                    },
                };
                return Ok(Some(stream));
            }
            Ok(None)
        })
    }

    /// The data runs of a non-resident attribute split over several MFT records, in
    /// the order of the pieces' first VCN, from the file's `$ATTRIBUTE_LIST`.
    fn listed_runs(
        &self,
        fs: &mut SourceCursor,
        file: &NtfsFile<'_>,
        ty: NtfsAttributeType,
        name: &str,
    ) -> Result<Vec<Run>, FsError> {
        let list_attribute = file
            .attributes_raw()
            .take(MAX_ATTRIBUTES)
            .filter_map(|a| a.ok())
            .find(|a| a.ty().ok() == Some(NtfsAttributeType::AttributeList))
            .ok_or_else(|| corrupt("attribute list expected but missing"))?;
        let list = list_attribute
            .structured_value::<_, NtfsAttributeList>(fs)
            .map_err(crate_error)?;
        let mut entries = list.entries();
        let mut pieces: Vec<(i64, Vec<Run>)> = Vec::new();
        let mut total_runs = 0usize;
        let mut count = 0usize;
        while let Some(entry) = entries.next(fs) {
            count += 1;
            if count > MAX_ATTRIBUTES {
                return Err(corrupt("attribute list too long"));
            }
            let entry = entry.map_err(crate_error)?;
            if entry.ty().ok() != Some(ty)
                || !entry.name().to_string_lossy().eq_ignore_ascii_case(name)
            {
                continue;
            }
            let piece_file = entry.to_file(&self.ntfs, fs).map_err(crate_error)?;
            let piece = entry.to_attribute(&piece_file).map_err(crate_error)?;
            let runs = match piece.value(fs).map_err(crate_error)? {
                NtfsAttributeValue::NonResident(value) => {
                    collect_runs(value.data_runs(), Vec::new())?
                }
                _ => return Err(corrupt("resident piece of a non-resident attribute")),
            };
            total_runs += runs.len();
            if total_runs > MAX_RUNS {
                return Err(corrupt(format!("more than {MAX_RUNS} data runs")));
            }
            pieces.push((entry.lowest_vcn().value(), runs));
        }
        pieces.sort_by_key(|(vcn, _)| *vcn);
        Ok(pieces.into_iter().flat_map(|(_, runs)| runs).collect())
    }

    /// An entry for MFT record `record`, named `name` in directory `parent`; `key` is the
    /// `$FILE_NAME` copy from the index, used when the record itself cannot be read.
    fn entry(&self, record: u64, name: String, parent: &str, key: &IndexKey) -> FsEntry {
        let path = FsEntry::child_path(parent, &name);
        match self.describe(record) {
            Ok(info) => info.into_entry(record, name, path),
            Err(error) => {
                tracing::warn!(%path, record, %error, "NTFS record unreadable; listing it from its index entry");
                FsEntry {
                    name,
                    path,
                    id: record,
                    kind: if key.directory {
                        FileKind::Directory
                    } else {
                        FileKind::File
                    },
                    size: if key.directory { 0 } else { key.size },
                    mode: None,
                    uid: None,
                    gid: None,
                    times: key.times,
                    streams: Vec::new(),
                    deleted: false,
                }
            }
        }
    }

    /// The names in directory record `dir` (DOS 8.3 duplicates and `.` left out).
    fn index_names(&self, dir: &FsEntry) -> Result<Vec<IndexName>, FsError> {
        let is_directory = guarded("directory", || {
            let mut fs = self.cursor();
            let file = self.ntfs.file(&mut fs, dir.id).map_err(crate_error)?;
            Ok(file.is_directory())
        })?;
        if !is_directory {
            return Err(FsError::WrongKind {
                path: dir.path.clone(),
                problem: "is not a directory".into(),
            });
        }
        let root = match self.resolve(dir.id, NtfsAttributeType::IndexRoot, I30)? {
            Some(Stream::Resident(bytes)) => bytes,
            Some(Stream::Runs { .. }) => return Err(corrupt("non-resident $INDEX_ROOT")),
            None => {
                return Err(corrupt(format!(
                    "directory record {} has no $I30 index",
                    dir.id
                )));
            }
        };
        let mut names = Vec::new();
        if root.len() < 32 {
            return Err(corrupt("$INDEX_ROOT too short"));
        }
        let record_size = u32_at(&root, 8).unwrap_or(0);
        parse_node(&root, 16, &mut names)?;

        let Some(allocation) = self.resolve(dir.id, NtfsAttributeType::IndexAllocation, I30)?
        else {
            return Ok(names);
        };
        if !(512..=65_536).contains(&record_size) || !record_size.is_power_of_two() {
            return Err(corrupt(format!("index record size {record_size}")));
        }
        let bitmap = match self.resolve(dir.id, NtfsAttributeType::Bitmap, I30)? {
            Some(stream) => Some(stream.read_all(&self.volume, MAX_BITMAP_BYTES)?),
            None => None,
        };
        let record_size = u64::from(record_size);
        let records = allocation.size() / record_size;
        let mut buf = vec![0u8; record_size as usize];
        for index in 0..records {
            if let Some(bitmap) = &bitmap {
                let in_use = usize::try_from(index / 8)
                    .ok()
                    .and_then(|byte| bitmap.get(byte))
                    .is_some_and(|byte| byte & (1 << (index % 8)) != 0);
                if !in_use {
                    continue;
                }
            }
            allocation.read_exact_at(&self.volume, index * record_size, &mut buf)?;
            if let Err(problem) = fixup(&mut buf, b"INDX") {
                tracing::warn!(path = %dir.path, index, %problem, "skipping corrupt NTFS index record");
                continue;
            }
            if let Err(error) = parse_node(&buf, 24, &mut names) {
                tracing::warn!(path = %dir.path, index, %error, "skipping corrupt NTFS index record");
            }
            if names.len() > MAX_DIR_ENTRIES {
                return Err(corrupt(format!(
                    "more than {MAX_DIR_ENTRIES} index entries"
                )));
            }
        }
        Ok(names)
    }

    /// A reader for `stream` of `file`'s data stream (`""`: the unnamed one).
    fn open_data(&self, file: &FsEntry, stream: &str) -> Result<Box<dyn Read + '_>, FsError> {
        if file.kind == FileKind::Directory {
            return Err(FsError::WrongKind {
                path: file.path.clone(),
                problem: "is a directory".into(),
            });
        }
        match self.resolve(file.id, NtfsAttributeType::Data, stream)? {
            Some(stream) => Ok(stream.into_reader(self.volume.clone())),
            None if stream.is_empty() => Ok(Box::new(io::empty())),
            None => Err(FsError::NotFound {
                path: format!("{}:{stream}", file.path),
            }),
        }
    }
}

impl FileSystem for NtfsFs {
    fn kind(&self) -> FsKind {
        FsKind::Ntfs
    }

    fn root(&self) -> Result<FsEntry, FsError> {
        let info = self.describe(ROOT_RECORD)?;
        let mut root = info.into_entry(ROOT_RECORD, String::new(), "/".into());
        root.kind = FileKind::Directory;
        Ok(root)
    }

    fn read_dir(&self, dir: &FsEntry) -> Result<Vec<FsEntry>, FsError> {
        let names = self.index_names(dir)?;
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for name in names {
            if name.record == dir.id || name.name == "." || name.name.is_empty() {
                continue;
            }
            if !seen.insert((name.record, name.name.clone())) {
                continue;
            }
            entries.push(self.entry(name.record, name.name, &dir.path, &name.key));
        }
        entries.sort_by(|a, b| {
            a.name
                .to_uppercase()
                .cmp(&b.name.to_uppercase())
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(entries)
    }

    fn open(&self, file: &FsEntry) -> Result<Box<dyn Read + '_>, FsError> {
        self.open_data(file, "")
    }

    fn open_stream(&self, file: &FsEntry, stream: &str) -> Result<Box<dyn Read + '_>, FsError> {
        if stream.is_empty() {
            return Err(FsError::NotFound {
                path: format!("{}:", file.path),
            });
        }
        self.open_data(file, stream)
    }

    fn read_link(&self, link: &FsEntry) -> Result<String, FsError> {
        if link.kind != FileKind::Symlink {
            return Err(FsError::WrongKind {
                path: link.path.clone(),
                problem: "is not a symbolic link".into(),
            });
        }
        let data = match self.resolve(link.id, NtfsAttributeType::ReparsePoint, "")? {
            Some(stream) => stream.read_all(&self.volume, 65_536)?,
            None => {
                return Err(corrupt(format!(
                    "{}: reparse point without data",
                    link.path
                )));
            }
        };
        reparse_target(&data).ok_or_else(|| FsError::Unsupported {
            fs: FsKind::Ntfs,
            feature: format!("{}: reparse data of this kind", link.path),
        })
    }
}

/// What a listing needs from one MFT record, owned.
struct RecordInfo {
    in_use: bool,
    directory: bool,
    times: Timestamps,
    size: u64,
    streams: Vec<String>,
    reparse_tag: Option<u32>,
}

impl RecordInfo {
    /// The entry for this record at `path`.
    fn into_entry(self, record: u64, name: String, path: String) -> FsEntry {
        let kind = match self.reparse_tag {
            Some(TAG_SYMLINK | TAG_MOUNT_POINT | TAG_LX_SYMLINK) => FileKind::Symlink,
            _ if self.directory => FileKind::Directory,
            _ => FileKind::File,
        };
        FsEntry {
            name,
            path,
            id: record,
            kind,
            size: if self.directory { 0 } else { self.size },
            mode: None,
            uid: None,
            gid: None,
            times: self.times,
            streams: self.streams,
            deleted: !self.in_use,
        }
    }
}

/// One data run of a non-resident stream.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Byte offset on the volume; `None` for a sparse run (reads as zeros).
    position: Option<u64>,
    /// Length in bytes.
    len: u64,
}

/// An attribute value resolved to owned data.
#[derive(Debug)]
enum Stream {
    /// A resident value: its bytes.
    Resident(Vec<u8>),
    /// A non-resident value: where its bytes are, and how many of them are data.
    Runs { runs: Vec<Run>, size: u64 },
}

impl Stream {
    /// The value's length in bytes.
    fn size(&self) -> u64 {
        match self {
            Stream::Resident(bytes) => bytes.len() as u64,
            Stream::Runs { size, .. } => *size,
        }
    }

    /// Fills `buf` from `offset` of the value, or fails if the value or the image ends.
    fn read_exact_at(
        &self,
        volume: &SharedSource,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), FsError> {
        let mut reader = self.reader(volume.clone());
        reader.pos = offset;
        reader.read_exact(buf).map_err(FsError::Io)
    }

    /// The whole value, refused if longer than `limit`.
    fn read_all(&self, volume: &SharedSource, limit: u64) -> Result<Vec<u8>, FsError> {
        if self.size() > limit {
            return Err(corrupt(format!("attribute value of {} bytes", self.size())));
        }
        let mut out = Vec::new();
        self.reader(volume.clone()).read_to_end(&mut out)?;
        Ok(out)
    }

    fn reader(&self, volume: SharedSource) -> RunReader {
        match self {
            Stream::Resident(bytes) => RunReader::resident(bytes.clone()),
            Stream::Runs { runs, size } => RunReader::runs(volume, runs.clone(), *size),
        }
    }

    /// A streaming reader over the value.
    fn into_reader(self, volume: SharedSource) -> Box<dyn Read> {
        match self {
            Stream::Resident(bytes) => Box::new(io::Cursor::new(bytes)),
            Stream::Runs { runs, size } => Box::new(RunReader::runs(volume, runs, size)),
        }
    }
}

/// Reads a stream's bytes run by run through
/// [`ByteSource::read_at`](crate::source::ByteSource::read_at).
struct RunReader {
    volume: Option<SharedSource>,
    resident: Vec<u8>,
    runs: Vec<Run>,
    size: u64,
    pos: u64,
    /// Index of the run holding `pos`, or past it (a hint; never past `pos`).
    run: usize,
    /// Stream offset where `runs[run]` starts.
    run_start: u64,
}

impl RunReader {
    fn resident(bytes: Vec<u8>) -> Self {
        RunReader {
            volume: None,
            size: bytes.len() as u64,
            resident: bytes,
            runs: Vec::new(),
            pos: 0,
            run: 0,
            run_start: 0,
        }
    }

    fn runs(volume: SharedSource, runs: Vec<Run>, size: u64) -> Self {
        RunReader {
            volume: Some(volume),
            resident: Vec::new(),
            runs,
            size,
            pos: 0,
            run: 0,
            run_start: 0,
        }
    }
}

impl Read for RunReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let Some(volume) = &self.volume else {
            let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
            let rest = self.resident.get(start..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n as u64;
            return Ok(n);
        };
        if self.pos < self.run_start {
            self.run = 0;
            self.run_start = 0;
        }
        while let Some(run) = self.runs.get(self.run) {
            if self.pos < self.run_start.saturating_add(run.len) {
                break;
            }
            self.run_start = self.run_start.saturating_add(run.len);
            self.run += 1;
        }
        let Some(run) = self.runs.get(self.run) else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "NTFS data runs end at byte {} of a {}-byte stream",
                    self.run_start, self.size
                ),
            ));
        };
        let in_run = self.pos - self.run_start;
        let want = (run.len - in_run).min(self.size - self.pos);
        let n = usize::try_from(want).unwrap_or(usize::MAX).min(buf.len());
        let got = match run.position {
            None => {
                buf[..n].fill(0);
                n
            }
            Some(position) => {
                let offset = position.checked_add(in_run).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "NTFS data run past 2^64")
                })?;
                let got = volume.read_at(offset, &mut buf[..n])?;
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("NTFS data run at byte {offset} lies past the end of the volume"),
                    ));
                }
                got
            }
        };
        self.pos += got as u64;
        Ok(got)
    }
}

/// The runs of one non-resident attribute piece, appended to `runs`.
fn collect_runs(
    data_runs: ntfs::attribute_value::NtfsDataRuns<'_, '_>,
    mut runs: Vec<Run>,
) -> Result<Vec<Run>, FsError> {
    for run in data_runs {
        let run = run.map_err(crate_error)?;
        if runs.len() >= MAX_RUNS {
            return Err(corrupt(format!("more than {MAX_RUNS} data runs")));
        }
        runs.push(Run {
            position: run.data_position().value().map(|p| p.get()),
            len: run.allocated_size(),
        });
    }
    Ok(runs)
}

/// A name found in a directory index.
struct IndexName {
    record: u64,
    name: String,
    key: IndexKey,
}

/// The parts of an index entry's `$FILE_NAME` copy used as a fallback.
struct IndexKey {
    directory: bool,
    size: u64,
    times: Timestamps,
}

/// Parses the entries of the index node whose header starts at `header` in `buf`
/// (`$INDEX_ROOT` value or fixed-up `INDX` record), appending the non-DOS names.
fn parse_node(buf: &[u8], header: usize, names: &mut Vec<IndexName>) -> Result<(), FsError> {
    let entries_offset = u32_at(buf, header).ok_or_else(|| corrupt("index node header"))? as usize;
    let index_size = u32_at(buf, header + 4).ok_or_else(|| corrupt("index node header"))? as usize;
    let end = header.saturating_add(index_size).min(buf.len());
    let mut offset = header.saturating_add(entries_offset);
    while offset.saturating_add(16) <= end {
        let length = usize::from(u16_at(buf, offset + 8).unwrap_or(0));
        let key_length = usize::from(u16_at(buf, offset + 10).unwrap_or(0));
        let flags = u32_at(buf, offset + 12).unwrap_or(0);
        if flags & 2 != 0 {
            break; // last entry: no key
        }
        if length < 16 || offset + length > end || 16 + key_length > length {
            return Err(corrupt(format!(
                "index entry of {length} bytes at node offset {offset}"
            )));
        }
        let reference = u64_at(buf, offset).unwrap_or(0);
        if let Some(name) = parse_file_name(&buf[offset + 16..offset + 16 + key_length], reference)
        {
            names.push(name);
        }
        offset += length;
    }
    Ok(())
}

/// A `$FILE_NAME` index key; `None` for DOS-only names and malformed keys.
fn parse_file_name(key: &[u8], reference: u64) -> Option<IndexName> {
    let name_length = usize::from(*key.get(64)?);
    let namespace = *key.get(65)?;
    if namespace == 2 {
        return None; // DOS 8.3 name; the long name has its own entry
    }
    let raw = key.get(66..66 + 2 * name_length)?;
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let time = |at: usize| u64_at(key, at).map(NtfsTime::from).and_then(nt_time);
    Some(IndexName {
        record: reference & 0x0000_FFFF_FFFF_FFFF,
        name: String::from_utf16_lossy(&units),
        key: IndexKey {
            directory: u32_at(key, 56).is_some_and(|f| f & 0x1000_0000 != 0),
            size: u64_at(key, 48).unwrap_or(0),
            times: Timestamps {
                born: time(8),
                modified: time(16),
                changed: time(24),
                accessed: time(32),
            },
        },
    })
}

/// Applies the update sequence array of a multi-sector record (`INDX`) in place.
fn fixup(buf: &mut [u8], signature: &[u8; 4]) -> Result<(), String> {
    if buf.get(..4) != Some(signature.as_slice()) {
        return Err("bad signature".into());
    }
    let usa_offset = usize::from(u16_at(buf, 4).unwrap_or(0));
    let usa_count = usize::from(u16_at(buf, 6).unwrap_or(0));
    if usa_count == 0 || usa_offset + 2 * usa_count > buf.len() || (usa_count - 1) * 512 > buf.len()
    {
        return Err(format!("update sequence array {usa_offset}+{usa_count}"));
    }
    let usn = [buf[usa_offset], buf[usa_offset + 1]];
    for i in 1..usa_count {
        let at = i * 512 - 2;
        if buf[at..at + 2] != usn {
            return Err(format!("update sequence mismatch in sector {i}"));
        }
        let fix = usa_offset + 2 * i;
        let (a, b) = (buf[fix], buf[fix + 1]);
        buf[at] = a;
        buf[at + 1] = b;
    }
    Ok(())
}

/// The target of a symbolic link, junction or WSL symlink reparse point.
fn reparse_target(data: &[u8]) -> Option<String> {
    let tag = u32_at(data, 0)?;
    let data_length = usize::from(u16_at(data, 4)?);
    let body = data.get(8..8usize.checked_add(data_length)?.min(data.len()))?;
    let utf16 = |bytes: &[u8]| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    match tag {
        TAG_SYMLINK | TAG_MOUNT_POINT => {
            let buffer = if tag == TAG_SYMLINK { 12 } else { 8 };
            let field = |at: usize| u16_at(body, at).map(usize::from);
            let (sub_off, sub_len, print_off, print_len) =
                (field(0)?, field(2)?, field(4)?, field(6)?);
            let path = body.get(buffer..)?;
            let print = path
                .get(print_off..print_off.checked_add(print_len)?)
                .map(utf16);
            let substitute = path.get(sub_off..sub_off.checked_add(sub_len)?).map(utf16);
            match (print, substitute) {
                (Some(p), _) if !p.is_empty() => Some(p),
                (_, Some(s)) => Some(s.strip_prefix(r"\??\").map(str::to_string).unwrap_or(s)),
                _ => None,
            }
        }
        TAG_LX_SYMLINK => body
            .get(4..)
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

/// NTFS time (100 ns ticks since 1601-01-01 UTC) as a UTC date; `None` for 0 or out of range.
fn nt_time(time: NtfsTime) -> Option<DateTime<Utc>> {
    const TICKS: u64 = 10_000_000;
    const UNIX_EPOCH_SECONDS: i64 = 11_644_473_600;
    let ticks = time.nt_timestamp();
    if ticks == 0 {
        return None;
    }
    let seconds = i64::try_from(ticks / TICKS).ok()? - UNIX_EPOCH_SECONDS;
    let nanos = u32::try_from(ticks % TICKS).ok()? * 100;
    DateTime::from_timestamp(seconds, nanos)
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        buf.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        buf.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// A [`FsError::Corrupt`] for NTFS.
fn corrupt(problem: impl Into<String>) -> FsError {
    FsError::corrupt(FsKind::Ntfs, problem)
}

/// A [`FsError::Unsupported`] for NTFS.
fn unsupported(feature: &str) -> FsError {
    FsError::Unsupported {
        fs: FsKind::Ntfs,
        feature: feature.into(),
    }
}

/// An error of the `ntfs` crate: I/O stays I/O, anything else is corruption.
fn crate_error(error: NtfsError) -> FsError {
    match error {
        NtfsError::Io(error) => FsError::Io(error),
        other => corrupt(other.to_string()),
    }
}

/// Runs `f`, which calls into the `ntfs` crate, turning a panic of the crate on malformed
/// data into [`FsError::Corrupt`]. This is the only place panics are caught.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, FsError>) -> Result<T, FsError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(corrupt(format!(
            "{what}: the ntfs crate panicked on malformed structures"
        )))
    })
}
