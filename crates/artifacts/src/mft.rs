//! The NTFS master file table (`$MFT`), as copied off a volume.
//!
//! The file is a run of FILE records (1024 bytes, or what record 0 says), each protected
//! by an update sequence ("fixups") that is undone before reading it. From every base
//! record this parser reads `$STANDARD_INFORMATION` (0x10: the four times Windows shows),
//! `$FILE_NAME` (0x30: name, parent directory and four more times, which user-mode
//! tools cannot set) and the unnamed `$DATA` attribute's size (0x80).
//!
//! Like [`crate::Bodyfile`], every file gives one event per distinct timestamp, marked
//! with the MACB letters of the `$STANDARD_INFORMATION` times sharing it (`macb`) and of
//! the `$FILE_NAME` times sharing it (`fn_macb`): a `$FILE_NAME` time no `$STANDARD_INFORMATION`
//! time equals is an event of its own whose `macb` is `....`. B is a creation, M a write,
//! A a read and C (the MFT entry's change) alone a sighting. `si_fn_mismatch=true`
//! marks every event of a file whose `$STANDARD_INFORMATION` creation is earlier than its
//! `$FILE_NAME` creation: the classic sign of timestomping.
//!
//! Full paths go through the parent references of `$FILE_NAME`, so the whole table is
//! needed before the first event: the input is spooled (in memory up to [`SPOOL_IN_MEMORY`],
//! then to a temporary file) while the directories' names are collected, and read back
//! record by record. Memory stays bounded by the directories, not by the files.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

const PARSER: &str = "mft";
/// Spooled input stays in memory up to this size, then goes to a temporary file.
const SPOOL_IN_MEMORY: usize = 64 * 1024 * 1024;
const DEFAULT_RECORD_SIZE: usize = 1024;
/// Fixups protect every 512 bytes of a record, whatever the sector size.
const FIXUP_STRIDE: usize = 512;
/// The root directory's record number.
const ROOT: u64 = 5;
/// Deepest directory nesting followed before a path is called an orphan.
const MAX_DEPTH: usize = 256;
/// Resolved directory paths kept; the cache is emptied when full.
const MAX_CACHED_PATHS: usize = 256 * 1024;
const ORPHAN: &str = "/$OrphanFiles";

/// Parser for a raw NTFS `$MFT` file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mft;

impl ArtifactParser for Mft {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path).eq_ignore_ascii_case("$MFT")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            input: Some(input),
            spool: None,
            record_size: DEFAULT_RECORD_SIZE,
            next_record: 0,
            dirs: HashMap::new(),
            cache: HashMap::new(),
            queue: VecDeque::new(),
            pending_error: None,
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            buf: Vec::new(),
            done: false,
        })
    }
}

/// What path resolution needs of a directory.
struct Dir {
    sequence: u16,
    in_use: bool,
    parent: u64,
    name: String,
}

struct Records<'r> {
    input: Option<Box<dyn BufRead + Send + 'r>>,
    spool: Option<tempfile::SpooledTempFile>,
    record_size: usize,
    next_record: u64,
    dirs: HashMap<u64, Dir>,
    cache: HashMap<u64, String>,
    queue: VecDeque<Result<Event, ArtifactError>>,
    /// A read error met while spooling, reported after the records read before it.
    pending_error: Option<(u64, io::Error)>,
    host: String,
    path: String,
    buf: Vec<u8>,
    done: bool,
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// A FILETIME (100 ns ticks since 1601) as a UTC time; 0 means unset.
pub(crate) fn filetime(ticks: u64) -> Option<DateTime<Utc>> {
    if ticks == 0 {
        return None;
    }
    const UNIX_EPOCH_SECONDS: i64 = 11_644_473_600;
    let seconds = (ticks / 10_000_000) as i64 - UNIX_EPOCH_SECONDS;
    let nanos = (ticks % 10_000_000) as u32 * 100;
    DateTime::from_timestamp(seconds, nanos)
}

/// The record size record 0 declares, when it is sane.
fn declared_record_size(first: &[u8]) -> Option<usize> {
    if first.get(..4)? != b"FILE" {
        return None;
    }
    let size = u32_at(first, 0x1C)? as usize;
    (size.is_power_of_two() && (512..=65536).contains(&size)).then_some(size)
}

/// `$FILE_NAME` contents.
#[derive(Clone)]
struct FileName {
    parent: u64,
    /// Modified, accessed, changed (MFT entry), born — MACB order.
    times: [u64; 4],
    real_size: u64,
    namespace: u8,
    name: String,
}

/// What one FILE record holds.
struct Parsed {
    in_use: bool,
    directory: bool,
    sequence: u16,
    base: u64,
    /// `$STANDARD_INFORMATION` modified, accessed, changed, born — MACB order.
    si: Option<[u64; 4]>,
    names: Vec<FileName>,
    data_size: Option<u64>,
}

