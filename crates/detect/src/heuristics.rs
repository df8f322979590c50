//! Hand-written detections over normalized events, one module each.

pub mod privileged_account;
pub mod shell_history;
pub mod ssh_bruteforce;

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
}
