//! A file downloaded with curl or wget and then run, within one command
//! (`curl -o /tmp/x URL && chmod +x /tmp/x && /tmp/x`) or over the next commands of the
//! same history file (`cd /tmp`, `wget URL`, `chmod +x x`, `./x`).
//!
//! Commands are followed per file (`origin.path`) in history order (`origin.record`),
//! split at `;`, `&&`, `||`, `|` and newlines, tracking `cd` to absolute directories.
//! Running the file means naming it by path (`./x`, `/tmp/x`) or giving it to an
//! interpreter (`sh x`, `python3 x`); a bare `x` is a `$PATH` lookup, not the download.
//!
//! Severity: High when the file was staged in a world-writable or hidden place (`/tmp`,
//! `/var/tmp`, `/dev/shm`, a dot-name) or came from a throwaway source (see
//! `download_severity`); Low otherwise, since installing a tool into one's home
//! directory and running it is everyday administration.

use super::download_severity;
use crate::heuristics::commands::{STAGING, program_and_args, unquote, where_};
use crate::{mitre, shorten};
use riposte_model::{Alarm, Event, Severity};
use std::collections::BTreeMap;

/// How many later commands of the same file may run a download.
const HORIZON: usize = 20;
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "source", ".", "perl", "php", "ruby", "node",
];

struct Download {
    /// Where the file went, absolute when the directory is known.
    path: String,
    url: Option<String>,
    cmd_severity: Severity,
    event: usize,
    position: usize,
    chmod: Option<usize>,
}

pub(super) fn detect(events: &[Event]) -> Vec<Alarm> {
    let mut files: BTreeMap<&str, Vec<(u64, usize, &str)>> = BTreeMap::new();
    for (index, cmd) in super::commands(events) {
        let e = &events[index];
        files.entry(e.origin.path.as_str()).or_default().push((
            e.origin.record.unwrap_or(0),
            index,
            cmd,
        ));
    }
    let mut alarms = Vec::new();
    for commands in files.values_mut() {
        commands.sort_unstable();
        follow(commands, events, &mut alarms);
    }
    alarms
}

/// Walks one history file's commands, in order.
fn follow(commands: &[(u64, usize, &str)], events: &[Event], alarms: &mut Vec<Alarm>) {
    let mut downloads: Vec<Download> = Vec::new();
    let mut cwd: Option<String> = None;
    for (position, &(_, event, cmd)) in commands.iter().enumerate() {
        downloads.retain(|d| position - d.position <= HORIZON);
        for segment in cmd.split([';', '&', '|', '\n']) {
            let words: Vec<&str> = segment.split_ascii_whitespace().map(unquote).collect();
            let Some((program, args)) = program_and_args(&words) else {
                continue;
            };
            let name = program.rsplit('/').next().unwrap_or(program);
            match name {
                "cd" => {
                    cwd = args
                        .first()
                        .filter(|d| d.starts_with('/'))
                        .map(|d| d.trim_end_matches('/').to_string())
                }
                "curl" | "wget" => {
                    if let Some(target) = download_target(name, args) {
                        let url = args
                            .iter()
                            .find(|a| a.contains("://"))
                            .map(|u| u.to_string());
                        let path = resolve(cwd.as_deref(), &target);
                        let cmd_severity = download_severity(cmd);
                        downloads.push(Download {
                            path,
                            url,
                            cmd_severity,
                            event,
                            position,
                            chmod: None,
                        });
                    }
                }
                "chmod" if args.iter().any(|a| is_exec_mode(a)) => {
                    for arg in args {
                        if let Some(d) = downloads
                            .iter_mut()
                            .find(|d| same_file(&d.path, cwd.as_deref(), arg))
                        {
                            d.chmod = Some(event);
                        }
                    }
                }
                _ => {
                    let interpreted = INTERPRETERS.contains(&name) || name.starts_with("python");
                    let target = if interpreted {
                        args.iter().find(|a| !a.starts_with('-')).copied()
                    } else {
                        Some(program).filter(|p| p.contains('/'))
                    };
                    let Some(target) = target else { continue };
                    if let Some(i) = downloads
                        .iter()
                        .position(|d| same_file(&d.path, cwd.as_deref(), target))
                    {
                        let d = downloads.remove(i);
                        alarms.push(alarm(&d, event, events));
                    }
                }
            }
        }
    }
}

