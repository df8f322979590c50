//! Linux audit logs: `/var/log/audit/audit.log*`, raw format
//! (`type=SYSCALL msg=audit(1700000000.123:456): key=value …`), optionally prefixed by
//! `node=…` and with the enriched `\x1d`-separated fields (`UID="bob"`).
//!
//! Records sharing an event serial (`audit(<time>:<serial>)`, written consecutively) are
//! grouped and become one event:
//! - `EXECVE` → `run`, `cmd` rebuilt from `a0`…`aN` (hex-encoded arguments decoded, long
//!   `aN[i]` pieces joined), with `pid`, `uid`, `auid`, `exe`, `comm`, `key` from the
//!   `SYSCALL` record and `cwd` from `CWD`;
//! - `USER_CMD` (sudo) → `run` with the decoded `cmd`;
//! - `USER_LOGIN` / `USER_AUTH` → `logon` / `failed_logon` by `res`, with `username`
//!   (`acct`), `remote_ip` (`addr`), `terminal`; `stage` is `login` or `auth`;
//! - `ADD_USER` → `create_user`; `DEL_USER`, `USER_MGMT`, `USER_CHAUTHTOK`, `ADD_GROUP`,
//!   `DEL_GROUP`, `GRP_MGMT` → `modify_user`;
//! - anything else → a `host` event naming the record types.
//!
//! A line that is not an audit record (`ausearch -i` interpreted output included) is an
//! error record; groups are capped at 64 records.

use crate::records::{LineHandler, Origin, Out, line_records, rotated};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 1024 * 1024;
const MAX_GROUP: usize = 64;
const MAX_CMD: usize = 1024 * 1024;

/// Parser for auditd's `audit.log`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Auditd;

impl ArtifactParser for Auditd {
    fn name(&self) -> &'static str {
        "auditd"
    }

    fn claims(&self, original_path: &str) -> bool {
        rotated(crate::file_name(original_path), "audit.log") && original_path.contains("audit/")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(
            Origin::new(ctx, "auditd"),
            input,
            MAX_LINE,
            Handler { group: None },
        )
    }
}

/// One parsed record.
#[derive(Debug)]
pub(crate) struct Record {
    pub kind: String,
    pub fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

struct Group {
    /// `<time>:<serial>` as written.
    id: String,
    serial: String,
    time: DateTime<Utc>,
    first_line: u64,
    node: Option<String>,
    records: Vec<Record>,
    raw: String,
}

struct Handler {
    group: Option<Group>,
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let text = text.trim_end();
        if text.trim().is_empty() || text.starts_with("----") {
            return;
        }
        let header = match parse_line(text) {
            Ok(h) => h,
            Err(message) => {
                out.error(number, message);
                return;
            }
        };
        let same = self.group.as_ref().is_some_and(|g| {
            g.id == header.id && g.records.len() < MAX_GROUP && g.node == header.node
        });
        if !same && let Some(g) = self.group.take() {
            out.push(group_event(out.origin, g));
        }
        let g = self.group.get_or_insert_with(|| Group {
            id: header.id.to_string(),
            serial: header.serial.to_string(),
            time: header.time,
            first_line: number,
            node: header.node.clone(),
            records: Vec::new(),
            raw: String::new(),
        });
        if !g.raw.is_empty() {
            g.raw.push('\n');
        }
        g.raw.push_str(text);
        let is_eoe = header.record.kind == "EOE";
        if !is_eoe {
            g.records.push(header.record);
        }
        if is_eoe && let Some(g) = self.group.take() {
            out.push(group_event(out.origin, g));
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        if let Some(g) = self.group.take() {
            out.push(group_event(out.origin, g));
        }
    }
}

struct Line<'a> {
    id: &'a str,
    serial: &'a str,
    time: DateTime<Utc>,
    node: Option<String>,
    record: Record,
}

