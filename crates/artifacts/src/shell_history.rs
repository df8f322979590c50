//! Shell history files: bash, zsh, sh/ksh, ash (busybox) and tcsh.
//!
//! Every command becomes a `run` ([`Action::ProcessRun`]) event with `cmd`, the
//! `username` taken from the path (`/home/<user>/…`, `/root/…`) and `file_name`, the
//! basename of the program when the first word names one. Times come from:
//! - bash `HISTTIMEFORMAT` lines (`#1700000000`, tcsh `#+1700000000`), which date the
//!   command right after them;
//! - zsh `EXTENDED_HISTORY` prefixes (`: 1700000000:0;cmd`), recognised in any file.
//!
//! Other commands have no time. zsh files are also un-metafied (zsh escapes some bytes
//! with 0x83) and their backslash-continued lines are joined into one command.

use crate::lines::Lines;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use std::io::BufRead;

/// Longest command kept (longer ones are cut and marked `truncated`): big enough for
/// pasted one-liners with base64 payloads, small enough to bound memory.
const MAX_COMMAND: usize = 1024 * 1024;

/// History file names and the shell that writes them.
const FILES: &[(&str, &str)] = &[
    (".bash_history", "bash"),
    (".zsh_history", "zsh"),
    (".zhistory", "zsh"),
    (".histfile", "zsh"),
    (".sh_history", "sh"),
    (".ash_history", "ash"),
    (".history", "tcsh"),
];

/// Parser for bash, zsh, sh, ash and tcsh history files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellHistory;

impl ArtifactParser for ShellHistory {
    fn name(&self) -> &'static str {
        "shell_history"
    }

    fn claims(&self, original_path: &str) -> bool {
        shell_of(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let shell = shell_of(&ctx.original_path).unwrap_or("sh");
        Box::new(Records {
            lines: Lines::new(input, MAX_COMMAND),
            zsh: shell == "zsh",
            pending_time: None,
            command: CommandEvent::new(ctx, "shell_history", shell),
        })
    }
}

fn shell_of(path: &str) -> Option<&'static str> {
    let name = crate::file_name(path);
    FILES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, shell)| *shell)
}

struct Records<'r> {
    lines: Lines<'r>,
    zsh: bool,
    /// The time from a bash `#<epoch>` line, for the next command.
    pending_time: Option<DateTime<Utc>>,
    command: CommandEvent,
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (number, mut text, mut truncated) = match self.lines.next_line()? {
                Ok(l) => (l.number, decode(l.bytes, self.zsh), l.truncated),
                Err(e) => return Some(Err(self.command.read_error(self.lines.number(), e))),
            };
            let mut raw_lines = 1;
            // zsh writes a newline inside a command as `\` + newline.
            while self.zsh && !truncated && text.ends_with('\\') {
                let next = match self.lines.next_line() {
                    Some(Ok(l)) => l,
                    Some(Err(e)) => {
                        return Some(Err(self.command.read_error(self.lines.number(), e)));
                    }
                    None => break,
                };
                raw_lines += 1;
                text.pop();
                text.push('\n');
                if text.len() + next.bytes.len() > MAX_COMMAND {
                    truncated = true;
                } else {
                    text.push_str(&decode(next.bytes, true));
                    truncated = next.truncated;
                }
            }
            if !self.zsh
                && let Some(epoch) = bash_timestamp(&text)
            {
                match epoch
                    .parse::<i64>()
                    .ok()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                {
                    Some(t) => self.pending_time = Some(t),
                    None => {
                        return Some(Err(self
                            .command
                            .error(number, format!("timestamp `#{epoch}` out of range"))));
                    }
                }
                continue;
            }
            let (time, elapsed, cmd) = match zsh_extended(&text) {
                Some(Ok(Extended { time, elapsed, cmd })) => (Some(time), Some(elapsed), cmd),
                Some(Err(message)) => return Some(Err(self.command.error(number, message))),
                None => (self.pending_time, None, text.as_str()),
            };
            if cmd.trim().is_empty() {
                continue;
            }
            self.pending_time = None;
            let mut event = self.command.event(time, cmd, number, &text);
            if let Some(elapsed) = elapsed {
                event = event.with("elapsed_seconds", elapsed);
            }
            if raw_lines > 1 {
                event = event.with("lines", raw_lines.to_string());
            }
            if truncated {
                event = event.with("truncated", "true");
            }
            return Some(Ok(event));
        }
    }
}

