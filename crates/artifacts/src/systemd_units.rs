//! systemd service and timer units: `*.service` and `*.timer` under
//! `/etc/systemd/{system,user}/`, `/lib/systemd/{system,user}/`,
//! `/usr/lib/systemd/{system,user}/`, `/run/systemd/system/` and
//! `~/.config/systemd/user/` (subdirectories such as `multi-user.target.wants/` included).
//!
//! One `host` event (persistence) per unit file, without time (the file has none): `unit`
//! (the file name), `unit_type`, `description`, `cmd` (the first `ExecStart`, without its
//! `-@+!:` prefixes), `exec_start` (every `ExecStart`, ` ; `-joined), `exec_start_pre`,
//! `exec_stop`, `username` (`User=`, else the owner of a `~/.config` user unit), `group`,
//! `working_directory`, `wanted_by`, and for timers `on_calendar`, `on_boot_sec`,
//! `on_unit_active_sec`, `timer_unit` (`Unit=`). Continuation lines (`\` at the end) are
//! joined. A line that is neither a section, a `Key=Value`, a comment nor blank is an
//! error record and the unit is still reported.

use crate::records::{LineHandler, Origin, Out, line_records};
use crate::shell_history::{program_name, user_from_path};
use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event};
use std::io::BufRead;

const MAX_LINE: usize = 64 * 1024;
/// Bounds on what one unit keeps.
const MAX_KEYS: usize = 512;
const MAX_VALUE: usize = 64 * 1024;

/// Parser for systemd `.service` and `.timer` unit files.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemdUnits;

impl ArtifactParser for SystemdUnits {
    fn name(&self) -> &'static str {
        "systemd_units"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path);
        (name.ends_with(".service") || name.ends_with(".timer"))
            && ["/systemd/system/", "/systemd/user/"]
                .iter()
                .any(|d| original_path.contains(d))
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let unit = crate::file_name(&ctx.original_path).to_string();
        let owner = ctx
            .original_path
            .contains("/.config/systemd/")
            .then(|| user_from_path(&ctx.original_path).map(str::to_string))
            .flatten();
        line_records(
            Origin::new(ctx, "systemd_units"),
            input,
            MAX_LINE,
            Handler {
                unit,
                owner,
                section: String::new(),
                keys: Vec::new(),
                pending: None,
                raw: String::new(),
                any_line: false,
            },
        )
    }
}

struct Handler {
    unit: String,
    owner: Option<String>,
    section: String,
    /// `(section, key, value)` in file order.
    keys: Vec<(String, String, String)>,
    /// A key whose value continues on the next line.
    pending: Option<(String, String, u64)>,
    raw: String,
    any_line: bool,
}

impl Handler {
    fn push_key(&mut self, key: String, value: String) {
        if self.keys.len() < MAX_KEYS {
            self.keys.push((self.section.clone(), key, value));
        }
    }

