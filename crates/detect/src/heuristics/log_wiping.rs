//! Covering tracks: shell history and system logs cleared, deleted or switched off
//! (ATT&CK T1070.003 Clear Command History, T1070.002 Clear Linux or Mac System Logs).
//!
//! Shapes, on command lines (see `commands`):
//! - `history_cleared`: `history -c`, `unset HISTFILE`, `HISTFILE=/dev/null`,
//!   `HISTSIZE=0`, `set +o history`, `ln -sf /dev/null ~/.bash_history`, a history file
//!   removed, shredded or emptied;
//! - `logs_wiped`: a log under `/var/log` (or `utmp`) removed (`rm`, `shred`, `unlink`,
//!   `find /var/log … -delete`), emptied (`> /var/log/auth.log`, `: >`, `echo >`,
//!   `cat /dev/null >`, `cp /dev/null`, `truncate -s 0`, `dd if=/dev/null of=`), or
//!   login records rewritten with `utmpdump -r`;
//! - `journal_vacuumed`: `journalctl --vacuum-time/-size/-files`.
//!
//! Medium: on their own they say someone hid something, not what. These are Low, being
//! everyday disk-space housekeeping: removing only rotated archives (`/var/log/*.gz`,
//! `syslog.1`, `-mtime +30`) or only application logs (`/var/log/nginx/access.log`; the
//! security logs are `auth.log`, `secure`, `wtmp`, `btmp`, `lastlog`, `audit/`,
//! `syslog`, `messages`, `journal/`, `kern.log`…, or the whole directory), a cron job or
//! unit that empties logs, and vacuuming the journal down to more than a day or a
//! megabyte. Writing a log by redirection (`job > /var/log/job.log`)
//! is not wiping and raises nothing: only an empty or null producer counts.

use super::commands::carries_command;
use super::commands::{Findings, Kind, Rule, Rules, Scope};
use crate::Detector;
use regex::Regex;
use riposte_model::{Alarm, Event, Severity};
use std::sync::LazyLock;

const FRAGMENTS: &[(&str, &str)] = &[
    // A log path: anything under /var/log, and the current-sessions file.
    ("LOG", r"(?:/var/log\b|/var/run/utmp\b|/run/utmp\b)"),
    // A shell history file.
    ("HIST", r"[^\s;&|<>]*(?:\.[a-z_]*history|/\.histfile)\b"),
    // Start of a simple command.
    // `&>` is a redirection, not a separator.
    ("START", r"(?:^|[;|(`]\s*|&&\s*|&\s+|\$\(\s*)"),
    // A command that writes nothing (so `X > file` empties the file).
    (
        "NULL",
        r#"(?:(?::|true|echo(?:\s+-n)?(?:\s+(?:""|''))?|printf\s+(?:""|'')|cat\s+/dev/null)\s*)?"#,
    ),
];

const RULES: &[Rule] = &[
    Rule {
        id: "history_cleared",
        title: "Shell history cleared or disabled",
        why: "The shell history was wiped or turned off, so the commands typed in this \
              session leave no trace: a step attackers take to hide what they ran.",
        severity: Severity::Medium,
        mitre: &[("defense-evasion", "T1070.003")],
        scope: Scope::Any,
        alternatives: &[
            &[r"{START}history\s+-c\b"],
            &[r"\bunset\s+(?:\w+\s+)*HISTFILE\b"],
            &[r"\bHISTFILE=(?:/dev/null\b|[\x22']{2}|\s|$)"],
            &[r"\bHIST(?:FILE)?SIZE=[\x22']?0\b"],
            &[r"\bset\s+\+o\s+history\b"],
            &[r"\bln\s+(?:-\S+\s+)*/dev/null\s+{HIST}"],
            &[r"\b(?:rm|shred|unlink|srm|wipe)\s[^;&|]*{HIST}"],
            &[r"{START}{NULL}>\s*{HIST}"],
            &[r"\btruncate\s[^;&|]*(?:-s\s*0\b|--size[= ]0\b)[^;&|]*{HIST}"],
        ],
    },
    Rule {
        id: "logs_wiped",
        title: "System logs deleted or emptied",
        why: "Log files were removed or truncated, destroying the record of logons, commands \
              and services that an investigation relies on; attackers do it to erase their \
              tracks.",
        severity: Severity::Medium,
        mitre: &[("defense-evasion", "T1070.002")],
        scope: Scope::Any,
        alternatives: &[
            &[r"\b(?:rm|shred|unlink|srm|wipe)\s[^;&|]*{LOG}"],
            &[r"{START}{NULL}>\s*{LOG}"],
            &[r"\bcp\s+(?:-\S+\s+)*/dev/null\s+{LOG}"],
            &[r"\btruncate\s[^;&|]*(?:-s\s*0\b|--size[= ]0\b)[^;&|]*{LOG}"],
            &[r"\bdd\s[^;&|]*\bif=/dev/(?:null|zero)\b[^;&|]*\bof={LOG}"],
            &[r"\bfind\s+{LOG}[^;&|]*(?:-delete\b|-exec\s+(?:rm|shred|truncate|unlink)\b)"],
            &[r"\butmpdump\s[^;&|]*-r\b"],
        ],
    },
    Rule {
        id: "journal_vacuumed",
        title: "systemd journal vacuumed",
        why: "journalctl was told to delete archived journal files, erasing the host's system \
              log history up to the limit given.",
        severity: Severity::Medium,
        mitre: &[("defense-evasion", "T1070.002")],
        scope: Scope::Any,
        alternatives: &[&[r"\bjournalctl\s[^;&|]*--vacuum-(?:time|size|files)\b"]],
    },
];

