//! Artifact parsers: evidence files in, timeline [`Event`]s out.
//!
//! One parser per artifact kind, each in its own module implementing [`ArtifactParser`]
//! and registered in [`parsers`]. Every parser streams: it yields one `Result` per record,
//! so a bad record is reported as an [`ArtifactError`] and the records after it are still
//! read. Input is never trusted: invalid UTF-8 is decoded lossily, over-long lines are
//! bounded, and nothing panics on malformed content.

use chrono::{DateTime, Utc};
use riposte_model::Event;
use std::io::{BufRead, BufReader, Cursor, Read};

mod accounts;
mod amcache;
mod auditd;
mod auth_log;
mod authorized_keys;
mod bodyfile;
mod cloudtrail;
mod cron;
mod evtx;
mod fish_history;
mod journald;
mod lastlog;
mod ld_so_preload;
mod lines;
mod live;
mod mft;
mod package_logs;
mod powershell_history;
mod prefetch;
mod records;
mod registry;
mod scheduled_task;
mod shell_history;
mod syslog;
mod syslog_messages;
mod systemd_units;
mod utmp;
mod web_access;

pub use self::evtx::Evtx;
pub use accounts::Accounts;
pub use amcache::Amcache;
pub use auditd::Auditd;
pub use auth_log::AuthLog;
pub use authorized_keys::AuthorizedKeys;
pub use bodyfile::Bodyfile;
pub use cloudtrail::CloudTrail;
pub use cron::Cron;
pub use fish_history::FishHistory;
pub use journald::Journald;
pub use lastlog::Lastlog;
pub use ld_so_preload::LdSoPreload;
pub use live::inventory::LiveInventory;
pub use live::logins::LiveLogins;
pub use live::processes::LiveProcesses;
pub use live::sockets::LiveSockets;
pub use mft::Mft;
pub use package_logs::PackageLogs;
pub use powershell_history::PowerShellHistory;
pub use prefetch::Prefetch;
pub use registry::RegistryHive;
pub use scheduled_task::ScheduledTask;
pub use shell_history::ShellHistory;
pub use syslog_messages::SyslogMessages;
pub use systemd_units::SystemdUnits;
pub use utmp::Utmp;
pub use web_access::WebAccess;

/// What a parser knows about the artifact it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactContext {
    /// The host the artifact was collected from (becomes [`Event::host`]).
    pub host: String,
    /// The artifact's path on the original system (e.g. `/var/log/auth.log.1`).
    pub original_path: String,
    /// The artifact's last modification time on the original system, when known; parsers
    /// of formats without a year (syslog RFC 3164) infer the year from it.
    pub modified: Option<DateTime<Utc>>,
}

/// A record that could not be parsed, or a read that failed, with where it happened.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// One record (line) was malformed; parsing went on with the next one.
    #[error("{path}: record {record}: {message}")]
    Record {
        /// The artifact's path on the original system.
        path: String,
        /// Line or record number (1-based).
        record: u64,
        /// What was wrong with it.
        message: String,
    },
    /// Reading the artifact failed (e.g. a corrupt gzip stream); parsing stopped there.
    #[error("{path}: read failed after record {record}: {source}")]
    Read {
        /// The artifact's path on the original system.
        path: String,
        /// The last record read successfully (0 if none).
        record: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A streaming parser for one kind of artifact.
pub trait ArtifactParser: Send + Sync {
    /// Short stable name, used as [`riposte_model::EventOrigin::parser`] (e.g. `auth_log`).
    fn name(&self) -> &'static str;
    /// Does this parser handle the file at this path on the original system
    /// (e.g. `/var/log/auth.log.1`, `/home/bob/.bash_history`)?
    fn claims(&self, original_path: &str) -> bool;
    /// Streaming: yields one `Result` per record; a bad record is an `Err` and parsing goes on.
    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r>;
}

static PARSERS: &[&dyn ArtifactParser] = &[
    &AuthLog, //
    &ShellHistory,
    &FishHistory,
    &Bodyfile,
    &CloudTrail,
    &Mft,
    &PowerShellHistory,
    &ScheduledTask,
    &Evtx,
    &RegistryHive,
    &Amcache,
    &Prefetch,
    &Utmp,
    &Lastlog,
    &Auditd,
    &Journald,
    &SyslogMessages,
    &Cron,
    &SystemdUnits,
    &AuthorizedKeys,
    &LiveProcesses,
    &LiveSockets,
    &LiveLogins,
    &LiveInventory,
    &Accounts,
    &WebAccess,
    &PackageLogs,
    &LdSoPreload,
];

/// Every registered parser, in the order [`parser_for`] tries them.
pub fn parsers() -> &'static [&'static dyn ArtifactParser] {
    PARSERS
}

