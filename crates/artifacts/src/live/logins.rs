//! `/$Riposte/live/logins`: `who` (UTC), the users logged in now: one `logon` event each
//! at its login time, with `username`, `terminal` and, for a remote session, `remote_ip`
//! (or `remote_host`).

use super::is_output;
use crate::records::{LineHandler, Origin, Out, line_records};
use crate::word;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::NaiveDateTime;
use riposte_model::{Action, Event};
use std::io::BufRead;
use std::net::IpAddr;

const MAX_LINE: usize = 16 * 1024;

/// Parser for the live list of logged-in users.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveLogins;

impl ArtifactParser for LiveLogins {
    fn name(&self) -> &'static str {
        "live_logins"
    }

    fn claims(&self, original_path: &str) -> bool {
        is_output(original_path, "logins")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(Origin::new(ctx, "live_logins"), input, MAX_LINE, Handler)
    }
}

struct Handler;

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let parsed = (|| {
            let (user, rest) = word(text)?;
            let (terminal, rest) = word(rest)?;
            let (day, rest) = word(rest)?;
            let (clock, rest) = word(rest)?;
            let time = NaiveDateTime::parse_from_str(&format!("{day} {clock}"), "%Y-%m-%d %H:%M")
                .ok()?
                .and_utc();
            let from = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.split(')').next())
                .filter(|f| !f.is_empty() && !f.starts_with(':'));
            Some((user, terminal, time, from))
        })();
        let Some((user, terminal, time, from)) = parsed else {
            out.error(
                number,
                format!("not a `who` line: {}", crate::syslog::prefix(text, 120)),
            );
            return;
        };
        let mut e = out
            .origin
            .event(
                Some(time),
                Action::UserLogon,
                format!(
                    "{user} logged in on {terminal}{}",
                    from.map(|f| format!(" from {f}")).unwrap_or_default()
                ),
                number,
            )
            .with("username", user)
            .with("terminal", terminal)
            .with("live", "true")
            .with_raw(text);
        if let Some(from) = from {
            e = if from.parse::<IpAddr>().is_ok() {
                e.with("remote_ip", from)
            } else {
                e.with("remote_host", from)
            };
        }
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_with_and_without_a_remote_address() {
        let ctx = ArtifactContext {
            original_path: "/$Riposte/live/logins".into(),
            ..Default::default()
        };
        let text = "root     pts/0        2026-12-07 17:17 (203.0.113.66)\nbob      tty1         2026-12-07 08:00\nalice    pts/1        2026-12-07 09:30 (jump.corp)\n???\n";
        let results: Vec<_> = LiveLogins
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .collect();
        assert!(results[3].is_err());
        let events: Vec<Event> = results.into_iter().filter_map(Result::ok).collect();
        assert_eq!(events[0].attr("remote_ip"), Some("203.0.113.66"));
        assert_eq!(events[0].action, Action::UserLogon);
        assert_eq!(events[1].attr("remote_ip"), None);
        assert_eq!(events[2].attr("remote_host"), Some("jump.corp"));
        assert_eq!(
            events[0].time.map(|t| t.to_rfc3339()),
            Some("2026-12-07T17:17:00+00:00".into())
        );
    }
}
