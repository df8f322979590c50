//! A chain node: what one event says about a process, a logon or another action, under
//! one set of names whatever the parser (Sysmon, Security, auditd, auth.log, history).

use crate::observe::{WinLog, attr, evtx_id, number};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, LinkKind};

/// Windows logon ids of the machine's own sessions (no 4624 opens them): none, SYSTEM,
/// NETWORK SERVICE, LOCAL SERVICE.
const SYSTEM_LOGONS: &[u64] = &[0, 0x3e7, 0x3e4, 0x3e5];

/// Parsers of Linux logs, whose commands run in the user's SSH session.
const LINUX_PARSERS: &[&str] = &[
    "auth_log",
    "syslog_messages",
    "journald",
    "auditd",
    "shell_history",
    "fish_history",
    "utmp",
    "lastlog",
    "cron",
];

/// What came before a node as its own event tells it: the parent of a process, the actor
/// of another event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parent<'a> {
    pub guid: Option<&'a str>,
    pub pid: Option<u64>,
    pub image: Option<&'a str>,
    pub cmd: Option<&'a str>,
    pub user: Option<&'a str>,
    pub logon_id: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    /// The event behind the node; `None` for a parent known only from its child.
    pub event: Option<usize>,
    pub kind: LinkKind,
    pub host: &'a str,
    pub time: Option<DateTime<Utc>>,
    pub image: Option<&'a str>,
    pub cmd: Option<&'a str>,
    pub pid: Option<u64>,
    /// Sysmon's `ProcessGuid` of a process node.
    pub guid: Option<&'a str>,
    pub parent: Parent<'a>,
    pub user: Option<&'a str>,
    /// Windows logon id of the process's session (not a system one).
    pub logon_id: Option<u64>,
    /// auditd session id.
    pub audit_ses: Option<&'a str>,
    pub remote_ip: Option<&'a str>,
    pub logon_type: Option<&'a str>,
    /// The message of a non-process event, or of a sudo line.
    pub message: Option<&'a str>,
    /// From a Linux log: SSH sessions are looked up by user and time.
    pub linux: bool,
}

impl<'a> Node<'a> {
    fn bare(e: &'a Event, pos: usize, kind: LinkKind) -> Self {
        Node {
            event: Some(pos),
            kind,
            host: e.host.as_str(),
            time: e.time,
            image: None,
            cmd: None,
            pid: None,
            guid: None,
            parent: Parent::default(),
            user: attr(e, "username"),
            logon_id: None,
            audit_ses: None,
            remote_ip: None,
            logon_type: None,
            message: None,
            linux: false,
        }
    }

