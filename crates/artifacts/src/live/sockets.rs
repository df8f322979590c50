//! `/$Riposte/live/sockets`: `ss -tanupH`, TCP and UDP sockets with their process.
//!
//! A listening socket (`LISTEN`, or an unconnected UDP socket) is an `incoming_network`
//! event with `state` and the local address; a connection is `incoming_network` when its
//! local port is one the host listens on, else `outgoing_network`, with `remote_ip`,
//! `remote_port`, `local_ip`, `local_port`, `protocol`, `state`, `process` and `pid`.
//! Events carry the time the command ran.

use super::is_output;
use crate::records::{LineHandler, Origin, Out, line_records};
use crate::word;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::collections::HashSet;
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;

/// Parser for the live socket list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveSockets;

impl ArtifactParser for LiveSockets {
    fn name(&self) -> &'static str {
        "live_sockets"
    }

    fn claims(&self, original_path: &str) -> bool {
        is_output(original_path, "sockets")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(
            Origin::new(ctx, "live_sockets"),
            input,
            MAX_LINE,
            Handler {
                time: ctx.modified,
                rows: Vec::new(),
            },
        )
    }
}

struct Row {
    line: u64,
    protocol: String,
    state: String,
    local: (String, String),
    peer: (String, String),
    process: Option<(String, String)>,
    raw: String,
}

struct Handler {
    time: Option<DateTime<Utc>>,
    rows: Vec<Row>,
}

/// `10.0.0.5:22`, `[::ffff:1.2.3.4]:80`, `127.0.0.53%lo:53`, `*:*` → (ip, port).
fn endpoint(text: &str) -> Option<(String, String)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split('%').next().unwrap_or(host);
    let host = host
        .strip_prefix("::ffff:")
        .filter(|h| h.contains('.'))
        .unwrap_or(host);
    Some((host.to_string(), port.to_string()))
}

/// `users:(("sshd",pid=123,fd=3),…)` → the first process's name and pid.
fn process(text: &str) -> Option<(String, String)> {
    let start = text.find("((\"")? + 3;
    let rest = &text[start..];
    let name = &rest[..rest.find('"')?];
    let pid_at = rest.find("pid=")? + 4;
    let pid: String = rest[pid_at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((name.to_string(), pid))
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let mut rest = text;
        let mut fields = Vec::with_capacity(6);
        for _ in 0..6 {
            match word(rest) {
                Some((w, r)) => {
                    fields.push(w);
                    rest = r;
                }
                None => break,
            }
        }
        let parsed = (fields.len() == 6)
            .then(|| Some((endpoint(fields[4])?, endpoint(fields[5])?)))
            .flatten();
        let Some((local, peer)) = parsed else {
            out.error(
                number,
                format!(
                    "not a socket line (netid state recv-q send-q local peer process): {}",
                    crate::syslog::prefix(text, 120)
                ),
            );
            return;
        };
        self.rows.push(Row {
            line: number,
            protocol: fields[0].to_ascii_lowercase(),
            state: fields[1].to_string(),
            local,
            peer,
            process: process(rest),
            raw: text.to_string(),
        });
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        let listening = |r: &Row| r.state == "LISTEN" || (r.state == "UNCONN" && r.peer.1 == "*");
        let ports: HashSet<(&str, &str)> = self
            .rows
            .iter()
            .filter(|r| listening(r))
            .map(|r| (r.protocol.as_str(), r.local.1.as_str()))
            .collect();
        for r in &self.rows {
            let by = r
                .process
                .as_ref()
                .map(|(n, p)| format!(" by {n} (pid {p})"))
                .unwrap_or_default();
            let mut e = if listening(r) {
                out.origin.event(
                    self.time,
                    Action::NetworkIncoming,
                    format!(
                        "{} listening on {}:{}{by}",
                        r.protocol, r.local.0, r.local.1
                    ),
                    r.line,
                )
            } else {
                let incoming = ports.contains(&(r.protocol.as_str(), r.local.1.as_str()));
                let (action, arrow) = if incoming {
                    (Action::NetworkIncoming, "from")
                } else {
                    (Action::NetworkOutgoing, "to")
                };
                out.origin
                    .event(
                        self.time,
                        action,
                        format!(
                            "{} {} {arrow} {}:{} (local {}:{}){by}",
                            r.protocol, r.state, r.peer.0, r.peer.1, r.local.0, r.local.1
                        ),
                        r.line,
                    )
                    .with("remote_ip", r.peer.0.as_str())
                    .with("remote_port", r.peer.1.as_str())
            };
            e = e
                .with("protocol", r.protocol.as_str())
                .with("state", r.state.as_str())
                .with("local_ip", r.local.0.as_str())
                .with("local_port", r.local.1.as_str())
                .with("live", "true")
                .with_raw(r.raw.as_str());
            if let Some((name, pid)) = &r.process {
                e = e.with("process", name.as_str()).with("pid", pid.as_str());
            }
            out.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_incoming_and_outgoing_sockets() {
        let ctx = ArtifactContext {
            host: "web1".into(),
            original_path: "/$Riposte/live/sockets".into(),
            modified: None,
        };
        let text = "tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:((\"sshd\",pid=812,fd=3))\ntcp   ESTAB  0      0        10.0.0.5:22     203.0.113.66:51234 users:((\"sshd\",pid=900,fd=4),(\"sshd\",pid=901,fd=4))\ntcp   ESTAB  0      0    [::ffff:10.0.0.5]:40312  [::ffff:198.51.100.7]:3333 users:((\"kworkerd\",pid=4242,fd=7))\nudp   UNCONN 0      0    127.0.0.53%lo:53        0.0.0.0:*\nnonsense\n";
        let results: Vec<_> = LiveSockets
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .collect();
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        let events: Vec<Event> = results.into_iter().filter_map(Result::ok).collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].attr("state"), Some("LISTEN"));
        assert_eq!(events[0].attr("process"), Some("sshd"));
        assert_eq!(events[1].action, Action::NetworkIncoming);
        assert_eq!(events[1].attr("remote_ip"), Some("203.0.113.66"));
        assert_eq!(events[2].action, Action::NetworkOutgoing);
        assert_eq!(events[2].attr("remote_ip"), Some("198.51.100.7"));
        assert_eq!(events[2].attr("remote_port"), Some("3333"));
        assert_eq!(events[2].attr("pid"), Some("4242"));
        assert_eq!(events[3].attr("local_ip"), Some("127.0.0.53"));
    }
}
