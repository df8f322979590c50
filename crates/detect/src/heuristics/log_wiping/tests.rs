use super::*;
use crate::heuristics::testing::{cron_job, found, history};

fn one(cmd: &str) -> Vec<(String, Severity)> {
    found(&LogWiping.detect(&history(&[cmd])))
}

fn is(id: &str, severity: Severity) -> Vec<(String, Severity)> {
    vec![(id.to_string(), severity)]
}

#[test]
fn history_cleared_or_disabled() {
    for cmd in [
        "history -c",
        "history -c && exit",
        "unset HISTFILE",
        "export HISTFILE=/dev/null",
        "export HISTSIZE=0",
        "HISTFILESIZE=0",
        "set +o history",
        "ln -sf /dev/null ~/.bash_history",
        "rm -f /root/.bash_history",
        "shred -u ~/.zsh_history",
        "cat /dev/null > ~/.bash_history",
        "> /root/.bash_history",
        "truncate -s 0 /home/bob/.bash_history",
    ] {
        assert_eq!(one(cmd), is("history_cleared", Severity::Medium), "{cmd}");
    }
}

#[test]
fn logs_deleted_or_emptied() {
    for cmd in [
        "rm -rf /var/log/*",
        "rm -f /var/log/auth.log /var/log/secure",
        "shred -zu /var/log/wtmp",
        "> /var/log/lastlog",
        ": > /var/log/syslog",
        "echo > /var/log/btmp",
        "echo '' > /var/log/messages",
        "cat /dev/null > /var/log/audit/audit.log",
        "cp /dev/null /var/log/kern.log",
        "truncate -s0 /var/log/auth.log",
        "dd if=/dev/null of=/var/log/wtmp",
        "find /var/log -type f -exec truncate -s 0 {} \\;",
        "utmpdump -r < /tmp/w > /var/log/wtmp",
        "cat /dev/null > /var/run/utmp",
    ] {
        assert_eq!(one(cmd), is("logs_wiped", Severity::Medium), "{cmd}");
    }
}

#[test]
fn housekeeping_is_low() {
    for cmd in [
        "rm /var/log/*.gz",
        "rm -f /var/log/syslog.1 /var/log/auth.log.2.gz",
        "find /var/log -name '*.gz' -delete",
        "find /var/log -type f -mtime +30 -delete",
        "journalctl --vacuum-time=7d",
        "cp /dev/null /var/log/nginx/access.log",
        "truncate -s 0 /var/log/app/app.log",
        "journalctl --vacuum-size=500M",
    ] {
        let got = one(cmd);
        assert_eq!(got.len(), 1, "{cmd}");
        assert_eq!(got[0].1, Severity::Low, "{cmd}");
    }
    for cmd in [
        "journalctl --vacuum-time=1s",
        "journalctl --rotate && journalctl --vacuum-size 1K",
        "journalctl --vacuum-files=1",
    ] {
        assert_eq!(one(cmd), is("journal_vacuumed", Severity::Medium), "{cmd}");
    }
    // A cron job that empties an application log every night.
    let events = [cron_job(1, "> /var/log/app/app.log")];
    assert_eq!(
        found(&LogWiping.detect(&events)),
        is("logs_wiped", Severity::Low)
    );
}

#[test]
fn reading_writing_and_rotating_logs_raise_nothing() {
    for cmd in [
        "tail -f /var/log/syslog",
        "cat /var/log/auth.log | grep Failed",
        "history",
        "history | grep ssh",
        "echo $HISTFILE",
        "HISTSIZE=10000",
        "/opt/backup.sh > /var/log/backup.log 2>&1",
        "/opt/job.sh &> /var/log/job.log",
        "echo started >> /var/log/myapp.log",
        "logrotate -f /etc/logrotate.conf",
        "journalctl --rotate",
        "journalctl -u nginx --since today",
        "ls -la /var/log",
        "rm -rf /var/logs-old/x",
        "utmpdump /var/log/wtmp",
        "less ~/.bash_history",
        "rm -rf docs/history.txt",
    ] {
        assert_eq!(one(cmd), [], "{cmd}");
    }
}