impl Parsed {
    /// The name to show: a Win32 or POSIX one rather than a DOS 8.3 alias.
    fn primary_name(&self) -> Option<&FileName> {
        self.names
            .iter()
            .find(|n| n.namespace != 2)
            .or_else(|| self.names.first())
    }
}

/// Undoes the fixups and reads a FILE record. `Ok(None)` for a never-used (zeroed) one.
fn parse_record(buf: &mut [u8]) -> Result<Option<Parsed>, String> {
    let signature = buf.get(..4).ok_or("truncated record")?;
    if signature == [0, 0, 0, 0] {
        return Ok(None);
    }
    if signature == b"BAAD" {
        return Err("record marked BAAD (a torn write found by chkdsk)".into());
    }
    if signature != b"FILE" {
        return Err("no FILE signature".into());
    }
    let usa_offset = u16_at(buf, 4).ok_or("truncated header")? as usize;
    let usa_count = u16_at(buf, 6).ok_or("truncated header")? as usize;
    if usa_count == 0
        || usa_offset + 2 * usa_count > buf.len()
        || (usa_count - 1) * FIXUP_STRIDE > buf.len()
    {
        return Err(format!(
            "update sequence (offset {usa_offset}, {usa_count} entries) does not fit the record"
        ));
    }
    // A sector ending in the update sequence number gets its saved bytes back. One
    // already ending in them was fixed up before (ntfscat and some collectors copy
    // records that way); anything else is a torn write.
    let usn = [buf[usa_offset], buf[usa_offset + 1]];
    for i in 1..usa_count {
        let at = i * FIXUP_STRIDE - 2;
        let fix = usa_offset + 2 * i;
        let saved = [buf[fix], buf[fix + 1]];
        if buf[at..at + 2] == usn {
            buf[at..at + 2].copy_from_slice(&saved);
        } else if buf[at..at + 2] != saved {
            return Err(format!("fixup mismatch in sector {i} (torn write)"));
        }
    }
    let sequence = u16_at(buf, 0x10).ok_or("truncated header")?;
    let attrs = u16_at(buf, 0x14).ok_or("truncated header")? as usize;
    let flags = u16_at(buf, 0x16).ok_or("truncated header")?;
    let used = (u32_at(buf, 0x18).ok_or("truncated header")? as usize).min(buf.len());
    let base = u64_at(buf, 0x20).ok_or("truncated header")?;
    let mut parsed = Parsed {
        in_use: flags & 1 != 0,
        directory: flags & 2 != 0,
        sequence,
        base,
        si: None,
        names: Vec::new(),
        data_size: None,
    };
    let mut at = attrs;
    while at + 16 <= used {
        let kind = u32_at(buf, at).unwrap_or(u32::MAX);
        if kind == u32::MAX {
            break;
        }
        let length = u32_at(buf, at + 4).unwrap_or(0) as usize;
        if length < 16 || at + length > used {
            break;
        }
        let attr = &buf[at..at + length];
        let non_resident = attr[8] != 0;
        let named = attr[9] != 0;
        let value = if non_resident {
            None
        } else {
            let len = u32_at(attr, 0x10).unwrap_or(0) as usize;
            let off = u16_at(attr, 0x14).unwrap_or(0) as usize;
            attr.get(off..off.saturating_add(len))
        };
        match (kind, value) {
            (0x10, Some(v)) if v.len() >= 32 && parsed.si.is_none() => {
                let t = |o| u64_at(v, o).unwrap_or(0);
                parsed.si = Some([t(8), t(24), t(16), t(0)]);
            }
            (0x30, Some(v)) if v.len() >= 0x42 => {
                let chars = v[0x40] as usize;
                if let Some(raw) = v.get(0x42..0x42 + 2 * chars) {
                    let units: Vec<u16> = raw
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    let t = |o| u64_at(v, o).unwrap_or(0);
                    parsed.names.push(FileName {
                        parent: t(0),
                        times: [t(0x10), t(0x20), t(0x18), t(0x08)],
                        real_size: t(0x30),
                        namespace: v[0x41],
                        name: String::from_utf16_lossy(&units),
                    });
                }
            }
            (0x80, _) if !named => {
                if let Some(v) = value {
                    parsed.data_size = Some(v.len() as u64);
                } else if u64_at(attr, 0x10) == Some(0)
                    && let Some(size) = u64_at(attr, 0x30)
                {
                    // Only the first extent (starting VCN 0) carries the sizes.
                    parsed.data_size = Some(size);
                }
            }
            _ => {}
        }
        at += length;
    }
    Ok(Some(parsed))
}

/// Record number and sequence of a file reference.
fn split_ref(reference: u64) -> (u64, u16) {
    (reference & 0xFFFF_FFFF_FFFF, (reference >> 48) as u16)
}

