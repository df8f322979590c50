//! PAM, sudo, su and account-management messages.

use super::Found;
use riposte_model::Action;

/// Groups whose members are root in all but name.
const PRIVILEGED_GROUPS: &[&str] = &["sudo", "wheel", "admin", "adm", "root", "docker", "lxd"];

/// PAM services whose sessions are logons (cron, sudo and systemd sessions are not).
fn is_login_service(service: &str) -> bool {
    matches!(
        service,
        "sshd" | "login" | "remote" | "rlogin" | "lightdm" | "sddm" | "xdm" | "kdm" | "cockpit"
    ) || service.starts_with("gdm")
}

/// A `pam_unix(service:type): msg` or legacy `service(pam_unix)[pid]: msg` line.
pub(crate) fn pam(service: &str, msg: &str) -> Option<Found> {
    if let Some(fields) = msg.strip_prefix("authentication failure;") {
        pam_auth_failure(service, fields)
    } else if let Some(rest) = msg.strip_prefix("session opened for user ") {
        session_opened(service, rest)
    } else if let Some(rest) = msg.strip_prefix("session closed for user ") {
        let user = strip_uid(rest.trim());
        is_login_service(service).then(|| {
            Found::new(
                Action::UserLogoff,
                format!("Session of {user} closed ({service})"),
            )
            .attr("username", user)
            .attr("service", service)
            .attr("stage", "session")
        })
    } else if let Some(user) = msg.strip_prefix("password changed for ") {
        let user = user.trim();
        Some(
            Found::new(
                Action::UserModify,
                format!("Password of {user} changed ({service})"),
            )
            .attr("username", user)
            .attr("change", "password")
            .attr("service", service),
        )
    } else {
        None
    }
}

/// PAM's `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root` fields.
pub(crate) fn pam_auth_failure(service: &str, fields: &str) -> Option<Found> {
    let field = |key: &str| {
        fields
            .split_ascii_whitespace()
            .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .filter(|v| !v.is_empty())
    };
    let user = field("user");
    let rhost = field("rhost");
    let mut message = format!(
        "Authentication failure for {}",
        user.unwrap_or("unknown user")
    );
    if let Some(rhost) = rhost {
        message.push_str(&format!(" from {rhost}"));
    }
    message.push_str(&format!(" ({service}, PAM)"));
    let mut found = Found::new(Action::UserLogonFailed, message)
        .attr("service", service)
        .attr("stage", "pam")
        .remote(rhost.unwrap_or(""));
    for (key, value) in [
        ("username", user),
        ("ruser", field("ruser")),
        ("tty", field("tty")),
    ] {
        if let Some(value) = value {
            found = found.attr(key, value);
        }
    }
    Some(found)
}

/// `root by alice(uid=1000)`, `root(uid=0) by alice(uid=1000)`, `news by (uid=0)`.
fn session_opened(service: &str, rest: &str) -> Option<Found> {
    let (target, by) = rest.trim().split_once(" by ")?;
    let target = strip_uid(target);
    let (by_name, by_uid) = match by.split_once("(uid=") {
        Some((name, uid)) => (name, uid.strip_suffix(')')),
        None => (by, None),
    };
    if matches!(service, "su" | "su-l") {
        let who = if by_name.is_empty() {
            format!("uid {}", by_uid.unwrap_or("?"))
        } else {
            by_name.to_string()
        };
        let mut found = Found::new(
            Action::UserPrivilege,
            format!("{who} switched to {target} with su"),
        )
        .attr("target_user", target)
        .attr("service", service);
        if !by_name.is_empty() {
            found = found.attr("username", by_name);
        }
        if let Some(uid) = by_uid {
            found = found.attr("by_uid", uid);
        }
        return Some(found);
    }
    is_login_service(service).then(|| {
        Found::new(
            Action::UserLogon,
            format!("Session opened for {target} ({service})"),
        )
        .attr("username", target)
        .attr("service", service)
        .attr("stage", "session")
    })
}

/// `root(uid=0)` → `root`.
fn strip_uid(user: &str) -> &str {
    user.split_once("(uid=").map_or(user, |(name, _)| name)
}

/// The fields of a sudo log line.
pub(crate) struct SudoLine<'a> {
    /// Who ran sudo.
    pub user: &'a str,
    /// `USER=`: who the command ran as (absent: root).
    pub target: Option<&'a str>,
    /// `COMMAND=`, last on the line (it may itself contain ` ; `).
    pub cmd: Option<&'a str>,
    /// `PWD=`.
    pub pwd: Option<&'a str>,
    /// `TTY=`.
    pub tty: Option<&'a str>,
    /// A refusal written before the fields (`user NOT in sudoers`).
    pub reason: Option<&'a str>,
}

