//! systemd journal files: `/var/log/journal/<machine-id>/*.journal*` and
//! `/run/log/journal/**`, read with the pure-Rust `sdjournal` crate.
//!
//! The journal format needs random access, so the stream is first copied into a private
//! temporary file (at most [`MAX_JOURNAL`] bytes; a larger journal is read up to the cap
//! and an error record says so). Every entry becomes an event at its realtime timestamp
//! (µs) with `message` (`MESSAGE`), `host_name` (`_HOSTNAME`), `process`
//! (`SYSLOG_IDENTIFIER`, else `_COMM`), `pid`, `uid`, `comm`, `exe`, `cmdline`
//! (`_CMDLINE`), `unit`, `priority`, `boot_id`. Messages are classified like syslog lines
//! ([`crate::syslog_messages`]: sudo commands, su, cron jobs, user creation), otherwise
//! they are `host` events. Entries the reader rejects are error records; after 100 in a
//! row the file is abandoned.

use crate::records::Origin;
use crate::syslog_messages::classify;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::DateTime;
use riposte_model::{Action, Event};
use sdjournal::{EntryRef, Journal, JournalConfig};
use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};

/// The most of one journal file that is buffered (journald's default `SystemMaxFileSize`
/// is 128 MiB).
pub const MAX_JOURNAL: u64 = 256 * 1024 * 1024;
/// The most of one entry kept in `raw`.
const MAX_RAW: usize = 64 * 1024;
const MAX_ERRORS_IN_A_ROW: u32 = 100;
/// The first bytes of every journal file.
const SIGNATURE: &[u8; 8] = b"LPKSHHRH";

/// Parser for journald's binary journal files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Journald;

impl ArtifactParser for Journald {
    fn name(&self) -> &'static str {
        "journald"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        let journal_name = name.ends_with(".journal") || name.ends_with(".journal~");
        journal_name
            && (original_path.contains("/var/log/journal/")
                || original_path.contains("/run/log/journal/"))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            input: Some(input),
            origin: Origin::new(ctx, "journald"),
            entries: None,
            _dir: None,
            queue: VecDeque::new(),
            number: 0,
            errors_in_a_row: 0,
        })
    }
}

type Entries = Box<dyn Iterator<Item = sdjournal::Result<EntryRef>> + Send>;

struct Records<'r> {
    input: Option<Box<dyn BufRead + Send + 'r>>,
    origin: Origin,
    entries: Option<Entries>,
    /// Holds the buffered copy; removed when parsing ends.
    _dir: Option<tempfile::TempDir>,
    queue: VecDeque<Result<Event, ArtifactError>>,
    number: u64,
    errors_in_a_row: u32,
}

impl Records<'_> {
    /// Copies the input to a temporary `.journal` file and opens it.
    fn open(&mut self, mut input: Box<dyn BufRead + Send + '_>) {
        // Check the signature before paying for a temporary file.
        let mut magic = [0u8; 8];
        let mut filled = 0;
        while filled < magic.len() {
            match input.read(&mut magic[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    self.queue.push_back(Err(self.origin.read_error(0, source)));
                    return;
                }
            }
        }
        if magic[..filled] != *SIGNATURE {
            self.queue.push_back(Err(self
                .origin
                .error(0, "not a journal file (no LPKSHHRH signature)".to_string())));
            return;
        }
        let mut input = std::io::Cursor::new(magic).chain(input);
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(source) => {
                self.queue.push_back(Err(self.origin.read_error(0, source)));
                return;
            }
        };
        let path = dir.path().join("artifact.journal");
        let copied = std::fs::File::create(&path).and_then(|mut file| {
            let n = std::io::copy(&mut (&mut input).take(MAX_JOURNAL), &mut file)?;
            file.flush()?;
            Ok(n)
        });
        match copied {
            Err(source) => {
                self.queue.push_back(Err(self.origin.read_error(0, source)));
                return;
            }
            Ok(n) if n == MAX_JOURNAL => {
                let mut probe = [0u8; 1];
                if matches!(input.read(&mut probe), Ok(1)) {
                    self.queue.push_back(Err(self.origin.error(
                        0,
                        format!("journal larger than {MAX_JOURNAL} bytes; only the start is read"),
                    )));
                }
            }
            Ok(_) => {}
        }
        let config = JournalConfig {
            allow_mmap_online: true,
            include_journal_tilde: true,
            ..JournalConfig::default()
        };
        let opened = Journal::open_dir_with_config(dir.path(), config).and_then(|journal| {
            let entries: Entries = Box::new(journal.query().iter()?);
            Ok(entries)
        });
        match opened {
            Ok(entries) => self.entries = Some(entries),
            Err(e) => self.queue.push_back(Err(self
                .origin
                .error(0, format!("not a readable journal: {e}")))),
        }
        self._dir = Some(dir);
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(input) = self.input.take() {
            self.open(input);
        }
        if let Some(item) = self.queue.pop_front() {
            return Some(item);
        }
        let entries = self.entries.as_mut()?;
        let item = entries.next();
        self.number += 1;
        match item {
            None => {
                self.entries = None;
                self._dir = None;
                None
            }
            Some(Ok(entry)) => {
                self.errors_in_a_row = 0;
                Some(entry_event(&self.origin, self.number, &entry))
            }
            Some(Err(e)) => {
                self.errors_in_a_row += 1;
                if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
                    self.entries = None;
                }
                Some(Err(self
                    .origin
                    .error(self.number, format!("bad journal entry: {e}"))))
            }
        }
    }
}