impl Records<'_> {
    fn record_error(&self, record: u64, message: String) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message,
        }
    }

    /// Pass 1: copies the input to the spool and collects the directories.
    fn spool(&mut self) {
        let Some(mut input) = self.input.take() else {
            return;
        };
        let mut spool = tempfile::SpooledTempFile::new(SPOOL_IN_MEMORY);
        let mut record = vec![0u8; DEFAULT_RECORD_SIZE];
        let mut number = 0u64;
        let result = (|| -> io::Result<()> {
            let mut n = read_full(&mut input, &mut record)?;
            if let Some(size) = declared_record_size(&record[..n])
                && size != DEFAULT_RECORD_SIZE
                && n == DEFAULT_RECORD_SIZE
            {
                record.resize(size, 0);
                n += read_full(&mut input, &mut record[DEFAULT_RECORD_SIZE..])?;
            }
            self.record_size = record.len();
            while n > 0 {
                spool.write_all(&record[..n])?;
                if n == record.len() {
                    self.note_directory(number, &mut record);
                }
                number += 1;
                n = read_full(&mut input, &mut record)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.pending_error = Some((number, e));
        }
        if let Err(e) = spool.seek(SeekFrom::Start(0)) {
            self.pending_error.get_or_insert((0, e));
            return;
        }
        self.spool = Some(spool);
    }

    fn note_directory(&mut self, number: u64, record: &mut [u8]) {
        let Ok(Some(parsed)) = parse_record(record) else {
            return;
        };
        if !parsed.directory || split_ref(parsed.base).0 != 0 {
            return;
        }
        if let Some(name) = parsed.primary_name() {
            self.dirs.insert(
                number,
                Dir {
                    sequence: parsed.sequence,
                    in_use: parsed.in_use,
                    parent: name.parent,
                    name: name.name.clone(),
                },
            );
        }
    }

    /// Does the directory record `number` still hold what a reference with `sequence`
    /// pointed at? A deleted directory's sequence was bumped once when it was freed.
    fn same_generation(dir: &Dir, sequence: u16) -> bool {
        sequence == 0
            || dir.sequence == sequence
            || (!dir.in_use && dir.sequence == sequence.wrapping_add(1))
    }

    /// The full path of the directory a reference points at (`""` for the root).
    fn directory_path(&mut self, reference: u64) -> String {
        let (record, sequence) = split_ref(reference);
        if record == ROOT {
            return String::new();
        }
        let generation_ok = self
            .dirs
            .get(&record)
            .is_some_and(|d| Self::same_generation(d, sequence));
        if !generation_ok {
            return ORPHAN.to_string();
        }
        if let Some(path) = self.cache.get(&record) {
            return path.clone();
        }
        let mut parts: Vec<&str> = Vec::new();
        let mut current = record;
        let mut prefix = "";
        loop {
            if current == ROOT {
                break;
            }
            let Some(dir) = self.dirs.get(&current) else {
                prefix = ORPHAN;
                break;
            };
            if parts.len() >= MAX_DEPTH {
                prefix = ORPHAN;
                break;
            }
            parts.push(&dir.name);
            let (parent, parent_sequence) = split_ref(dir.parent);
            let parent_ok = parent == ROOT
                || self
                    .dirs
                    .get(&parent)
                    .is_some_and(|d| Self::same_generation(d, parent_sequence));
            if !parent_ok || parent == current {
                prefix = ORPHAN;
                break;
            }
            current = parent;
        }
        let mut path = prefix.to_string();
        for part in parts.iter().rev() {
            path.push('/');
            path.push_str(part);
        }
        if self.cache.len() >= MAX_CACHED_PATHS {
            self.cache.clear();
        }
        self.cache.insert(record, path.clone());
        path
    }

    /// Pass 2: the events of the next record, into the queue.
    fn read_next_record(&mut self) -> bool {
        let Some(spool) = self.spool.as_mut() else {
            return false;
        };
        self.buf.resize(self.record_size, 0);
        let number = self.next_record;
        let n = match read_full(spool, &mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                self.spool = None;
                self.queue.push_back(Err(ArtifactError::Read {
                    path: self.path.clone(),
                    record: number,
                    source: e,
                }));
                return true;
            }
        };
        if n == 0 {
            self.spool = None;
            return false;
        }
        self.next_record += 1;
        if n < self.record_size {
            let message = format!("truncated record ({n} of {} bytes)", self.record_size);
            self.queue
                .push_back(Err(self.record_error(number, message)));
            return true;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let parsed = parse_record(&mut buf);
        self.buf = buf;
        match parsed {
            Ok(Some(parsed)) => self.events(number, &parsed),
            Ok(None) => {}
            Err(message) => {
                let error = self.record_error(number, message);
                self.queue.push_back(Err(error));
            }
        }
        true
    }

    fn events(&mut self, number: u64, parsed: &Parsed) {
        if split_ref(parsed.base).0 != 0 {
            return; // an extension record: its base record has the times and names
        }
        let name = parsed.primary_name().cloned();
        if parsed.si.is_none() && name.is_none() {
            return;
        }
        let (file_name, file_path, parent) = match &name {
            Some(n) if number == ROOT => (n.name.clone(), "/".to_string(), split_ref(n.parent).0),
            Some(n) => {
                let dir = self.directory_path(n.parent);
                (
                    n.name.clone(),
                    format!("{dir}/{}", n.name),
                    split_ref(n.parent).0,
                )
            }
            None => {
                let name = format!("$NoName-{number}");
                (name.clone(), format!("{ORPHAN}/{name}"), 0)
            }
        };
        let size = parsed
            .data_size
            .or_else(|| name.as_ref().map(|n| n.real_size))
            .unwrap_or(0);
        let si = parsed.si.unwrap_or_default();
        let fn_times = name.as_ref().map(|n| n.times).unwrap_or_default();
        let mismatch = si[3] != 0 && fn_times[3] != 0 && si[3] < fn_times[3];
        let mut distinct: Vec<u64> = si
            .iter()
            .chain(&fn_times)
            .copied()
            .filter(|t| *t != 0)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        let raw = raw_summary(number, parsed, name.as_ref(), &file_path, size);
        let deleted = !parsed.in_use;
        let letters = |times: &[u64; 4], t: u64| -> String {
            times
                .iter()
                .zip(['m', 'a', 'c', 'b'])
                .map(|(x, l)| if *x == t { l } else { '.' })
                .collect()
        };
        for t in distinct {
            let Some(time) = filetime(t) else {
                self.queue.push_back(Err(self.record_error(
                    number,
                    format!("timestamp {t:#x} out of range for {file_path}"),
                )));
                continue;
            };
            let macb = letters(&si, t);
            let fn_macb = letters(&fn_times, t);
            let has_si = macb != "....";
            let has_fn = fn_macb != "....";
            let shown = if has_si { &macb } else { &fn_macb };
            let action = match shown.as_bytes() {
                [_, _, _, b'b'] => Action::FileCreate,
                [b'm', ..] => Action::FileWrite,
                [_, _, b'c', _] => Action::FileExists,
                _ => Action::FileRead,
            };
            let source = match (has_si, has_fn) {
                (true, true) => "$STANDARD_INFORMATION+$FILE_NAME",
                (true, false) => "$STANDARD_INFORMATION",
                _ => "$FILE_NAME",
            };
            let message = format!(
                "{}{file_path}{} ({size} bytes)",
                if has_si {
                    format!("{macb} ")
                } else {
                    format!("{fn_macb} [$FILE_NAME] ")
                },
                if deleted { " (deleted)" } else { "" }
            );
            let origin = EventOrigin {
                parser: PARSER.into(),
                path: self.path.clone(),
                record: Some(number),
            };
            let mut event = Event::new(Some(time), self.host.as_str(), action, message, origin)
                .with("file_path", file_path.as_str())
                .with("file_name", file_name.as_str())
                .with("mft_record", number.to_string())
                .with("mft_sequence", parsed.sequence.to_string())
                .with("parent_record", parent.to_string())
                .with("size", size.to_string())
                .with("macb", macb.as_str())
                .with("time_source", source)
                .with_raw(raw.as_str());
            if has_fn {
                event = event.with("fn_macb", fn_macb);
            }
            if deleted {
                event = event.with("deleted", "true");
            }
            if parsed.directory {
                event = event.with("directory", "true");
            }
            if mismatch {
                event = event.with("si_fn_mismatch", "true");
            }
            self.queue.push_back(Ok(event));
        }
    }
}

/// A one-line JSON summary of a record, the events' `raw`.
fn raw_summary(
    number: u64,
    parsed: &Parsed,
    name: Option<&FileName>,
    path: &str,
    size: u64,
) -> String {
    let iso = |t: u64| filetime(t).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
    let times = |t: &[u64; 4]| serde_json::json!({"m": iso(t[0]), "a": iso(t[1]), "c": iso(t[2]), "b": iso(t[3])});
    serde_json::json!({
        "record": number,
        "sequence": parsed.sequence,
        "in_use": parsed.in_use,
        "directory": parsed.directory,
        "path": path,
        "parent": name.map(|n| split_ref(n.parent).0),
        "size": size,
        "si": parsed.si.as_ref().map(times),
        "fn": name.map(|n| times(&n.times)),
    })
    .to_string()
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.input.is_some() {
            self.spool();
        }
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            if !self.read_next_record() {
                self.done = true;
                if let Some((record, source)) = self.pending_error.take() {
                    return Some(Err(ArtifactError::Read {
                        path: self.path.clone(),
                        record,
                        source,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
