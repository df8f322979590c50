//! Linux authentication logs: `/var/log/auth.log*` (Debian, Ubuntu) and
//! `/var/log/secure*` (Red Hat family), in RFC 3164 or ISO 8601 syslog form.
//!
//! Lines become user events: SSH logons and failures, logoffs, sudo and su, and account
//! changes. Lines about anything else are skipped silently; a line without a readable
//! syslog timestamp is an error record.
//!
//! One SSH attempt is often logged several times (sshd's own line, PAM's line, an
//! "Invalid user" line). Every event carries a `stage` attribute so consumers can count
//! each attempt once:
//! - `auth`: sshd's own result line (`Accepted …`, `Failed password …`, `Disconnected …`);
//!   count these.
//! - `pam`: PAM's view of the same check (`authentication failure; … rhost=…`). Legacy
//!   sshd builds log only these (`sshd(pam_unix)[…]`), so they stand in when a source has
//!   no `auth` lines.
//! - `invalid_user`: the user lookup before the password check; the attempt itself
//!   follows as a `Failed password for invalid user …` line.
//! - `probe`: `Failed none`, the client asking which methods exist; not a guess.
//! - `session`: PAM session opened/closed.
//!
//! Syslog's `message repeated N times: [ … ]` is parsed as its inner message with
//! `count` = N, so summing `count` (default 1) gives the number of occurrences.

use crate::lines::Lines;
use crate::syslog::{Header, Stamp, parse_header};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use std::io::BufRead;

pub(crate) mod accounts;
mod sshd;

/// Longest line kept; rsyslog's default maximum message size is 8 KiB.
const MAX_LINE: usize = 64 * 1024;

/// Parser for `auth.log` / `secure` syslog files.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthLog;

impl ArtifactParser for AuthLog {
    fn name(&self) -> &'static str {
        "auth_log"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        ["auth.log", "secure"].iter().any(|base| {
            name.strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-']))
        })
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            lines: Lines::new(input, MAX_LINE),
            meta: Meta {
                host: ctx.host.clone(),
                path: ctx.original_path.clone(),
                reference: ctx.modified.unwrap_or_else(Utc::now),
            },
        })
    }
}

/// What a message says, before the syslog header's fields are added.
pub(crate) struct Found {
    pub action: Action,
    pub message: String,
    pub attrs: Vec<(&'static str, String)>,
}

impl Found {
    pub fn new(action: Action, message: String) -> Self {
        Found {
            action,
            message,
            attrs: Vec::new(),
        }
    }

    pub fn attr(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((key, value.into()));
        self
    }

    /// Adds `remote_ip` when `addr` is an IP address, else `remote_host` (sshd with
    /// `UseDNS yes`, PAM's `rhost=`); empty addresses add nothing.
    pub fn remote(self, addr: &str) -> Self {
        match addr {
            "" => self,
            a if a.parse::<std::net::IpAddr>().is_ok() => self.attr("remote_ip", a),
            a => self.attr("remote_host", a),
        }
    }
}

struct Records<'r> {
    lines: Lines<'r>,
    meta: Meta,
}

/// What every record of one file shares.
struct Meta {
    host: String,
    path: String,
    /// Where RFC 3164 years are inferred from: the file's mtime, or now.
    reference: DateTime<Utc>,
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = match self.lines.next_line()? {
                Ok(line) => line,
                Err(source) => {
                    let record = self.lines.number();
                    return Some(Err(ArtifactError::Read {
                        path: self.meta.path.clone(),
                        record,
                        source,
                    }));
                }
            };
            let (number, truncated) = (line.number, line.truncated);
            let text = String::from_utf8_lossy(line.bytes);
            if truncated {
                let message = format!("line longer than {MAX_LINE} bytes; skipped");
                return Some(Err(self.meta.error(number, message)));
            }
            if text.trim().is_empty() {
                continue;
            }
            let header = match parse_header(&text, self.meta.reference) {
                Ok(h) => h,
                Err(message) => return Some(Err(self.meta.error(number, message))),
            };
            if let Some(found) = classify(&header) {
                return Some(Ok(self.meta.event(&header, found, number, &text)));
            }
        }
    }
}

impl Meta {
    fn error(&self, record: u64, message: String) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message,
        }
    }

    fn event(&self, h: &Header<'_>, found: Found, number: u64, raw: &str) -> Event {
        let origin = EventOrigin {
            parser: "auth_log".into(),
            path: self.path.clone(),
            record: Some(number),
        };
        let mut event = Event::new(
            Some(h.time),
            self.host.as_str(),
            found.action,
            found.message,
            origin,
        )
        .with("process", process_name(h.program))
        .with("syslog_host", h.host)
        .with_raw(raw);
        if let Some(pid) = h.pid {
            event = event.with("pid", pid);
        }
        event = match h.stamp {
            Stamp::Rfc3164 => event
                .with("timezone", "UTC (assumed)")
                .with("year_inferred", "true"),
            Stamp::Iso(offset) => event.with("timezone", offset.to_string()),
        };
        for (key, value) in found.attrs {
            event = event.with(key, value);
        }
        event
    }
}

/// `sshd(pam_unix)` (legacy PAM tag) → `sshd`.
fn process_name(program: &str) -> &str {
    program.strip_suffix("(pam_unix)").unwrap_or(program)
}

/// Turns one message into an event description, or `None` when it is not about users.
fn classify(h: &Header<'_>) -> Option<Found> {
    if let Some((count, inner)) = repeated(h.message) {
        let found = classify_message(h.program, inner)?;
        return Some(found.attr("count", count.to_string()));
    }
    classify_message(h.program, h.message)
}

/// What a syslog message from `program` says about users (logons, failures, sudo, su,
/// account changes), shared with the syslog and journald parsers.
pub(crate) fn classify_message(program: &str, msg: &str) -> Option<Found> {
    if let Some(service) = program.strip_suffix("(pam_unix)") {
        return accounts::pam(service, msg);
    }
    if let Some(rest) = msg.strip_prefix("pam_unix(") {
        let (service, rest) = rest.split_once(':')?;
        let (_, msg) = rest.split_once("): ")?;
        return accounts::pam(service, msg);
    }
    match program {
        "sshd" => sshd::message(msg),
        "sudo" => accounts::sudo(msg),
        "useradd" => accounts::useradd(msg),
        "usermod" => accounts::usermod(msg),
        "userdel" => accounts::userdel(msg),
        "gpasswd" => accounts::gpasswd(msg),
        _ => None,
    }
}

/// `message repeated 5 times: [ inner]` → (5, `inner`).
fn repeated(msg: &str) -> Option<(u64, &str)> {
    let rest = msg.strip_prefix("message repeated ")?;
    let (n, rest) = rest.split_once(" times: [")?;
    let n = n.parse().ok()?;
    let inner = rest.strip_suffix(']').unwrap_or(rest);
    Some((n, inner.trim_start()))
}

#[cfg(test)]
mod tests;
