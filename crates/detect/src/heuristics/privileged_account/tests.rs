use super::*;
use crate::heuristics::testing::at;
use riposte_model::EventOrigin;

/// An account event as the auth-log parser would emit it.
fn account(action: Action, secs: i64, user: &str, attrs: &[(&str, &str)]) -> Event {
    let origin = EventOrigin {
        parser: "auth_log".into(),
        path: "/var/log/auth.log".into(),
        record: None,
    };
    attrs.iter().fold(
        Event::new(Some(at(secs)), "web1", action, "synthetic", origin).with("username", user),
        |e, (k, v)| e.with(k, *v),
    )
}

fn created(user: &str, uid: &str, home: &str, shell: &str) -> Event {
    account(
        Action::UserCreate,
        0,
        user,
        &[("uid", uid), ("gid", uid), ("home", home), ("shell", shell)],
    )
}

fn added(user: &str, group: &str, privileged: Option<&str>) -> Event {
    let mut e = account(
        Action::UserModify,
        10,
        user,
        &[("group", group), ("change", "added to group")],
    );
    if let Some(p) = privileged {
        e = e.with("privileged_group", p);
    }
    e
}

/// (detector, severity, title) of every alarm.
fn found(events: &[Event]) -> Vec<(String, Severity, String)> {
    PrivilegedAccount
        .detect(events)
        .into_iter()
        .map(|a| (a.detector, a.severity, a.title))
        .collect()
}

#[test]
fn uid_zero_account_is_high() {
    let events = vec![
        created("alice", "1001", "/home/alice", "/bin/bash"),
        created("sysupd", "0", "/root", "/bin/bash"),
    ];
    let alarms = PrivilegedAccount.detect(&events);
    assert_eq!(alarms.len(), 1);
    let a = &alarms[0];
    assert_eq!(
        (a.detector.as_str(), a.severity, a.title.as_str()),
        (
            "root_equivalent_account",
            Severity::High,
            "New account sysupd with UID 0 (root-equivalent)"
        )
    );
    assert_eq!(a.mitre, vec![mitre("persistence", "T1136.001")]);
    assert_eq!(a.event_refs, vec![1]);
}

#[test]
fn added_to_a_privileged_group_is_medium_once_per_user_and_group() {
    let events = vec![
        created("bob", "1002", "/home/bob", "/bin/bash"),
        added("bob", "sudo", Some("true")),
        // useradd -G and gpasswd both log the same membership.
        added("bob", "sudo", Some("true")),
        added("bob", "libvirt", Some("false")), // the parser's list is shorter than ours
        added("bob", "wheel", None),            // another parser, no marking
    ];
    let alarms = PrivilegedAccount.detect(&events);
    let got: Vec<_> = alarms
        .iter()
        .map(|a| (a.title.as_str(), a.severity, a.event_refs.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "bob added to privileged group sudo",
                Severity::Medium,
                vec![1, 2]
            ),
            (
                "bob added to privileged group libvirt",
                Severity::Medium,
                vec![3]
            ),
            (
                "bob added to privileged group wheel",
                Severity::Medium,
                vec![4]
            ),
        ]
    );
    assert!(
        alarms
            .iter()
            .all(|a| a.detector == "privileged_group_member"
                && a.mitre == vec![mitre("privilege-escalation", "T1098")])
    );
    assert!(alarms[0].description.contains("Seen in 2 events"));
}

#[test]
fn the_parsers_privileged_marking_is_trusted() {
    let got = found(&[added("carol", "adm", Some("true"))]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2, "carol added to privileged group adm");
}

#[test]
fn routine_account_changes_raise_nothing() {
    let events = vec![
        created("alice", "1001", "/home/alice", "/bin/bash"),
        created("www", "33", "/var/www", "/usr/sbin/nologin"),
        // A throwaway home without a login shell is not a logon account.
        created("svc", "998", "/tmp/svc", "/usr/sbin/nologin"),
        created("tmpuser", "1003", "/tmpfoo", "/bin/bash"),
        added("alice", "audio", Some("false")),
        account(
            Action::UserModify,
            20,
            "bob",
            &[
                ("group", "sudo"),
                ("change", "removed from group"),
                ("privileged_group", "true"),
            ],
        ),
        account(Action::UserModify, 30, "bob", &[("change", "password")]),
        // UID 0 outside account management (a sudo or su event) is not a new account.
        account(Action::UserPrivilege, 40, "root", &[("uid", "0")]),
        // No user name: nothing to attribute.
        Event::new(
            Some(at(50)),
            "web1",
            Action::UserCreate,
            "x",
            EventOrigin::default(),
        )
        .with("uid", "0"),
    ];
    assert_eq!(found(&events), vec![]);
}

#[test]
fn primary_gid_zero_and_create_time_groups_count() {
    let e = account(
        Action::UserCreate,
        0,
        "dave",
        &[("uid", "1004"), ("gid", "0"), ("groups", "users, docker")],
    );
    let titles: Vec<_> = found(&[e]).into_iter().map(|f| f.2).collect();
    assert_eq!(
        titles,
        vec![
            "dave added to privileged group docker",
            "dave added to privileged group root"
        ]
    );
    // UID 0 already says it all.
    let root = account(Action::UserCreate, 0, "r00t", &[("uid", "0"), ("gid", "0")]);
    let got = found(&[root]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "root_equivalent_account");
}