/// Splits `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`,
/// optionally with a refusal first (`user NOT in sudoers ; TTY=…`).
pub(crate) fn parse_sudo(msg: &str) -> Option<SudoLine<'_>> {
    let (user, rest) = msg.trim().split_once(" : ")?;
    let mut line = SudoLine {
        user: user.trim(),
        target: None,
        cmd: None,
        pwd: None,
        tty: None,
        reason: None,
    };
    let mut remaining = rest;
    while !remaining.is_empty() {
        if let Some(c) = remaining.strip_prefix("COMMAND=") {
            line.cmd = Some(c.trim_end());
            break;
        }
        let (field, next) = remaining.split_once(" ; ").unwrap_or((remaining, ""));
        match field.split_once('=') {
            Some(("USER", v)) => line.target = Some(v),
            Some(("PWD", v)) => line.pwd = Some(v),
            Some(("TTY", v)) => line.tty = Some(v),
            Some(_) => {}
            None if line.reason.is_none() => line.reason = Some(field.trim()),
            None => {}
        }
        remaining = next;
    }
    Some(line)
}

/// A sudo line as a privilege event.
pub(crate) fn sudo(msg: &str) -> Option<Found> {
    let SudoLine {
        user,
        target,
        cmd,
        pwd,
        tty,
        reason,
    } = parse_sudo(msg)?;
    if target.is_none() && cmd.is_none() {
        return None;
    }
    let target = target.unwrap_or("root");
    let shown = cmd.unwrap_or("(no command)");
    let message = match reason {
        None => format!("{user} ran sudo as {target}: {shown}"),
        Some(r) => format!("sudo refused for {user} ({r}): {shown}"),
    };
    let mut found = Found::new(Action::UserPrivilege, message)
        .attr("username", user)
        .attr("target_user", target)
        .attr(
            "outcome",
            if reason.is_some() {
                "failure"
            } else {
                "success"
            },
        );
    for (key, value) in [("cmd", cmd), ("pwd", pwd), ("tty", tty), ("reason", reason)] {
        if let Some(value) = value {
            found = found.attr(key, value);
        }
    }
    Some(found)
}

/// `new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0`.
pub(crate) fn useradd(msg: &str) -> Option<Found> {
    let fields = msg.strip_prefix("new user: ")?;
    let field = |key: &str| {
        fields
            .split(", ")
            .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    let name = field("name")?;
    let uid = field("UID").unwrap_or("?");
    let shell = field("shell").unwrap_or("?");
    let mut found = Found::new(
        Action::UserCreate,
        format!("User {name} created (UID {uid}, shell {shell})"),
    )
    .attr("username", name);
    for (key, value) in [
        ("uid", field("UID")),
        ("gid", field("GID")),
        ("home", field("home")),
        ("shell", field("shell")),
    ] {
        if let Some(value) = value {
            found = found.attr(key, value);
        }
    }
    Some(found)
}

/// `add 'bob' to group 'sudo'`, `change user 'bob' shell from …`, `lock user 'bob' password`.
pub(crate) fn usermod(msg: &str) -> Option<Found> {
    if let Some(rest) = msg.strip_prefix("add '") {
        let (user, rest) = rest.split_once("' to group '")?;
        let group = rest.strip_suffix('\'')?;
        return Some(group_change(user, group, "added to"));
    }
    let rest = ["change user '", "lock user '", "unlock user '"]
        .iter()
        .find_map(|p| msg.strip_prefix(p))?;
    let (user, _) = rest.split_once('\'')?;
    Some(
        Found::new(Action::UserModify, format!("User {user} modified: {msg}"))
            .attr("username", user)
            .attr("change", msg),
    )
}

/// `delete user 'bob'`.
pub(crate) fn userdel(msg: &str) -> Option<Found> {
    let user = msg.strip_prefix("delete user '")?.strip_suffix('\'')?;
    Some(
        Found::new(Action::UserModify, format!("User {user} deleted"))
            .attr("username", user)
            .attr("change", "deleted"),
    )
}

/// `user bob added by root to group sudo`, `user bob removed by root from group sudo`.
pub(crate) fn gpasswd(msg: &str) -> Option<Found> {
    let rest = msg.strip_prefix("user ")?;
    let (user, rest) = rest.split_once(' ')?;
    if let Some((by, group)) = rest
        .strip_prefix("added by ")
        .and_then(|r| r.split_once(" to group "))
    {
        return Some(group_change(user, group, "added to").attr("by", by));
    }
    let (by, group) = rest
        .strip_prefix("removed by ")?
        .split_once(" from group ")?;
    Some(group_change(user, group, "removed from").attr("by", by))
}

fn group_change(user: &str, group: &str, verb: &str) -> Found {
    let privileged = PRIVILEGED_GROUPS.contains(&group);
    let mut message = format!("User {user} {verb} group {group}");
    if privileged {
        message.push_str(" (privileged)");
    }
    Found::new(Action::UserModify, message)
        .attr("username", user)
        .attr("group", group)
        .attr("change", format!("{verb} group"))
        .attr("privileged_group", privileged.to_string())
}
