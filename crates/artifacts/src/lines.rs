//! Bounded line reading shared by the text parsers.

use std::io::{self, BufRead};

/// One line as read: its 1-based number, its bytes without the line ending, and whether
/// it was cut at the length limit.
pub(crate) struct RawLine<'a> {
    pub number: u64,
    pub bytes: &'a [u8],
    pub truncated: bool,
}

/// Reads lines of at most `max_len` bytes; the rest of an over-long line is skipped so
/// that a file with no newline cannot make us buffer all of it.
pub(crate) struct Lines<'r> {
    input: Box<dyn BufRead + Send + 'r>,
    buf: Vec<u8>,
    number: u64,
    max_len: usize,
    done: bool,
}

impl<'r> Lines<'r> {
    pub fn new(input: Box<dyn BufRead + Send + 'r>, max_len: usize) -> Self {
        Lines {
            input,
            buf: Vec::new(),
            number: 0,
            max_len,
            done: false,
        }
    }

    /// The number of the last line returned (0 before the first).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The next line, `None` at the end, or the read error (after which it returns `None`).
    pub fn next_line(&mut self) -> Option<io::Result<RawLine<'_>>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        let mut truncated = false;
        let mut read_any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if available.is_empty() {
                self.done = true;
                if !read_any {
                    return None;
                }
                break;
            }
            read_any = true;
            let (chunk, used, end) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            let room = self.max_len.saturating_sub(self.buf.len());
            if chunk.len() > room {
                truncated = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.input.consume(used);
            if end {
                break;
            }
        }
        if !truncated && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        self.number += 1;
        Some(Ok(RawLine {
            number: self.number,
            bytes: &self.buf,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &'static [u8], max: usize) -> Vec<(u64, String, bool)> {
        let mut lines = Lines::new(Box::new(input), max);
        let mut out = Vec::new();
        while let Some(Ok(l)) = lines.next_line() {
            out.push((
                l.number,
                String::from_utf8_lossy(l.bytes).into_owned(),
                l.truncated,
            ));
        }
        out
    }

    #[test]
    fn splits_lf_and_crlf_and_keeps_a_last_line_without_newline() {
        let got = collect(b"a\r\nb\n\nc", 100);
        let want: Vec<(u64, String, bool)> = vec![
            (1, "a".into(), false),
            (2, "b".into(), false),
            (3, "".into(), false),
            (4, "c".into(), false),
        ];
        assert_eq!(got, want);
        assert!(collect(b"", 100).is_empty());
    }

    #[test]
    fn over_long_lines_are_cut_and_the_next_line_is_intact() {
        let got = collect(b"0123456789\nok\n", 4);
        assert_eq!(got[0], (1, "0123".into(), true));
        assert_eq!(got[1], (2, "ok".into(), false));
    }
}