    fn all(&self, section: &str, key: &str) -> Vec<&str> {
        self.keys
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn last(&self, section: &str, key: &str) -> Option<&str> {
        self.all(section, key).last().copied()
    }
}

impl LineHandler for Handler {
    fn line(&mut self, out: &mut Out<'_>, number: u64, text: &str) {
        if self.raw.len() < MAX_VALUE {
            self.raw.push_str(text);
            self.raw.push('\n');
        }
        if let Some((key, mut value, _)) = self.pending.take() {
            let (more, continues) = match text.trim_end().strip_suffix('\\') {
                Some(v) => (v, true),
                None => (text.trim_end(), false),
            };
            if value.len() < MAX_VALUE {
                value.push(' ');
                value.push_str(more.trim());
            }
            if continues {
                self.pending = Some((key, value, number));
            } else {
                self.push_key(key, value);
            }
            return;
        }
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            return;
        }
        self.any_line = true;
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            self.section = section.trim().to_string();
            return;
        }
        let Some((key, value)) = line.split_once('=') else {
            out.error(
                number,
                format!(
                    "not a unit file line: `{}`",
                    crate::syslog::prefix(line, 60)
                ),
            );
            return;
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            out.error(
                number,
                format!("bad unit key `{}`", crate::syslog::prefix(key, 60)),
            );
            return;
        }
        let value = value.trim();
        match value.strip_suffix('\\') {
            Some(v) => self.pending = Some((key.to_string(), v.trim().to_string(), number)),
            None => self.push_key(key.to_string(), value.to_string()),
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        if let Some((key, value, _)) = self.pending.take() {
            self.push_key(key, value);
        }
        if !self.any_line {
            return;
        }
        let unit_type = self.unit.rsplit('.').next().unwrap_or("").to_string();
        let exec_start = self.all("Service", "ExecStart");
        let cmd = exec_start.first().map(|c| strip_exec_prefix(c).to_string());
        let mut message = format!("systemd {unit_type} {}", self.unit);
        if let Some(cmd) = &cmd {
            message.push_str(&format!(": {cmd}"));
        }
        if let Some(cal) = self.last("Timer", "OnCalendar") {
            message.push_str(&format!(" (OnCalendar={cal})"));
        }
        let mut e = out
            .origin
            .event(None, Action::HostInfo, message, 1)
            .with("unit", self.unit.as_str())
            .with("unit_type", unit_type)
            .with("persistence", "systemd")
            .with("file_path", out.origin.path.as_str());
        if let Some(cmd) = &cmd {
            e = e.with("cmd", cmd.as_str());
            if let Some(name) = program_name(cmd) {
                e = e.with("file_name", name);
            }
        }
        if !exec_start.is_empty() {
            e = e.with("exec_start", exec_start.join(" ; "));
        }
        let user = self
            .last("Service", "User")
            .map(str::to_string)
            .or_else(|| self.owner.clone());
        if let Some(user) = user {
            e = e.with("username", user);
        }
        for (section, key, attr) in [
            ("Unit", "Description", "description"),
            ("Service", "ExecStartPre", "exec_start_pre"),
            ("Service", "ExecStartPost", "exec_start_post"),
            ("Service", "ExecStop", "exec_stop"),
            ("Service", "ExecReload", "exec_reload"),
            ("Service", "Group", "group"),
            ("Service", "Type", "service_type"),
            ("Service", "WorkingDirectory", "working_directory"),
            ("Service", "Environment", "environment"),
            ("Service", "Restart", "restart"),
            ("Install", "WantedBy", "wanted_by"),
            ("Timer", "OnCalendar", "on_calendar"),
            ("Timer", "OnBootSec", "on_boot_sec"),
            ("Timer", "OnStartupSec", "on_startup_sec"),
            ("Timer", "OnActiveSec", "on_active_sec"),
            ("Timer", "OnUnitActiveSec", "on_unit_active_sec"),
            ("Timer", "Unit", "timer_unit"),
        ] {
            let values = self.all(section, key);
            if !values.is_empty() {
                e = e.with(attr, values.join(" ; "));
            }
        }
        out.push(e.with_raw(std::mem::take(&mut self.raw)));
    }
}

/// `-/usr/bin/x`, `+@/bin/y z`, `!!/bin/w` → the command without systemd's prefixes.
fn strip_exec_prefix(cmd: &str) -> &str {
    cmd.trim_start_matches(['-', '@', '+', '!', ':', '|'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_units_in_systemd_dirs() {
        for p in [
            "/etc/systemd/system/evil.service",
            "/etc/systemd/system/multi-user.target.wants/ssh.service",
            "/usr/lib/systemd/system/apt-daily.timer",
            "/lib/systemd/system/cron.service",
            "/home/bob/.config/systemd/user/miner.service",
        ] {
            assert!(SystemdUnits.claims(p), "{p}");
        }
        assert!(!SystemdUnits.claims("/etc/systemd/system/default.target"));
        assert!(!SystemdUnits.claims("/tmp/x.service"));
    }

    #[test]
    fn exec_prefixes() {
        assert_eq!(strip_exec_prefix("-/usr/bin/x a"), "/usr/bin/x a");
        assert_eq!(strip_exec_prefix("!!/bin/w"), "/bin/w");
    }
}
