//! The lookups chains need, built in one pass over the events: process creations by
//! Sysmon GUID and by (host, pid), process exits, Windows logons by logon id, audit
//! logons by session, SSH logons and their ends, network connections by process, and
//! files that arrived from the network.

use crate::observe::{self, WinLog, attr, evtx_id, number, user_key};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::collections::HashMap;

type Time = Option<DateTime<Utc>>;

/// Folders where browsers and mail clients save what they fetch (lowercase, normalized).
const DOWNLOAD_DIRS: &[&str] = &[
    "\\downloads\\",
    "\\temporary internet files\\",
    "\\inetcache\\",
    "\\content.outlook\\",
];

/// Programs whose written files came from the network (lowercase file names).
const DOWNLOADERS: &[&str] = &[
    "chrome.exe",
    "firefox.exe",
    "msedge.exe",
    "iexplore.exe",
    "opera.exe",
    "brave.exe",
    "outlook.exe",
    "curl.exe",
    "wget.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "svchost.exe", // the BITS service writes its downloads from svchost
];

pub(crate) struct Index<'a> {
    pub events: &'a [Event],
    by_guid: HashMap<(&'a str, &'a str), usize>,
    by_pid: HashMap<(&'a str, u64), Positions>,
    exits: HashMap<(&'a str, u64), Vec<DateTime<Utc>>>,
    logons: HashMap<(&'a str, u64), Positions>,
    linked_logons: HashMap<(&'a str, u64), Positions>,
    audit_logons: HashMap<(&'a str, &'a str), Positions>,
    ssh_logons: HashMap<(&'a str, String), Positions>,
    /// Successful sudo lines that opened a shell as a user (`sudo -i`, `sudo -s`, `sudo su`,
    /// `sudo bash`), by host and the user the shell runs as, in time order.
    sudo_shells: HashMap<(&'a str, String), Positions>,
    ssh_ends_by_pid: HashMap<(&'a str, u64), Vec<DateTime<Utc>>>,
    ssh_ends_by_peer: HashMap<(&'a str, &'a str, &'a str), Vec<DateTime<Utc>>>,
    connections_by_guid: HashMap<(&'a str, &'a str), Positions>,
    connections_by_pid: HashMap<(&'a str, u64), Positions>,
    downloads: HashMap<(&'a str, String), Positions>,
    fetches: HashMap<(&'a str, String), Positions>,
}

/// Whether the index may hold `e` (what [`Index::build`] looks at, and a little more):
/// the story keeps only these events of a timeline, with the alarms' own.
/// Whether a sudo command opens an interactive shell: a shell with no script or command
/// (`/bin/bash`, `bash -i`, `/bin/sh -l`), or `su` (`su`, `su -`, `su root`).
fn opens_shell(cmd: &str) -> bool {
    let mut words = cmd.split_whitespace();
    let Some(program) = words.next() else {
        return false;
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    let rest: Vec<&str> = words.collect();
    match name {
        "su" => rest
            .iter()
            .all(|w| !w.starts_with("-c") && *w != "--command"),
        "bash" | "sh" | "zsh" | "dash" | "ksh" | "fish" => {
            rest.iter().all(|w| w.starts_with('-') && !w.contains('c'))
        }
        _ => false,
    }
}

pub(crate) fn relevant(e: &Event) -> bool {
    match evtx_id(e) {
        Some((WinLog::Sysmon, id)) => matches!(id, "1" | "3" | "5" | "11" | "15"),
        Some((WinLog::Security, id)) => matches!(id, "4688" | "4689" | "4624"),
        Some(_) => false,
        None => match e.action {
            Action::UserLogon | Action::UserLogoff => true,
            Action::ProcessRun | Action::UserPrivilege => {
                e.origin.parser == "auditd"
                    || attr(e, "cmd").is_some_and(is_fetch)
                    || (e.action == Action::UserPrivilege
                        && attr(e, "cmd").is_some_and(opens_shell))
            }
            _ => false,
        },
    }
}

impl<'a> Index<'a> {
    pub fn build(events: &'a [Event]) -> Self {
        let mut ix = Index {
            events,
            by_guid: HashMap::new(),
            by_pid: HashMap::new(),
            exits: HashMap::new(),
            logons: HashMap::new(),
            linked_logons: HashMap::new(),
            audit_logons: HashMap::new(),
            ssh_logons: HashMap::new(),
            sudo_shells: HashMap::new(),
            ssh_ends_by_pid: HashMap::new(),
            ssh_ends_by_peer: HashMap::new(),
            connections_by_guid: HashMap::new(),
            connections_by_pid: HashMap::new(),
            downloads: HashMap::new(),
            fetches: HashMap::new(),
        };
        // Process creations are most of a Windows timeline: their maps are sized once.
        let creations = events
            .iter()
            .filter(|e| e.action == Action::ProcessRun)
            .count();
        ix.by_guid.reserve(creations);
        ix.by_pid.reserve(creations);
        for (pos, e) in events.iter().enumerate() {
            match evtx_id(e) {
                Some(id) => ix.add_windows(pos, e, id),
                None => ix.add_other(pos, e),
            }
        }
        let by_time = |v: &mut Positions| v.sort_by_key(|&p| (events[p].time, p));
        ix.by_pid.values_mut().for_each(by_time);
        ix.logons.values_mut().for_each(by_time);
        ix.linked_logons.values_mut().for_each(by_time);
        ix.audit_logons.values_mut().for_each(by_time);
        ix.ssh_logons.values_mut().for_each(by_time);
        ix.sudo_shells.values_mut().for_each(by_time);
        ix.connections_by_guid.values_mut().for_each(by_time);
        ix.connections_by_pid.values_mut().for_each(by_time);
        ix.downloads.values_mut().for_each(by_time);
        ix.fetches.values_mut().for_each(by_time);
        ix.exits.values_mut().for_each(|v| v.sort_unstable());
        ix
    }

    fn add_windows(&mut self, pos: usize, e: &'a Event, (log, id): (WinLog, &str)) {
        let host = e.host.as_str();
        let pid = |key: &str| attr(e, key).and_then(number);
        match (log, id) {
            (WinLog::Sysmon, "1") | (WinLog::Security, "4688") => {
                if let Some(guid) = attr(e, "ProcessGuid").filter(|_| log == WinLog::Sysmon) {
                    self.by_guid.insert((host, guid), pos);
                }
                if let Some(pid) = pid("pid") {
                    self.by_pid.entry((host, pid)).or_default().push(pos);
                }
            }
            (WinLog::Sysmon, "5") | (WinLog::Security, "4689") => {
                if let (Some(pid), Some(t)) = (pid("ProcessId"), e.time) {
                    self.exits.entry((host, pid)).or_default().push(t);
                }
            }
            (WinLog::Security, "4624") => {
                if let Some(id) = pid("TargetLogonId").filter(|id| *id != 0) {
                    self.logons.entry((host, id)).or_default().push(pos);
                }
                if let Some(id) = pid("TargetLinkedLogonId").filter(|id| *id != 0) {
                    self.linked_logons.entry((host, id)).or_default().push(pos);
                }
            }
            (WinLog::Sysmon, "3") => {
                if let Some(guid) = attr(e, "ProcessGuid") {
                    let key = (host, guid);
                    self.connections_by_guid.entry(key).or_default().push(pos);
                }
                if let Some(pid) = pid("pid") {
                    self.connections_by_pid
                        .entry((host, pid))
                        .or_default()
                        .push(pos);
                }
            }
            (WinLog::Sysmon, "11" | "15") => {
                let Some(target) = attr(e, "TargetFilename") else {
                    return;
                };
                let (file, zone) = match target.strip_suffix(":Zone.Identifier") {
                    Some(file) => (file, true),
                    None => (
                        target,
                        id == "15" && attr(e, "Contents").is_some_and(|c| c.contains("ZoneId")),
                    ),
                };
                let Some(path) = observe::normalize_path(file) else {
                    return;
                };
                let creator = attr(e, "Image")
                    .and_then(observe::file_name_key)
                    .unwrap_or_default();
                let downloaded = zone
                    || DOWNLOAD_DIRS.iter().any(|d| path.contains(d))
                    || DOWNLOADERS.contains(&creator.as_str());
                if downloaded {
                    self.downloads.entry((host, path)).or_default().push(pos);
                }
            }
            _ => {}
        }
    }

    fn add_other(&mut self, pos: usize, e: &'a Event) {
        let host = e.host.as_str();
        match e.action {
            Action::UserLogon => {
                if e.origin.parser == "auditd"
                    && let Some(ses) = attr(e, "ses").filter(|s| *s != "4294967295")
                {
                    self.audit_logons.entry((host, ses)).or_default().push(pos);
                }
                let remote = attr(e, "remote_ip").and_then(observe::ip);
                if remote.is_some_and(observe::is_remote)
                    && let Some(user) = attr(e, "username").and_then(user_key)
                {
                    self.ssh_logons.entry((host, user)).or_default().push(pos);
                }
            }
            Action::UserLogoff => {
                let Some(t) = e.time else { return };
                if let Some(pid) = attr(e, "pid").and_then(number) {
                    self.ssh_ends_by_pid.entry((host, pid)).or_default().push(t);
                }
                if let (Some(ip), Some(port)) = (attr(e, "remote_ip"), attr(e, "remote_port")) {
                    let key = (host, ip, port);
                    self.ssh_ends_by_peer.entry(key).or_default().push(t);
                }
            }
            Action::ProcessRun | Action::UserPrivilege => {
                // auditd's pid is the command's own (auth.log's is sudo's).
                if e.action == Action::ProcessRun
                    && e.origin.parser == "auditd"
                    && let Some(pid) = attr(e, "pid").and_then(number)
                {
                    self.by_pid.entry((host, pid)).or_default().push(pos);
                }
                if let Some(cmd) = attr(e, "cmd")
                    && is_fetch(cmd)
                    && let Some(user) = attr(e, "username").and_then(user_key)
                {
                    self.fetches.entry((host, user)).or_default().push(pos);
                }
                if e.action == Action::UserPrivilege
                    && attr(e, "outcome") != Some("failure")
                    && attr(e, "cmd").is_some_and(opens_shell)
                    && let Some(target) = attr(e, "target_user").and_then(user_key)
                {
                    self.sudo_shells
                        .entry((host, target))
                        .or_default()
                        .push(pos);
                }
            }
            _ => {}
        }
    }

    fn time(&self, pos: usize) -> Time {
        self.events.get(pos).and_then(|e| e.time)
    }

    /// The last of `list` (sorted by time) at or before `t`; with no `t`, the only one.
    fn latest_before(&self, list: &[usize], t: Time) -> Option<usize> {
        match t {
            None => (list.len() == 1).then(|| list[0]),
            Some(t) => {
                let n = list.partition_point(|&p| self.time(p).is_none_or(|pt| pt <= t));
                list[..n]
                    .iter()
                    .rev()
                    .copied()
                    .find(|&p| self.time(p).is_some())
            }
        }
    }

    /// The Sysmon process creation with this GUID.
    pub fn process_by_guid(&self, host: &str, guid: &str) -> Option<usize> {
        self.by_guid.get(&(host, guid)).copied()
    }

    /// The creation of the process `pid` running at `t`: the last one started at or
    /// before `t` that had not exited before `t` (pids are reused).
    pub fn process_by_pid(&self, host: &str, pid: u64, t: Time) -> Option<usize> {
        let found = self.latest_before(self.by_pid.get(&(host, pid))?.as_slice(), t)?;
        let (Some(start), Some(t)) = (self.time(found), t) else {
            return Some(found);
        };
        let exited = self
            .exits
            .get(&(host, pid))
            .is_some_and(|exits| exits.iter().any(|x| *x >= start && *x < t));
        (!exited).then_some(found)
    }

    /// The 4624 that opened Windows logon session `id` (or its linked elevated token).
    pub fn windows_logon(&self, host: &str, id: u64, t: Time) -> Option<usize> {
        let find = |map: &HashMap<(&'a str, u64), Positions>| {
            map.get(&(host, id))
                .map(Positions::as_slice)
                .and_then(|list| self.latest_before(list, t).or(list.first().copied()))
        };
        find(&self.logons).or_else(|| find(&self.linked_logons))
    }

    /// The audit USER_LOGIN of session `ses`.
    pub fn audit_logon(&self, host: &str, ses: &str, t: Time) -> Option<usize> {
        self.latest_before(self.audit_logons.get(&(host, ses))?.as_slice(), t)
    }

    /// The last remote logon of `user` at or before `t` whose session had not ended by `t`.
    pub fn ssh_logon(&self, host: &str, user: &str, t: DateTime<Utc>) -> Option<usize> {
        let list = self.ssh_logons.get(&(host, user_key(user)?))?.as_slice();
        let n = list.partition_point(|&p| self.time(p).is_none_or(|pt| pt <= t));
        list[..n].iter().rev().copied().find(|&p| {
            let Some(e) = self.events.get(p) else {
                return false;
            };
            let Some(start) = e.time else { return false };
            let ended = |ends: Option<&Vec<DateTime<Utc>>>| {
                ends.is_some_and(|ends| ends.iter().any(|x| *x >= start && *x < t))
            };
            let by_pid = attr(e, "pid")
                .and_then(number)
                .and_then(|pid| self.ssh_ends_by_pid.get(&(host, pid)));
            let by_peer = match (attr(e, "remote_ip"), attr(e, "remote_port")) {
                (Some(ip), Some(port)) => self.ssh_ends_by_peer.get(&(host, ip, port)),
                _ => None,
            };
            !ended(by_pid) && !ended(by_peer)
        })
    }

    /// The sudo line that opened the shell `user` ran a command in: the last one at or
    /// before `t`; for a command without a time (a history line), the only one on the
    /// host, when there is exactly one.
    pub fn sudo_shell(&self, host: &str, user: &str, t: Time) -> Option<usize> {
        let list = self.sudo_shells.get(&(host, user_key(user)?))?;
        self.latest_before(list.as_slice(), t)
    }

    /// Network connections of a process (by Sysmon GUID, else by pid), in time order.
    pub fn connections<'s>(
        &'s self,
        host: &'s str,
        guid: Option<&'s str>,
        pid: Option<u64>,
    ) -> &'s [usize] {
        if let Some(list) = guid.and_then(|g| self.connections_by_guid.get(&(host, g))) {
            return list.as_slice();
        }
        pid.and_then(|p| self.connections_by_pid.get(&(host, p)))
            .map_or(&[], Positions::as_slice)
    }

    /// Downloads (Sysmon 11/15) of the file at a normalized path, in time order.
    pub fn downloads<'s>(&'s self, host: &'s str, path: &str) -> &'s [usize] {
        self.downloads
            .get(&(host, path.to_string()))
            .map_or(&[], Positions::as_slice)
    }

    /// The curl/wget/fetch commands of a user, in time order.
    pub fn fetches<'s>(&'s self, host: &'s str, user: &str) -> &'s [usize] {
        user_key(user)
            .and_then(|u| self.fetches.get(&(host, u)))
            .map_or(&[], Positions::as_slice)
    }
}

/// The events under one key: most keys (a pid, a GUID's connections) have one, which
/// then needs no allocation of its own.
#[derive(Debug, Default)]
enum Positions {
    #[default]
    None,
    One(usize),
    Many(Vec<usize>),
}

impl Positions {
    fn push(&mut self, pos: usize) {
        *self = match std::mem::take(self) {
            Positions::None => Positions::One(pos),
            Positions::One(first) => Positions::Many(vec![first, pos]),
            Positions::Many(mut v) => {
                v.push(pos);
                Positions::Many(v)
            }
        };
    }

    fn as_slice(&self) -> &[usize] {
        match self {
            Positions::None => &[],
            Positions::One(pos) => std::slice::from_ref(pos),
            Positions::Many(v) => v,
        }
    }

    fn sort_by_key<K: Ord>(&mut self, key: impl FnMut(&usize) -> K) {
        if let Positions::Many(v) = self {
            v.sort_by_key(key);
        }
    }
}

/// A command that fetches a file from the network.
fn is_fetch(cmd: &str) -> bool {
    cmd.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '('))
        .any(|w| {
            let name = w.rsplit('/').next().unwrap_or(w);
            matches!(name, "curl" | "wget" | "fetch" | "tftp" | "scp")
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fetch_commands() {
        assert!(super::is_fetch("cd /tmp; wget http://x/a.sh"));
        assert!(super::is_fetch("/usr/bin/curl -O http://x/a"));
        assert!(!super::is_fetch("echo curly"));
    }
}