static COMPILED: LazyLock<Rules> = LazyLock::new(|| Rules::compile(RULES, FRAGMENTS));

/// Rotated archives (`syslog.1`, `auth.log.2.gz`, `*.gz`, `messages-20240301`) or an
/// age filter: what housekeeping removes.
static ROTATED_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\.\d+|\.gz|\.bz2|\.xz|\.zst|\.old|-\d{8})(?:\.gz|\.bz2|\.xz|\.zst)?$")
        .expect("valid built-in pattern")
});
/// `find` restricted to old files or archives: `-mtime +30`, `-name "*.gz"`.
static AGE_OR_ARCHIVE_FILTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"-(?:mtime|mmin|ctime)\s+\+|-i?name\s+["']?[^\s"']*(?:\.gz|\.bz2|\.xz|\.zst|\.\d|\.old)["']?(?:\s|$)"#)
        .expect("valid built-in pattern")
});
/// A log path named in a command.
static LIVE_LOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:/var/log|/run/utmp|/var/run/utmp)(?:/[^\s;&|<>\x22']*)?")
        .expect("valid built-in pattern")
});
/// `--vacuum-time=1s`, `--vacuum-size 100M`, `--vacuum-files=1`.
static VACUUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"--vacuum-(time|size|files)[= ]\s*(\d+)\s*([a-zA-Z]*)").expect("valid pattern")
});

/// Detects cleared shell history, deleted or emptied logs, and vacuumed journals.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWiping;

impl Detector for LogWiping {
    fn name(&self) -> &'static str {
        "log_wiping"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        COMPILED.scan(events, &mut findings, |rule, line| {
            Some(match rule.id {
                "logs_wiped" if line.kind == Kind::Scheduled || !security_logs(line.text) => {
                    Severity::Low
                }
                "journal_vacuumed" if !vacuums_to_nothing(line.text) => Severity::Low,
                _ => rule.severity,
            })
        });
        findings.into_alarms(events)
    }
}

/// Logs that record logons, privileges, commands and the system itself: what an
/// intruder wants gone.
const SECURITY_LOGS: &[&str] = &[
    "auth.log",
    "secure",
    "wtmp",
    "btmp",
    "utmp",
    "lastlog",
    "faillog",
    "audit",
    "syslog",
    "messages",
    "journal",
    "kern.log",
    "daemon.log",
    "sudo.log",
];

/// Whether the command wipes a live security log, or the whole log directory (and not
/// only rotated archives, nor only application logs). A command that names no log path
/// (`utmpdump -r`) counts.
fn security_logs(cmd: &str) -> bool {
    if AGE_OR_ARCHIVE_FILTER.is_match(cmd) {
        return false;
    }
    let mut paths = LIVE_LOG.find_iter(cmd).map(|m| m.as_str()).peekable();
    if paths.peek().is_none() {
        return true;
    }
    paths.filter(|p| !ROTATED_ONLY.is_match(p)).any(|p| {
        let rest = p
            .strip_prefix("/var/log")
            .unwrap_or(p)
            .trim_start_matches('/');
        rest.is_empty()
            || rest.starts_with('*')
            || p.ends_with("utmp")
            || SECURITY_LOGS.iter().any(|name| rest.starts_with(name))
    })
}

/// Whether a vacuum keeps at most a day, a megabyte or one file.
fn vacuums_to_nothing(cmd: &str) -> bool {
    VACUUM.captures_iter(cmd).any(|c| {
        let n: u64 = c[2].parse().unwrap_or(u64::MAX);
        let unit = c[3].to_ascii_lowercase();
        match &c[1] {
            "files" => n <= 1,
            "size" => match unit.as_str() {
                "" | "b" | "k" | "kb" | "kib" => true,
                "m" | "mb" | "mib" => n <= 1,
                _ => n == 0,
            },
            _ => match unit.as_str() {
                "" | "s" | "sec" | "second" | "seconds" | "m" | "min" | "minute" | "minutes"
                | "h" | "hour" | "hours" | "hr" => true,
                "d" | "day" | "days" => n <= 1,
                _ => n == 0,
            },
        }
    })
}

#[cfg(test)]
mod tests;
