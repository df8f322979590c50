//! The live part of a collection: what only a running system shows, each command's
//! output kept as evidence under `/$Riposte/live/…` with its exact command line.
//!
//! Commands are plain POSIX shell and standard tools (procps `ps`, iproute2 `ss`, `who`,
//! `systemctl`, `crontab`), run with `LC_ALL=C TZ=UTC` so their output parses the same
//! everywhere; through `sudo -n` when the collection runs as root.

use crate::session::SshSession;
use crate::{ItemSink, RemoteItem, SshError};
use riposte_acquire::SkippedEntry;
use std::time::Duration;

/// Where live-state outputs are filed among the items.
pub const LIVE_PREFIX: &str = "/$Riposte/live/";

/// Most output kept from one command.
const MAX_OUTPUT: usize = 64 << 20;

/// One live-state command.
pub struct LiveCommand {
    /// Its name, the item's file name under [`LIVE_PREFIX`].
    pub name: &'static str,
    /// The shell command.
    pub script: &'static str,
}

/// The live-state commands, in the order run.
pub const LIVE_COMMANDS: &[LiveCommand] = &[
    LiveCommand {
        name: "processes",
        // Every process with its parent, user, start time and command line, then the
        // target of each `/proc/PID/exe` (` (deleted)` when the binary is gone).
        script: "ps -ww -eo pid=,ppid=,uid=,user:32=,lstart=,args=; s=$?; echo '### exe'; for d in /proc/[0-9]*; do l=$(readlink \"$d/exe\" 2>/dev/null) && printf '%s\\t%s\\n' \"${d#/proc/}\" \"$l\"; done; exit $s",
    },
    LiveCommand {
        name: "sockets",
        script: "ss -tanupH",
    },
    LiveCommand {
        name: "logins",
        script: "who",
    },
    LiveCommand {
        name: "modules",
        script: "cat /proc/modules",
    },
    LiveCommand {
        name: "mounts",
        script: "cat /proc/mounts",
    },
    LiveCommand {
        name: "units",
        script: "systemctl list-units --state=running --no-pager --plain --no-legend",
    },
];

/// The command that lists the users whose crontabs are read.
const USERS: &str = "cut -d: -f1 /etc/passwd";

/// What the live part did.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// Outputs handed to the sink.
    pub items: u64,
    /// Why the live state could not be read at all (a host that allows only SFTP, a
    /// shell that refuses commands), when so.
    pub unavailable: Option<String>,
    /// Commands that failed, with the reason (their output, if any, is still kept).
    pub failed: Vec<SkippedEntry>,
}

/// The exact command line run for `script`: the locale and time zone fixed, through
/// `sudo -n` when `sudo`.
pub fn command_line(script: &str, sudo: bool) -> String {
    let inner = format!("LC_ALL=C TZ=UTC; export LC_ALL TZ; {script}");
    if sudo {
        format!("sudo -n sh -c {}", quote(&inner))
    } else {
        format!("sh -c {}", quote(&inner))
    }
}

/// Single-quotes `text` for a POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Checks that the host runs commands at all: a host restricted to SFTP (`ForceCommand
/// internal-sftp`) or with a shell that refuses logins answers something else.
pub(crate) async fn probe(session: &SshSession) -> Result<(), String> {
    const MARK: &str = "riposte-live-ok";
    match session
        .run(&format!("echo {MARK}"), 4096, Duration::from_secs(10))
        .await
    {
        Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == MARK => Ok(()),
        Ok(out) => Err(format!(
            "the host does not run commands for this user (only SFTP, or a restricted shell): it answered {:?}{}",
            String::from_utf8_lossy(&out.stdout).trim().chars().take(200).collect::<String>(),
            match out.stderr_text() {
                e if e.is_empty() => String::new(),
                e => format!(", error {e:?}"),
            }
        )),
        Err(SshError::Timeout { .. }) => Err(
            "the host does not run commands for this user (a test command got no answer: only SFTP allowed?)".into(),
        ),
        Err(e) => Err(format!("the host does not run commands for this user: {e}")),
    }
}