fn parse_line(text: &str) -> Result<Line<'_>, String> {
    let shown = || crate::syslog::prefix(text, 60).to_string();
    let mut rest = text;
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = r
            .split_once(' ')
            .ok_or_else(|| format!("not an audit record: `{}`", shown()))?;
        node = Some(n.to_string());
        rest = r;
    }
    let r = rest
        .strip_prefix("type=")
        .ok_or_else(|| format!("not an audit record: `{}`", shown()))?;
    let (kind, r) = r
        .split_once(" msg=audit(")
        .ok_or_else(|| format!("audit record without msg=audit(…): `{}`", shown()))?;
    let (id, fields) = r
        .split_once("):")
        .ok_or_else(|| format!("unterminated audit(…) stamp: `{}`", shown()))?;
    let (stamp, serial) = id
        .split_once(':')
        .ok_or_else(|| format!("audit stamp without serial: `{id}`"))?;
    let time = parse_stamp(stamp).ok_or_else(|| format!("bad audit time `{stamp}`"))?;
    if kind.is_empty()
        || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || serial.is_empty()
        || !serial.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("bad audit record type or serial: `{}`", shown()));
    }
    Ok(Line {
        id,
        serial,
        time,
        node,
        record: Record {
            kind: kind.to_string(),
            fields: parse_fields(fields),
        },
    })
}

/// `1700000000.123` → time with milliseconds.
fn parse_stamp(stamp: &str) -> Option<DateTime<Utc>> {
    let (sec, frac) = stamp.split_once('.').unwrap_or((stamp, ""));
    if sec.is_empty() || !sec.bytes().all(|b| b.is_ascii_digit()) || sec.len() > 12 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
    };
    DateTime::from_timestamp(sec.parse().ok()?, nanos)
}

/// `key=value key="quoted value" msg='inner=fields'`; enriched fields after `\x1d`.
pub(crate) fn parse_fields(text: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    parse_fields_into(text, &mut fields, 0);
    fields
}

fn parse_fields_into(text: &str, fields: &mut Vec<(String, String)>, depth: u8) {
    let text = text.replace('\x1d', " ");
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() || fields.len() >= 1024 {
            return;
        }
        let token_end = rest.find([' ', '=']).unwrap_or(rest.len());
        if !rest[token_end..].starts_with('=') {
            rest = &rest[token_end..];
            continue; // a bare word
        }
        let key = &rest[..token_end];
        let value_start = &rest[token_end + 1..];
        let (value, quoted, next) = match value_start.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value_start[1..];
                match inner.find(q) {
                    Some(i) => (&inner[..i], Some(q), &inner[i + 1..]),
                    None => (inner, Some(q), ""),
                }
            }
            _ => {
                let end = value_start.find(' ').unwrap_or(value_start.len());
                (&value_start[..end], None, &value_start[end..])
            }
        };
        if quoted == Some('\'') && depth == 0 && key == "msg" {
            parse_fields_into(value, fields, depth + 1);
        } else {
            let value = if quoted.is_none() && is_encoded_key(key) {
                decode_hex(value).unwrap_or_else(|| value.to_string())
            } else {
                value.to_string()
            };
            fields.push((key.to_string(), value));
        }
        rest = next;
    }
}

/// Fields audit writes hex-encoded when they hold spaces, quotes or control characters.
fn is_encoded_key(key: &str) -> bool {
    let arg = key
        .strip_prefix('a')
        .map(|n| n.split(['[', '_']).next().unwrap_or(n))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && !key.ends_with("_len");
    arg || matches!(
        key,
        "cmd"
            | "acct"
            | "proctitle"
            | "name"
            | "cwd"
            | "exe"
            | "comm"
            | "path"
            | "data"
            | "old-name"
            | "new-name"
            | "grp"
            | "new_group"
    )
}

/// Hex to text (NULs, as in `proctitle`, become spaces); `None` when it is not hex.
fn decode_hex(value: &str) -> Option<String> {
    if value.is_empty()
        || !value.len().is_multiple_of(2)
        || !value.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes: Vec<u8> = (0..value.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&value[i..i + 2], 16).ok())
        .map(|b| if b == 0 { b' ' } else { b })
        .collect();
    Some(String::from_utf8_lossy(&bytes).trim_end().to_string())
}

