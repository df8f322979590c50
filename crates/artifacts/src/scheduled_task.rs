//! Windows scheduled tasks: the XML definitions under `C:\Windows\System32\Tasks\`
//! (one file per task, no extension, usually UTF-16LE with a byte-order mark), in the
//! Task Scheduler 2.0 schema:
//!
//! ```xml
//! <Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
//!   <RegistrationInfo><Date>2005-10-11T13:21:17</Date><Author>AuthorName</Author></RegistrationInfo>
//!   <Triggers><TimeTrigger><StartBoundary>2005-10-11T13:21:17</StartBoundary></TimeTrigger></Triggers>
//!   <Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>
//!   <Actions Context="Author"><Exec><Command>notepad.exe</Command><Arguments>c:\x.log</Arguments></Exec></Actions>
//! </Task>
//! ```
//!
//! Every `Exec` action becomes a `run` ([`Action::ProcessRun`]) event with `cmd`
//! (command and arguments), `task_name` (the path under `Tasks`), `author`, `run_as`
//! (the principal's `UserId`, also `username`) and a `triggers` summary. Its time is the
//! task's registration date; a date without a zone (the usual case: Windows writes local
//! time) is read as UTC and marked `time_local_as_utc=true`. Tasks without a date are
//! untimed. Other action types (COM handlers, e-mail, message box) give no event.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::Event as Xml;
use riposte_model::{Action, Event, EventOrigin};
use std::io::{BufRead, Read};

const PARSER: &str = "scheduled_task";
/// Task files are a few KB; anything past this is not read.
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;
/// Longest text kept in one attribute (descriptions, event-trigger queries).
const MAX_TEXT: usize = 4 * 1024;
/// Longest `raw` kept (the task's XML).
const MAX_RAW: usize = 64 * 1024;

/// Parser for Task Scheduler 2.0 task definitions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScheduledTask;

const TASK_DIRS: &[&str] = &[
    "/windows/system32/tasks/",
    "/windows/system32/tasks_migrated/",
    "/windows/syswow64/tasks/",
];

impl ArtifactParser for ScheduledTask {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        task_name(original_path).is_some()
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        mut input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let mut bytes = Vec::new();
        let results = match (&mut input).take(MAX_FILE).read_to_end(&mut bytes) {
            Ok(_) => parse_task(ctx, &bytes),
            Err(source) => vec![Err(ArtifactError::Read {
                path: ctx.original_path.clone(),
                record: 0,
                source,
            })],
        };
        Box::new(results.into_iter())
    }
}

/// `…\Windows\System32\Tasks\Microsoft\Windows\Defrag\ScheduledDefrag` →
/// `\Microsoft\Windows\Defrag\ScheduledDefrag`.
fn task_name(path: &str) -> Option<String> {
    let slashed = path.replace('\\', "/");
    let lower = slashed.to_ascii_lowercase();
    TASK_DIRS.iter().find_map(|dir| {
        let at = lower.find(dir)? + dir.len();
        let rest = slashed.get(at..)?.trim_matches('/');
        (!rest.is_empty()).then(|| format!("\\{}", rest.replace('/', "\\")))
    })
}

