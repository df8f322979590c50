//! Command lines, shared by the detectors that read them: which events carry one, how to
//! split one into simple commands and words, a small rule engine (regex shapes compiled
//! once into a [`RegexSet`]), and [`Findings`], which folds repeats of the same finding
//! into one alarm that references every occurrence.
//!
//! Splitting is deliberately simple (quotes are not tracked): a separator inside quotes
//! also splits, which errs towards seeing more commands, never fewer.

use crate::shorten;
use regex::RegexSet;
use riposte_model::{Action, Alarm, Event, MitreTechnique, Severity};
use std::collections::HashMap;

/// Most events one alarm references.
pub(crate) const MAX_EVENT_REFS: usize = 50;

/// World-writable or memory-backed directories where droppers stage their files.
pub(crate) const STAGING: &[&str] = &["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/"];

/// Programs that run the file named by their first non-option argument.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "source", ".", "perl", "php", "ruby",
    "node", "python", "python2", "python3",
];

/// How a command line reached the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// It ran: shell history, auditd `EXECVE`, sudo, a process-creation record.
    Ran,
    /// It is, or ran as, a scheduled or boot-time job: a crontab line, a systemd unit's
    /// `ExecStart`/`ExecStartPre`/`ExecStop`, a syslog `CRON … CMD (…)` line.
    Scheduled,
}

/// One command line of one event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandLine<'e> {
    /// Position of the event in the detector's input.
    pub index: usize,
    /// The command line.
    pub text: &'e str,
    /// Ran or scheduled.
    pub kind: Kind,
}

/// Every command line in `events`: `run` events' `cmd` (a syslog cron `run` counts as
/// scheduled), and the commands of cron jobs and systemd units.
pub(crate) fn command_lines(events: &[Event]) -> impl Iterator<Item = CommandLine<'_>> {
    events.iter().enumerate().flat_map(|(index, e)| {
        let mut texts: [Option<&str>; 3] = [None; 3];
        let mut kind = Kind::Ran;
        match (e.action, e.attr("persistence")) {
            (Action::ProcessRun, _) => {
                texts[0] = e.attr("cmd");
                if e.attr("service") == Some("cron") {
                    kind = Kind::Scheduled;
                }
            }
            (Action::HostInfo, Some("cron")) => {
                texts[0] = e.attr("cmd");
                kind = Kind::Scheduled;
            }
            (Action::HostInfo, Some("systemd")) => {
                texts = [
                    e.attr("exec_start").or_else(|| e.attr("cmd")),
                    e.attr("exec_start_pre"),
                    e.attr("exec_stop"),
                ];
                kind = Kind::Scheduled;
            }
            _ => {}
        }
        texts
            .into_iter()
            .flatten()
            .filter(|t| !t.trim().is_empty())
            .map(move |text| CommandLine { index, text, kind })
    })
}

/// True when `e` carries a command line (see [`command_lines`]).
pub(crate) fn carries_command(e: &Event) -> bool {
    command_lines(std::slice::from_ref(e)).next().is_some()
}

/// The simple commands of a command line: split at `;`, `&`, `|`, newlines, and the
/// parentheses and backquotes of subshells.
pub(crate) fn segments(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '&', '|', '\n', '(', ')', '`'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The words of a simple command, quotes and brackets trimmed.
pub(crate) fn words(segment: &str) -> Vec<&str> {
    segment
        .split_ascii_whitespace()
        .map(unquote)
        .filter(|w| !w.is_empty())
        .collect()
}

/// A word without its surrounding quotes, parentheses and backquotes.
pub(crate) fn unquote(word: &str) -> &str {
    word.trim_matches(['"', '\'', '(', ')', '`'])
}

/// The program of a simple command and its arguments, past `sudo -u bob`, `nohup`,
/// `timeout 5`, `VAR=x` and the like.
pub(crate) fn program_and_args<'a, 'w>(words: &'a [&'w str]) -> Option<(&'w str, &'a [&'w str])> {
    let mut i = 0;
    while let Some(&w) = words.get(i) {
        i += 1;
        if let Some(takes_value) = prefix_options(w) {
            while let Some(&opt) = words.get(i) {
                let is_duration =
                    w == "timeout" && opt.bytes().next().is_some_and(|b| b.is_ascii_digit());
                if !opt.starts_with('-') && !is_duration {
                    break;
                }
                i += if takes_value.contains(&opt) { 2 } else { 1 };
            }
        } else if !is_assignment(w) {
            return Some((w, words.get(i..).unwrap_or(&[])));
        }
    }
    None
}

/// For a command that runs another (`sudo`, `nohup`, …), its options that take a value.
fn prefix_options(word: &str) -> Option<&'static [&'static str]> {
    Some(match word {
        "sudo" | "doas" => &["-u", "-g", "-C", "-D", "-p", "-U", "-r", "-t", "-h"],
        "timeout" => &["-s", "-k", "--signal", "--kill-after"],
        "nice" => &["-n"],
        "env" => &["-u", "-C", "-S"],
        "nohup" | "exec" | "setsid" | "time" | "command" => &[],
        _ => return None,
    })
}