fn success(res: Option<&str>) -> Option<bool> {
    match res? {
        "success" | "yes" | "1" => Some(true),
        "failed" | "no" | "0" => Some(false),
        _ => None,
    }
}

fn group_event(origin: &Origin, g: Group) -> Event {
    let find = |kind: &str| g.records.iter().find(|r| r.kind == kind);
    let syscall = find("SYSCALL");
    // Attributes: the SYSCALL's process fields, else the first record's.
    let main = syscall.or(g.records.first());
    let get = |key: &str| {
        main.and_then(|r| r.get(key))
            .or_else(|| g.records.iter().find_map(|r| r.get(key)))
    };
    let types: Vec<&str> = g.records.iter().map(|r| r.kind.as_str()).collect();
    let first = types.first().copied().unwrap_or("EOE");
    let name_of = |uid_key: &str, name_key: &str| {
        get(name_key)
            .filter(|v| !v.is_empty() && *v != "unset" && !v.starts_with("unknown"))
            .map(str::to_string)
            .or_else(|| {
                get(uid_key)
                    .filter(|u| *u == "0")
                    .map(|_| "root".to_string())
            })
    };
    let (action, message, mut extra): (Action, String, Vec<(&str, String)>) =
        if let Some(exec) = find("EXECVE") {
            let cmd = execve_cmd(exec);
            let mut extra = vec![("cmd", cmd.clone())];
            if let Some(argc) = exec.get("argc") {
                extra.push(("argc", argc.to_string()));
            }
            if let Some(cwd) = find("CWD").and_then(|r| r.get("cwd")) {
                extra.push(("cwd", cwd.to_string()));
            }
            if let Some(user) = name_of("auid", "AUID").or_else(|| name_of("uid", "UID")) {
                extra.push(("username", user));
            }
            (Action::ProcessRun, format!("executed: {cmd}"), extra)
        } else if let Some(r) = find("USER_CMD") {
            let cmd = r.get("cmd").unwrap_or("").to_string();
            let mut extra = vec![("cmd", cmd.clone())];
            if let Some(user) = name_of("uid", "UID").or_else(|| name_of("auid", "AUID")) {
                extra.push(("username", user));
            }
            if let Some(cwd) = r.get("cwd") {
                extra.push(("cwd", cwd.to_string()));
            }
            (Action::ProcessRun, format!("sudo command: {cmd}"), extra)
        } else if let Some(r) = find("USER_LOGIN").or_else(|| find("USER_AUTH")) {
            let ok = success(r.get("res"));
            let acct = r
                .get("acct")
                .filter(|a| !a.is_empty() && !a.starts_with('('))
                .map(str::to_string)
                .or_else(|| name_of("id", "ID"));
            let stage = if r.kind == "USER_LOGIN" {
                "login"
            } else {
                "auth"
            };
            let who = acct.clone().unwrap_or_else(|| "unknown user".into());
            let from = r
                .get("addr")
                .filter(|a| *a != "?")
                .map(|a| format!(" from {a}"))
                .unwrap_or_default();
            let (action, verb) = match ok {
                Some(false) => (Action::UserLogonFailed, "failed"),
                _ => (Action::UserLogon, "succeeded"),
            };
            let mut extra = vec![("stage", stage.to_string())];
            if let Some(a) = acct {
                extra.push(("username", a));
            }
            if let Some(addr) = r.get("addr").filter(|a| *a != "?" && !a.is_empty()) {
                let key = if addr.parse::<std::net::IpAddr>().is_ok() {
                    "remote_ip"
                } else {
                    "remote_host"
                };
                extra.push((key, addr.to_string()));
            }
            if let Some(h) = r.get("hostname").filter(|a| *a != "?") {
                extra.push(("remote_hostname", h.to_string()));
            }
            (
                action,
                format!(
                    "{} {verb} for {who}{from}",
                    r.kind.replace('_', " ").to_lowercase()
                ),
                extra,
            )
        } else if let Some(r) = find("ADD_USER") {
            let mut extra = Vec::new();
            let acct = r.get("acct").or_else(|| r.get("id")).unwrap_or("?");
            extra.push(("username", acct.to_string()));
            (Action::UserCreate, format!("user {acct} added"), extra)
        } else if let Some(r) = [
            "DEL_USER",
            "USER_MGMT",
            "USER_CHAUTHTOK",
            "ADD_GROUP",
            "DEL_GROUP",
            "GRP_MGMT",
        ]
        .iter()
        .find_map(|k| find(k))
        {
            let mut extra = Vec::new();
            let acct = r.get("acct").or_else(|| r.get("id")).unwrap_or("?");
            extra.push(("username", acct.to_string()));
            if let Some(op) = r.get("op") {
                extra.push(("change", op.to_string()));
            }
            (
                Action::UserModify,
                format!("{} {acct}: {}", r.kind, r.get("op").unwrap_or("")),
                extra,
            )
        } else {
            let mut message = format!("audit {}", types.join(","));
            if let Some(key) = get("key").filter(|k| *k != "(null)") {
                message.push_str(&format!(" key={key}"));
            }
            if let Some(exe) = get("exe") {
                message.push_str(&format!(" exe={exe}"));
            }
            (Action::HostInfo, message, Vec::new())
        };
    if let Some(res) = get("res").or_else(|| get("success")) {
        extra.push(("result", res.to_string()));
    }
    let mut e = origin
        .event(Some(g.time), action, message, g.first_line)
        .with("audit_type", first)
        .with("audit_types", types.join(","))
        .with("audit_serial", g.serial.as_str())
        .with_raw(g.raw);
    for key in [
        "pid", "ppid", "uid", "auid", "euid", "ses", "exe", "comm", "key", "syscall", "terminal",
        "tty",
    ] {
        if let Some(v) = get(key) {
            e = e.with(key, v);
        }
    }
    if let Some(p) = find("PROCTITLE").and_then(|r| r.get("proctitle")) {
        e = e.with("proctitle", p);
    }
    if let Some(node) = &g.node {
        e = e.with("host_name", node.as_str());
    }
    for (key, value) in extra {
        e = e.with(key, value);
    }
    e
}