/// UTF-16 (with a byte-order mark, or recognisably without) or UTF-8 text.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    let utf16 = |body: &[u8], little: bool| {
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| {
                if little {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [a, 0, ..] if *a != 0 => utf16(bytes, true),
        [0, b, ..] if *b != 0 => utf16(bytes, false),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[derive(Default)]
struct Exec {
    command: String,
    arguments: String,
    working_directory: String,
}

#[derive(Default)]
struct Task {
    seen_task: bool,
    date: Option<String>,
    author: Option<String>,
    description: Option<String>,
    uri: Option<String>,
    run_as: Option<String>,
    group: Option<String>,
    logon_type: Option<String>,
    run_level: Option<String>,
    principals: usize,
    enabled: Option<String>,
    hidden: Option<String>,
    triggers: Vec<String>,
    execs: Vec<Exec>,
}

impl Task {
    /// Takes the text of the element at `path` (local names from the root).
    fn take(&mut self, path: &[&str], text: String) {
        let text = cut(text.trim().to_string(), MAX_TEXT);
        let set = |slot: &mut Option<String>, text: String| {
            if slot.is_none() && !text.is_empty() {
                *slot = Some(text);
            }
        };
        match path {
            ["Task", "RegistrationInfo", field] => match *field {
                "Date" => set(&mut self.date, text),
                "Author" => set(&mut self.author, text),
                "Description" => set(&mut self.description, text),
                "URI" => set(&mut self.uri, text),
                _ => {}
            },
            ["Task", "Principals", "Principal", field] if self.principals <= 1 => match *field {
                "UserId" => set(&mut self.run_as, text),
                "GroupId" => set(&mut self.group, text),
                "LogonType" => set(&mut self.logon_type, text),
                "RunLevel" => set(&mut self.run_level, text),
                _ => {}
            },
            ["Task", "Settings", "Enabled"] => set(&mut self.enabled, text),
            ["Task", "Settings", "Hidden"] => set(&mut self.hidden, text),
            ["Task", "Actions", "Exec", field] => {
                if let Some(exec) = self.execs.last_mut() {
                    match *field {
                        "Command" => exec.command = text,
                        "Arguments" => exec.arguments = text,
                        "WorkingDirectory" => exec.working_directory = text,
                        _ => {}
                    }
                }
            }
            ["Task", "Triggers", _, rest @ ..] if !rest.is_empty() && !text.is_empty() => {
                let key = match rest {
                    ["StartBoundary"] => "start",
                    ["EndBoundary"] => "end",
                    ["Delay"] => "delay",
                    ["UserId"] => "user",
                    ["Enabled"] => "enabled",
                    ["Subscription"] => "query",
                    ["StateChange"] => "state",
                    ["Repetition", "Interval"] => "every",
                    ["Repetition", "Duration"] => "for",
                    [.., "DaysInterval"] => "every_days",
                    [.., "WeeksInterval"] => "every_weeks",
                    _ => return,
                };
                if let Some(trigger) = self.triggers.last_mut() {
                    let text = cut(text, 256);
                    trigger.push_str(&format!(" {key}={text}"));
                }
            }
            _ => {}
        }
    }

    /// An element opens at `path` (its own local name last).
    fn open(&mut self, path: &[&str]) {
        match path {
            ["Task"] => self.seen_task = true,
            ["Task", "Actions", "Exec"] => self.execs.push(Exec::default()),
            ["Task", "Principals", "Principal"] => self.principals += 1,
            ["Task", "Triggers", kind] if self.triggers.len() < 64 => {
                self.triggers
                    .push(kind.strip_suffix("Trigger").unwrap_or(kind).to_string());
            }
            _ => {}
        }
    }
}

/// Reads the task XML into a [`Task`].
fn read_task(xml: &str) -> Result<Task, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut task = Task::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("invalid XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Xml::Start(ref e) | Xml::Empty(ref e) => {
                let empty = matches!(event, Xml::Empty(_));
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
                let name = e.local_name().as_ref().to_string();
                stack.push(name);
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                task.open(&path);
                text.clear();
                if empty {
                    stack.pop();
                }
            }
            Xml::End(_) => {
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                task.take(&path, std::mem::take(&mut text));
                stack.pop();
            }
            Xml::Text(t) if text.len() < MAX_TEXT * 2 => text.push_str(&t.xml10_content()),
            Xml::CData(t) if text.len() < MAX_TEXT * 2 => text.push_str(&t.into_inner()),
            Xml::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match r.xml10_content().as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                match resolved {
                    Some(c) => text.push(c),
                    None => text.push_str(&format!("&{};", r.xml10_content())),
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    if !task.seen_task {
        return Err("not a task definition: no <Task> element".into());
    }
    Ok(task)
}

/// A registration date: with a zone it is exact; without one (local time) it is read
/// as UTC, and the second value says so.
fn registration_time(date: &str) -> Option<(DateTime<Utc>, bool)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(date) {
        return Some((t.with_timezone(&Utc), false));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            NaiveDateTime::parse_from_str(date, f).ok().or_else(|| {
                chrono::NaiveDate::parse_from_str(date, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
        })
        .map(|t| (t.and_utc(), true))
}

fn parse_task(ctx: &ArtifactContext, bytes: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    let error = |message: String| ArtifactError::Record {
        path: ctx.original_path.clone(),
        record: 1,
        message,
    };
    let xml = decode_text(bytes);
    let task = match read_task(&xml) {
        Ok(task) => task,
        Err(message) => return vec![Err(error(message))],
    };
    let name = task_name(&ctx.original_path)
        .or_else(|| task.uri.clone())
        .unwrap_or_else(|| crate::file_name(&ctx.original_path).to_string());
    let time = task.date.as_deref().and_then(registration_time);
    let triggers = task.triggers.join("; ");
    let raw = cut(xml.trim_start_matches('\u{feff}').to_string(), MAX_RAW);
    let mut results = Vec::new();
    if task.date.is_some() && time.is_none() {
        results.push(Err(error(format!(
            "registration date {:?} is not a date; events are untimed",
            task.date.as_deref().unwrap_or_default()
        ))));
    }
    for (index, exec) in task.execs.iter().enumerate() {
        let record = index as u64 + 1;
        if exec.command.is_empty() {
            results.push(Err(ArtifactError::Record {
                path: ctx.original_path.clone(),
                record,
                message: format!("Exec action {record} has no Command"),
            }));
            continue;
        }
        let cmd = if exec.arguments.is_empty() {
            exec.command.clone()
        } else {
            format!("{} {}", exec.command, exec.arguments)
        };
        let program = exec.command.trim_matches('"');
        let program_name = program.rsplit(['\\', '/']).next().unwrap_or(program);
        let origin = EventOrigin {
            parser: PARSER.into(),
            path: ctx.original_path.clone(),
            record: Some(record),
        };
        let mut message = format!("scheduled task {name} runs {cmd}");
        if let Some(user) = &task.run_as {
            message.push_str(&format!(" as {user}"));
        }
        if !triggers.is_empty() {
            message.push_str(&format!(" (triggers: {triggers})"));
        }
        let mut event = Event::new(
            time.map(|(t, _)| t),
            ctx.host.as_str(),
            Action::ProcessRun,
            message,
            origin,
        )
        .with("cmd", cmd.as_str())
        .with("command", exec.command.as_str())
        .with("file_path", program)
        .with("file_name", program_name)
        .with("task_name", name.as_str())
        .with_raw(raw.as_str());
        let optional = [
            ("arguments", Some(&exec.arguments)),
            ("working_directory", Some(&exec.working_directory)),
            ("author", task.author.as_ref()),
            ("run_as", task.run_as.as_ref()),
            ("username", task.run_as.as_ref()),
            ("run_as_group", task.group.as_ref()),
            ("logon_type", task.logon_type.as_ref()),
            ("run_level", task.run_level.as_ref()),
            ("description", task.description.as_ref()),
            ("uri", task.uri.as_ref()),
            ("registration_date", task.date.as_ref()),
            ("enabled", task.enabled.as_ref()),
            ("hidden", task.hidden.as_ref()),
            ("triggers", Some(&triggers)),
        ];
        for (key, value) in optional {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                event = event.with(key, value.as_str());
            }
        }
        if let Some((_, true)) = time {
            event = event.with("time_local_as_utc", "true");
        }
        results.push(Ok(event));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/Windows/System32/Tasks/Microsoft/Windows/Updater/Check";

    /// Microsoft's "Time Trigger Example (XML)" from the Task Scheduler schema
    /// documentation, with a second action, a principal and an escaped argument.
    const TASK: &str = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Date>2005-10-11T13:21:17-08:00</Date>
    <Author>AuthorName</Author>
    <Version>1.0.0</Version>
    <Description>Notepad starts at a specific time.</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>2005-10-11T13:21:17-08:00</StartBoundary>
      <EndBoundary>2006-01-01T00:00:00-08:00</EndBoundary>
      <Enabled>true</Enabled>
      <Repetition><Interval>PT1M</Interval></Repetition>
    </TimeTrigger>
    <BootTrigger/>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <Enabled>true</Enabled>
    <Hidden>true</Hidden>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>notepad.exe</Command>
      <Arguments>c:\test.log</Arguments>
    </Exec>
    <ComHandler><ClassId>{0}</ClassId></ComHandler>
    <Exec>
      <Command>"C:\Program Files\x\run.exe"</Command>
      <Arguments>-a &amp; -b &#x41;<![CDATA[<c>]]></Arguments>
    </Exec>
  </Actions>
</Task>
"#;

    fn utf16le(text: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            out.extend(unit.to_le_bytes());
        }
        out
    }

    fn parse(path: &str, bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
        let ctx = ArtifactContext {
            host: "ws01".into(),
            original_path: path.into(),
            modified: None,
        };
        ScheduledTask
            .parse(&ctx, Box::new(std::io::Cursor::new(bytes)))
            .collect()
    }

    #[test]
    fn claims_task_files() {
        assert!(ScheduledTask.claims(PATH));
        assert!(ScheduledTask.claims("C:\\WINDOWS\\system32\\Tasks\\GoogleUpdateTaskMachineUA"));
        assert!(!ScheduledTask.claims("/Windows/System32/Tasks/"));
        assert!(!ScheduledTask.claims("/Windows/Tasks/At1.job"));
        assert_eq!(
            task_name("C:\\Windows\\System32\\Tasks\\A\\B").as_deref(),
            Some("\\A\\B")
        );
    }

    #[test]
    fn exec_actions_of_a_utf16_task_become_runs() {
        for bytes in [utf16le(TASK), TASK.as_bytes().to_vec()] {
            let results = parse(PATH, bytes);
            assert_eq!(results.len(), 2, "{results:?}");
            let e = results[0].as_ref().unwrap();
            assert_eq!(e.action, Action::ProcessRun);
            assert_eq!(e.attr("cmd"), Some("notepad.exe c:\\test.log"));
            assert_eq!(e.attr("file_name"), Some("notepad.exe"));
            assert_eq!(
                e.attr("task_name"),
                Some("\\Microsoft\\Windows\\Updater\\Check")
            );
            assert_eq!(e.attr("author"), Some("AuthorName"));
            assert_eq!(e.attr("run_as"), Some("S-1-5-18"));
            assert_eq!(e.attr("run_level"), Some("HighestAvailable"));
            assert_eq!(e.attr("hidden"), Some("true"));
            assert_eq!(
                e.attr("triggers"),
                Some(
                    "Time start=2005-10-11T13:21:17-08:00 end=2006-01-01T00:00:00-08:00 \
                     enabled=true every=PT1M; Boot"
                )
            );
            assert_eq!(e.time.unwrap().to_rfc3339(), "2005-10-11T21:21:17+00:00");
            assert_eq!(e.attr("time_local_as_utc"), None);
            assert!(e.raw.starts_with("<?xml"));
            let e = results[1].as_ref().unwrap();
            assert_eq!(
                e.attr("cmd"),
                Some("\"C:\\Program Files\\x\\run.exe\" -a & -b A<c>")
            );
            assert_eq!(e.attr("file_name"), Some("run.exe"));
            assert_eq!(e.origin.record, Some(2));
        }
    }

    #[test]
    fn local_dates_are_marked_and_missing_dates_untimed() {
        let local = TASK.replace(
            "2005-10-11T13:21:17-08:00</Date>",
            "2019-12-07T14:52:12.1234567</Date>",
        );
        let results = parse(PATH, utf16le(&local));
        let e = results[0].as_ref().unwrap();
        assert_eq!(
            e.time.unwrap().to_rfc3339(),
            "2019-12-07T14:52:12.123456700+00:00"
        );
        assert_eq!(e.attr("time_local_as_utc"), Some("true"));
        let undated = TASK.replace("<Date>2005-10-11T13:21:17-08:00</Date>", "");
        let results = parse(PATH, undated.into_bytes());
        assert!(results[0].as_ref().unwrap().time.is_none());
    }

    #[test]
    fn garbage_is_one_error() {
        for bytes in [
            b"".to_vec(),
            b"\x00\x01garbage".to_vec(),
            b"<Task><Actions><Exec><Command>x</Exec></Task>".to_vec(),
            b"<NotATask/>".to_vec(),
            utf16le("<Task"),
            vec![0xFF, 0xFE, 0x00],
        ] {
            let results = parse(PATH, bytes);
            assert_eq!(results.len(), 1, "{results:?}");
            assert!(results[0].is_err());
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse(PATH, deep.into_bytes())[0].is_err());
    }
}
