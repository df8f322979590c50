//! Sleuth Kit bodyfiles (`fls -m`, and the filesystem timeline Riposte writes for a full
//! acquisition of a disk image):
//!
//! ```text
//! MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime
//! 0|/etc/passwd|1234|r/rrw-r--r--|0|0|1510|1700000000|1690000000|1690000000|1680000000
//! ```
//!
//! Like `mactime`, each line gives one event per distinct timestamp, marked with the MACB
//! letters that share it (`m.cb`): B is a file creation, M a write, A a read, and a C
//! alone (metadata change) a sighting. A time of 0 means unknown. Names may contain `|`:
//! the fields are split from both ends.

use crate::lines::Lines;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, Utc};
use riposte_model::{Action, Event, EventOrigin};
use std::collections::VecDeque;
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;
const PARSER: &str = "bodyfile";

/// Parser for Sleuth Kit 3 bodyfiles (`*.body`, `bodyfile*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bodyfile;

impl ArtifactParser for Bodyfile {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path).to_ascii_lowercase();
        name.ends_with(".body") || name.starts_with("bodyfile")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records {
            lines: Lines::new(input, MAX_LINE),
            host: ctx.host.clone(),
            path: ctx.original_path.clone(),
            queue: VecDeque::new(),
        })
    }
}

struct Records<'r> {
    lines: Lines<'r>,
    host: String,
    path: String,
    queue: VecDeque<Event>,
}

/// The fields of one bodyfile line.
struct Line<'a> {
    name: &'a str,
    inode: &'a str,
    mode: &'a str,
    uid: &'a str,
    gid: &'a str,
    size: &'a str,
    /// atime, mtime, ctime, crtime.
    times: [i64; 4],
}

fn split(line: &str) -> Result<Line<'_>, String> {
    let (md5_and_name, rest) = {
        let mut fields: Vec<&str> = line.rsplitn(10, '|').collect();
        if fields.len() != 10 {
            return Err(format!(
                "{} fields; a bodyfile line has 11 (MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime)",
                fields.len() + 1
            ));
        }
        fields.reverse();
        let head = fields[0];
        (head, fields[1..].to_vec())
    };
    let name = md5_and_name
        .split_once('|')
        .map(|(_, name)| name)
        .ok_or("no name field")?;
    let mut times = [0i64; 4];
    for (slot, text) in times.iter_mut().zip(&rest[5..9]) {
        *slot = text
            .trim()
            .parse()
            .map_err(|_| format!("timestamp {text:?} is not a number of seconds"))?;
    }
    Ok(Line {
        name,
        inode: rest[0],
        mode: rest[1],
        uid: rest[2],
        gid: rest[3],
        size: rest[4],
        times,
    })
}

