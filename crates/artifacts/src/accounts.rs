//! Local account databases: `/etc/passwd`, `/etc/shadow`, `/etc/group` (and their `-`
//! backups, `passwd-` etc.).
//!
//! One event per line:
//! - passwd: a `host` event per account (no time) with `username`, `uid`, `gid`, `home`,
//!   `shell`, `gecos`, `login_shell` (`true` unless the shell is `nologin`/`false`/…) and
//!   `findings` (`uid0_not_root`, `login_shell`, `empty_password` when the password field
//!   itself is empty);
//! - shadow: `modify_user` (`change` = `password`) at the last password change
//!   (`lastchg` days, midnight UTC), or a `host` event without time when the date is
//!   unset; `password_state` (`set`, `locked`, `no_password`, `empty`), `hash_type`,
//!   `findings` (`empty_password`). The hash itself is never copied: `raw` has it
//!   replaced by `<redacted>`;
//! - group: a `host` event per group with `group`, `gid`, `members`, and `findings`
//!   `privileged_group_members` for sudo/wheel/adm/root/docker/lxd with members.
//!
//! A line with the wrong number of fields or a non-numeric id is an error record.

use crate::records::{LineHandler, Origin, Out, from_days, line_records};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;
const PRIVILEGED_GROUPS: &[&str] = &["sudo", "wheel", "admin", "adm", "root", "docker", "lxd"];

/// Parser for passwd, shadow and group files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accounts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Passwd,
    Shadow,
    Group,
}

fn db_of(path: &str) -> Option<Db> {
    if !path.contains("etc/") {
        return None;
    }
    match crate::file_name(path).trim_end_matches('-') {
        "passwd" => Some(Db::Passwd),
        "shadow" => Some(Db::Shadow),
        "group" => Some(Db::Group),
        _ => None,
    }
}

impl ArtifactParser for Accounts {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn claims(&self, original_path: &str) -> bool {
        db_of(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let db = db_of(&ctx.original_path).unwrap_or(Db::Passwd);
        line_records(
            Origin::new(ctx, "accounts"),
            input,
            MAX_LINE,
            Handler { db },
        )
    }
}

struct Handler {
    db: Db,
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())
}

fn has_login_shell(shell: &str) -> bool {
    let base = shell.rsplit('/').next().unwrap_or(shell);
    !shell.is_empty() && !matches!(base, "nologin" | "false" | "sync" | "shutdown" | "halt")
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let line = text.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            return;
        }
        // NIS compat lines (`+`, `+@netgroup`, `-user`) are not local accounts.
        if line.starts_with(['+', '-']) {
            return;
        }
        let f: Vec<&str> = line.split(':').collect();
        let result = match self.db {
            Db::Passwd => passwd(out.origin, number, &f),
            Db::Shadow => shadow(out.origin, number, &f),
            Db::Group => group(out.origin, number, &f),
        };
        match result {
            Ok(e) => {
                let raw = match self.db {
                    Db::Shadow => redacted(line),
                    _ => line.to_string(),
                };
                out.push(e.with_raw(raw));
            }
            Err(message) => out.error(number, message),
        }
    }
}

fn passwd(origin: &Origin, number: u64, f: &[&str]) -> Result<Event, String> {
    let [name, password, uid, gid, gecos, home, shell] = f else {
        return Err(format!("passwd line with {} fields instead of 7", f.len()));
    };
    if name.is_empty() || !is_id(uid) || !is_id(gid) {
        return Err(format!(
            "bad passwd entry for `{name}` (uid `{uid}`, gid `{gid}`)"
        ));
    }
    let login = has_login_shell(shell);
    let mut findings = Vec::new();
    if *uid == "0" && *name != "root" {
        findings.push("uid0_not_root");
    }
    if login {
        findings.push("login_shell");
    }
    if password.is_empty() {
        findings.push("empty_password");
    }
    let mut message = format!("Account {name} (uid {uid}, shell {shell})");
    if !findings.is_empty() {
        message.push_str(&format!(" [{}]", findings.join(", ")));
    }
    let mut e = origin
        .event(None, Action::HostInfo, message, number)
        .with("username", *name)
        .with("uid", *uid)
        .with("gid", *gid)
        .with("home", *home)
        .with("shell", *shell)
        .with("login_shell", login.to_string())
        .with("account_db", "passwd");
    if !gecos.is_empty() {
        e = e.with("gecos", *gecos);
    }
    if !findings.is_empty() {
        e = e.with("findings", findings.join(","));
    }
    Ok(e)
}

