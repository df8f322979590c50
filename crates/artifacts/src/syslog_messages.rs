//! General syslog files: `/var/log/syslog*`, `/var/log/messages*`, `/var/log/kern.log*`,
//! `/var/log/daemon.log*` (RFC 3164 or ISO 8601 headers). `auth.log` and `secure` are
//! left to [`crate::AuthLog`].
//!
//! Every line becomes an event: a `host` event with the program, pid and message, or a
//! better action when the message is clearly one of these:
//! - sudo `bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh` → `run` (`cmd`,
//!   `username`, `target_user`); a refusal (`user NOT in sudoers ; …`,
//!   `3 incorrect password attempts ; …`) → `failed_logon`;
//! - su `(to root) bob on pts/0`, `Successful su for root by bob`, PAM's
//!   `session opened for user root by bob(uid=1000)` → `privilege`; `FAILED su …` →
//!   `failed_logon`;
//! - cron `(root) CMD (command)` → `run`;
//! - `useradd` `new user: name=…` → `create_user`; `userdel` → `modify_user`;
//!   `password changed for bob` → `modify_user`.
//!
//! A line without a readable syslog timestamp is an error record.

use crate::records::{LineHandler, Origin, Out, line_records, rotated};
use crate::syslog::{Stamp, parse_header};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for general syslog files.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyslogMessages;

impl ArtifactParser for SyslogMessages {
    fn name(&self) -> &'static str {
        "syslog_messages"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        ["syslog", "messages", "kern.log", "daemon.log"]
            .iter()
            .any(|base| rotated(name, base))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(
            Origin::new(ctx, "syslog_messages"),
            input,
            MAX_LINE,
            Handler {
                reference: ctx.modified.unwrap_or_else(Utc::now),
            },
        )
    }
}

struct Handler {
    reference: DateTime<Utc>,
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let h = match parse_header(text, self.reference) {
            Ok(h) => h,
            Err(message) => return out.error(number, message),
        };
        let found = classify(h.program, h.message).unwrap_or_else(|| {
            let tag = match h.pid {
                Some(pid) => format!("{}[{pid}]", h.program),
                None => h.program.to_string(),
            };
            let message = if tag.is_empty() {
                h.message.to_string()
            } else {
                format!("{tag}: {}", h.message)
            };
            Classified::new(Action::HostInfo, message)
        });
        let mut e = out
            .origin
            .event(Some(h.time), found.action, found.message, number)
            .with("syslog_host", h.host)
            .with("host_name", h.host)
            .with_raw(text);
        if !h.program.is_empty() {
            e = e.with("process", h.program);
        }
        if let Some(pid) = h.pid {
            e = e.with("pid", pid);
        }
        e = match h.stamp {
            Stamp::Rfc3164 => e
                .with("timezone", "UTC (assumed)")
                .with("year_inferred", "true"),
            Stamp::Iso(offset) => e.with("timezone", offset.to_string()),
        };
        for (key, value) in found.attrs {
            e = e.with(key, value);
        }
        out.push(e);
    }
}

/// What a message means, before the header's fields are added.
#[derive(Debug)]
pub(crate) struct Classified {
    pub action: Action,
    pub message: String,
    pub attrs: Vec<(&'static str, String)>,
}

impl Classified {
    fn new(action: Action, message: String) -> Self {
        Classified {
            action,
            message,
            attrs: Vec::new(),
        }
    }

