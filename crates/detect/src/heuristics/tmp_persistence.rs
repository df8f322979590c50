//! Persistence that runs code from a temporary directory (ATT&CK T1053.003 cron,
//! T1543.002 systemd, T1037.004 rc scripts, T1546.004 shell profiles): droppers stage
//! their payload in `/tmp`, `/var/tmp` or `/dev/shm` (world-writable, often
//! memory-backed, never where an installed program lives) and schedule it there.
//!
//! - `persistence_from_tmp` (High):
//!   - a cron job, a systemd unit's `ExecStart`/`ExecStartPre`/`ExecStop`, or a syslog
//!     `CRON … CMD (…)` line that runs a program from one of those directories (by path,
//!     after `cd /tmp`, or through an interpreter: `sh /tmp/x.sh`);
//!   - a command that installs such an entry, or one that downloads and runs code
//!     (`curl … | sh`), into a crontab (`(crontab -l; echo "…") | crontab -`,
//!     `echo "…" >> /etc/crontab`), an rc script (`/etc/rc.local`, `/etc/init.d/`), a
//!     systemd unit, or a login profile (`~/.bashrc`, `/etc/profile.d/`).
//! - `cron_job_added` (Low): any other cron job installed from a command line
//!   (`… | crontab -`, `echo … >> /etc/cron.d/x`): how scripts, attackers' included,
//!   add jobs without an editor; context for the timeline.
//! - `crontab_from_tmp` (Medium): a crontab installed from a file in a temporary
//!   directory (`crontab /tmp/.c`), whose content is unknown.
//!
//! Clean-ups that merely name a temporary path (`find /tmp -mtime +7 -delete`,
//! `rm -rf /tmp/cache`) run nothing from it and raise nothing.

use super::commands::carries_command;
use super::commands::{
    Finding, Findings, Kind, by, command_lines, executed_paths, in_staging, techniques, words,
};
use crate::{Detector, shorten};
use regex::Regex;
use riposte_model::{Alarm, Event, Severity};
use std::sync::LazyLock;

/// Text given to `echo`/`printf`: quoted, or bare up to a redirection or pipe.
static ECHOED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b(?:echo|printf)\s+(?:-[a-zA-Z]+\s+)*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^|>;&)]+))"#,
    )
    .expect("valid built-in pattern")
});

/// A file that makes code run on schedule, at boot or at logon, as a write target.
static TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?:>>?|\btee\s+(?:-a\s+)?)\s*["']?("#,
        r"/etc/crontab\b|/etc/cron\.(?:d|hourly|daily|weekly|monthly)/\S*|/var/spool/cron/\S*",
        r"|/etc/rc\.local\b|/etc/rc\.d/\S*|/etc/init\.d/\S*|/etc/update-motd\.d/\S*",
        r"|/(?:etc|lib|usr/lib)/systemd/system/\S*|\S*/\.config/systemd/user/\S*",
        r"|/etc/profile\b\S*|/etc/bash\.bashrc\b|/etc/bashrc\b",
        r"|\S*/\.(?:bashrc|bash_profile|bash_login|profile|zshrc|zprofile)\b",
        r")"
    ))
    .expect("valid built-in pattern")
});

/// `… | crontab -`, `… | crontab -u bob -`.
static CRONTAB_PIPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\|\s*(?:sudo\s+)?crontab\s+(?:-u\s+\S+\s+)?-(?:[\s)'"]|$)"#)
        .expect("valid pattern")
});

/// `crontab FILE`, `crontab -u bob FILE`.
static CRONTAB_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[;&|(]\s*|sudo\s+)crontab\s+(?:-u\s+\S+\s+)?([^\s\-;&|)][^\s;&|)]*)")
        .expect("valid pattern")
});

/// A download piped into a shell (`curl … | sh`, `wget -O- … | bash`, `sh -c "$(curl …)"`).
static DOWNLOAD_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:curl|wget)\b[^|;]*\|\s*(?:sudo\s+)?(?:/\S*/)?(?:ba|da|k|z)?sh\b",
        r#"|\b(?:ba|da|k|z)?sh\s+-c\s+["']?\$\(\s*(?:curl|wget)\b"#
    ))
    .expect("valid pattern")
});