/// Checks whether `sudo -n` works; the reason when not.
pub(crate) async fn sudo_works(session: &SshSession) -> Result<(), String> {
    match session
        .run("sudo -n true", 4096, Duration::from_secs(15))
        .await
    {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(match out.stderr_text() {
            e if e.is_empty() => format!("sudo -n failed (exit status {:?})", out.exit_status),
            e => format!("sudo -n failed: {e}"),
        }),
        Err(e) => Err(format!("sudo -n failed: {e}")),
    }
}

/// Runs the live-state commands and hands each output to `sink`.
pub(crate) async fn collect_live(
    session: &SshSession,
    sudo: bool,
    sink: &mut dyn ItemSink,
    report: &mut LiveReport,
) -> Result<(), SshError> {
    let per_command = session.timeouts().operation.max(Duration::from_secs(5)) * 2;
    for command in LIVE_COMMANDS {
        let line = command_line(command.script, sudo);
        let path = format!("{LIVE_PREFIX}{}", command.name);
        run_one(session, &line, &path, per_command, sink, report).await?;
    }
    // Every user's crontab, one item per user that has one.
    let users = session
        .run(&command_line(USERS, sudo), 1 << 20, per_command)
        .await;
    match users {
        Ok(out) if out.success() => {
            for user in String::from_utf8_lossy(&out.stdout).lines() {
                let user = user.trim();
                if user.is_empty()
                    || !user
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    continue;
                }
                let script = format!("crontab -l -u {}", quote(user));
                let line = command_line(&script, sudo);
                let out = session.run(&line, MAX_OUTPUT, per_command).await;
                if let Ok(out) = out
                    && out.success()
                    && !out.stdout.is_empty()
                {
                    let item = RemoteItem {
                        original_path: format!("{LIVE_PREFIX}crontabs/{user}"),
                        modified: Some(chrono::Utc::now()),
                        command: Some(line),
                    };
                    report.items += 1;
                    sink.put(&item, &mut out.stdout.as_slice())
                        .await
                        .map_err(|e| SshError::Sink {
                            path: item.original_path.clone(),
                            source: e,
                        })?;
                }
            }
        }
        Ok(out) => report.failed.push(SkippedEntry {
            path: format!("{LIVE_PREFIX}crontabs"),
            reason: format!("cannot list users: {}", out.stderr_text()),
        }),
        Err(e) => report.failed.push(SkippedEntry {
            path: format!("{LIVE_PREFIX}crontabs"),
            reason: format!("cannot list users: {e}"),
        }),
    }
    Ok(())
}

async fn run_one(
    session: &SshSession,
    line: &str,
    path: &str,
    limit_time: Duration,
    sink: &mut dyn ItemSink,
    report: &mut LiveReport,
) -> Result<(), SshError> {
    let started = chrono::Utc::now();
    let out = match session.run(line, MAX_OUTPUT, limit_time).await {
        Ok(out) => out,
        Err(e) => {
            report.failed.push(SkippedEntry {
                path: path.to_string(),
                reason: format!("`{line}`: {e}"),
            });
            return Ok(());
        }
    };
    if !out.success() {
        report.failed.push(SkippedEntry {
            path: path.to_string(),
            reason: format!(
                "`{line}` exited with status {}: {}",
                out.exit_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "(none)".into()),
                out.stderr_text()
            ),
        });
    }
    if out.truncated {
        report.failed.push(SkippedEntry {
            path: path.to_string(),
            reason: format!("output cut at {} MiB", MAX_OUTPUT >> 20),
        });
    }
    if out.stdout.is_empty() && !out.success() {
        return Ok(());
    }
    let item = RemoteItem {
        original_path: path.to_string(),
        modified: Some(started),
        command: Some(line.to_string()),
    };
    report.items += 1;
    sink.put(&item, &mut out.stdout.as_slice())
        .await
        .map_err(|e| SshError::Sink {
            path: path.to_string(),
            source: e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_the_script_for_the_remote_shell() {
        assert_eq!(
            command_line("echo 'a b'", false),
            "sh -c 'LC_ALL=C TZ=UTC; export LC_ALL TZ; echo '\\''a b'\\'''"
        );
        assert!(command_line("who", true).starts_with("sudo -n sh -c '"));
    }
}
