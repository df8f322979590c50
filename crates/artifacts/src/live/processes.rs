//! `/$Riposte/live/processes`: `ps -ww -eo pid=,ppid=,uid=,user:32=,lstart=,args=` (UTC,
//! C locale), then `### exe` and one `PID<TAB>/proc/PID/exe target` line per process.
//!
//! Each process is a `run` event at its start time with `pid`, `ppid`, `uid`,
//! `username`, `cmd`, `exe` and its parent's `parent_exe` and `parent_cmd` (Sigma's
//! Linux `process_creation` fields). A process whose executable is gone from disk
//! (`… (deleted)`) also gets a `delete_file` event of its own, `exe_deleted` = `true`.
//! Kernel threads (`[kthreadd]`, no executable) are left out.

use super::is_output;
use crate::records::{LineHandler, Origin, Out, line_records};
use crate::word;
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use chrono::{DateTime, NaiveDateTime, Utc};
use riposte_model::{Action, Event};
use std::collections::HashMap;
use std::io::BufRead;

const MAX_LINE: usize = 256 * 1024;

/// Marks a deleted executable in a `/proc/PID/exe` link.
const DELETED: &str = " (deleted)";

/// Parser for the live process list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveProcesses;

impl ArtifactParser for LiveProcesses {
    fn name(&self) -> &'static str {
        "live_processes"
    }

    fn claims(&self, original_path: &str) -> bool {
        is_output(original_path, "processes")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        line_records(
            Origin::new(ctx, "live_processes"),
            input,
            MAX_LINE,
            Handler::default(),
        )
    }
}

/// One `ps` row.
struct Row {
    line: u64,
    pid: String,
    ppid: String,
    uid: String,
    user: String,
    started: Option<DateTime<Utc>>,
    cmd: String,
    raw: String,
}

#[derive(Default)]
struct Handler {
    rows: Vec<Row>,
    exe: HashMap<String, String>,
    in_exe: bool,
}