    /// The node for event `pos` of `events` (which must be in range).
    pub fn from_event(e: &'a Event, pos: usize) -> Self {
        match evtx_id(e) {
            Some((WinLog::Sysmon, "1")) => Node {
                image: attr(e, "Image").or(attr(e, "file_path")),
                cmd: attr(e, "cmd"),
                pid: attr(e, "pid").and_then(number),
                guid: attr(e, "ProcessGuid"),
                parent: Parent {
                    guid: attr(e, "ParentProcessGuid"),
                    pid: attr(e, "parent_pid").and_then(number),
                    image: attr(e, "ParentImage"),
                    cmd: attr(e, "ParentCommandLine"),
                    ..Parent::default()
                },
                user: attr(e, "User").or(attr(e, "username")),
                logon_id: logon_id(attr(e, "LogonId")),
                ..Node::bare(e, pos, LinkKind::Process)
            },
            Some((WinLog::Security, "4688")) => Node {
                image: attr(e, "file_path"),
                cmd: attr(e, "cmd"),
                pid: attr(e, "pid").and_then(number),
                parent: Parent {
                    pid: attr(e, "parent_pid").and_then(number),
                    image: attr(e, "parent_path"),
                    // The subject is the creator: the parent's account and session.
                    user: attr(e, "SubjectUserName"),
                    logon_id: logon_id(attr(e, "SubjectLogonId")),
                    ..Parent::default()
                },
                // Version 2 names the new process's own account and session (`Target…`).
                user: attr(e, "TargetUserName").or(attr(e, "SubjectUserName")),
                logon_id: logon_id(attr(e, "TargetLogonId"))
                    .or(logon_id(attr(e, "SubjectLogonId"))),
                ..Node::bare(e, pos, LinkKind::Process)
            },
            Some((WinLog::Security, "4624")) => Node {
                user: attr(e, "TargetUserName").or(attr(e, "username")),
                remote_ip: attr(e, "remote_ip"),
                logon_type: attr(e, "logon_type"),
                logon_id: logon_id(attr(e, "TargetLogonId")),
                ..Node::bare(e, pos, LinkKind::Logon)
            },
            Some((WinLog::Sysmon, "8" | "10")) => Node {
                message: Some(e.message.as_str()),
                parent: Parent {
                    guid: attr(e, "SourceProcessGuid"),
                    pid: attr(e, "injector_pid").and_then(number),
                    image: attr(e, "injector_path"),
                    ..Parent::default()
                },
                ..Node::bare(e, pos, LinkKind::Event)
            },
            Some((WinLog::Sysmon, _)) => Node {
                message: Some(e.message.as_str()),
                parent: Parent {
                    guid: attr(e, "ProcessGuid"),
                    pid: attr(e, "pid").or(attr(e, "ProcessId")).and_then(number),
                    image: attr(e, "Image").or(attr(e, "process_path")),
                    ..Parent::default()
                },
                ..Node::bare(e, pos, LinkKind::Event)
            },
            Some((WinLog::Security, _)) => Node {
                message: Some(e.message.as_str()),
                parent: Parent {
                    pid: attr(e, "ProcessId").and_then(number).filter(|p| *p != 0),
                    image: attr(e, "ProcessName"),
                    ..Parent::default()
                },
                user: attr(e, "SubjectUserName").or(attr(e, "username")),
                logon_id: logon_id(attr(e, "SubjectLogonId")),
                ..Node::bare(e, pos, LinkKind::Event)
            },
            Some((WinLog::Other, _)) => Node {
                message: Some(e.message.as_str()),
                ..Node::bare(e, pos, LinkKind::Event)
            },
            None => Node::from_other(e, pos),
        }
    }

    /// Linux logs and anything else: commands, logons, other events.
    fn from_other(e: &'a Event, pos: usize) -> Self {
        let auditd = e.origin.parser == "auditd";
        let base = Node {
            linux: LINUX_PARSERS.contains(&e.origin.parser.as_str()),
            audit_ses: attr(e, "ses").filter(|s| *s != "4294967295"),
            ..Node::bare(e, pos, LinkKind::Event)
        };
        match e.action {
            Action::ProcessRun => Node {
                kind: LinkKind::Process,
                image: attr(e, "exe").or(attr(e, "file_path")),
                cmd: attr(e, "cmd"),
                // Only auditd's pids are the command's own (auth.log's are sudo's or sshd's).
                pid: attr(e, "pid").filter(|_| auditd).and_then(number),
                parent: Parent {
                    pid: attr(e, "ppid").filter(|_| auditd).and_then(number),
                    ..Parent::default()
                },
                ..base
            },
            // sudo: told as its log line ("bob ran sudo as root: …").
            Action::UserPrivilege if attr(e, "cmd").is_some() => Node {
                kind: LinkKind::Process,
                cmd: attr(e, "cmd"),
                message: Some(e.message.as_str()),
                ..base
            },
            Action::UserLogon => Node {
                kind: LinkKind::Logon,
                remote_ip: attr(e, "remote_ip"),
                pid: attr(e, "pid").and_then(number),
                ..base
            },
            _ => Node {
                message: Some(e.message.as_str()),
                ..base
            },
        }
    }

    /// The parent as its child's event names it, when its own creation is not logged.
    pub fn unlogged_parent(&self) -> Option<Node<'a>> {
        let p = &self.parent;
        if p.image.is_none() && p.pid.is_none() {
            return None;
        }
        Some(Node {
            event: None,
            kind: LinkKind::Process,
            host: self.host,
            time: None,
            image: p.image,
            cmd: p.cmd,
            pid: p.pid,
            guid: p.guid,
            parent: Parent::default(),
            user: p.user,
            logon_id: p.logon_id,
            audit_ses: None,
            remote_ip: None,
            logon_type: None,
            message: None,
            linux: self.linux,
        })
    }
}

/// A Windows logon id worth looking up: not a system session.
fn logon_id(value: Option<&str>) -> Option<u64> {
    value
        .and_then(number)
        .filter(|id| !SYSTEM_LOGONS.contains(id))
}
