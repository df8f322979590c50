//! fish shell history (`~/.local/share/fish/fish_history`), a YAML-like list:
//!
//! ```text
//! - cmd: curl -s https://example.com/x | sh
//!   when: 1700000000
//!   paths:
//!     - /tmp
//! ```
//!
//! Every entry becomes a `run` event like those of [`crate::ShellHistory`]; fish escapes
//! newlines in commands as `\n` and backslashes as `\\`.

use crate::lines::Lines;
use crate::shell_history::CommandEvent;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::Event;
use std::io::BufRead;

const MAX_LINE: usize = 1024 * 1024;

/// Parser for fish's history file.
#[derive(Debug, Clone, Copy, Default)]
pub struct FishHistory;

impl ArtifactParser for FishHistory {
    fn name(&self) -> &'static str {
        "fish_history"
    }

    fn claims(&self, original_path: &str) -> bool {
        crate::file_name(original_path) == "fish_history"
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            lines: Lines::new(input, MAX_LINE),
            pending: None,
            command: CommandEvent::new(ctx, "fish_history", "fish"),
        })
    }
}

/// An entry whose `when:` may still follow.
struct Entry {
    record: u64,
    cmd: String,
    raw: String,
    time: Option<DateTime<Utc>>,
    truncated: bool,
}

struct Records<'r> {
    lines: Lines<'r>,
    pending: Option<Entry>,
    command: CommandEvent,
}

impl Records<'_> {
    fn finish(&self, entry: Entry) -> Event {
        let event = self
            .command
            .event(entry.time, &entry.cmd, entry.record, &entry.raw);
        if entry.truncated {
            event.with("truncated", "true")
        } else {
            event
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (number, text, truncated) = match self.lines.next_line() {
                Some(Ok(l)) => (
                    l.number,
                    String::from_utf8_lossy(l.bytes).into_owned(),
                    l.truncated,
                ),
                Some(Err(e)) => return Some(Err(self.command.read_error(self.lines.number(), e))),
                None => return self.pending.take().map(|entry| Ok(self.finish(entry))),
            };
            if let Some(cmd) = text.strip_prefix("- cmd: ") {
                let entry = Entry {
                    record: number,
                    cmd: unescape(cmd),
                    raw: text.clone(),
                    time: None,
                    truncated,
                };
                if let Some(done) = self.pending.replace(entry) {
                    return Some(Ok(self.finish(done)));
                }
            } else if let Some(when) = text.trim_start().strip_prefix("when: ") {
                let Some(entry) = self.pending.as_mut() else {
                    continue;
                };
                match when
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                {
                    Some(t) => {
                        entry.time = Some(t);
                        entry.raw.push('\n');
                        entry.raw.push_str(&text);
                    }
                    None => {
                        return Some(Err(self
                            .command
                            .error(number, format!("bad fish `when: {when}`"))));
                    }
                }
            }
        }
    }
}

/// fish's history escapes: `\n` → newline, `\\` → `\`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse(text: &str) -> Vec<Result<Event, ArtifactError>> {
        let ctx = ArtifactContext {
            host: "h".into(),
            original_path: "/home/eve/.local/share/fish/fish_history".into(),
            modified: None,
        };
        FishHistory
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .collect()
    }

    #[test]
    fn entries_with_times_paths_and_escapes() {
        let out = parse(
            "- cmd: ls -la\n  when: 1700000000\n- cmd: echo a\\nb \\\\ c\n  when: 1700000060\n  paths:\n    - /tmp\n- cmd: id\n",
        );
        let events: Vec<Event> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].attr("cmd"), Some("ls -la"));
        assert_eq!(
            events[0].time,
            Some(Utc.timestamp_opt(1_700_000_000, 0).unwrap())
        );
        assert_eq!(events[0].attr("username"), Some("eve"));
        assert_eq!(events[0].origin.record, Some(1));
        assert_eq!(events[1].attr("cmd"), Some("echo a\nb \\ c"));
        assert_eq!(events[1].origin.record, Some(3));
        assert_eq!((events[2].attr("cmd"), events[2].time), (Some("id"), None));
        assert_eq!(events[2].attr("file_name"), Some("id"));
    }

    #[test]
    fn a_bad_time_is_an_error_and_parsing_goes_on() {
        let out = parse("- cmd: a\n  when: soon\n- cmd: b\n");
        assert!(matches!(
            &out[0],
            Err(ArtifactError::Record { record: 2, .. })
        ));
        assert_eq!(out[1].as_ref().unwrap().attr("cmd"), Some("a"));
        assert_eq!(out[2].as_ref().unwrap().attr("cmd"), Some("b"));
        assert_eq!(out.len(), 3);
    }
}
