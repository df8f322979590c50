//! AWS CloudTrail logs: the files CloudTrail delivers to S3
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_….json.gz`),
//! and what responders export by hand:
//!
//! - the delivered envelope `{"Records":[{…},{…}]}`;
//! - a single record object, or several (JSON lines, or concatenated objects);
//! - a top-level array of records;
//! - the output of `aws cloudtrail lookup-events` (`{"Events":[{"CloudTrailEvent":"<json>"}]}`);
//! - an EventBridge "AWS API Call via CloudTrail" event (the record is its `detail`).
//!
//! The file is streamed: a small scanner walks the top level and the `Records`/`Events`
//! array and hands each record's bytes (at most [`MAX_RECORD`]) to `serde_json`, so a 1 GB
//! delivery file is never held whole. Every record becomes a `api_call`
//! ([`Action::CloudApiCall`]) event; a malformed record is an error and the next one is
//! still read.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use serde_json::Value;
use std::io::{self, BufRead};

/// Largest record kept; a bigger one is skipped (and reported) without being buffered.
pub(crate) const MAX_RECORD: usize = 16 * 1024 * 1024;
/// `request_parameters` and `resources` are cut at this many bytes.
const MAX_FIELD: usize = 4 * 1024;
const PARSER: &str = "cloudtrail";

/// Parser for AWS CloudTrail log files.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloudTrail;

impl ArtifactParser for CloudTrail {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        let lower = original_path.to_ascii_lowercase().replace('\\', "/");
        let name = crate::file_name(&lower);
        let json = [".json", ".json.gz", ".jsonl", ".jsonl.gz"]
            .iter()
            .any(|ext| name.ends_with(ext));
        // Digest files (`CloudTrail-Digest/`) hold hashes of log files, not records.
        json && lower.contains("cloudtrail") && !lower.contains("cloudtrail-digest")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            scan: Scanner {
                input,
                at_line_start: true,
            },
            state: State::Top,
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            record: 0,
            object: Vec::new(),
            object_overflow: false,
            element: Vec::new(),
            last_was_garbage: false,
            done: false,
        })
    }
}

enum State {
    /// Between top-level values.
    Top,
    /// Inside a top-level object. Until a `Records`/`Events` array is seen (`envelope`),
    /// the object may be a record itself and its bytes are kept.
    Object { envelope: bool, first: bool },
    /// Inside an array of records: an envelope's (`in_object`) or a top-level one.
    Array { in_object: bool, first: bool },
}

struct Records<'r> {
    scan: Scanner<'r>,
    state: State,
    host: String,
    path: String,
    /// Records read so far (the 1-based number of the last one).
    record: u64,
    /// The bytes of the current top-level object while it may be a record.
    object: Vec<u8>,
    object_overflow: bool,
    element: Vec<u8>,
    /// Lines that are not JSON are reported once per run of them.
    last_was_garbage: bool,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.step() {
                Ok(Some(item)) => return Some(item),
                Ok(None) if self.done => return None,
                Ok(None) => {}
                Err(ScanError::Io(source)) => {
                    self.done = true;
                    return Some(Err(ArtifactError::Read {
                        path: self.path.clone(),
                        record: self.record,
                        source,
                    }));
                }
                Err(ScanError::Syntax(message)) => {
                    // Resynchronise at the next line: JSON lines go on, and a broken
                    // envelope is not re-read as garbage line after line.
                    self.state = State::Top;
                    self.object.clear();
                    self.object_overflow = false;
                    self.last_was_garbage = true;
                    self.record += 1;
                    let error = self.error(self.record, message);
                    let skipped = if self.scan.at_line_start {
                        Ok(())
                    } else {
                        self.scan.skip_line()
                    };
                    if let Err(source) = skipped {
                        self.done = true;
                        return Some(Err(ArtifactError::Read {
                            path: self.path.clone(),
                            record: self.record,
                            source,
                        }));
                    }
                    return Some(Err(error));
                }
            }
        }
    }
}

impl Records<'_> {
    /// One step of the scanner: `Ok(Some)` when a record (or an error) is ready,
    /// `Ok(None)` to go on (or, with `done` set, at the end).
    #[allow(clippy::type_complexity)]
    fn step(&mut self) -> Result<Option<Result<Event, ArtifactError>>, ScanError> {
        match self.state {
            State::Top => {
                let Some(b) = self.scan.skip_ws(true)? else {
                    self.done = true;
                    return Ok(None);
                };
                match b {
                    b'{' => {
                        self.scan.bump();
                        self.object.clear();
                        self.object.push(b'{');
                        self.object_overflow = false;
                        self.last_was_garbage = false;
                        self.state = State::Object {
                            envelope: false,
                            first: true,
                        };
                    }
                    b'[' => {
                        self.scan.bump();
                        self.last_was_garbage = false;
                        self.state = State::Array {
                            in_object: false,
                            first: true,
                        };
                    }
                    _ => {
                        self.scan.skip_line()?;
                        if !self.last_was_garbage {
                            self.last_was_garbage = true;
                            self.record += 1;
                            return Ok(Some(Err(self.error(
                                self.record,
                                "not JSON: a CloudTrail record is an object".into(),
                            ))));
                        }
                    }
                }
                Ok(None)
            }
            State::Object { envelope, first } => {
                let mut b = self.peek_inside()?;
                if !first && b != b'}' {
                    if b != b',' {
                        return Err(ScanError::Syntax(format!(
                            "expected `,` or `}}` in an object, found `{}`",
                            b.escape_ascii()
                        )));
                    }
                    self.scan.bump();
                    self.keep(envelope, b",");
                    b = self.peek_inside()?;
                }
                if b == b'}' {
                    self.scan.bump();
                    self.state = State::Top;
                    if envelope {
                        return Ok(None);
                    }
                    self.object.push(b'}');
                    self.record += 1;
                    if std::mem::take(&mut self.object_overflow) {
                        return Ok(Some(Err(self.too_large())));
                    }
                    let object = std::mem::take(&mut self.object);
                    let result = self.event_from_bytes(&object);
                    self.object = object;
                    return Ok(Some(result));
                }
                if b != b'"' {
                    return Err(ScanError::Syntax(format!(
                        "expected a key in an object, found `{}`",
                        b.escape_ascii()
                    )));
                }
                let mut key = Vec::new();
                if self.scan.capture(&mut key, 1024)? {
                    return Err(ScanError::Syntax("over-long object key".into()));
                }
                self.keep(envelope, &key);
                if self.peek_inside()? != b':' {
                    return Err(ScanError::Syntax("expected `:` after a key".into()));
                }
                self.scan.bump();
                self.keep(envelope, b":");
                let value_start = self.peek_inside()?;
                if value_start == b'[' && (key == b"\"Records\"" || key == b"\"Events\"") {
                    self.scan.bump();
                    self.object.clear();
                    self.object_overflow = false;
                    self.state = State::Array {
                        in_object: true,
                        first: true,
                    };
                    return Ok(None);
                }
                let mut value = std::mem::take(&mut self.object);
                let room = if envelope { 0 } else { MAX_RECORD };
                if self.scan.capture(&mut value, room)? && !envelope {
                    self.object_overflow = true;
                }
                if envelope {
                    value.clear();
                }
                self.object = value;
                self.state = State::Object {
                    envelope,
                    first: false,
                };
                Ok(None)
            }
            State::Array { in_object, first } => {
                let mut b = self.peek_inside()?;
                if b == b']' {
                    self.scan.bump();
                    self.state = if in_object {
                        State::Object {
                            envelope: true,
                            first: false,
                        }
                    } else {
                        State::Top
                    };
                    return Ok(None);
                }
                if !first {
                    if b != b',' {
                        return Err(ScanError::Syntax(format!(
                            "expected `,` or `]` in the records array, found `{}`",
                            b.escape_ascii()
                        )));
                    }
                    self.scan.bump();
                    b = self.peek_inside()?;
                    if b == b']' {
                        return Err(ScanError::Syntax("trailing `,` in an array".into()));
                    }
                }
                self.state = State::Array {
                    in_object,
                    first: false,
                };
                let mut element = std::mem::take(&mut self.element);
                element.clear();
                let overflow = self.scan.capture(&mut element, MAX_RECORD);
                self.element = element;
                self.record += 1;
                if overflow? {
                    return Ok(Some(Err(self.too_large())));
                }
                let element = std::mem::take(&mut self.element);
                let result = self.event_from_bytes(&element);
                self.element = element;
                Ok(Some(result))
            }
        }
    }

    /// The next non-blank byte inside a value; the end of input there is an error.
    fn peek_inside(&mut self) -> Result<u8, ScanError> {
        self.scan
            .skip_ws(false)?
            .ok_or_else(|| ScanError::Syntax("unexpected end of input inside JSON".into()))
    }

    /// Keeps bytes of the top-level object while it may be a record.
    fn keep(&mut self, envelope: bool, bytes: &[u8]) {
        if envelope || self.object_overflow {
            return;
        }
        if self.object.len() + bytes.len() > MAX_RECORD {
            self.object_overflow = true;
        } else {
            self.object.extend_from_slice(bytes);
        }
    }

    fn error(&self, record: u64, message: String) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message,
        }
    }

    fn too_large(&self) -> ArtifactError {
        self.error(
            self.record,
            format!("record larger than {} MiB skipped", MAX_RECORD >> 20),
        )
    }

    fn event_from_bytes(&self, bytes: &[u8]) -> Result<Event, ArtifactError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| self.error(self.record, format!("invalid JSON: {e}")))?;
        let raw = String::from_utf8_lossy(bytes);
        record_event(&self.host, &self.path, self.record, value, raw.trim())
            .map_err(|message| self.error(self.record, message))
    }
}

/// Builds the event of one record (`value`, whose text is `raw`).
pub(crate) fn record_event(
    host: &str,
    path: &str,
    record: u64,
    value: Value,
    raw: &str,
) -> Result<Event, String> {
    // `lookup-events` output: the record is a JSON string inside.
    if let Some(inner) = value.get("CloudTrailEvent").and_then(Value::as_str) {
        let parsed: Value =
            serde_json::from_str(inner).map_err(|e| format!("CloudTrailEvent is not JSON: {e}"))?;
        return build(host, path, record, &parsed, inner);
    }
    // EventBridge "AWS API Call via CloudTrail" (and similar) events.
    if let (Some(detail_type), Some(detail)) = (
        value.get("detail-type").and_then(Value::as_str),
        value.get("detail"),
    ) && detail_type.contains("CloudTrail")
        && detail.is_object()
    {
        // The wrapper names the region when the record does not.
        let mut detail = detail.clone();
        if let Some(map) = detail.as_object_mut()
            && !map.contains_key("awsRegion")
            && let Some(region) = value.get("region").filter(|r| r.is_string())
        {
            map.insert("awsRegion".into(), region.clone());
        }
        return build(host, path, record, &detail, raw);
    }
    build(host, path, record, &value, raw)
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A scalar as text (`true`, `12`, `"x"` → `x`); `None` for null, objects and arrays.
fn scalar(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary; says whether it cut.
fn truncate(mut s: String, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    (s, true)
}

/// The last part of an ARN: `arn:aws:iam::1:user/bob` → `bob`, `arn:aws:iam::1:root` → `root`.
fn arn_last_part(arn: &str) -> Option<&str> {
    arn.rsplit(['/', ':']).next().filter(|s| !s.is_empty())
}

fn build(host: &str, path: &str, record: u64, rec: &Value, raw: &str) -> Result<Event, String> {
    if !rec.is_object() {
        return Err("not a CloudTrail record: not a JSON object".into());
    }
    let insight = rec.get("insightDetails").filter(|v| v.is_object());
    let from_insight = |key: &str| insight.and_then(|i| text(i, key));
    let event_name = text(rec, "eventName").or_else(|| from_insight("eventName"));
    let event_time = text(rec, "eventTime");
    if event_name.is_none() && event_time.is_none() {
        return Err("not a CloudTrail record: no eventName nor eventTime".into());
    }
    let time = event_time
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let event_source = text(rec, "eventSource").or_else(|| from_insight("eventSource"));
    let source_ip = text(rec, "sourceIPAddress");
    let error_code = text(rec, "errorCode").or_else(|| from_insight("errorCode"));
    let identity = rec.get("userIdentity").filter(|v| v.is_object());
    let id_text = |key: &str| identity.and_then(|i| text(i, key));
    let user_arn = id_text("arn");
    let username = id_text("userName")
        .or_else(|| user_arn.and_then(arn_last_part))
        .or_else(|| id_text("principalId"));
    let issuer = identity
        .and_then(|i| i.get("sessionContext"))
        .and_then(|c| c.get("sessionIssuer"))
        .filter(|v| v.is_object());

    let origin = EventOrigin {
        parser: PARSER.into(),
        path: path.into(),
        record: Some(record),
    };
    let who = username
        .or_else(|| id_text("invokedBy"))
        .unwrap_or("unknown identity");
    let what = format!(
        "{}{}{}",
        event_source.unwrap_or(""),
        if event_source.is_some() { " " } else { "" },
        event_name.unwrap_or("(no event name)")
    );
    let mut message = match insight {
        Some(i) => format!(
            "CloudTrail Insight {} {} for {what}",
            text(i, "insightType").unwrap_or("insight"),
            text(i, "state").unwrap_or("")
        ),
        None => format!("{who} called {what}"),
    };
    if let Some(ip) = source_ip {
        message.push_str(&format!(" from {ip}"));
    }
    if let Some(code) = error_code {
        message.push_str(&format!(" (error {code})"));
    }
    let mut event = Event::new(time, host, Action::CloudApiCall, message, origin).with_raw(raw);
    let mut set = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            event.attributes.insert(key.to_string(), v.to_string());
        }
    };
    set("event_name", event_name);
    set("event_source", event_source);
    set("event_time", event_time);
    set("aws_region", text(rec, "awsRegion"));
    set("source_ip_address", source_ip);
    // `sourceIPAddress` may name a service (`lambda.amazonaws.com`, `AWS Internal`).
    set(
        "remote_ip",
        source_ip.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
    );
    set("user_agent", text(rec, "userAgent"));
    set("username", username);
    set("user_arn", user_arn);
    set("user_type", id_text("type"));
    set("principal_id", id_text("principalId"));
    set("access_key_id", id_text("accessKeyId"));
    set("invoked_by", id_text("invokedBy"));
    set(
        "account_id",
        id_text("accountId").or_else(|| text(rec, "recipientAccountId")),
    );
    set("recipient_account_id", text(rec, "recipientAccountId"));
    set("role_name", issuer.and_then(|i| text(i, "userName")));
    set("role_arn", issuer.and_then(|i| text(i, "arn")));
    set("error_code", error_code);
    set("error_message", text(rec, "errorMessage"));
    set("event_id", text(rec, "eventID"));
    set("event_type", text(rec, "eventType"));
    set("event_category", text(rec, "eventCategory"));
    set("request_id", text(rec, "requestID"));
    set(
        "console_login",
        rec.get("responseElements")
            .and_then(|r| text(r, "ConsoleLogin")),
    );
    set("insight_type", insight.and_then(|i| text(i, "insightType")));
    set("insight_state", insight.and_then(|i| text(i, "state")));
    if let Some(read_only) = scalar(rec, "readOnly") {
        event = event.with("read_only", read_only);
    }
    if let Some(mfa) = identity
        .and_then(|i| i.get("sessionContext"))
        .and_then(|c| c.get("attributes"))
        .and_then(|a| scalar(a, "mfaAuthenticated"))
    {
        event = event.with("mfa_authenticated", mfa);
    }
    if let Some(params) = rec.get("requestParameters").filter(|v| !v.is_null()) {
        let (params, cut) = truncate(params.to_string(), MAX_FIELD);
        event = event.with("request_parameters", params);
        if cut {
            event = event.with("request_parameters_truncated", "true");
        }
    }
    if let Some(resources) = rec.get("resources").and_then(Value::as_array) {
        let arns: Vec<&str> = resources
            .iter()
            .filter_map(|r| text(r, "ARN").or_else(|| text(r, "arn")))
            .collect();
        let joined = if arns.is_empty() {
            Value::Array(resources.clone()).to_string()
        } else {
            arns.join(", ")
        };
        if !resources.is_empty() {
            event = event.with("resources", truncate(joined, MAX_FIELD).0);
        }
    }
    if time.is_none()
        && let Some(t) = event_time
    {
        event = event.with("time_error", format!("unreadable eventTime {t:?}"));
    }
    Ok(event)
}

enum ScanError {
    Io(io::Error),
    Syntax(String),
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Byte-level walking of JSON text: enough to find where values start and end.
struct Scanner<'r> {
    input: Box<dyn BufRead + Send + 'r>,
    /// Whether the last byte consumed ended a line (where resynchronising starts).
    at_line_start: bool,
}

impl Scanner<'_> {
    fn fill(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.input.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.input.fill_buf()
    }

    fn bump(&mut self) {
        if let Ok(buf) = self.input.fill_buf()
            && let Some(&b) = buf.first()
        {
            self.at_line_start = b == b'\n';
            self.input.consume(1);
        }
    }

    /// Skips whitespace (and, at the top level, a UTF-8 byte-order mark and NULs);
    /// returns the next byte without consuming it.
    fn skip_ws(&mut self, top: bool) -> io::Result<Option<u8>> {
        loop {
            let buf = self.fill()?;
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            let blank = |b: u8| {
                matches!(b, b' ' | b'\t' | b'\n' | b'\r')
                    || (top && matches!(b, 0 | 0xEF | 0xBB | 0xBF))
            };
            if !blank(first) {
                return Ok(Some(first));
            }
            let n = buf.iter().take_while(|&&b| blank(b)).count();
            self.at_line_start = buf[n - 1] == b'\n';
            self.input.consume(n);
        }
    }

    /// Skips to just after the next newline (or to the end).
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(());
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.input.consume(i + 1);
                    self.at_line_start = true;
                    return Ok(());
                }
                None => {
                    let n = buf.len();
                    self.at_line_start = false;
                    self.input.consume(n);
                }
            }
        }
    }

    /// Reads one JSON value (object, array, string or scalar) starting at the next byte,
    /// appending its bytes to `out` while `out` stays within `cap`. Returns whether it
    /// overflowed (the value is then consumed but not kept whole).
    fn capture(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<bool, ScanError> {
        #[derive(PartialEq)]
        enum Kind {
            Nested,
            Str,
            Scalar,
        }
        let kind = match self.fill()?.first() {
            None => return Err(ScanError::Syntax("unexpected end of input".into())),
            Some(b'{' | b'[') => Kind::Nested,
            Some(b'"') => Kind::Str,
            Some(&b @ (b',' | b':' | b']' | b'}')) => {
                return Err(ScanError::Syntax(format!(
                    "unexpected `{}` where a value should be",
                    b as char
                )));
            }
            Some(_) => Kind::Scalar,
        };
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escape = false;
        let mut overflow = false;
        let mut read_any = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                if kind == Kind::Scalar && read_any {
                    return Ok(overflow);
                }
                return Err(ScanError::Syntax(
                    "unexpected end of input inside JSON".into(),
                ));
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if kind == Kind::Scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        end = Some(i);
                        break;
                    }
                    continue;
                }
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if kind == Kind::Str {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let used = end.unwrap_or(buf.len());
            if !overflow {
                if out.len() + used > cap {
                    overflow = true;
                } else {
                    out.extend_from_slice(&buf[..used]);
                }
            }
            if used > 0 {
                read_any = true;
                self.at_line_start = buf[used - 1] == b'\n';
            }
            self.input.consume(used);
            if end.is_some() {
                return Ok(overflow);
            }
        }
    }
}

#[cfg(test)]
mod tests;
