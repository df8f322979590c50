//! Login records: `/var/log/wtmp*` (history), `/var/log/btmp*` (failed logons),
//! `/var/run/utmp` and `/run/utmp` (current sessions).
//!
//! The files are arrays of glibc's x86-64 `struct utmp`, 384 bytes each:
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | `ut_type` | i16 (+2 padding) |
//! | 4 | `ut_pid` | i32 |
//! | 8 | `ut_line` | char\[32\] (tty) |
//! | 40 | `ut_id` | char\[4\] |
//! | 44 | `ut_user` | char\[32\] |
//! | 76 | `ut_host` | char\[256\] |
//! | 332 | `ut_exit` | i16 termination, i16 exit |
//! | 336 | `ut_session` | i32 |
//! | 340 | `ut_tv` | i32 seconds, i32 microseconds |
//! | 348 | `ut_addr_v6` | 4 × i32 (IPv4 in the first word when the others are 0) |
//!
//! `USER_PROCESS` records become logons (in btmp: failed logons), `DEAD_PROCESS` records
//! logoffs (wtmp's logoff records name the tty, usually not the user: match them to the
//! logon by `tty`), `BOOT_TIME`, `RUN_LVL` (shutdown, runlevel changes) and clock changes
//! host events. `EMPTY` slots are skipped; a record whose type is not a utmp type is an
//! error record. Seconds are read unsigned, so the file works past 2038.

use crate::records::{Origin, Out, RecordHandler, c_string, fixed_records, rotated};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::DateTime;
use riposte_model::{Action, Event};
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Size of one glibc x86-64 `struct utmp`.
pub const RECORD_SIZE: usize = 384;

/// Parser for wtmp, btmp and utmp files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utmp;

impl ArtifactParser for Utmp {
    fn name(&self) -> &'static str {
        "utmp"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        rotated(name, "wtmp")
            || rotated(name, "btmp")
            || (name == "utmp"
                && (original_path.ends_with("/var/run/utmp")
                    || original_path.ends_with("/run/utmp")))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let name = crate::file_name(&ctx.original_path);
        let kind = if name.starts_with("btmp") {
            Kind::Btmp
        } else if name.starts_with("utmp") {
            Kind::Utmp
        } else {
            Kind::Wtmp
        };
        fixed_records(
            Origin::new(ctx, "utmp"),
            input,
            RECORD_SIZE,
            Handler { kind },
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wtmp,
    Btmp,
    Utmp,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Wtmp => "wtmp",
            Kind::Btmp => "btmp",
            Kind::Utmp => "utmp",
        }
    }
}

struct Handler {
    kind: Kind,
}

const TYPES: [&str; 10] = [
    "EMPTY",
    "RUN_LVL",
    "BOOT_TIME",
    "NEW_TIME",
    "OLD_TIME",
    "INIT_PROCESS",
    "LOGIN_PROCESS",
    "USER_PROCESS",
    "DEAD_PROCESS",
    "ACCOUNTING",
];