fn entry_event(origin: &Origin, number: u64, entry: &EntryRef) -> Result<Event, ArtifactError> {
    let text = |field: &str| {
        entry
            .get(field)
            .map(|v| String::from_utf8_lossy(v).trim_end().to_string())
    };
    let usec = entry.realtime_usec();
    let time = i64::try_from(usec)
        .ok()
        .filter(|&u| u > 0)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| origin.error(number, format!("entry realtime {usec} out of range")))?;
    let message = text("MESSAGE").unwrap_or_default();
    let program = text("SYSLOG_IDENTIFIER")
        .or_else(|| text("_COMM"))
        .unwrap_or_default();
    let found = classify(&program, &message);
    let (action, shown) = match &found {
        Some(c) => (c.action, c.message.clone()),
        None if program.is_empty() => (Action::HostInfo, message.clone()),
        None => (Action::HostInfo, format!("{program}: {message}")),
    };
    let mut e = origin
        .event(Some(time), action, shown, number)
        .with("message", message.as_str())
        .with("seqnum", entry.seqnum().to_string())
        .with("boot_id", hex(&entry.boot_id()));
    if !program.is_empty() {
        e = e.with("process", program.as_str());
    }
    for (field, key) in [
        ("_HOSTNAME", "host_name"),
        ("SYSLOG_IDENTIFIER", "syslog_identifier"),
        ("_PID", "pid"),
        ("_UID", "uid"),
        ("_GID", "gid"),
        ("_COMM", "comm"),
        ("_EXE", "exe"),
        ("_CMDLINE", "cmdline"),
        ("_SYSTEMD_UNIT", "unit"),
        ("PRIORITY", "priority"),
        ("_TRANSPORT", "transport"),
    ] {
        if let Some(v) = text(field) {
            e = e.with(key, v);
        }
    }
    if e.attr("pid").is_none()
        && let Some(pid) = text("SYSLOG_PID")
    {
        e = e.with("pid", pid);
    }
    if let Some(c) = found {
        for (key, value) in c.attrs {
            e = e.with(key, value);
        }
    }
    let mut raw = String::new();
    for (name, value) in entry.iter_fields() {
        if raw.len() > MAX_RAW {
            break;
        }
        raw.push_str(name);
        raw.push('=');
        raw.push_str(&String::from_utf8_lossy(value));
        raw.push('\n');
    }
    Ok(e.with_raw(raw.trim_end()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_journal_paths() {
        assert!(Journald.claims("/var/log/journal/0123abcd/system.journal"));
        assert!(Journald.claims("/var/log/journal/0123abcd/user-1000@abc-def.journal~"));
        assert!(Journald.claims("/run/log/journal/0123/system.journal"));
        assert!(!Journald.claims("/var/log/syslog"));
        assert!(!Journald.claims("/home/x/system.journal"));
    }

    #[test]
    fn garbage_is_one_error_not_a_panic() {
        let ctx = ArtifactContext {
            original_path: "/var/log/journal/x/system.journal".into(),
            ..Default::default()
        };
        let got: Vec<_> = Journald
            .parse(&ctx, Box::new(&b"LPKSHHRHnot really a journal"[..]))
            .collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