fn hash_type(hash: &str) -> &'static str {
    let hash = hash.trim_start_matches('!');
    match hash.split('$').nth(1) {
        _ if !hash.starts_with('$') => {
            if hash.len() == 13 {
                "des"
            } else {
                "none"
            }
        }
        Some("1") => "md5crypt",
        Some("2a" | "2b" | "2y") => "bcrypt",
        Some("5") => "sha256crypt",
        Some("6") => "sha512crypt",
        Some("y") => "yescrypt",
        Some("gy") => "gost-yescrypt",
        _ => "unknown",
    }
}

fn shadow(origin: &Origin, number: u64, f: &[&str]) -> Result<Event, String> {
    if f.len() != 9 {
        return Err(format!("shadow line with {} fields instead of 9", f.len()));
    }
    let (name, hash, lastchg) = (f[0], f[1], f[2]);
    if name.is_empty() || !(lastchg.is_empty() || is_id(lastchg)) {
        return Err(format!(
            "bad shadow entry for `{name}` (lastchg `{lastchg}`)"
        ));
    }
    let state = match hash {
        "" => "empty",
        h if h.starts_with('!') => "locked",
        "*" | "!!" | "x" => "no_password",
        h if h.starts_with('*') => "no_password",
        _ => "set",
    };
    let time = lastchg
        .parse::<i64>()
        .ok()
        .filter(|&d| d > 0)
        .and_then(from_days);
    let (action, message) = match time {
        Some(_) => (
            Action::UserModify,
            format!("Password of {name} last changed (password {state})"),
        ),
        None => (
            Action::HostInfo,
            format!("Shadow entry of {name} (password {state})"),
        ),
    };
    let mut e = origin
        .event(time, action, message, number)
        .with("username", name)
        .with("password_state", state)
        .with("hash_type", hash_type(hash))
        .with("account_db", "shadow");
    if time.is_some() {
        e = e.with("change", "password").with("lastchg_days", lastchg);
    }
    for (i, key) in [
        (3, "min_days"),
        (4, "max_days"),
        (5, "warn_days"),
        (6, "inactive_days"),
        (7, "expire_days"),
    ] {
        if !f[i].is_empty() {
            e = e.with(key, f[i]);
        }
    }
    if state == "empty" {
        e = e.with("findings", "empty_password");
    }
    Ok(e)
}

fn group(origin: &Origin, number: u64, f: &[&str]) -> Result<Event, String> {
    let [name, _password, gid, members] = f else {
        return Err(format!("group line with {} fields instead of 4", f.len()));
    };
    if name.is_empty() || !is_id(gid) {
        return Err(format!("bad group entry for `{name}` (gid `{gid}`)"));
    }
    let list: Vec<&str> = members.split(',').filter(|m| !m.is_empty()).collect();
    let mut message = format!("Group {name} (gid {gid})");
    if !list.is_empty() {
        message.push_str(&format!(": {}", list.join(", ")));
    }
    let mut e = origin
        .event(None, Action::HostInfo, message, number)
        .with("group", *name)
        .with("gid", *gid)
        .with("account_db", "group");
    if !list.is_empty() {
        e = e.with("members", list.join(","));
        if PRIVILEGED_GROUPS.contains(name) {
            e = e.with("findings", "privileged_group_members");
        }
    }
    Ok(e)
}

/// The shadow line with its hash replaced (empty and marker values are kept).
fn redacted(line: &str) -> String {
    let mut f: Vec<&str> = line.split(':').collect();
    if f.len() > 1 && f[1].len() > 2 {
        f[1] = "<redacted>";
    }
    f.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_hash_types() {
        assert!(Accounts.claims("/etc/passwd"));
        assert!(Accounts.claims("/etc/shadow-"));
        assert!(Accounts.claims("/etc/group"));
        assert!(!Accounts.claims("/etc/gshadow"));
        assert!(!Accounts.claims("/home/x/passwd.txt"));
        assert_eq!(hash_type("$6$salt$hash"), "sha512crypt");
        assert_eq!(hash_type("!$y$j9T$a$b"), "yescrypt");
        assert_eq!(hash_type("*"), "none");
        assert_eq!(
            redacted("bob:$6$x$y:19000:0:99999:7:::"),
            "bob:<redacted>:19000:0:99999:7:::"
        );
    }
}