/// One decoded record.
#[derive(Debug)]
pub(crate) struct Record {
    pub ut_type: i16,
    pub pid: i32,
    pub line: String,
    pub id: String,
    pub user: String,
    pub host: String,
    pub termination: i16,
    pub exit: i16,
    pub session: i32,
    pub sec: u32,
    pub usec: u32,
    pub addr: Option<IpAddr>,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes a 384-byte record (callers guarantee the length).
pub(crate) fn decode(b: &[u8]) -> Record {
    let mut v6 = [0u8; 16];
    v6.copy_from_slice(&b[348..364]);
    let addr = if v6 == [0; 16] {
        None
    } else if v6[4..] == [0; 12] {
        Some(IpAddr::V4(Ipv4Addr::new(v6[0], v6[1], v6[2], v6[3])))
    } else {
        Some(IpAddr::V6(Ipv6Addr::from(v6)))
    };
    Record {
        ut_type: i16_at(b, 0),
        pid: i32_at(b, 4),
        line: c_string(&b[8..40]),
        id: c_string(&b[40..44]),
        user: c_string(&b[44..76]),
        host: c_string(&b[76..332]),
        termination: i16_at(b, 332),
        exit: i16_at(b, 334),
        session: i32_at(b, 336),
        sec: i32_at(b, 340) as u32,
        usec: i32_at(b, 344) as u32,
        addr,
    }
}

impl RecordHandler for Handler {
    fn record(&mut self, out: &mut Out<'_>, number: u64, bytes: &[u8]) {
        let r = decode(bytes);
        let Some(type_name) = usize::try_from(r.ut_type).ok().and_then(|t| TYPES.get(t)) else {
            out.error(number, format!("unknown utmp record type {}", r.ut_type));
            return;
        };
        if r.ut_type == 0 {
            return; // EMPTY slot
        }
        if r.usec >= 1_000_000 {
            out.error(
                number,
                format!("{type_name} record with invalid microseconds {}", r.usec),
            );
            return;
        }
        let time = (r.sec != 0)
            .then(|| DateTime::from_timestamp(i64::from(r.sec), r.usec * 1000))
            .flatten();
        let from = match (r.host.as_str(), r.addr) {
            ("", Some(ip)) => format!(" from {ip}"),
            ("", None) => String::new(),
            (h, _) => format!(" from {h}"),
        };
        let user = r.user.as_str();
        let tty = r.line.as_str();
        let (action, message) = match (self.kind, r.ut_type) {
            (Kind::Btmp, _) => (
                Action::UserLogonFailed,
                format!("Failed logon for {user} on {tty}{from}"),
            ),
            (_, 7) => (
                Action::UserLogon,
                format!("{user} logged on to {tty}{from}"),
            ),
            (_, 8) if !user.is_empty() => (Action::UserLogoff, format!("{user} logged off {tty}")),
            (_, 8) => (Action::UserLogoff, format!("Session on {tty} ended")),
            (_, 2) => (Action::HostInfo, format!("System boot ({})", r.host)),
            (_, 1) => (Action::HostInfo, runlevel_message(&r)),
            (_, 3) => (Action::HostInfo, "System clock changed (new time)".into()),
            (_, 4) => (Action::HostInfo, "System clock changed (old time)".into()),
            (_, 5) => (
                Action::HostInfo,
                format!("init started process {} ({tty})", r.pid),
            ),
            (_, 6) => (Action::HostInfo, format!("Login prompt on {tty}")),
            _ => (Action::HostInfo, format!("{type_name} record")),
        };
        let mut e = out
            .origin
            .event(time, action, message, number)
            .with("ut_type", *type_name)
            .with("source", self.kind.as_str())
            .with("pid", r.pid.to_string());
        for (key, value) in [("username", user), ("tty", tty), ("ut_id", r.id.as_str())] {
            if !value.is_empty() {
                e = e.with(key, value);
            }
        }
        if !r.host.is_empty() {
            e = e.with("ut_host", r.host.as_str());
            if r.ut_type != 1 && r.ut_type != 2 {
                e = match r.host.parse::<IpAddr>() {
                    Ok(_) => e.with("remote_ip", r.host.as_str()),
                    Err(_) => e.with("remote_host", r.host.as_str()),
                };
            } else {
                e = e.with("kernel", r.host.as_str());
            }
        }
        if let Some(ip) = r.addr {
            e = e.with("ut_addr", ip.to_string());
            if !e.attributes.contains_key("remote_ip") {
                e = e.with("remote_ip", ip.to_string());
            }
        }
        if r.session != 0 {
            e = e.with("session", r.session.to_string());
        }
        if r.ut_type == 8 && (r.termination != 0 || r.exit != 0) {
            e = e
                .with("exit_termination", r.termination.to_string())
                .with("exit_status", r.exit.to_string());
        }
        if time.is_none() {
            e = e.with("time_missing", "true");
        }
        out.push(e.with_raw(hex(bytes)));
    }
}

/// `shutdown` at runlevel 0, `runlevel` changes (`ut_pid` = new + 256 × previous).
fn runlevel_message(r: &Record) -> String {
    let level = |c: i32| match u8::try_from(c & 0xff) {
        Ok(0) => "N".to_string(),
        Ok(b) if b.is_ascii_graphic() => (b as char).to_string(),
        _ => "?".to_string(),
    };
    if r.user == "shutdown" {
        "System shutdown".into()
    } else {
        format!(
            "Runlevel changed to {} (from {})",
            level(r.pid),
            level(r.pid >> 8)
        )
    }
}

/// The record as hex, so the raw field shows exactly what was read.
fn hex(bytes: &[u8]) -> String {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut s = String::with_capacity(end * 2);
    for b in &bytes[..end] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn record(ut_type: i16, user: &str, line: &str, host: &str, sec: u32) -> Vec<u8> {
        let mut b = vec![0u8; RECORD_SIZE];
        b[0..2].copy_from_slice(&ut_type.to_le_bytes());
        b[4..8].copy_from_slice(&1234i32.to_le_bytes());
        b[8..8 + line.len()].copy_from_slice(line.as_bytes());
        b[44..44 + user.len()].copy_from_slice(user.as_bytes());
        b[76..76 + host.len()].copy_from_slice(host.as_bytes());
        b[340..344].copy_from_slice(&sec.to_le_bytes());
        b
    }

    fn parse(path: &str, bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
        let ctx = ArtifactContext {
            host: "h".into(),
            original_path: path.into(),
            modified: None,
        };
        Utmp.parse(&ctx, Box::new(std::io::Cursor::new(bytes)))
            .collect()
    }

    #[test]
    fn claims_login_record_files_only() {
        for p in [
            "/var/log/wtmp",
            "/var/log/wtmp.1",
            "/var/log/btmp-20240101",
            "/run/utmp",
            "/var/run/utmp",
        ] {
            assert!(Utmp.claims(p), "{p}");
        }
        for p in ["/var/log/wtmpx", "/var/log/lastlog", "/tmp/utmp.txt"] {
            assert!(!Utmp.claims(p), "{p}");
        }
    }

    #[test]
    fn logon_logoff_boot_bad_type_and_short_tail() {
        let mut bytes = record(7, "bob", "pts/0", "10.0.0.5", 1_700_000_000);
        bytes.extend(record(8, "", "pts/0", "", 1_700_000_100));
        bytes.extend(record(2, "reboot", "~", "6.1.0", 1_699_999_000));
        bytes.extend(record(0, "", "", "", 0));
        bytes.extend(record(42, "x", "", "", 1));
        bytes.extend(record(7, "eve", "pts/1", "", 1_700_000_200));
        bytes.extend([1, 2, 3]);
        let got = parse("/var/log/wtmp", bytes);
        assert_eq!(got.len(), 6);
        let e = got[0].as_ref().unwrap();
        assert_eq!(e.action, Action::UserLogon);
        assert_eq!(e.attr("remote_ip"), Some("10.0.0.5"));
        assert_eq!(e.attr("tty"), Some("pts/0"));
        assert_eq!(got[1].as_ref().unwrap().action, Action::UserLogoff);
        assert_eq!(got[2].as_ref().unwrap().action, Action::HostInfo);
        assert!(got[3].is_err());
        assert_eq!(got[4].as_ref().unwrap().attr("username"), Some("eve"));
        assert!(got[5].is_err());
    }

    #[test]
    fn btmp_records_are_failures() {
        let got = parse(
            "/var/log/btmp",
            record(6, "admin", "ssh:notty", "1.2.3.4", 5),
        );
        assert_eq!(got[0].as_ref().unwrap().action, Action::UserLogonFailed);
    }
}