/// `NAME=value`, as in `HISTSIZE=0 cmd`.
pub(crate) fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !k.as_bytes()[0].is_ascii_digit()
    })
}

/// The last path component (`/usr/bin/xmrig` → `xmrig`).
pub(crate) fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Under `/tmp`, `/var/tmp`, `/dev/shm` or `/run/shm`.
pub(crate) fn in_staging(path: &str) -> bool {
    STAGING.iter().any(|dir| path.starts_with(dir))
}

/// A path with a component whose name starts with a dot (`/root/.x/y`, `/tmp/.ICE/z`);
/// `.` and `..` do not count.
pub(crate) fn is_hidden(path: &str) -> bool {
    path.split('/')
        .any(|c| c.starts_with('.') && c != "." && c != "..")
}

/// The programs a command line runs by path, as absolute paths when the directory is
/// known: `/tmp/x`, `cd /dev/shm && ./x`, `sh /var/tmp/a.sh`, `nohup /tmp/.x/y &`.
/// A bare name (`x`) is a `$PATH` lookup and is not returned.
pub(crate) fn executed_paths(text: &str) -> Vec<String> {
    let mut cwd: Option<String> = None;
    let mut found = Vec::new();
    for segment in segments(text) {
        let words = words(segment);
        let Some((program, args)) = program_and_args(&words) else {
            continue;
        };
        let name = base_name(program);
        if name == "cd" {
            cwd = args
                .first()
                .filter(|d| d.starts_with('/'))
                .map(|d| d.trim_end_matches('/').to_string());
            continue;
        }
        let interpreted = INTERPRETERS.contains(&name)
            || name.starts_with("python")
            || name.starts_with("perl")
            || name.starts_with("php");
        let target = if interpreted {
            args.iter()
                .find(|a| !a.starts_with('-') && a.contains('/'))
                .copied()
        } else {
            Some(program).filter(|p| p.contains('/'))
        };
        if let Some(target) = target {
            found.push(resolve(cwd.as_deref(), target));
        }
    }
    found
}

fn resolve(cwd: Option<&str>, path: &str) -> String {
    match (cwd, path.strip_prefix("./")) {
        (Some(dir), Some(rest)) => format!("{dir}/{rest}"),
        (Some(dir), None) if !path.starts_with(['/', '~', '$']) => format!("{dir}/{path}"),
        _ => path.to_string(),
    }
}

/// `/home/bob/.bash_history line 12, 2024-03-01T10:00:00+00:00` for descriptions.
pub(crate) fn where_(e: &Event) -> String {
    let mut s = e.origin.path.clone();
    if let Some(record) = e.origin.record {
        s.push_str(&format!(" line {record}"));
    }
    match e.time {
        Some(t) => s.push_str(&format!(", {}", t.to_rfc3339())),
        None => s.push_str(", time unknown"),
    }
    s
}

/// Which command lines a [`Rule`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every command line.
    Any,
    /// Commands that ran, not scheduled entries.
    Ran,
}