/// Parses `Mon Dec  7 17:17:45 2026` (the `lstart` column, UTC).
fn start_time(fields: &[&str]) -> Option<DateTime<Utc>> {
    let text = fields.join(" ");
    NaiveDateTime::parse_from_str(&text, "%a %b %d %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc())
}

fn parse_row(number: u64, text: &str) -> Option<Row> {
    let mut rest = text;
    let mut fields = Vec::with_capacity(9);
    for _ in 0..9 {
        let (w, r) = word(rest)?;
        fields.push(w);
        rest = r;
    }
    if !fields[0].bytes().all(|b| b.is_ascii_digit())
        || !fields[1].bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(Row {
        line: number,
        pid: fields[0].to_string(),
        ppid: fields[1].to_string(),
        uid: fields[2].to_string(),
        user: fields[3].to_string(),
        started: start_time(&fields[4..9]),
        cmd: rest.trim().to_string(),
        raw: text.to_string(),
    })
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        if text.trim() == "### exe" {
            self.in_exe = true;
            return;
        }
        if self.in_exe {
            match text.split_once('\t') {
                Some((pid, target)) if !target.is_empty() => {
                    self.exe.insert(pid.trim().to_string(), target.to_string());
                }
                _ => out.error(number, "expected PID<TAB>executable"),
            }
            return;
        }
        match parse_row(number, text) {
            Some(row) => self.rows.push(row),
            None => out.error(
                number,
                format!(
                    "not a process line (pid ppid uid user start args): {}",
                    crate::syslog::prefix(text, 120)
                ),
            ),
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        let by_pid: HashMap<&str, &Row> = self.rows.iter().map(|r| (r.pid.as_str(), r)).collect();
        for row in &self.rows {
            let exe = self.exe.get(&row.pid).map(String::as_str);
            if exe.is_none() && row.cmd.starts_with('[') && row.cmd.ends_with(']') {
                continue;
            }
            let (path, deleted) = match exe {
                Some(e) => match e.strip_suffix(DELETED) {
                    Some(p) => (Some(p), true),
                    None => (Some(e), false),
                },
                None => (None, false),
            };
            let mut e = out
                .origin
                .event(
                    row.started,
                    Action::ProcessRun,
                    format!(
                        "process {} of {} running{}: {}",
                        row.pid,
                        row.user,
                        if deleted { " a deleted executable" } else { "" },
                        row.cmd
                    ),
                    row.line,
                )
                .with("pid", row.pid.as_str())
                .with("ppid", row.ppid.as_str())
                .with("uid", row.uid.as_str())
                .with("username", row.user.as_str())
                .with("cmd", row.cmd.as_str())
                .with("live", "true")
                .with_raw(row.raw.as_str());
            if let Some(p) = path {
                e = e.with("exe", p);
            }
            if deleted {
                e = e.with("exe_deleted", "true");
            }
            if let Some(parent) = by_pid.get(row.ppid.as_str()) {
                e = e.with("parent_cmd", parent.cmd.as_str());
                if let Some(pe) = self.exe.get(&parent.pid) {
                    e = e.with("parent_exe", pe.strip_suffix(DELETED).unwrap_or(pe));
                }
            }
            out.push(e);
            if let (true, Some(p)) = (deleted, path) {
                let gone = out
                    .origin
                    .event(
                        row.started,
                        Action::FileDelete,
                        format!(
                            "process {} runs {p}, which is deleted from disk: {}",
                            row.pid, row.cmd
                        ),
                        row.line,
                    )
                    .with("file_path", p)
                    .with("file_name", crate::file_name(p))
                    .with("pid", row.pid.as_str())
                    .with("cmd", row.cmd.as_str())
                    .with("username", row.user.as_str())
                    .with("exe_deleted", "true")
                    .with("live", "true")
                    .with_raw(row.raw.as_str());
                out.push(gone);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Result<Event, ArtifactError>> {
        let ctx = ArtifactContext {
            host: "web1".into(),
            original_path: "/$Riposte/live/processes".into(),
            modified: None,
        };
        LiveProcesses
            .parse(
                &ctx,
                Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            )
            .collect()
    }

    #[test]
    fn processes_with_parents_and_a_deleted_executable() {
        let out = "    1     0     0 root     Mon Dec  7 09:00:00 2026 /sbin/init\n    2     0     0 root     Mon Dec  7 09:00:00 2026 [kthreadd]\n  812     1     0 root     Mon Dec  7 09:00:03 2026 /usr/sbin/sshd -D\n 4242   812  1000 bob      Mon Dec  7 17:17:45 2026 /dev/shm/.x/kworkerd -o pool:3333  --quiet\ngarbage\n### exe\n1\t/usr/lib/systemd/systemd\n812\t/usr/sbin/sshd\n4242\t/dev/shm/.x/kworkerd (deleted)\n";
        let results = parse(out);
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        let events: Vec<Event> = results.into_iter().filter_map(Result::ok).collect();
        assert_eq!(events.len(), 4, "{events:#?}");
        let miner = &events[2];
        assert_eq!(miner.action, Action::ProcessRun);
        assert_eq!(miner.attr("exe"), Some("/dev/shm/.x/kworkerd"));
        assert_eq!(
            miner.attr("cmd"),
            Some("/dev/shm/.x/kworkerd -o pool:3333  --quiet")
        );
        assert_eq!(miner.attr("parent_exe"), Some("/usr/sbin/sshd"));
        assert_eq!(miner.attr("username"), Some("bob"));
        assert_eq!(miner.attr("exe_deleted"), Some("true"));
        assert_eq!(
            miner.time.map(|t| t.to_rfc3339()),
            Some("2026-12-07T17:17:45+00:00".into())
        );
        let gone = &events[3];
        assert_eq!(gone.action, Action::FileDelete);
        assert_eq!(gone.attr("file_path"), Some("/dev/shm/.x/kworkerd"));
        assert_eq!(events[0].attr("exe"), Some("/usr/lib/systemd/systemd"));
        assert!(events.iter().all(|e| e.attr("cmd") != Some("[kthreadd]")));
    }
}