/// The key of a unit-file line that runs a command (`ExecStart=-`, `ExecStartPre=`).
static EXEC_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*Exec\w*=[-@+!:]*").expect("valid pattern"));

/// What an entry is, for titles and techniques.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Cron,
    Systemd,
    Rc,
    Profile,
}

impl Place {
    fn of_target(path: &str) -> Place {
        if path.contains("cron") {
            Place::Cron
        } else if path.contains("systemd") {
            Place::Systemd
        } else if path.contains("/rc") || path.contains("init.d") || path.contains("motd") {
            Place::Rc
        } else {
            Place::Profile
        }
    }

    fn technique(self) -> (&'static str, &'static str) {
        match self {
            Place::Cron => ("persistence", "T1053.003"),
            Place::Systemd => ("persistence", "T1543.002"),
            Place::Rc => ("persistence", "T1037.004"),
            Place::Profile => ("persistence", "T1546.004"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Place::Cron => "cron job",
            Place::Systemd => "systemd unit",
            Place::Rc => "boot script",
            Place::Profile => "login profile",
        }
    }
}

/// Detects scheduled, boot or logon entries that run code from temporary directories.
#[derive(Debug, Clone, Copy, Default)]
pub struct TmpPersistence;

impl Detector for TmpPersistence {
    fn name(&self) -> &'static str {
        "tmp_persistence"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        for line in command_lines(events) {
            let e = &events[line.index];
            match line.kind {
                Kind::Scheduled => {
                    let staged = executed_paths(line.text)
                        .into_iter()
                        .find(|p| in_staging(p));
                    if let Some(path) = staged {
                        let place = match e.attr("persistence") {
                            Some("systemd") => Place::Systemd,
                            _ => Place::Cron,
                        };
                        let ran = e.attr("persistence").is_none();
                        findings.add("persistence_from_tmp", line.text, line.index, || {
                            scheduled(place, ran, &path, line.text, e)
                        });
                    }
                }
                Kind::Ran => installed(line.text, line.index, e, &mut findings),
            }
        }
        findings.into_alarms(events)
    }
}

/// A command that adds a cron job, boot script line, unit or profile line.
fn installed<'e>(cmd: &'e str, index: usize, e: &Event, findings: &mut Findings<'e>) {
    let target = TARGET
        .captures(cmd)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str());
    let piped_to_crontab = CRONTAB_PIPE.is_match(cmd);
    let place = match (target, piped_to_crontab) {
        (_, true) => Place::Cron,
        (Some(t), false) => Place::of_target(t),
        (None, false) => {
            if let Some(file) = CRONTAB_FILE
                .captures(cmd)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str())
                .filter(|f| in_staging(f))
            {
                findings.add("crontab_from_tmp", cmd, index, || {
                    crontab_file(file, cmd, e)
                });
            }
            return;
        }
    };
    let contents: Vec<&str> = ECHOED
        .captures_iter(cmd)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)))
        .map(|m| m.as_str())
        .collect();
    if contents.is_empty() {
        return;
    }
    let bad = contents.iter().find_map(|c| why_bad(c, place));
    match bad {
        Some(what) => findings.add("persistence_from_tmp", cmd, index, || {
            install(place, &what, cmd, e)
        }),
        None if place == Place::Cron => {
            findings.add("cron_job_added", cmd, index, || cron_added(cmd, e))
        }
        None => {}
    }
}