#[test]
fn login_account_homed_in_a_temp_dir_is_low() {
    for home in ["/tmp", "/dev/shm/.x", "/var/tmp/u"] {
        let got = found(&[created("u", "1005", home, "/bin/sh")]);
        assert_eq!(
            got,
            vec![(
                "account_home_in_tmp".to_string(),
                Severity::Low,
                format!("New account u with a login shell and home {home}")
            )],
            "{home}"
        );
    }
}

#[test]
fn same_user_on_two_hosts_is_two_alarms() {
    let mut other = created("sysupd", "0", "/root", "/bin/bash");
    other.host = "web2".into();
    let events = vec![created("sysupd", "0", "/root", "/bin/bash"), other];
    let refs: Vec<_> = PrivilegedAccount
        .detect(&events)
        .into_iter()
        .map(|a| a.event_refs)
        .collect();
    assert_eq!(refs, vec![vec![0], vec![1]]);
}

#[test]
fn real_useradd_line_of_a_second_root_is_high_and_verdict_malicious() {
    use chrono::TimeZone;
    use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};

    let log = "Nov 20 03:16:38 web01 sshd[2398]: Accepted password for deploy from 203.0.113.7 port 51022 ssh2\n\
               Nov 20 03:16:40 web01 useradd[2412]: new user: name=sysupd, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/1\n";
    let ctx = ArtifactContext {
        host: "web01".into(),
        original_path: "/var/log/auth.log".into(),
        modified: Some(chrono::Utc.with_ymd_and_hms(2024, 11, 21, 0, 0, 0).unwrap()),
    };
    let parser = parser_for(&ctx.original_path).unwrap();
    let events: Vec<Event> = parser
        .parse(&ctx, open_artifact(log.as_bytes()).unwrap())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");

    let alarms = PrivilegedAccount.detect(&events);
    assert_eq!(alarms.len(), 1, "{alarms:#?}");
    let a = &alarms[0];
    assert_eq!(
        (a.detector.as_str(), a.severity, a.title.as_str()),
        (
            "root_equivalent_account",
            Severity::High,
            "New account sysupd with UID 0 (root-equivalent)"
        )
    );
    assert_eq!(a.event_refs, vec![1]);
    assert!(
        a.description.contains("2024-11-20T03:16:40"),
        "{}",
        a.description
    );

    // Through the registry and the default policy, one High finding is malicious.
    let all = crate::run_detectors(&events);
    assert_eq!(all, alarms);
    let summary = crate::VerdictPolicy::default().decide(&all);
    assert_eq!(summary.verdict, riposte_model::Verdict::Malicious);
}

#[test]
fn command_lines_and_the_auth_log_showing_one_change_are_one_alarm() {
    use crate::heuristics::testing::command;
    let events = vec![
        command(
            "/root/.bash_history",
            7,
            "useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysupd",
        ),
        created("sysupd", "0", "/root", "/bin/bash"),
        command("/root/.bash_history", 8, "usermod -aG sudo eve"),
    ];
    let alarms = PrivilegedAccount.detect(&events);
    let got: Vec<_> = alarms
        .iter()
        .map(|a| (a.title.as_str(), a.severity, a.event_refs.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "New account sysupd with UID 0 (root-equivalent)",
                Severity::High,
                vec![0, 1]
            ),
            (
                "eve added to privileged group sudo",
                Severity::Medium,
                vec![2]
            ),
        ]
    );
    assert!(
        alarms[0]
            .description
            .contains("Command: `useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysupd` (/root/.bash_history line 7"),
        "{}",
        alarms[0].description
    );
}

#[test]
fn a_second_uid_zero_in_passwd_is_high_and_root_itself_is_not() {
    let entry = |user: &str, uid: &str| {
        Event::new(
            None,
            "web1",
            Action::HostInfo,
            "passwd",
            EventOrigin::default(),
        )
        .with("account_db", "passwd")
        .with("username", user)
        .with("uid", uid)
    };
    let events = [
        entry("root", "0"),
        entry("ubuntu", "1000"),
        entry("toor", "0"),
    ];
    let got = found(&events);
    assert_eq!(
        got,
        vec![(
            "root_equivalent_account".to_string(),
            Severity::High,
            "Account toor with UID 0 in /etc/passwd (root-equivalent)".to_string()
        )]
    );
}

#[test]
fn sudoers_written_outside_visudo() {
    use crate::heuristics::testing::command;
    let events = vec![
        command(
            "/root/.bash_history",
            1,
            r#"echo "svc ALL=(ALL) NOPASSWD: ALL" >> /etc/sudoers"#,
        ),
        command(
            "/root/.bash_history",
            2,
            "echo 'deploy ALL=(ALL) NOPASSWD:ALL' | tee /etc/sudoers.d/deploy",
        ),
        command(
            "/root/.bash_history",
            3,
            "sed -i 's/^# %wheel/%wheel/' /etc/sudoers",
        ),
        command("/root/.bash_history", 4, "visudo -c"),
    ];
    let alarms = PrivilegedAccount.detect(&events);
    let got: Vec<_> = alarms
        .iter()
        .map(|a| (a.detector.as_str(), a.severity, a.title.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "sudoers_modified",
                Severity::Medium,
                "/etc/sudoers written from the command line: svc given sudo rights"
            ),
            (
                "sudoers_modified",
                Severity::Low,
                "/etc/sudoers.d/deploy written from the command line: deploy given sudo rights"
            ),
            // No grantee to read: the change is the actor's.
            (
                "sudoers_modified",
                Severity::Medium,
                "/etc/sudoers written from the command line: bob given sudo rights"
            ),
        ]
    );
    assert_eq!(
        alarms[0].mitre,
        vec![mitre("privilege-escalation", "T1548.003")]
    );
}