/// The command line of an `EXECVE` record: `a0`…`a<argc-1>`, long ones from `aN[i]` pieces;
/// arguments with whitespace are single-quoted.
fn execve_cmd(r: &Record) -> String {
    let argc: usize = r.get("argc").and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut cmd = String::new();
    for i in 0..argc.min(65_536) {
        let key = format!("a{i}");
        let arg = match r.get(&key) {
            Some(a) => a.to_string(),
            None => {
                let prefix = format!("a{i}[");
                r.fields
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.as_str())
                    .collect()
            }
        };
        if !cmd.is_empty() {
            cmd.push(' ');
        }
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            cmd.push('\'');
            cmd.push_str(&arg.replace('\'', "'\\''"));
            cmd.push('\'');
        } else {
            cmd.push_str(&arg);
        }
        if cmd.len() > MAX_CMD {
            let mut end = MAX_CMD;
            while !cmd.is_char_boundary(end) {
                end -= 1;
            }
            cmd.truncate(end);
            break;
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_quotes_hex_and_inner_msg() {
        let f = parse_fields(
            "pid=1 uid=0 msg='cwd=\"/root\" cmd=2F62696E2F7368202D63206964 res=success'\x1dUID=\"root\"",
        );
        let get = |k: &str| f.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("cwd"), Some("/root"));
        assert_eq!(get("cmd"), Some("/bin/sh -c id"));
        assert_eq!(get("res"), Some("success"));
        assert_eq!(get("UID"), Some("root"));
    }

    #[test]
    fn stamps() {
        assert_eq!(
            parse_stamp("1700000000.123").unwrap().timestamp_millis(),
            1_700_000_000_123
        );
        assert!(parse_stamp("abc.1").is_none());
        assert!(parse_stamp("").is_none());
    }
}
