//! Shared drivers for the Linux parsers: line-oriented text files and fixed-size binary
//! records. A parser supplies a handler; the driver reads with bounded memory, turns
//! over-long lines, short trailing records and read failures into [`ArtifactError`]s, and
//! yields the handler's events one at a time.

use crate::lines::Lines;
use crate::{ArtifactContext, ArtifactError};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use std::collections::VecDeque;
use std::io::{BufRead, ErrorKind, Read};

/// What every event of one artifact shares.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub host: String,
    pub path: String,
    pub parser: &'static str,
}

impl Origin {
    pub fn new(ctx: &ArtifactContext, parser: &'static str) -> Self {
        Origin {
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            parser,
        }
    }

    /// An event of this artifact, record `record`.
    pub fn event(
        &self,
        time: Option<DateTime<Utc>>,
        action: Action,
        message: impl Into<String>,
        record: u64,
    ) -> Event {
        let origin = EventOrigin {
            parser: self.parser.into(),
            path: self.path.clone(),
            record: Some(record),
        };
        Event::new(time, self.host.as_str(), action, message, origin)
    }

    pub fn error(&self, record: u64, message: impl Into<String>) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message: message.into(),
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

/// Where a handler puts what it found in one line or record.
pub(crate) struct Out<'a> {
    pub origin: &'a Origin,
    queue: &'a mut VecDeque<Result<Event, ArtifactError>>,
}

impl Out<'_> {
    pub fn push(&mut self, event: Event) {
        self.queue.push_back(Ok(event));
    }

    pub fn error(&mut self, record: u64, message: impl Into<String>) {
        let e = self.origin.error(record, message);
        self.queue.push_back(Err(e));
    }
}

/// A line-oriented parser: called once per line (blank ones included), then once at the end.
pub(crate) trait LineHandler: Send {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str);
    fn finish(&mut self, _out: &mut Out<'_>) {}
}

/// Streams `input` line by line through `handler`; lines longer than `max_line` bytes are
/// error records.
pub(crate) fn line_records<'r, H: LineHandler + 'r>(
    origin: Origin,
    input: Box<dyn BufRead + Send + 'r>,
    max_line: usize,
    handler: H,
) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
    Box::new(LineRecords {
        lines: Lines::new(input, max_line),
        max_line,
        handler,
        origin,
        queue: VecDeque::new(),
        finished: false,
    })
}

struct LineRecords<'r, H> {
    lines: Lines<'r>,
    max_line: usize,
    handler: H,
    origin: Origin,
    queue: VecDeque<Result<Event, ArtifactError>>,
    finished: bool,
}

impl<H: LineHandler> Iterator for LineRecords<'_, H> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            let mut out = Out {
                origin: &self.origin,
                queue: &mut self.queue,
            };
            match self.lines.next_line() {
                None => {
                    self.finished = true;
                    self.handler.finish(&mut out);
                }
                Some(Err(source)) => {
                    self.finished = true;
                    self.handler.finish(&mut out);
                    let e = self.origin.read_error(self.lines.number(), source);
                    self.queue.push_back(Err(e));
                }
                Some(Ok(line)) if line.truncated => {
                    let message = format!("line longer than {} bytes; skipped", self.max_line);
                    out.error(line.number, message);
                }
                Some(Ok(line)) => {
                    let number = line.number;
                    let text = String::from_utf8_lossy(line.bytes);
                    self.handler.line(&mut out, number, &text);
                }
            }
        }
    }
}

/// A parser of fixed-size binary records: called with each full record (1-based number).
pub(crate) trait RecordHandler: Send {
    fn record(&mut self, out: &mut Out<'_>, number: u64, bytes: &[u8]);
}

/// Streams `input` as records of `size` bytes; a short last record is an error record.
pub(crate) fn fixed_records<'r, H: RecordHandler + 'r>(
    origin: Origin,
    input: Box<dyn BufRead + Send + 'r>,
    size: usize,
    handler: H,
) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
    Box::new(FixedRecords {
        input,
        buf: vec![0; size],
        number: 0,
        handler,
        origin,
        queue: VecDeque::new(),
        finished: false,
    })
}

struct FixedRecords<'r, H> {
    input: Box<dyn BufRead + Send + 'r>,
    buf: Vec<u8>,
    number: u64,
    handler: H,
    origin: Origin,
    queue: VecDeque<Result<Event, ArtifactError>>,
    finished: bool,
}

impl<H: RecordHandler> FixedRecords<'_, H> {
    /// Fills the buffer; returns how many bytes were read (less than its size at the end).
    fn fill(&mut self) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < self.buf.len() {
            match self.input.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

impl<H: RecordHandler> Iterator for FixedRecords<'_, H> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            let filled = match self.fill() {
                Ok(n) => n,
                Err(source) => {
                    self.finished = true;
                    return Some(Err(self.origin.read_error(self.number, source)));
                }
            };
            if filled == 0 {
                self.finished = true;
                continue;
            }
            self.number += 1;
            if filled < self.buf.len() {
                self.finished = true;
                let message = format!(
                    "truncated record: {filled} bytes where a record is {}",
                    self.buf.len()
                );
                return Some(Err(self.origin.error(self.number, message)));
            }
            let mut out = Out {
                origin: &self.origin,
                queue: &mut self.queue,
            };
            self.handler.record(&mut out, self.number, &self.buf);
        }
    }
}

/// A NUL-padded C string field, decoded lossily, up to its first NUL.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Does the file name start with `base`, followed by nothing, a rotation suffix
/// (`.1`, `.2.gz`) or a date suffix (`-20240301`)?
pub(crate) fn rotated(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-']))
}

/// Days since 1970-01-01 → midnight UTC of that day.
pub(crate) fn from_days(days: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(days.checked_mul(86_400)?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl LineHandler for Upper {
        fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
            if text == "bad" {
                out.error(number, "bad");
            } else {
                let e = out
                    .origin
                    .event(None, Action::HostInfo, text.to_uppercase(), number);
                out.push(e);
            }
        }
    }

    #[test]
    fn line_driver_yields_events_and_errors_in_order() {
        let ctx = ArtifactContext::default();
        let it = line_records(
            Origin::new(&ctx, "t"),
            Box::new(&b"a\nbad\n0123456789\nb"[..]),
            5,
            Upper,
        );
        let got: Vec<String> = it
            .map(|r| match r {
                Ok(e) => e.message,
                Err(e) => format!("err {e}"),
            })
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], "A");
        assert!(got[1].starts_with("err"));
        assert!(got[2].contains("longer than 5"));
        assert_eq!(got[3], "B");
    }

    #[test]
    fn rotation_suffixes() {
        assert!(rotated("syslog", "syslog"));
        assert!(rotated("syslog.2.gz", "syslog"));
        assert!(rotated("messages-20240301", "messages"));
        assert!(!rotated("syslogx", "syslog"));
    }
}
