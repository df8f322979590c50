//! Dynamic-linker hijacking (ATT&CK T1574.006): a library forced into every process,
//! the hook of user-land rootkits such as the process hiders Kinsing and TeamTNT install
//! (`/etc/libsystem.so`, `libprocesshider.so`).
//!
//! - `ld_so_preload_written` (High): a command writes a library into
//!   `/etc/ld.so.preload` (`echo /x.so > …`, `… | tee -a …`, `cp x /etc/ld.so.preload`,
//!   a download into it). Emptying the file (`> /etc/ld.so.preload`, `echo "" > …`,
//!   what a responder does) raises nothing.
//! - `ld_so_preload_entry`: a library listed in a collected `/etc/ld.so.preload` (the
//!   `ld_so_preload` parser's entries). High outside the distribution's library
//!   directories (`/lib*`, `/usr/lib*`), Medium inside them: few systems have the file
//!   at all, so any entry deserves a look.
//! - `ld_preload_set`: `LD_PRELOAD=` set to a library outside the system directories on
//!   a command line (`export LD_PRELOAD=/dev/shm/.x.so`). High when the library is in a
//!   world-writable or hidden place, Medium otherwise (developers preload test builds);
//!   system libraries (`LD_PRELOAD=/usr/lib/…/libjemalloc.so`) raise nothing.

use super::commands::carries_command;
use super::commands::{Finding, Findings, Rule, Rules, Scope, in_staging, is_hidden, techniques};
use crate::Detector;
use regex::Regex;
use riposte_model::{Action, Alarm, Event, Severity};
use std::sync::LazyLock;

const PRELOAD: &str = "/etc/ld.so.preload";

/// The distribution's library directories.
const SYSTEM_LIB_DIRS: &[&str] = &[
    "/lib/",
    "/lib32/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib32/",
    "/usr/lib64/",
];

const FRAGMENTS: &[(&str, &str)] = &[("PRELOAD", r"/etc/ld\.so\.preload\b")];

const RULES: &[Rule] = &[
    Rule {
        id: "ld_so_preload_written",
        title: "Library written into /etc/ld.so.preload",
        why: "A library was added to /etc/ld.so.preload, so the dynamic linker loads it into \
              every program that starts: the hook user-land rootkits use to hide processes, \
              files and connections.",
        severity: Severity::High,
        mitre: &[
            ("persistence", "T1574.006"),
            ("defense-evasion", "T1574.006"),
        ],
        scope: Scope::Any,
        alternatives: &[
            &[r"\b(?:echo|printf)\b[^;&|]*(?:\.so\b|\$\{?\w)[^;&|]*>>?\s*{PRELOAD}"],
            &[r"(?:\.so\b|\$\{?\w)[^;&]*\|\s*(?:sudo\s+)?tee\b[^;&|]*{PRELOAD}"],
            &[r"\b(?:cp|mv|install|ln)\s+(?:-\S+\s+)*\S+\s+{PRELOAD}"],
            &[
                r"\b(?:curl|wget)\b[^;&|]*(?:>>?|\s-[a-zA-Z]*[oO]\s*|--output(?:-document)?[= ])\s*{PRELOAD}",
            ],
            &[r"\bdd\b[^;&|]*\bof={PRELOAD}"],
        ],
    },
    Rule {
        id: "ld_preload_set",
        title: "LD_PRELOAD set to a non-system library",
        why: "LD_PRELOAD makes the dynamic linker load a library into the programs started \
              from this environment, ahead of the real ones: a way to hijack their functions \
              (hide files, steal credentials, keep a backdoor).",
        severity: Severity::Medium, // refined per library, see `preload_severity`
        mitre: &[
            ("persistence", "T1574.006"),
            ("defense-evasion", "T1574.006"),
        ],
        scope: Scope::Any,
        alternatives: &[&[r"\bLD_PRELOAD=[\x22']?[^\s\x22';]"]],
    },
];

static COMPILED: LazyLock<Rules> = LazyLock::new(|| Rules::compile(RULES, FRAGMENTS));

/// The value of each `LD_PRELOAD=` assignment.
static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\bLD_PRELOAD=["']?([^\s"';]*)"#).expect("valid built-in pattern")
});

/// Detects libraries forced into every process through ld.so.preload or LD_PRELOAD.
#[derive(Debug, Clone, Copy, Default)]
pub struct LdPreloadHijack;

impl Detector for LdPreloadHijack {
    fn name(&self) -> &'static str {
        "ld_preload_hijack"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
            || (e.action == Action::FileExists && e.attr("persistence") == Some("ld_so_preload"))
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        COMPILED.scan(events, &mut findings, |rule, line| match rule.id {
            "ld_preload_set" => preload_severity(line.text),
            _ => Some(rule.severity),
        });
        for (index, e) in events.iter().enumerate() {
            if e.action != Action::FileExists || e.attr("persistence") != Some("ld_so_preload") {
                continue;
            }
            let Some(library) = e.attr("file_path") else {
                continue;
            };
            findings.add("ld_so_preload_entry", library, index, || entry(library));
        }
        findings.into_alarms(events)
    }
}

/// In the distribution's library directories.
fn is_system_library(path: &str) -> bool {
    SYSTEM_LIB_DIRS.iter().any(|d| path.starts_with(d)) && !is_hidden(path)
}

/// The severity of the command's `LD_PRELOAD` libraries: `None` when all are system ones.
fn preload_severity(cmd: &str) -> Option<Severity> {
    VALUE
        .captures_iter(cmd)
        .flat_map(|c| {
            c.get(1)
                .map_or("", |m| m.as_str())
                .split([':', ' '])
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if is_system_library(l) {
                        None
                    } else if in_staging(l) || is_hidden(l) {
                        Some(Severity::High)
                    } else {
                        Some(Severity::Medium)
                    }
                })
                .collect::<Vec<_>>()
        })
        .max()
        .flatten()
}

fn entry(library: &str) -> Finding {
    let system = is_system_library(library);
    let (severity, note) = if system {
        (
            Severity::Medium,
            "It lies in a system library directory; confirm a package owns it \
             (`dpkg -S`, `rpm -qf`) and that the package expects to be preloaded.",
        )
    } else {
        (
            Severity::High,
            "It lies outside the system library directories, where no package puts a \
             preloaded library: the mark of a user-land rootkit.",
        )
    };
    Finding {
        rule: "ld_so_preload_entry",
        title: format!("{library} is preloaded into every process ({PRELOAD})"),
        why: format!(
            "{PRELOAD} lists {library}, so the dynamic linker loads it into every program \
             that starts. {note}"
        ),
        severity,
        mitre: techniques(&[
            ("persistence", "T1574.006"),
            ("defense-evasion", "T1574.006"),
        ]),
    }
}

#[cfg(test)]
mod tests;