impl Records<'_> {
    fn events(&self, record: u64, raw: &str, line: &Line<'_>) -> Vec<Event> {
        let mut distinct: Vec<i64> = line.times.iter().copied().filter(|t| *t > 0).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let (name, deleted) = match line.name.strip_suffix(" (deleted)") {
            Some(name) => (name, true),
            None => (line.name, false),
        };
        distinct
            .into_iter()
            .filter_map(|t| {
                let time = DateTime::<Utc>::from_timestamp(t, 0)?;
                let [a, m, c, b] = line.times.map(|x| x == t);
                let macb: String = [(m, 'm'), (a, 'a'), (c, 'c'), (b, 'b')]
                    .iter()
                    .map(|(on, letter)| if *on { *letter } else { '.' })
                    .collect();
                let action = if b {
                    Action::FileCreate
                } else if m {
                    Action::FileWrite
                } else if c {
                    Action::FileExists
                } else {
                    Action::FileRead
                };
                let deleted_note = if deleted { " (deleted)" } else { "" };
                let origin = EventOrigin {
                    parser: PARSER.into(),
                    path: self.path.clone(),
                    record: Some(record),
                };
                let mut event = Event::new(
                    Some(time),
                    self.host.clone(),
                    action,
                    format!("{macb} {name}{deleted_note} ({} bytes)", line.size),
                    origin,
                )
                .with("path", name)
                .with("macb", macb)
                .with("inode", line.inode)
                .with("mode", line.mode)
                .with("uid", line.uid)
                .with("gid", line.gid)
                .with("size", line.size)
                .with_raw(raw);
                if deleted {
                    event = event.with("deleted", "true");
                }
                Some(event)
            })
            .collect()
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Event, ArtifactError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            let line = match self.lines.next_line()? {
                Ok(line) => line,
                Err(source) => {
                    return Some(Err(ArtifactError::Read {
                        path: self.path.clone(),
                        record: self.lines.number(),
                        source,
                    }));
                }
            };
            let number = line.number;
            let text = String::from_utf8_lossy(line.bytes).into_owned();
            if text.trim().is_empty() {
                continue;
            }
            match split(&text) {
                Ok(fields) => {
                    let events = self.events(number, &text, &fields);
                    self.queue.extend(events);
                }
                Err(message) => {
                    return Some(Err(ArtifactError::Record {
                        path: self.path.clone(),
                        record: number,
                        message,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Result<Event, ArtifactError>> {
        let ctx = ArtifactContext {
            host: "web01".into(),
            original_path: "/$Riposte/filesystem-timeline.body".into(),
            modified: None,
        };
        Bodyfile
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .collect()
    }

    #[test]
    fn sleuth_kit_lines_become_macb_events() {
        // Lines from dfVFS's fls_bodyfile.txt (The Sleuth Kit's output on ext2.raw).
        let events = parse(
            "0|/a_directory/another_file|16|r/rrw-------|151107|5000|22|1337961583|1337961584|1337961585|0\n\
             0|/passwords.txt|15|r/rr--------|151107|5000|116|1337961653|1337961653|1337961663|0\n\
             0|/a_directory/.another_file.swp (deleted)|0|r/----------|0|0|0|0|0|0|0\n",
        );
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        let summary: Vec<(i64, String)> = events
            .iter()
            .map(|e| (e.time.unwrap().timestamp(), e.attributes["macb"].clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1337961583, ".a..".to_string()),
                (1337961584, "m...".to_string()),
                (1337961585, "..c.".to_string()),
                (1337961653, "ma..".to_string()),
                (1337961663, "..c.".to_string()),
            ]
        );
        assert_eq!(events[0].action, Action::FileRead);
        assert_eq!(events[1].action, Action::FileWrite);
        assert_eq!(events[2].action, Action::FileExists);
        assert_eq!(events[0].attributes["path"], "/a_directory/another_file");
        assert_eq!(events[0].attributes["inode"], "16");
        assert_eq!(events[0].origin.record, Some(1));
    }

    #[test]
    fn names_with_pipes_and_deleted_entries_survive() {
        let events = parse("0|/tmp/a|b (deleted)|7|r/rrw-r--r--|0|0|5|0|100|100|50\n");
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].attributes["macb"], "...b");
        assert_eq!(events[0].action, Action::FileCreate);
        assert_eq!(events[0].attributes["path"], "/tmp/a|b");
        assert_eq!(events[0].attributes["deleted"], "true");
    }

    #[test]
    fn malformed_lines_are_errors_and_the_rest_is_read() {
        let results = parse(
            "garbage\n0|/x|1|r/r---------|0|0|1|x|0|0|0\n0|/ok|2|r/r---------|0|0|1|10|0|0|0\n",
        );
        assert!(matches!(
            &results[0],
            Err(ArtifactError::Record { record: 1, .. })
        ));
        assert!(matches!(
            &results[1],
            Err(ArtifactError::Record { record: 2, .. })
        ));
        assert_eq!(results[2].as_ref().unwrap().attributes["path"], "/ok");
        assert_eq!(results.len(), 3);
    }
}
