//! What the live state of a running host shows (the `live_processes` and
//! `live_sockets` parsers' events, collected over SSH):
//!
//! - `process_from_staging` (High): a process runs an executable under `/tmp`,
//!   `/var/tmp`, `/dev/shm` or `/run/shm`, where no package installs programs: the
//!   way droppers and miners run (ATT&CK T1036.005, T1059.004).
//! - `deleted_binary_running` (High): a process runs an executable that is gone from disk
//!   (`/proc/PID/exe` ends in ` (deleted)`), the mark of malware that deletes itself after
//!   starting (T1070.004). Processes of an upgraded package still running its old
//!   binary look the same; the alarm says how to tell.
//! - `mining_pool_port` (High): an established (or opening) connection to a port mining
//!   pools use for Stratum (3333, 4444, 5555, 7777, 14433, 14444, 45560, 45700) (T1496).

use super::commands::{Finding, Findings, in_staging, techniques};
use crate::Detector;
use riposte_model::{Action, Alarm, Event, Severity};

/// Stratum ports of public mining pools.
const MINING_PORTS: &[&str] = &[
    "3333", "4444", "5555", "7777", "14433", "14444", "45560", "45700",
];

/// Detects staged, deleted and mining processes in a host's live state.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveProcesses;

fn is_live_process(e: &Event) -> bool {
    e.origin.parser == "live_processes" && e.action == Action::ProcessRun
}

fn is_live_connection(e: &Event) -> bool {
    e.origin.parser == "live_sockets" && e.attr("remote_port").is_some()
}

impl Detector for LiveProcesses {
    fn name(&self) -> &'static str {
        "live_processes"
    }

    fn wants(&self, e: &Event) -> bool {
        is_live_process(e) || is_live_connection(e)
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        for (index, e) in events.iter().enumerate() {
            if is_live_process(e) {
                let cmd = e.attr("cmd").unwrap_or("");
                let exe = e
                    .attr("exe")
                    .or_else(|| cmd.split_whitespace().next())
                    .unwrap_or("");
                if in_staging(exe) {
                    findings.add("process_from_staging", exe, index, || staged(exe, e));
                }
                if e.attr("exe_deleted") == Some("true") {
                    findings.add("deleted_binary_running", exe, index, || deleted(exe, e));
                }
            } else if is_live_connection(e) {
                let port = e.attr("remote_port").unwrap_or("");
                let state = e.attr("state").unwrap_or("");
                let connected = matches!(state, "ESTAB" | "SYN-SENT" | "SYN-RECV");
                if connected && MINING_PORTS.contains(&port) {
                    let remote = e.attr("remote_ip").unwrap_or("");
                    findings.add("mining_pool_port", remote, index, || {
                        mining(remote, port, e)
                    });
                }
            }
        }
        findings.into_alarms(events)
    }
}

fn who(e: &Event) -> String {
    format!(
        "process {} of {}",
        e.attr("pid").unwrap_or("?"),
        e.attr("username").unwrap_or("an unknown user")
    )
}

fn staged(exe: &str, e: &Event) -> Finding {
    Finding {
        rule: "process_from_staging",
        title: format!("Process running from a temporary folder: {exe}"),
        why: format!(
            "The {} runs {exe}, in a world-writable temporary folder where no package installs \
             programs: droppers, miners and reverse shells run from there. Command line: `{}`",
            who(e),
            e.attr("cmd").unwrap_or("")
        ),
        severity: Severity::High,
        mitre: techniques(&[("defense-evasion", "T1036.005"), ("execution", "T1059.004")]),
    }
}

fn deleted(exe: &str, e: &Event) -> Finding {
    Finding {
        rule: "deleted_binary_running",
        title: format!("Process running a deleted executable: {exe}"),
        why: format!(
            "The {} runs {exe}, which is no longer on disk: malware deletes its binary after \
             starting so that only memory holds it. Copy it from /proc/{}/exe before the \
             process ends. (A daemon still running the old binary of a package upgraded \
             under it looks the same: check the package manager's log.) Command line: `{}`",
            who(e),
            e.attr("pid").unwrap_or("PID"),
            e.attr("cmd").unwrap_or("")
        ),
        severity: Severity::High,
        mitre: techniques(&[("defense-evasion", "T1070.004")]),
    }
}

fn mining(remote: &str, port: &str, e: &Event) -> Finding {
    let by = e
        .attr("process")
        .map(|p| format!(" by {p} (pid {})", e.attr("pid").unwrap_or("?")))
        .unwrap_or_default();
    Finding {
        rule: "mining_pool_port",
        title: format!("Connection to a mining pool port: {remote}:{port}"),
        why: format!(
            "The host is connected to {remote} on port {port}{by}, a port cryptocurrency \
             mining pools use for the Stratum protocol."
        ),
        severity: Severity::High,
        mitre: techniques(&[("impact", "T1496")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riposte_model::EventOrigin;

    fn live(parser: &str, action: Action, attrs: &[(&str, &str)]) -> Event {
        let origin = EventOrigin {
            parser: parser.into(),
            path: format!("/$Riposte/live/{}", parser.trim_start_matches("live_")),
            record: Some(1),
        };
        attrs.iter().fold(
            Event::new(None, "web1", action, "live", origin),
            |e, (k, v)| e.with(k, *v),
        )
    }

    #[test]
    fn staged_deleted_and_mining_processes_raise_alarms_ordinary_ones_do_not() {
        let events = vec![
            live(
                "live_processes",
                Action::ProcessRun,
                &[
                    ("pid", "1"),
                    ("exe", "/usr/lib/systemd/systemd"),
                    ("cmd", "/sbin/init"),
                ],
            ),
            live(
                "live_processes",
                Action::ProcessRun,
                &[
                    ("pid", "4242"),
                    ("exe", "/dev/shm/.x/kworkerd"),
                    ("exe_deleted", "true"),
                    ("cmd", "kworkerd -o x"),
                ],
            ),
            live(
                "live_sockets",
                Action::NetworkOutgoing,
                &[
                    ("remote_ip", "198.51.100.7"),
                    ("remote_port", "3333"),
                    ("state", "ESTAB"),
                ],
            ),
            live(
                "live_sockets",
                Action::NetworkOutgoing,
                &[
                    ("remote_ip", "198.51.100.8"),
                    ("remote_port", "443"),
                    ("state", "ESTAB"),
                ],
            ),
            live(
                "live_sockets",
                Action::NetworkOutgoing,
                &[
                    ("remote_ip", "198.51.100.9"),
                    ("remote_port", "4444"),
                    ("state", "TIME-WAIT"),
                ],
            ),
        ];
        let alarms = LiveProcesses.detect(&events);
        let rules: Vec<&str> = alarms.iter().filter_map(|a| a.rule_id.as_deref()).collect();
        assert_eq!(
            rules,
            [
                "process_from_staging",
                "deleted_binary_running",
                "mining_pool_port"
            ]
        );
        assert_eq!(alarms[0].event_refs, [1]);
        assert!(alarms[2].title.contains("198.51.100.7:3333"));
        assert!(
            events
                .iter()
                .all(|e| LiveProcesses.wants(e) == e.origin.parser.starts_with("live_"))
        );
    }
}
