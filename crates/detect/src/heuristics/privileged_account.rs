//! New privileged accounts: a second root, a user put in an admin group, or a sudoers
//! grant.
//!
//! Reads account-management events (`create_user`, `modify_user`, as the auth-log parser
//! emits them for `useradd`, `usermod` and `gpasswd`), the `/etc/passwd` entries of the
//! accounts parser, and command lines (`run` events: shell history, auditd, sudo; see
//! `cmdline`), so the same changes are caught when only one of those survives:
//! - an account with UID 0 is root under another name → High `root_equivalent_account`
//!   (T1136.001): created so (`useradd -o -u 0`, an auth-log `new user … UID=0`, a line
//!   `x:…:0:…` appended to `/etc/passwd`), or found so in a collected `/etc/passwd`;
//! - a user added to a privileged group (the parser's `privileged_group=true`, or a group
//!   in [`PRIVILEGED_GROUPS`]; primary GID 0 counts as group `root`; `useradd -G sudo`,
//!   `usermod -aG wheel`, `gpasswd -a x docker`, `adduser x sudo`) → Medium
//!   `privileged_group_member` (T1098);
//! - the sudoers policy written from a command line (`echo "x ALL=(ALL) NOPASSWD: ALL"
//!   >> /etc/sudoers`, `tee /etc/sudoers.d/x`, `sed -i … /etc/sudoers`; not `visudo`) →
//!   `sudoers_modified` (T1548.003): Medium for the main `/etc/sudoers`, Low for a file
//!   in `/etc/sudoers.d/` (how provisioning grants sudo);
//! - an account created with a login shell and its home in a world-writable temporary
//!   directory, where only a throwaway account would live → Low `account_home_in_tmp`
//!   (T1136.001).
//!
//! Any other new account raises nothing: creating users is routine administration. Each
//! (host, user, reason) is one alarm referencing every event that shows it.

use super::commands::where_;
use crate::{Detector, mitre, shorten};
use riposte_model::{Action, Alarm, Event, Severity};
use std::collections::BTreeMap;

/// Groups whose members can become root, also when the parser did not mark them.
const PRIVILEGED_GROUPS: &[&str] = &["sudo", "wheel", "admin", "root", "docker", "lxd", "libvirt"];

/// Home directories no real user has: world-writable, often memory-backed, temporary.
const TEMP_DIRS: &[&str] = &["/tmp", "/dev/shm", "/var/tmp"];

/// Most events one alarm references.
const MAX_EVENT_REFS: usize = 50;

/// Detects root-equivalent accounts and users added to privileged groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivilegedAccount;

