//! Web server access logs in the common or combined log format:
//! `/var/log/apache2/*access.log*`, `/var/log/httpd/*access_log*`,
//! `/var/log/nginx/*access.log*`.
//!
//! `%h %l %u [%d/%b/%Y:%H:%M:%S %z] "%r" %>s %b ["%{Referer}i" "%{User-agent}i"]` → one
//! `incoming_network` event per request at the logged time converted to UTC, with
//! `remote_ip` (or `remote_host`), `username` (`%u` when not `-`), `method`, `url`,
//! `url_path` (without the query), `protocol`, `status`, `bytes`, `referer`,
//! `user_agent` and `timezone` (the logged offset). A request line that is not
//! `METHOD URL PROTO` (TLS bytes sent to a plain port, scanners) is kept as `request`
//! without `method`. A line that does not have this shape is an error record.

use crate::records::{LineHandler, Origin, Out, line_records};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event};
use std::io::BufRead;
use std::net::IpAddr;

const MAX_LINE: usize = 64 * 1024;

/// Parser for Apache httpd and nginx access logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebAccess;

impl ArtifactParser for WebAccess {
    fn name(&self) -> &'static str {
        "web_access"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        (name.contains("access.log") || name.contains("access_log"))
            && ["/apache2/", "/apache/", "/httpd/", "/nginx/"]
                .iter()
                .any(|d| original_path.contains(d))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(Origin::new(ctx, "web_access"), input, MAX_LINE, Handler)
    }
}

struct Handler;

/// One parsed access-log line.
#[derive(Debug, PartialEq)]
pub(crate) struct Access<'a> {
    pub host: &'a str,
    pub user: &'a str,
    pub time: DateTime<Utc>,
    pub offset: &'a str,
    pub request: String,
    pub status: &'a str,
    pub bytes: &'a str,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
}

fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    let end = s.find(' ').unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// A `"…"` string with `\"` and `\\` escapes; returns it unescaped and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start_matches(' ').strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                Some((_, e)) => {
                    value.push('\\');
                    value.push(e);
                }
                None => value.push('\\'),
            },
            '"' => return Some((value, &s[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

pub(crate) fn parse_line(line: &str) -> Result<Access<'_>, String> {
    let bad = |what: &str| format!("{what} in `{}`", crate::syslog::prefix(line, 80));
    let (host, rest) = word(line).ok_or_else(|| bad("no client address"))?;
    let (_ident, rest) = word(rest).ok_or_else(|| bad("no ident field"))?;
    let (user, rest) = word(rest).ok_or_else(|| bad("no user field"))?;
    let rest = rest
        .trim_start_matches(' ')
        .strip_prefix('[')
        .ok_or_else(|| bad("no [time]"))?;
    let (stamp, rest) = rest
        .split_once(']')
        .ok_or_else(|| bad("unterminated [time]"))?;
    let t = DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|e| bad(&format!("bad time `{stamp}` ({e})")))?;
    let offset = stamp.rsplit(' ').next().unwrap_or("");
    let (request, rest) = quoted(rest).ok_or_else(|| bad("no quoted request"))?;
    let (status, rest) = word(rest).ok_or_else(|| bad("no status"))?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("bad status `{status}`")));
    }
    let (bytes, rest) = word(rest).ok_or_else(|| bad("no size"))?;
    if bytes != "-" && !bytes.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("bad size `{bytes}`")));
    }
    let (referer, user_agent) = match quoted(rest) {
        Some((referer, rest)) => (Some(referer), quoted(rest).map(|(ua, _)| ua)),
        None => (None, None),
    };
    Ok(Access {
        host,
        user,
        time: t.with_timezone(&Utc),
        offset,
        request,
        status,
        bytes,
        referer,
        user_agent,
    })
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let a = match parse_line(text) {
            Ok(a) => a,
            Err(message) => return out.error(number, message),
        };
        let parts: Vec<&str> = a.request.split(' ').collect();
        let method_ok = |m: &str| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase());
        let mut e = out
            .origin
            .event(
                Some(a.time),
                Action::NetworkIncoming,
                format!("{} \"{}\" {} {}", a.host, a.request, a.status, a.bytes),
                number,
            )
            .with("request", a.request.as_str())
            .with("status", a.status)
            .with("timezone", a.offset)
            .with_raw(text);
        e = if a.host.parse::<IpAddr>().is_ok() {
            e.with("remote_ip", a.host)
        } else {
            e.with("remote_host", a.host)
        };
        if a.bytes != "-" {
            e = e.with("bytes", a.bytes);
        }
        if a.user != "-" {
            e = e.with("username", a.user);
        }
        if let [method, url, rest @ ..] = parts.as_slice()
            && method_ok(method)
        {
            e = e
                .with("method", *method)
                .with("url", *url)
                .with("url_path", url.split(['?', '#']).next().unwrap_or(url));
            if let Some(proto) = rest.last() {
                e = e.with("protocol", *proto);
            }
        }
        if let Some(r) = a.referer.filter(|r| r != "-") {
            e = e.with("referer", r);
        }
        if let Some(ua) = a.user_agent.filter(|u| u != "-") {
            e = e.with("user_agent", ua);
        }
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line_from_the_apache_docs() {
        let a = parse_line(
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
        )
        .unwrap();
        assert_eq!(a.time.to_rfc3339(), "2000-10-10T20:55:36+00:00");
        assert_eq!(a.user, "frank");
        assert_eq!(
            a.user_agent.as_deref(),
            Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
        );
        assert!(parse_line("garbage").is_err());
        assert!(parse_line("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" abc 1").is_err());
    }

    #[test]
    fn escaped_quotes() {
        let a = parse_line(
            r#"::1 - - [01/Jan/2024:00:00:00 +0000] "GET /?q=\"x\" HTTP/1.1" 404 - "-" "curl/8""#,
        )
        .unwrap();
        assert_eq!(a.request, "GET /?q=\"x\" HTTP/1.1");
        assert_eq!(a.bytes, "-");
    }
}