/// What makes an entry's content bad: it runs a staged program or downloads code.
fn why_bad(content: &str, place: Place) -> Option<String> {
    // `echo -e`/`printf` escapes, and unit-file lines (`ExecStart=/tmp/x`).
    let content = content.replace("\\\"", "\"").replace("\\n", "\n");
    let content = EXEC_KEY.replace_all(&content, "");
    let job: &str = if place == Place::Cron {
        strip_schedule(&content)
    } else {
        &content
    };
    // `/etc/crontab` lines have a user before the command: try with and without it.
    let without_user = job
        .split_once(char::is_whitespace)
        .filter(|(first, _)| !first.contains('/'))
        .map(|(_, rest)| rest);
    for text in [Some(job), without_user].into_iter().flatten() {
        if let Some(p) = executed_paths(text).into_iter().find(|p| in_staging(p)) {
            return Some(format!("runs {p}"));
        }
    }
    DOWNLOAD_RUN
        .is_match(job)
        .then(|| "downloads and runs code".to_string())
}

/// The command of a cron line: without its five time fields or `@reboot`-style nickname.
fn strip_schedule(line: &str) -> &str {
    let line = line.trim_start();
    let ws = words(line);
    let fields = match ws.first() {
        Some(w) if w.starts_with('@') => 1,
        _ if ws.len() > 5 && ws[..5].iter().all(|w| is_time_field(w)) => 5,
        _ => 0,
    };
    let mut rest = line;
    for _ in 0..fields {
        rest = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r);
    }
    rest.trim_start()
}

fn is_time_field(f: &str) -> bool {
    f.bytes()
        .all(|b| b.is_ascii_digit() || b"*,/-?".contains(&b))
        || (f.len() == 3 && f.bytes().all(|b| b.is_ascii_alphabetic()))
}

fn staging_dir(path: &str) -> &str {
    ["/var/tmp", "/dev/shm", "/run/shm", "/tmp"]
        .into_iter()
        .find(|d| path.starts_with(d))
        .unwrap_or("a temporary directory")
}

fn scheduled(place: Place, ran: bool, path: &str, cmd: &str, e: &Event) -> Finding {
    let dir = staging_dir(path);
    let subject = if ran {
        "Cron ran".to_string()
    } else {
        format!("{} runs", capitalized(place.name()))
    };
    let unit = e
        .attr("unit")
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    Finding {
        rule: "persistence_from_tmp",
        title: format!("{subject} a program from {dir}{unit}{}: {cmd}", by(e)),
        why: format!(
            "A {}{unit} runs {path}, in {dir}: a world-writable temporary directory where no \
             installed program lives, and where droppers stage their payload so that it \
             starts again on schedule or at boot. Command: `{}`",
            place.name(),
            shorten(cmd, 2000)
        ),
        severity: Severity::High,
        mitre: techniques(&[place.technique(), ("execution", "T1059.004")]),
    }
}

fn install(place: Place, what: &str, cmd: &str, e: &Event) -> Finding {
    Finding {
        rule: "persistence_from_tmp",
        title: format!(
            "{} added that {what}{}: {cmd}",
            capitalized(place.name()),
            by(e)
        ),
        why: format!(
            "A command added a {} that {what}: code staged in a temporary directory, or \
             fetched from the network, set to run again on schedule, at boot or at logon. \
             Command: `{}`",
            place.name(),
            shorten(cmd, 2000)
        ),
        severity: Severity::High,
        mitre: techniques(&[place.technique()]),
    }
}

fn cron_added(cmd: &str, e: &Event) -> Finding {
    Finding {
        rule: "cron_job_added",
        title: format!("Cron job added from the command line{}: {cmd}", by(e)),
        why: format!(
            "A cron job was installed without an editor; check that it belongs. Command: `{}`",
            shorten(cmd, 2000)
        ),
        severity: Severity::Low,
        mitre: techniques(&[Place::Cron.technique()]),
    }
}

fn crontab_file(file: &str, cmd: &str, e: &Event) -> Finding {
    Finding {
        rule: "crontab_from_tmp",
        title: format!("Crontab installed from {file}{}: {cmd}", by(e)),
        why: format!(
            "A crontab was replaced by the content of {file}, a file in a world-writable \
             temporary directory; recover the crontab to see what it schedules. Command: `{}`",
            shorten(cmd, 2000)
        ),
        severity: Severity::Medium,
        mitre: techniques(&[Place::Cron.technique()]),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
