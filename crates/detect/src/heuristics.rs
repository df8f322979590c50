//! Hand-written detections over normalized events, one module each.

mod commands;
pub mod credential_access;
pub mod cryptominer;
pub mod ld_preload_hijack;
pub mod live_processes;
pub mod log_wiping;
pub mod privileged_account;
pub mod shell_history;
pub mod ssh_bruteforce;
pub mod ssh_key_persistence;
pub mod tmp_persistence;

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for synthetic events in detector tests.

    use chrono::{DateTime, TimeZone, Utc};
    use riposte_model::{Action, Event, EventOrigin};

    /// 2024-03-01 10:00:00 UTC plus `secs`.
    pub fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
    }

    /// An event as the auth-log parser would emit it.
    pub fn ssh(action: Action, secs: i64, ip: &str, user: &str) -> Event {
        let origin = EventOrigin {
            parser: "auth_log".into(),
            path: "/var/log/auth.log".into(),
            record: None,
        };
        Event::new(Some(at(secs)), "web1", action, "synthetic", origin)
            .with("process", "sshd")
            .with("stage", "auth")
            .with("remote_ip", ip)
            .with("username", user)
    }

    /// A shell-history command of `path`, line `record`.
    pub fn command(path: &str, record: u64, cmd: &str) -> Event {
        let origin = EventOrigin {
            parser: "shell_history".into(),
            path: path.into(),
            record: Some(record),
        };
        Event::new(
            None,
            "web1",
            Action::ProcessRun,
            format!("ran: {cmd}"),
            origin,
        )
        .with("cmd", cmd)
        .with("username", "bob")
    }

    /// Bob's shell history, one command per line.
    pub fn history(cmds: &[&str]) -> Vec<Event> {
        cmds.iter()
            .enumerate()
            .map(|(i, c)| command("/home/bob/.bash_history", i as u64 + 1, c))
            .collect()
    }

    /// A job line of root's crontab, as the cron parser emits it.
    pub fn cron_job(record: u64, cmd: &str) -> Event {
        let origin = EventOrigin {
            parser: "cron".into(),
            path: "/var/spool/cron/crontabs/root".into(),
            record: Some(record),
        };
        Event::new(
            None,
            "web1",
            Action::HostInfo,
            format!("cron job: {cmd}"),
            origin,
        )
        .with("cmd", cmd)
        .with("username", "root")
        .with("persistence", "cron")
    }

    /// A systemd unit, as the unit parser emits it.
    pub fn unit(name: &str, exec_start: &str) -> Event {
        let origin = EventOrigin {
            parser: "systemd_units".into(),
            path: format!("/etc/systemd/system/{name}"),
            record: None,
        };
        Event::new(
            None,
            "web1",
            Action::HostInfo,
            format!("unit {name}"),
            origin,
        )
        .with("unit", name)
        .with("cmd", exec_start)
        .with("exec_start", exec_start)
        .with("persistence", "systemd")
    }

    /// (rule, else detector, severity) of every alarm.
    pub fn found(alarms: &[riposte_model::Alarm]) -> Vec<(String, riposte_model::Severity)> {
        alarms
            .iter()
            .map(|a| {
                (
                    a.rule_id.clone().unwrap_or_else(|| a.detector.clone()),
                    a.severity,
                )
            })
            .collect()
    }
}
