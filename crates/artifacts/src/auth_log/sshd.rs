//! sshd's own messages: logons, failures, invalid users, disconnections.

use super::Found;
use riposte_model::Action;

/// A message logged by `sshd[pid]` (PAM lines are handled before this).
pub(crate) fn message(msg: &str) -> Option<Found> {
    if msg.starts_with("Accepted ") {
        accepted(msg)
    } else if msg.starts_with("Failed ") {
        failed(msg)
    } else if msg.starts_with("Invalid user ") {
        invalid_user(msg)
    } else if msg.starts_with("Disconnected from user ") {
        disconnected(msg)
    } else if let Some(rest) = msg.strip_prefix("PAM ") {
        pam_more_failures(rest)
    } else {
        None
    }
}

/// `Accepted <method> for <user> from <addr> port <n> ssh2[: <key type> <fingerprint>]`.
fn accepted(msg: &str) -> Option<Found> {
    let (method, rest) = msg.strip_prefix("Accepted ")?.split_once(" for ")?;
    let Peer {
        user,
        addr,
        port,
        key,
    } = from_addr_port(rest)?;
    let mut found = Found::new(
        Action::UserLogon,
        format!("SSH logon by {user} from {addr} ({method})"),
    )
    .attr("username", user)
    .attr("auth_method", method)
    .attr("remote_port", port)
    .attr("stage", "auth")
    .remote(addr);
    if let Some((key_type, fingerprint)) = key {
        found = found
            .attr("key_type", key_type)
            .attr("key_fingerprint", fingerprint);
    }
    Some(found)
}

/// `Failed <method> for [invalid user ]<user> from <addr> port <n> ssh2[: <key>]`.
fn failed(msg: &str) -> Option<Found> {
    let (method, rest) = msg.strip_prefix("Failed ")?.split_once(" for ")?;
    let Peer {
        user,
        addr,
        port,
        key,
    } = from_addr_port(rest)?;
    let (invalid, user) = match user.strip_prefix("invalid user ") {
        Some(user) => (true, user),
        None => (false, user),
    };
    // `Failed none` is the client asking which methods exist, not a guessed credential.
    let stage = if method == "none" { "probe" } else { "auth" };
    let who = if invalid {
        format!("unknown user {user}")
    } else {
        user.to_string()
    };
    let mut found = Found::new(
        Action::UserLogonFailed,
        format!("Failed SSH {method} logon for {who} from {addr}"),
    )
    .attr("username", user)
    .attr("auth_method", method)
    .attr("remote_port", port)
    .attr("invalid_user", invalid.to_string())
    .attr("stage", stage)
    .remote(addr);
    if let Some((key_type, fingerprint)) = key {
        found = found
            .attr("key_type", key_type)
            .attr("key_fingerprint", fingerprint);
    }
    Some(found)
}

/// `Invalid user <user> from <addr>[ port <n>]`.
fn invalid_user(msg: &str) -> Option<Found> {
    let rest = msg.strip_prefix("Invalid user ")?.trim_end();
    let (user, addr, port) = rest.rmatch_indices(" from ").find_map(|(i, sep)| {
        let tail = &rest[i + sep.len()..];
        match tail.split_once(" port ") {
            Some((addr, port)) if is_port(port) && !addr.contains(' ') => {
                Some((&rest[..i], addr, Some(port)))
            }
            None if !tail.is_empty() && !tail.contains(' ') => Some((&rest[..i], tail, None)),
            _ => None,
        }
    })?;
    let mut found = Found::new(
        Action::UserLogonFailed,
        format!("SSH logon attempt for unknown user {user} from {addr}"),
    )
    .attr("username", user)
    .attr("invalid_user", "true")
    .attr("stage", "invalid_user")
    .remote(addr);
    if let Some(port) = port {
        found = found.attr("remote_port", port);
    }
    Some(found)
}

/// `Disconnected from user <user> <addr> port <n>`; the `authenticating user` and
/// `invalid user` forms are pre-auth, so no session ended and they are not matched.
fn disconnected(msg: &str) -> Option<Found> {
    let rest = msg.strip_prefix("Disconnected from user ")?.trim_end();
    let (rest, port) = rest.rsplit_once(" port ").filter(|(_, p)| is_port(p))?;
    let (user, addr) = rest.rsplit_once(' ')?;
    let found = Found::new(
        Action::UserLogoff,
        format!("SSH session of {user} from {addr} disconnected"),
    )
    .attr("username", user)
    .attr("remote_port", port)
    .attr("stage", "auth")
    .remote(addr);
    Some(found)
}

/// `PAM 5 more authentication failures; logname= … rhost=1.2.3.4  user=root`: PAM's
/// summary of the further failures of one connection, as one event with `count`.
fn pam_more_failures(rest: &str) -> Option<Found> {
    let (n, rest) = rest.split_once(" more authentication failure")?;
    let n: u64 = n.parse().ok()?;
    let (_, fields) = rest.split_once(';')?;
    let found = super::accounts::pam_auth_failure("sshd", fields)?;
    Some(found.attr("count", n.to_string()))
}

/// The parts of `<user> from <addr> port <n>[ ssh2][: <key type> <fingerprint>]`.
struct Peer<'a> {
    user: &'a str,
    addr: &'a str,
    port: &'a str,
    key: Option<(&'a str, &'a str)>,
}

/// Splits `<user> from <addr> port <n>[ ssh2][: <key type> <fingerprint> …]` into its
/// parts. User names are attacker-controlled (`invalid user x from 6.6.6.6 port 1 ssh2`),
/// so the `from` that counts is the last one followed by a well-formed tail: the one
/// sshd wrote.
fn from_addr_port(s: &str) -> Option<Peer<'_>> {
    s.rmatch_indices(" from ").find_map(|(i, sep)| {
        let (addr, rest) = s[i + sep.len()..].split_once(" port ")?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (port, tail) = rest.split_at(digits);
        if addr.is_empty() || addr.contains(' ') || !is_port(port) {
            return None;
        }
        let tail = tail
            .strip_prefix(" ssh2")
            .or_else(|| tail.strip_prefix(" ssh"))
            .unwrap_or(tail);
        let key = match tail.trim_end() {
            "" => None,
            t => {
                let mut words = t.strip_prefix(": ")?.split(' ');
                Some((words.next()?, words.next()?))
            }
        };
        Some(Peer {
            user: &s[..i],
            addr,
            port,
            key,
        })
    })
}

fn is_port(s: &str) -> bool {
    (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}