/// The first registered parser that claims this path on the original system, if any.
pub fn parser_for(original_path: &str) -> Option<&'static dyn ArtifactParser> {
    parsers().iter().copied().find(|p| p.claims(original_path))
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens an artifact for parsing, transparently gunzipping it when its content starts
/// with the gzip magic (rotated logs such as `auth.log.2.gz`); multi-member gzip
/// files are read to the end.
pub fn open_artifact<'r>(
    mut reader: impl Read + Send + 'r,
) -> std::io::Result<Box<dyn BufRead + Send + 'r>> {
    // Sniff the content rather than trusting the file name: collectors rename files.
    let mut magic = [0u8; 2];
    let mut filled = 0;
    while filled < magic.len() {
        match reader.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = Cursor::new(magic[..filled].to_vec()).chain(reader);
    if magic[..filled] == GZIP_MAGIC {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            whole,
        ))))
    } else {
        Ok(Box::new(BufReader::new(whole)))
    }
}

/// Splits off the first word (separated by spaces or tabs): `(word, rest)`, the rest
/// without its leading blanks.
pub(crate) fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    Some((&s[..end], s[end..].trim_start()))
}

/// The file name part of a path (`/var/log/auth.log.1` → `auth.log.1`).
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(r: &mut dyn BufRead) -> String {
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn open_artifact_passes_plain_text_through() {
        let mut r = open_artifact(&b"hello\nworld\n"[..]).unwrap();
        assert_eq!(read_all(&mut r), "hello\nworld\n");
        let mut r = open_artifact(&b""[..]).unwrap();
        assert_eq!(read_all(&mut r), "");
        let mut r = open_artifact(&b"\x1f"[..]).unwrap();
        assert_eq!(read_all(&mut r), "\x1f");
    }

    #[test]
    fn open_artifact_gunzips_multi_member_files() {
        let mut gz = Vec::new();
        for part in ["first line\n", "second line\n"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(part.as_bytes()).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut r = open_artifact(&gz[..]).unwrap();
        assert_eq!(read_all(&mut r), "first line\nsecond line\n");
    }

    #[test]
    fn corrupt_gzip_is_a_read_error_not_a_panic() {
        let mut r = open_artifact(&b"\x1f\x8b\x08\x00garbage"[..]).unwrap();
        let mut s = String::new();
        assert!(r.read_to_string(&mut s).is_err());
    }

    #[test]
    fn registry_routes_paths_to_parsers() {
        let name = |p: &str| parser_for(p).map(|p| p.name());
        assert_eq!(name("/var/log/auth.log"), Some("auth_log"));
        assert_eq!(name("/var/log/auth.log.2.gz"), Some("auth_log"));
        assert_eq!(name("/var/log/secure-20240301"), Some("auth_log"));
        assert_eq!(name("/home/bob/.bash_history"), Some("shell_history"));
        assert_eq!(name("/root/.zsh_history"), Some("shell_history"));
        assert_eq!(
            name("/home/bob/.local/share/fish/fish_history"),
            Some("fish_history")
        );
        assert_eq!(
            name("C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"),
            Some("evtx")
        );
        assert_eq!(
            name("/evidence/Microsoft-Windows-Sysmon%4Operational.EVTX"),
            Some("evtx")
        );
        assert_eq!(name("/evidence/.evtx"), None);
        assert_eq!(name("/var/log/syslog"), Some("syslog_messages"));
        assert_eq!(name("/var/log/messages-20240301"), Some("syslog_messages"));
        assert_eq!(name("/var/log/wtmp"), Some("utmp"));
        assert_eq!(name("/var/log/lastlog"), Some("lastlog"));
        assert_eq!(name("/var/log/audit/audit.log.1"), Some("auditd"));
        assert_eq!(
            name("/var/log/journal/abc/system.journal"),
            Some("journald")
        );
        assert_eq!(name("/etc/cron.d/job"), Some("cron"));
        assert_eq!(name("/etc/systemd/system/x.service"), Some("systemd_units"));
        assert_eq!(name("/root/.ssh/authorized_keys"), Some("authorized_keys"));
        assert_eq!(name("/etc/passwd"), Some("accounts"));
        assert_eq!(name("/var/log/nginx/access.log.1"), Some("web_access"));
        assert_eq!(name("/var/log/dpkg.log"), Some("package_logs"));
        assert_eq!(name("/etc/ld.so.preload"), Some("ld_so_preload"));
        assert_eq!(
            name("C:\\Windows\\System32\\config\\SYSTEM"),
            Some("registry")
        );
        assert_eq!(name("/Users/bob/NTUSER.DAT"), Some("registry"));
        assert_eq!(
            name("/Windows/AppCompat/Programs/Amcache.hve"),
            Some("amcache")
        );
        assert_eq!(
            name("/Windows/Prefetch/CMD.EXE-4A81B364.pf"),
            Some("prefetch")
        );
        assert_eq!(name("/etc/hostname"), None);
        let mut names: Vec<_> = parsers().iter().map(|p| p.name()).collect();
        names.dedup();
        assert_eq!(names.len(), parsers().len());
    }
}
