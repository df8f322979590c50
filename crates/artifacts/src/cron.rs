//! Crontabs: the system crontab `/etc/crontab` and `/etc/cron.d/*` (with a user field),
//! and user crontabs `/var/spool/cron/<user>`, `/var/spool/cron/crontabs/<user>`,
//! `/var/spool/cron/tabs/<user>` (the owner is the file name).
//!
//! Each job line becomes a `host` event (persistence) with `schedule`, `cmd`, `username`
//! and `file_name` (the program); the file has no reliable time, so `time` is `None`.
//! Comments, blank lines and environment settings (`MAILTO=…`, `SHELL=…`) are skipped;
//! any other line that is not a job is an error record.

use crate::records::{LineHandler, Origin, Out, line_records};
use crate::shell_history::program_name;
use crate::word;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for system and user crontabs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cron;

fn system_crontab(path: &str) -> bool {
    path.ends_with("/etc/crontab") || path == "etc/crontab" || dir_of(path).ends_with("/etc/cron.d")
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

impl ArtifactParser for Cron {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        if name.is_empty() || name.starts_with('.') {
            return false;
        }
        let dir = dir_of(original_path);
        system_crontab(original_path)
            || [
                "/var/spool/cron",
                "/var/spool/cron/crontabs",
                "/var/spool/cron/tabs",
                // `crontab -l -u USER` of each user, read live over SSH.
                "/$Riposte/live/crontabs",
            ]
            .iter()
            .any(|d| dir.ends_with(d))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let owner = (!system_crontab(&ctx.original_path))
            .then(|| crate::file_name(&ctx.original_path).to_string());
        line_records(Origin::new(ctx, "cron"), input, MAX_LINE, Handler { owner })
    }
}

struct Handler {
    /// The owner of a user crontab; `None` for system crontabs (user field per line).
    owner: Option<String>,
}

const NICKNAMES: &[&str] = &[
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// A time field: digits, `*`, `,`, `-`, `/`, or month/day names (`jan`, `mon-fri`).
fn is_time_field(f: &str) -> bool {
    let allowed = f
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b',' | b'-' | b'/' | b'?'));
    let numeric = f
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'*' || b == b'?');
    let named = f.len() >= 3
        && f.bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b',' || b == b'-');
    !f.is_empty() && allowed && (numeric || named)
}

fn is_env(line: &str) -> bool {
    line.split_once('=').is_some_and(|(name, _)| {
        let name = name.trim();
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') || is_env(line) {
            return;
        }
        let parsed = parse_job(line, self.owner.is_none());
        let Some((schedule, user, cmd)) = parsed else {
            out.error(
                number,
                format!("not a cron job: `{}`", crate::syslog::prefix(line, 60)),
            );
            return;
        };
        let user = self.owner.as_deref().or(user).unwrap_or("");
        let mut e = out
            .origin
            .event(
                None,
                Action::HostInfo,
                format!("cron job ({schedule}) for {user}: {cmd}"),
                number,
            )
            .with("schedule", schedule)
            .with("cmd", cmd)
            .with("username", user)
            .with("persistence", "cron")
            .with("file_path", out.origin.path.as_str())
            .with_raw(text);
        if let Some(name) = program_name(cmd) {
            e = e.with("file_name", name);
        }
        out.push(e);
    }
}

/// `(schedule, user, cmd)` of a job line.
fn parse_job(line: &str, has_user: bool) -> Option<(String, Option<&str>, &str)> {
    let (first, mut rest) = word(line)?;
    let schedule = if first.starts_with('@') {
        if !NICKNAMES.contains(&first) {
            return None;
        }
        first.to_string()
    } else {
        let mut fields = vec![first];
        for _ in 0..4 {
            let (f, r) = word(rest)?;
            fields.push(f);
            rest = r;
        }
        if !fields.iter().all(|f| is_time_field(f)) {
            return None;
        }
        fields.join(" ")
    };
    let user = if has_user {
        let (u, r) = word(rest)?;
        rest = r;
        Some(u)
    } else {
        None
    };
    let cmd = rest.trim();
    (!cmd.is_empty()).then_some((schedule, user, cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims() {
        for p in [
            "/etc/crontab",
            "/etc/cron.d/e2scrub_all",
            "/var/spool/cron/crontabs/bob",
            "/var/spool/cron/root",
        ] {
            assert!(Cron.claims(p), "{p}");
        }
        for p in [
            "/etc/cron.daily/logrotate",
            "/etc/cron.d/.placeholder",
            "/etc/crontab.bak",
        ] {
            assert!(!Cron.claims(p), "{p}");
        }
    }

    #[test]
    fn jobs() {
        let (s, u, c) = parse_job(
            "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly",
            true,
        )
        .unwrap();
        assert_eq!(
            (s.as_str(), u, c),
            (
                "17 * * * *",
                Some("root"),
                "cd / && run-parts --report /etc/cron.hourly"
            )
        );
        let (s, u, c) = parse_job("@reboot /tmp/.x/run.sh", false).unwrap();
        assert_eq!((s.as_str(), u, c), ("@reboot", None, "/tmp/.x/run.sh"));
        let (s, _, _) = parse_job("*/5 1-3 * jan,feb mon-fri echo hi", false).unwrap();
        assert_eq!(s, "*/5 1-3 * jan,feb mon-fri");
        assert!(parse_job("this is not cron", false).is_none());
        assert!(parse_job("@sometimes x", false).is_none());
        assert!(parse_job("* * * * *", false).is_none());
    }
}