/// One shape of command line; its id becomes the alarm's `rule_id` when it matches.
pub(crate) struct Rule {
    /// Stable id, the alarm's `rule_id`.
    pub id: &'static str,
    /// Title, followed by ` by <user>: <command>`.
    pub title: &'static str,
    /// What it means, first sentence(s) of the description.
    pub why: &'static str,
    /// Default severity (a detector may refine it per command).
    pub severity: Severity,
    /// `(tactic, technique)` pairs.
    pub mitre: &'static [(&'static str, &'static str)],
    /// Which command lines it reads.
    pub scope: Scope,
    /// The rule matches when, for any alternative, all its patterns match.
    pub alternatives: &'static [&'static [&'static str]],
}

/// A rule table compiled into one [`RegexSet`]: one scan of a command line tells which
/// patterns match, and so which rules.
pub(crate) struct Rules {
    rules: &'static [Rule],
    set: RegexSet,
    /// Per rule, per alternative, the indices of its patterns in `set`.
    alternatives: Vec<Vec<Vec<usize>>>,
}

impl Rules {
    /// Compiles the built-in `rules`, replacing each `{NAME}` by its fragment first.
    /// Panics on an invalid pattern: they are constants, covered by the tests.
    pub(crate) fn compile(rules: &'static [Rule], fragments: &[(&str, &str)]) -> Rules {
        let mut patterns: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let alternatives = rules
            .iter()
            .map(|rule| {
                rule.alternatives
                    .iter()
                    .map(|alt| {
                        alt.iter()
                            .map(|p| {
                                let p = fragments.iter().fold(p.to_string(), |p, (name, with)| {
                                    p.replace(&format!("{{{name}}}"), with)
                                });
                                *seen.entry(p.clone()).or_insert_with(|| {
                                    patterns.push(p);
                                    patterns.len() - 1
                                })
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let set = RegexSet::new(&patterns)
            .unwrap_or_else(|e| panic!("built-in command-line pattern is invalid: {e}"));
        Rules {
            rules,
            set,
            alternatives,
        }
    }

    /// Indices of the rules that match this command line.
    pub(crate) fn matching(&self, line: &CommandLine<'_>) -> Vec<usize> {
        let hits = self.set.matches(line.text);
        if !hits.matched_any() {
            return Vec::new();
        }
        (0..self.rules.len())
            .filter(|&r| self.rules[r].scope == Scope::Any || line.kind == Kind::Ran)
            .filter(|&r| {
                self.alternatives[r]
                    .iter()
                    .any(|alt| alt.iter().all(|&p| hits.matched(p)))
            })
            .collect()
    }

    /// Runs the rules over every command line; `refine` gives the severity of a match
    /// (or `None` to drop it). A command line raises one finding: the first rule, in
    /// table order (most specific first), among its most severe matches.
    pub(crate) fn scan<'e>(
        &self,
        events: &'e [Event],
        findings: &mut Findings<'e>,
        refine: impl Fn(&Rule, &CommandLine<'_>) -> Option<Severity>,
    ) {
        for line in command_lines(events) {
            let matched: Vec<(usize, Severity)> = self
                .matching(&line)
                .into_iter()
                .filter_map(|r| refine(&self.rules[r], &line).map(|s| (r, s)))
                .collect();
            let top = matched.iter().map(|&(_, s)| s).max();
            if let Some(&(r, severity)) = matched.iter().find(|&&(_, s)| Some(s) == top) {
                let rule = &self.rules[r];
                findings.add(rule.id, line.text, line.index, || {
                    Finding::command(rule, severity, line.text, &events[line.index])
                });
            }
        }
    }
}

/// What one alarm will say; built on the first occurrence.
pub(crate) struct Finding {
    /// The rule that fired, the alarm's `rule_id`.
    pub rule: &'static str,
    /// Full title (shortened to one line when the alarm is built).
    pub title: String,
    /// The description without the location and repeat count.
    pub why: String,
    /// Severity.
    pub severity: Severity,
    /// ATT&CK techniques.
    pub mitre: Vec<MitreTechnique>,
}

impl Finding {
    /// The standard finding of a command-line rule: `<title> by <user>: <cmd>`.
    pub(crate) fn command(rule: &Rule, severity: Severity, cmd: &str, first: &Event) -> Finding {
        Finding {
            rule: rule.id,
            title: format!("{}{}: {cmd}", rule.title, by(first)),
            why: format!("{} Command: `{}`", rule.why, shorten(cmd, 2000)),
            severity,
            mitre: techniques(rule.mitre),
        }
    }
}

/// ` by bob` when the event names a user.
pub(crate) fn by(e: &Event) -> String {
    e.attr("username")
        .filter(|u| !u.is_empty())
        .map(|u| format!(" by {u}"))
        .unwrap_or_default()
}

/// `(tactic, technique)` pairs as [`MitreTechnique`]s.
pub(crate) fn techniques(pairs: &[(&str, &str)]) -> Vec<MitreTechnique> {
    pairs
        .iter()
        .map(|(tactic, technique)| crate::mitre(tactic, technique))
        .collect()
}

struct Entry {
    finding: Finding,
    refs: Vec<usize>,
    count: usize,
}

/// One detector's findings keyed by (rule, subject), in first-seen order; the same
/// finding seen again adds a reference instead of an alarm. Alarms carry the detector's
/// name as `detector` (so the verdict counts repeats of a detector at one severity once)
/// and the rule as `rule_id`.
pub(crate) struct Findings<'e> {
    detector: &'static str,
    entries: Vec<Entry>,
    by_key: HashMap<(&'static str, &'e str), usize>,
}

impl<'e> Findings<'e> {
    /// No findings yet, for the detector of this name.
    pub(crate) fn new(detector: &'static str) -> Self {
        Findings {
            detector,
            entries: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// Records that event `index` shows `subject` for `rule`; `make` builds the finding
    /// the first time.
    pub(crate) fn add(
        &mut self,
        rule: &'static str,
        subject: &'e str,
        index: usize,
        make: impl FnOnce() -> Finding,
    ) {
        let entries = &mut self.entries;
        let at = *self.by_key.entry((rule, subject)).or_insert_with(|| {
            entries.push(Entry {
                finding: make(),
                refs: Vec::new(),
                count: 0,
            });
            entries.len() - 1
        });
        let entry = &mut self.entries[at];
        entry.count += 1;
        if entry.refs.len() < MAX_EVENT_REFS && entry.refs.last() != Some(&index) {
            entry.refs.push(index);
        }
    }

    /// One alarm per finding, with where it was first seen and how often.
    pub(crate) fn into_alarms(self, events: &[Event]) -> Vec<Alarm> {
        let detector = self.detector;
        self.entries
            .into_iter()
            .map(
                |Entry {
                     finding,
                     refs,
                     count,
                 }| {
                    let times = match count {
                        1 => String::new(),
                        n => format!(" Seen {n} times."),
                    };
                    let first = refs
                        .first()
                        .map_or_else(String::new, |&i| where_(&events[i]));
                    Alarm {
                        detector: detector.into(),
                        title: shorten(&finding.title, 160),
                        description: format!("{} ({first}).{times}", finding.why),
                        severity: finding.severity,
                        mitre: finding.mitre,
                        event_refs: refs.into_iter().map(|i| i as u64).collect(),
                        rule_id: Some(finding.rule.into()),
                        files: Vec::new(),
                        hunting: false,
                    }
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executed_paths_follow_cd_interpreters_and_prefixes() {
        assert_eq!(executed_paths("cd /dev/shm && ./x -o y"), ["/dev/shm/x"]);
        assert_eq!(
            executed_paths("nohup /tmp/.x/y >/dev/null 2>&1 &"),
            ["/tmp/.x/y"]
        );
        assert_eq!(
            executed_paths("sudo -u bob sh /var/tmp/a.sh"),
            ["/var/tmp/a.sh"]
        );
        assert_eq!(executed_paths("bash -c '/tmp/k; id'"), ["/tmp/k"]);
        assert_eq!(
            executed_paths("python3 -c 'import os'"),
            Vec::<String>::new()
        );
        assert!(executed_paths("rm -rf /tmp/cache; find /tmp -delete").is_empty());
        assert!(executed_paths("xmrig").is_empty());
    }

    #[test]
    fn hidden_and_staging() {
        assert!(is_hidden("/root/.x/y") && is_hidden("/tmp/.ICE-unix/z"));
        assert!(!is_hidden("/usr/lib/./x.so") && !is_hidden("../lib/x.so"));
        assert!(in_staging("/dev/shm/x") && !in_staging("/tmpfoo/x") && !in_staging("/tmp"));
    }
}