/// Where curl or wget writes the download; `None` when it goes to standard output.
fn download_target(tool: &str, args: &[&str]) -> Option<String> {
    let url = args
        .iter()
        .find(|a| a.contains("://"))
        .or_else(|| args.iter().rev().find(|a| !a.starts_with('-')));
    let remote_name = || {
        let path = url?.split(['?', '#']).next()?;
        let path = path.split_once("://").map_or(path, |(_, rest)| rest);
        let name = path
            .split_once('/')
            .map(|(_, p)| p.rsplit('/').next().unwrap_or(p))
            .unwrap_or("");
        Some(if name.is_empty() {
            "index.html".to_string()
        } else {
            name.to_string()
        })
    };
    let (short, long) = if tool == "curl" {
        ('o', "--output")
    } else {
        ('O', "--output-document")
    };
    let mut dir: Option<&str> = None;
    let mut it = args.iter().enumerate();
    while let Some((i, &a)) = it.next() {
        let next = args.get(i + 1).copied();
        let explicit = if a == long {
            next
        } else if let Some(v) = a.strip_prefix(long).and_then(|v| v.strip_prefix('=')) {
            Some(v)
        } else if let Some(redirect) = a.strip_prefix('>').filter(|r| !r.starts_with('&')) {
            Some(if redirect.is_empty() {
                next?
            } else {
                redirect.trim_start_matches('>')
            })
        } else if a.starts_with('-') && !a.starts_with("--") && a.contains(short) {
            // A cluster such as `-sSLo FILE`, `-qO-` or `-o/tmp/x`.
            let after = &a[a.find(short)? + 1..];
            Some(if after.is_empty() { next? } else { after })
        } else {
            None
        };
        if let Some(out) = explicit {
            return (out != "-").then(|| out.to_string());
        }
        if tool == "wget" && (a == "-P" || a == "--directory-prefix") {
            dir = next;
            it.next();
        } else if let Some(d) = a.strip_prefix("--directory-prefix=") {
            dir = Some(d);
        }
        let curl_remote = tool == "curl"
            && (a == "--remote-name"
                || (a.starts_with('-') && !a.starts_with("--") && a.contains('O')));
        if curl_remote {
            return remote_name();
        }
    }
    if tool == "curl" {
        return None;
    }
    let name = remote_name()?;
    Some(match dir {
        Some(d) => format!("{}/{name}", d.trim_end_matches('/')),
        None => name,
    })
}

fn resolve(cwd: Option<&str>, path: &str) -> String {
    let path = path.trim_start_matches("./");
    match cwd {
        Some(dir) if !path.starts_with('/') && !path.starts_with('~') => format!("{dir}/{path}"),
        _ => path.to_string(),
    }
}

/// Same file when both resolve to the same path, or when one of them is relative to an
/// unknown directory and the names agree.
fn same_file(download: &str, cwd: Option<&str>, word: &str) -> bool {
    let word = resolve(cwd, word);
    let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    download == word
        || ((!download.starts_with('/') || !word.starts_with('/')) && name(download) == name(&word))
}

/// `+x`, `u+x`, `a+rx`, `755`, `0700`: modes that make a file executable.
fn is_exec_mode(mode: &str) -> bool {
    if mode.bytes().all(|b| b.is_ascii_digit()) && !mode.is_empty() {
        return mode.bytes().rev().take(3).any(|b| (b - b'0') & 1 == 1);
    }
    mode.contains('+') && mode.contains('x')
}

fn alarm(d: &Download, exec: usize, events: &[Event]) -> Alarm {
    let name = d.path.rsplit('/').next().unwrap_or(&d.path);
    let staged = STAGING.iter().any(|s| d.path.starts_with(s)) || name.starts_with('.');
    let severity = if staged || d.cmd_severity == Severity::High {
        Severity::High
    } else {
        Severity::Low
    };
    let from = d
        .url
        .as_deref()
        .map(|u| format!(" from {}", shorten(u, 100)))
        .unwrap_or_default();
    let chmod = d
        .chmod
        .map(|c| format!(" made executable ({}),", where_(&events[c])))
        .unwrap_or_default();
    let why = match (staged, severity) {
        (true, _) => {
            " It was staged in a world-writable or hidden location, typical of malware droppers."
        }
        (false, Severity::High) => {
            " Its source is plain http/ftp, an IP address, or certificate checks were off."
        }
        _ => {
            " It lives in a regular location and came over https: possibly a tool being installed."
        }
    };
    let mut refs: Vec<u64> = [Some(d.event), d.chmod, Some(exec)]
        .into_iter()
        .flatten()
        .map(|i| i as u64)
        .collect();
    refs.sort_unstable();
    refs.dedup();
    Alarm {
        detector: "download_exec".into(),
        title: shorten(&format!("Downloaded file executed: {}{from}", d.path), 160),
        description: format!(
            "{} was downloaded{from} ({}),{chmod} and run ({}).{why}",
            d.path,
            where_(&events[d.event]),
            where_(&events[exec]),
        ),
        severity,
        mitre: vec![
            mitre("command-and-control", "T1105"),
            mitre("execution", "T1059.004"),
        ],
        event_refs: refs,
        rule_id: None,
        files: Vec::new(),
        hunting: false,
    }
}