    fn attr(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((key, value.into()));
        self
    }
}

/// Classifies a message by its program (the syslog tag or journald's identifier);
/// `None` when nothing better than a host event fits.
pub(crate) fn classify(program: &str, msg: &str) -> Option<Classified> {
    // Logons, failures and account changes read exactly as in auth.log, so sshd lines
    // that only reach the journal or syslog still count.
    if let Some(found) = crate::auth_log::classify_message(program, msg) {
        return Some(Classified {
            action: found.action,
            message: found.message,
            attrs: found.attrs,
        });
    }
    let msg = msg.trim();
    let (program, pam_service) = match program.strip_suffix("(pam_unix)") {
        Some(p) => (p, Some(p)),
        None => (program, None),
    };
    // `pam_unix(su-l:session): session opened …` → service su-l, message after `): `.
    let (service, msg) = match msg.strip_prefix("pam_unix(").and_then(|r| {
        let (service, rest) = r.split_once(':')?;
        let (_, m) = rest.split_once("): ")?;
        Some((service, m))
    }) {
        Some((service, m)) => (Some(service), m),
        None => (pam_service, msg),
    };
    if let Some(user) = msg.strip_prefix("password changed for ") {
        let user = user.trim();
        return Some(
            Classified::new(Action::UserModify, format!("Password of {user} changed"))
                .attr("username", user)
                .attr("change", "password"),
        );
    }
    if let Some(service) = service {
        if matches!(service, "su" | "su-l")
            && let Some(rest) = msg.strip_prefix("session opened for user ")
        {
            return su_session(service, rest);
        }
        return None;
    }
    match program {
        "sudo" => sudo(msg),
        "su" => su(msg),
        "CRON" | "cron" | "crond" => cron(msg),
        "useradd" => useradd(msg),
        "userdel" => {
            let user = msg.strip_prefix("delete user '")?.strip_suffix('\'')?;
            Some(
                Classified::new(Action::UserModify, format!("User {user} deleted"))
                    .attr("username", user)
                    .attr("change", "deleted"),
            )
        }
        _ => None,
    }
}

/// `root by bob(uid=1000)`, `cyrus by (uid=0)`.
fn su_session(service: &str, rest: &str) -> Option<Classified> {
    let (target, by) = rest.split_once(" by ")?;
    let target = target.split_once("(uid=").map_or(target, |(n, _)| n).trim();
    let (by_name, by_uid) = match by.trim().split_once("(uid=") {
        Some((n, uid)) => (n, uid.strip_suffix(')')),
        None => (by.trim(), None),
    };
    let who = if by_name.is_empty() {
        format!("uid {}", by_uid.unwrap_or("?"))
    } else {
        by_name.to_string()
    };
    let mut c = Classified::new(
        Action::UserPrivilege,
        format!("{who} switched to {target} with su"),
    )
    .attr("target_user", target)
    .attr("service", service);
    if !by_name.is_empty() {
        c = c.attr("username", by_name);
    }
    if let Some(uid) = by_uid {
        c = c.attr("by_uid", uid);
    }
    Some(c)
}

/// `bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh`.
fn sudo(msg: &str) -> Option<Classified> {
    let crate::auth_log::accounts::SudoLine {
        user,
        target,
        cmd,
        pwd,
        tty,
        reason,
    } = crate::auth_log::accounts::parse_sudo(msg)?;
    let target = target.unwrap_or("root");
    let mut c = match (reason, cmd) {
        (None, Some(cmd)) => Classified::new(
            Action::ProcessRun,
            format!("{user} ran as {target} with sudo: {cmd}"),
        )
        .attr("cmd", cmd),
        (Some(reason), _) => Classified::new(
            Action::UserLogonFailed,
            format!("sudo refused for {user}: {reason}"),
        )
        .attr("reason", reason),
        (None, None) => return None,
    };
    if let Some(cmd) = cmd
        && reason.is_some()
    {
        c = c.attr("cmd", cmd);
    }
    c = c
        .attr("username", user)
        .attr("target_user", target)
        .attr("service", "sudo");
    for (key, value) in [("pwd", pwd), ("tty", tty)] {
        if let Some(v) = value {
            c = c.attr(key, v);
        }
    }
    Some(c)
}

/// `(to root) bob on pts/0`, `Successful su for root by bob`, `FAILED su for root by bob`.
fn su(msg: &str) -> Option<Classified> {
    let (ok, target, user, tty) = if let Some(rest) = msg.strip_prefix("(to ") {
        let (target, rest) = rest.split_once(") ")?;
        let (user, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
        (true, target, user, tty)
    } else if let Some(rest) = msg.strip_prefix("Successful su for ") {
        let (target, user) = rest.split_once(" by ")?;
        (true, target, user, "")
    } else if let Some(rest) = msg.strip_prefix("FAILED su for ") {
        let (target, user) = rest.split_once(" by ")?;
        (false, target, user, "")
    } else {
        return None;
    };
    let mut c = if ok {
        Classified::new(
            Action::UserPrivilege,
            format!("{user} switched to {target} with su"),
        )
    } else {
        Classified::new(
            Action::UserLogonFailed,
            format!("{user} failed to switch to {target} with su"),
        )
    }
    .attr("username", user.trim())
    .attr("target_user", target.trim())
    .attr("service", "su");
    if !tty.is_empty() {
        c = c.attr("tty", tty.trim());
    }
    Some(c)
}

/// `(root) CMD (command)`.
fn cron(msg: &str) -> Option<Classified> {
    let rest = msg.strip_prefix('(')?;
    let (user, rest) = rest.split_once(") CMD (")?;
    let cmd = rest.strip_suffix(')').unwrap_or(rest).trim();
    Some(
        Classified::new(Action::ProcessRun, format!("cron ran for {user}: {cmd}"))
            .attr("username", user)
            .attr("cmd", cmd)
            .attr("service", "cron"),
    )
}

/// `new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash`.
fn useradd(msg: &str) -> Option<Classified> {
    let fields = msg.strip_prefix("new user: ")?;
    let field = |key: &str| {
        fields
            .split(", ")
            .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    let name = field("name")?;
    let mut c =
        Classified::new(Action::UserCreate, format!("User {name} created")).attr("username", name);
    for (key, value) in [
        ("uid", field("UID")),
        ("gid", field("GID")),
        ("home", field("home")),
        ("shell", field("shell")),
    ] {
        if let Some(v) = value {
            c = c.attr(key, v);
        }
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(c: &'a Classified, key: &str) -> Option<&'a str> {
        c.attrs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn sudo_su_cron_useradd_passwd() {
        // sudo and su read as in auth.log: privilege use, with the command.
        let c = classify(
            "sudo",
            "bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        )
        .unwrap();
        assert_eq!(c.action, Action::UserPrivilege);
        assert_eq!(attr(&c, "cmd"), Some("/bin/sh"));
        assert_eq!(attr(&c, "username"), Some("bob"));
        let c = classify(
            "sudo",
            "eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
        )
        .unwrap();
        assert_eq!(
            (c.action, attr(&c, "outcome")),
            (Action::UserPrivilege, Some("failure"))
        );
        let c = classify("su", "(to root) bob on pts/0").unwrap();
        assert_eq!(
            (c.action, attr(&c, "target_user")),
            (Action::UserPrivilege, Some("root"))
        );
        let c = classify("su(pam_unix)", "session opened for user cyrus by (uid=0)").unwrap();
        assert_eq!(attr(&c, "target_user"), Some("cyrus"));
        let c = classify(
            "CRON",
            "(root) CMD (cd / && run-parts --report /etc/cron.hourly)",
        )
        .unwrap();
        assert_eq!(
            attr(&c, "cmd"),
            Some("cd / && run-parts --report /etc/cron.hourly")
        );
        let c = classify(
            "useradd",
            "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash",
        )
        .unwrap();
        assert_eq!(
            (c.action, attr(&c, "uid")),
            (Action::UserCreate, Some("1001"))
        );
        let c = classify(
            "passwd",
            "pam_unix(passwd:chauthtok): password changed for bob",
        )
        .unwrap();
        assert_eq!(c.action, Action::UserModify);
        assert!(classify("kernel", "Linux version 2.6.5").is_none());
        // sshd lines that reach syslog or the journal are logons and failures too.
        let c = classify(
            "sshd",
            "Failed password for invalid user admin from 203.0.113.9 port 4242 ssh2",
        )
        .unwrap();
        assert_eq!(
            (c.action, attr(&c, "remote_ip")),
            (Action::UserLogonFailed, Some("203.0.113.9"))
        );
        let c = classify(
            "sshd",
            "Accepted publickey for bob from 198.51.100.4 port 50000 ssh2: ED25519 SHA256:x",
        )
        .unwrap();
        assert_eq!(
            (c.action, attr(&c, "username")),
            (Action::UserLogon, Some("bob"))
        );
    }
}
