//! `/var/log/lastlog`: each account's last logon, a sparse file of 292-byte records
//! (`u32` time, `char[32]` tty, `char[256]` host) indexed by uid.
//!
//! The user name is not in the file (it needs `/etc/passwd`), so events carry `uid`.
//! Never-used slots (all zero) are skipped; a record with a zero time but a tty or host,
//! or with control characters in its strings, is an error record.

use crate::records::{Origin, Out, RecordHandler, c_string, fixed_records};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::DateTime;
use riposte_model::{Action, Event};
use std::io::BufRead;
use std::net::IpAddr;

/// Size of one x86-64 `struct lastlog`.
pub const RECORD_SIZE: usize = 292;

/// Parser for `lastlog`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lastlog;

impl ArtifactParser for Lastlog {
    fn name(&self) -> &'static str {
        "lastlog"
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path) == "lastlog"
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        fixed_records(Origin::new(ctx, "lastlog"), input, RECORD_SIZE, Handler)
    }
}

struct Handler;

impl RecordHandler for Handler {
    fn record(&mut self, out: &mut Out<'_>, number: u64, b: &[u8]) {
        if b.iter().all(|&x| x == 0) {
            return;
        }
        let uid = number - 1;
        let sec = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let line = c_string(&b[4..36]);
        let host = c_string(&b[36..292]);
        if sec == 0
            || [&line, &host]
                .iter()
                .any(|s| s.chars().any(char::is_control))
        {
            out.error(
                number,
                format!("uid {uid}: not a lastlog record (time {sec}, tty {line:?})"),
            );
            return;
        }
        let Some(time) = DateTime::from_timestamp(i64::from(sec), 0) else {
            out.error(number, format!("uid {uid}: time {sec} out of range"));
            return;
        };
        let from = if host.is_empty() {
            String::new()
        } else {
            format!(" from {host}")
        };
        let mut e = out
            .origin
            .event(
                Some(time),
                Action::UserLogon,
                format!("Last logon of uid {uid} on {line}{from}"),
                number,
            )
            .with("uid", uid.to_string())
            .with("stage", "last_logon");
        if !line.is_empty() {
            e = e.with("tty", line.as_str());
        }
        if !host.is_empty() {
            let key = if host.parse::<IpAddr>().is_ok() {
                "remote_ip"
            } else {
                "remote_host"
            };
            e = e.with(key, host.as_str());
        }
        out.push(e.with_raw(format!("{sec} {line} {host}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sec: u32, line: &str, host: &str) -> Vec<u8> {
        let mut b = vec![0u8; RECORD_SIZE];
        b[0..4].copy_from_slice(&sec.to_le_bytes());
        b[4..4 + line.len()].copy_from_slice(line.as_bytes());
        b[36..36 + host.len()].copy_from_slice(host.as_bytes());
        b
    }

    #[test]
    fn sparse_records_by_uid() {
        let mut bytes = record(1_700_000_000, "pts/0", "10.1.2.3");
        bytes.extend(vec![0u8; RECORD_SIZE * 999]);
        bytes.extend(record(1_700_000_500, "tty1", ""));
        bytes.extend(record(0, "\x07junk", ""));
        let ctx = ArtifactContext {
            original_path: "/var/log/lastlog".into(),
            ..Default::default()
        };
        let got: Vec<_> = Lastlog.parse(&ctx, Box::new(&bytes[..])).collect();
        assert_eq!(got.len(), 3);
        let root = got[0].as_ref().unwrap();
        assert_eq!(root.attr("uid"), Some("0"));
        assert_eq!(root.attr("remote_ip"), Some("10.1.2.3"));
        let user = got[1].as_ref().unwrap();
        assert_eq!(user.attr("uid"), Some("1000"));
        assert_eq!(user.time.unwrap().timestamp(), 1_700_000_500);
        assert!(got[2].is_err());
    }
}