/// Why an account is suspicious; one alarm per account and reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reason<'e> {
    RootUid,
    Group(&'e str),
    Sudoers(&'e str),
    HomeInTmp(&'e str),
}

impl Detector for PrivilegedAccount {
    fn name(&self) -> &'static str {
        "privileged_account"
    }

    fn wants(&self, e: &Event) -> bool {
        let from_command = match (e.action, e.attr("cmd")) {
            (Action::ProcessRun, Some(cmd)) => !cmdline::reasons(cmd).is_empty(),
            _ => false,
        };
        from_command || (e.attr("username").is_some() && !reasons(e).is_empty())
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        // (host, user, reason) → referencing events, in event order.
        let mut found: BTreeMap<(&str, &str, Reason<'_>), Vec<usize>> = BTreeMap::new();
        for (index, e) in events.iter().enumerate() {
            let actor = e.attr("username");
            let from_command = match (e.action, e.attr("cmd")) {
                (Action::ProcessRun, Some(cmd)) => cmdline::reasons(cmd),
                _ => Vec::new(),
            };
            let from_event = actor
                .into_iter()
                .flat_map(|user| reasons(e).into_iter().map(move |r| (user, r)));
            for (user, reason) in from_command.into_iter().chain(from_event) {
                // A sudoers line whose grantee could not be read is the actor's doing.
                let Some(user) = Some(user).filter(|u| !u.is_empty()).or(actor) else {
                    continue;
                };
                let refs = found.entry((e.host.as_str(), user, reason)).or_default();
                if refs.last() != Some(&index) {
                    refs.push(index);
                }
            }
        }
        let mut alarms: Vec<(usize, Alarm)> = found
            .into_iter()
            .map(|((_, user, reason), refs)| (refs[0], alarm(user, &reason, &refs, events)))
            .collect();
        alarms.sort_by_key(|(first, _)| *first);
        alarms.into_iter().map(|(_, alarm)| alarm).collect()
    }
}

/// What makes this one event suspicious (usually nothing).
fn reasons(e: &Event) -> Vec<Reason<'_>> {
    let mut reasons = Vec::new();
    match e.action {
        Action::HostInfo if e.attr("account_db") == Some("passwd") => {
            let root_named = e.attr("username").map(str::trim) == Some("root");
            if e.attr("uid").map(str::trim) == Some("0") && !root_named {
                reasons.push(Reason::RootUid);
            }
        }
        Action::UserCreate => {
            let uid = e.attr("uid").map(str::trim);
            if uid == Some("0") {
                // Already root: its groups add nothing.
                return vec![Reason::RootUid];
            }
            if e.attr("gid").map(str::trim) == Some("0") {
                reasons.push(Reason::Group("root"));
            }
            let groups = e.attr("groups").into_iter().flat_map(|g| g.split(','));
            reasons.extend(
                groups
                    .chain(e.attr("group"))
                    .map(str::trim)
                    .filter(|g| PRIVILEGED_GROUPS.contains(g))
                    .map(Reason::Group),
            );
            if let Some(home) = e.attr("home").filter(|h| in_temp_dir(h))
                && e.attr("shell").is_some_and(is_login_shell)
            {
                reasons.push(Reason::HomeInTmp(home));
            }
        }
        Action::UserModify => {
            let Some(group) = e.attr("group").map(str::trim) else {
                return reasons;
            };
            if e.attr("change").is_some_and(|c| c.starts_with("removed")) {
                return reasons;
            }
            if e.attr("privileged_group") == Some("true") || PRIVILEGED_GROUPS.contains(&group) {
                reasons.push(Reason::Group(group));
            }
        }
        _ => {}
    }
    reasons.sort();
    reasons.dedup();
    reasons
}

/// `/tmp`, `/tmp/x`, `/dev/shm/.x` (not `/tmpfoo`).
fn in_temp_dir(home: &str) -> bool {
    TEMP_DIRS.iter().any(|dir| {
        home.strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// A shell someone can log on with (not `nologin`, `false`, `sync`).
fn is_login_shell(shell: &str) -> bool {
    let name = shell.trim().rsplit('/').next().unwrap_or("");
    !name.is_empty()
        && !matches!(
            name,
            "nologin" | "false" | "true" | "sync" | "halt" | "shutdown" | "?"
        )
}

fn alarm(user: &str, reason: &Reason<'_>, refs: &[usize], events: &[Event]) -> Alarm {
    let first = &events[refs[0]];
    let when = first.time.map_or_else(
        || "at an unknown time".to_string(),
        |t| format!("at {}", t.to_rfc3339()),
    );
    let seen = match refs.len() {
        1 => String::new(),
        n => format!(" Seen in {n} events."),
    };
    let cmd = first
        .attr("cmd")
        .filter(|_| first.action == Action::ProcessRun)
        .map(|c| format!(" Command: `{}` ({}).", shorten(c, 500), where_(first)))
        .unwrap_or_default();
    let event_refs = refs
        .iter()
        .take(MAX_EVENT_REFS)
        .map(|&i| i as u64)
        .collect();
    let (detector, title, description, severity, technique) = match reason {
        Reason::RootUid => (
            "root_equivalent_account",
            if first.action == Action::HostInfo {
                format!("Account {user} with UID 0 in /etc/passwd (root-equivalent)")
            } else {
                format!("New account {user} with UID 0 (root-equivalent)")
            },
            format!(
                "Account {user} {} on {} {when} with UID 0: it is root under another \
                 name, a common backdoor that survives a root password change.{seen}{cmd} \
                 Check /etc/passwd for other UID 0 entries and who made the change.",
                if first.action == Action::HostInfo {
                    "is listed in /etc/passwd"
                } else {
                    "was created"
                },
                first.host
            ),
            Severity::High,
            mitre("persistence", "T1136.001"),
        ),
        Reason::Sudoers(file) => (
            "sudoers_modified",
            format!("{file} written from the command line: {user} given sudo rights"),
            format!(
                "The sudoers policy ({file}) was changed on {} {when} outside visudo, \
                 granting {user} the right to run commands as root.{seen}{cmd} Attackers \
                 add such lines (often NOPASSWD) to keep root access; confirm the change \
                 was an administrator's.",
                first.host
            ),
            // Provisioning drops files into sudoers.d; appending to the main policy by
            // hand is rarer and what backdoor scripts do.
            if *file == "/etc/sudoers" {
                Severity::Medium
            } else {
                Severity::Low
            },
            mitre("privilege-escalation", "T1548.003"),
        ),
        Reason::Group(group) => (
            "privileged_group_member",
            format!("{user} added to privileged group {group}"),
            format!(
                "{user} became a member of {group} on {} {when}; members of {group} can gain \
                 root.{seen}{cmd} Confirm the change was an administrator's.",
                first.host
            ),
            Severity::Medium,
            mitre("privilege-escalation", "T1098"),
        ),
        Reason::HomeInTmp(home) => (
            "account_home_in_tmp",
            format!("New account {user} with a login shell and home {home}"),
            format!(
                "Account {user} was created on {} {when} with a login shell and its home in \
                 {home}, a temporary world-writable directory no real user lives in.{seen}",
                first.host
            ),
            Severity::Low,
            mitre("persistence", "T1136.001"),
        ),
    };
    Alarm {
        detector: detector.into(),
        title: shorten(&title, 160),
        description,
        severity,
        mitre: vec![technique],
        event_refs,
        rule_id: None,
        files: Vec::new(),
        hunting: false,
    }
}

mod cmdline;

#[cfg(test)]
mod tests;