/// Lossy UTF-8, after undoing zsh's metafication (0x83 then the byte XOR 0x20).
fn decode(bytes: &[u8], zsh: bool) -> String {
    const META: u8 = 0x83;
    if zsh && bytes.contains(&META) {
        let mut out = Vec::with_capacity(bytes.len());
        let mut it = bytes.iter();
        while let Some(&b) = it.next() {
            match (b, it.clone().next()) {
                (META, Some(&next)) => {
                    out.push(next ^ 0x20);
                    it.next();
                }
                _ => out.push(b),
            }
        }
        return String::from_utf8_lossy(&out).into_owned();
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// `#1700000000` (bash) or `#+1700000000` (tcsh) → the digits.
fn bash_timestamp(line: &str) -> Option<&str> {
    let digits = line.strip_prefix('#')?;
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A zsh `EXTENDED_HISTORY` entry.
struct Extended<'a> {
    time: DateTime<Utc>,
    elapsed: &'a str,
    cmd: &'a str,
}

/// `: 1700000000:0;cmd` → (time, elapsed seconds, cmd); `None` when the line has no
/// such prefix, `Some(Err)` when it has one with an impossible time.
fn zsh_extended(line: &str) -> Option<Result<Extended<'_>, String>> {
    let rest = line.strip_prefix(": ")?;
    let (start, rest) = rest.split_once(':')?;
    let (elapsed, cmd) = rest.split_once(';')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(start) || !all_digits(elapsed) {
        return None;
    }
    Some(
        start
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(|time| Extended { time, elapsed, cmd })
            .ok_or_else(|| format!("zsh timestamp `{start}` out of range")),
    )
}

/// Builds `run` events for one history file; shared with the fish parser.
pub(crate) struct CommandEvent {
    host: String,
    path: String,
    parser: &'static str,
    shell: &'static str,
    username: Option<String>,
}

impl CommandEvent {
    pub fn new(ctx: &ArtifactContext, parser: &'static str, shell: &'static str) -> Self {
        CommandEvent {
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            parser,
            shell,
            username: user_from_path(&ctx.original_path).map(str::to_string),
        }
    }

    pub fn event(&self, time: Option<DateTime<Utc>>, cmd: &str, record: u64, raw: &str) -> Event {
        let origin = EventOrigin {
            parser: self.parser.into(),
            path: self.path.clone(),
            record: Some(record),
        };
        let one_line = cmd.replace('\n', " \\n ");
        let message = match &self.username {
            Some(user) => format!("{user} ran: {one_line}"),
            None => format!("ran: {one_line}"),
        };
        let mut event = Event::new(
            time,
            self.host.as_str(),
            Action::ProcessRun,
            message,
            origin,
        )
        .with("cmd", cmd)
        .with("shell", self.shell)
        .with_raw(raw);
        if let Some(user) = &self.username {
            event = event.with("username", user.as_str());
        }
        if let Some(name) = program_name(cmd) {
            event = event.with("file_name", name);
        }
        event
    }

    pub fn error(&self, record: u64, message: String) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message,
        }
    }

    pub fn read_error(&self, record: u64, source: std::io::Error) -> ArtifactError {
        ArtifactError::Read {
            path: self.path.clone(),
            record,
            source,
        }
    }
}

/// The account a home directory belongs to: `/home/bob/…` → `bob`, `/root/…` → `root`.
pub(crate) fn user_from_path(path: &str) -> Option<&str> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["root", _, ..] | ["var", "root", _, ..] => Some("root"),
        ["home" | "Users", user, _, ..] => Some(user),
        _ => None,
    }
}

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "function", "select", "time", "in", "{", "}", "[[", "]]", "!", "((",
];

/// The basename of the program a command starts with, skipping `VAR=value` prefixes;
/// `None` when the first word is a keyword or an expansion rather than a program.
pub(crate) fn program_name(cmd: &str) -> Option<&str> {
    let word = cmd
        .split_ascii_whitespace()
        .find(|w| !is_assignment(w))?
        .trim_end_matches([';', '&', '|']);
    let starts_badly = word.starts_with(['(', '$', '`', '\'', '"', '#', '<', '>', '{']);
    if word.is_empty() || starts_badly || KEYWORDS.contains(&word) {
        return None;
    }
    let base = word.rsplit('/').next().unwrap_or(word);
    (!base.is_empty()).then_some(base)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
    })
}

#[cfg(test)]
mod tests;
