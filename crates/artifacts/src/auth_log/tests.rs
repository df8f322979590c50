use super::*;
use chrono::TimeZone;
use riposte_model::EntityKind;

fn ctx() -> ArtifactContext {
    ArtifactContext {
        host: "web1".into(),
        original_path: "/var/log/auth.log".into(),
        modified: Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap()),
    }
}

fn parse(text: &str) -> Vec<Result<Event, ArtifactError>> {
    AuthLog
        .parse(
            &ctx(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        )
        .collect()
}

fn one(line: &str) -> Event {
    let mut all = parse(line);
    assert_eq!(all.len(), 1, "expected one record from {line:?}");
    all.remove(0).expect("an event")
}

fn attrs<'a>(e: &'a Event, keys: &[&str]) -> Vec<Option<&'a str>> {
    keys.iter().map(|k| e.attr(k)).collect()
}

#[test]
fn accepted_password_is_a_logon_with_origin_and_assumed_timezone() {
    let e = one(
        "Mar  1 10:00:00 web1 sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
    );
    assert_eq!(e.action, Action::UserLogon);
    assert_eq!(e.entity, EntityKind::User);
    assert_eq!(
        e.time,
        Some(Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap())
    );
    assert_eq!(
        attrs(
            &e,
            &[
                "username",
                "remote_ip",
                "remote_port",
                "auth_method",
                "process",
                "pid",
                "stage"
            ]
        ),
        [
            Some("fztu"),
            Some("119.137.62.142"),
            Some("49116"),
            Some("password"),
            Some("sshd"),
            Some("24680"),
            Some("auth")
        ]
    );
    assert_eq!(e.attr("timezone"), Some("UTC (assumed)"));
    assert_eq!(e.attr("year_inferred"), Some("true"));
    assert_eq!(
        e.origin,
        EventOrigin {
            parser: "auth_log".into(),
            path: "/var/log/auth.log".into(),
            record: Some(1)
        }
    );
    assert_eq!(e.host, "web1");
    assert!(e.raw.starts_with("Mar  1 10:00:00"));
    assert_eq!(
        e.message,
        "SSH logon by fztu from 119.137.62.142 (password)"
    );
}

#[test]
fn accepted_publickey_keeps_the_key_and_iso_timestamps_keep_their_offset() {
    let e = one(
        "2024-03-01T10:00:00.123456+01:00 web1 sshd[1]: Accepted publickey for bob from 2001:db8::7 port 5022 ssh2: ED25519 SHA256:abc",
    );
    assert_eq!(
        e.time.unwrap().to_rfc3339(),
        "2024-03-01T09:00:00.123456+00:00"
    );
    assert_eq!(
        attrs(
            &e,
            &[
                "auth_method",
                "remote_ip",
                "key_type",
                "key_fingerprint",
                "timezone",
                "year_inferred"
            ]
        ),
        [
            Some("publickey"),
            Some("2001:db8::7"),
            Some("ED25519"),
            Some("SHA256:abc"),
            Some("+01:00"),
            None
        ]
    );
    let e = one(
        "Mar  1 10:00:00 h sshd[1]: Accepted keyboard-interactive/pam for carol from 10.0.0.9 port 1 ssh2",
    );
    assert_eq!(e.attr("auth_method"), Some("keyboard-interactive/pam"));
    let e = one(
        "Mar  1 10:00:00 h sshd[1]: Accepted publickey for bob from 10.0.0.1 port 22 ssh2: ED25519-CERT SHA256:x ID bob (serial 1) CA ED25519 SHA256:y",
    );
    assert_eq!(
        attrs(&e, &["username", "key_type", "key_fingerprint"]),
        [Some("bob"), Some("ED25519-CERT"), Some("SHA256:x")]
    );
    // Old sshd: no protocol suffix.
    let e = one("Mar  1 10:00:00 h sshd[1]: Accepted password for dave from 10.0.0.2 port 2222");
    assert_eq!(
        attrs(&e, &["username", "remote_ip", "remote_port"]),
        [Some("dave"), Some("10.0.0.2"), Some("2222")]
    );
}

#[test]
fn failed_passwords_and_repeats_carry_counts_and_invalid_user_flags() {
    let e = one(
        "Mar  1 07:13:56 h sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2",
    );
    assert_eq!(e.action, Action::UserLogonFailed);
    assert_eq!(
        attrs(
            &e,
            &[
                "username",
                "remote_ip",
                "remote_port",
                "invalid_user",
                "stage",
                "count"
            ]
        ),
        [
            Some("root"),
            Some("5.36.59.76"),
            Some("42393"),
            Some("false"),
            Some("auth"),
            None
        ]
    );
    let e = one(
        "Mar  1 07:13:56 h sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
    );
    assert_eq!(
        attrs(&e, &["username", "count", "stage"]),
        [Some("root"), Some("5"), Some("auth")]
    );
    let e = one(
        "Mar  1 11:04:45 h sshd[25539]: Failed password for invalid user user from 103.99.0.122 port 52683 ssh2",
    );
    assert_eq!(
        attrs(&e, &["username", "invalid_user"]),
        [Some("user"), Some("true")]
    );
    let e = one(
        "Mar  1 08:24:40 h sshd[24363]: Failed none for invalid user 0 from 5.188.10.180 port 49811 ssh2",
    );
    assert_eq!(
        attrs(&e, &["auth_method", "stage"]),
        [Some("none"), Some("probe")]
    );
}

#[test]
fn injected_user_names_cannot_spoof_the_source_address() {
    let e = one(
        "Mar  1 10:00:00 h sshd[1]: Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 1.2.3.4 port 22 ssh2",
    );
    assert_eq!(e.attr("remote_ip"), Some("1.2.3.4"));
    assert_eq!(e.attr("username"), Some("x from 6.6.6.6 port 1 ssh2"));
    // A malformed tail is not a match (skipped, not an error).
    assert!(
        parse("Mar  1 10:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port x").is_empty()
    );
}

#[test]
fn invalid_user_and_pam_lines_are_marked_by_stage() {
    let e = one("Mar  1 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186");
    assert_eq!(
        attrs(&e, &["username", "remote_ip", "stage"]),
        [
            Some("webmaster"),
            Some("173.234.31.186"),
            Some("invalid_user")
        ]
    );
    let e = one("Mar  1 06:55:46 h sshd[1]: Invalid user a from b from 10.1.1.1 port 4242");
    assert_eq!(
        attrs(&e, &["username", "remote_ip", "remote_port"]),
        [Some("a from b"), Some("10.1.1.1"), Some("4242")]
    );
    let e = one(
        "Mar  1 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root",
    );
    assert_eq!(
        attrs(&e, &["username", "remote_ip", "stage", "service", "ruser"]),
        [
            Some("root"),
            Some("173.234.31.186"),
            Some("pam"),
            Some("sshd"),
            None
        ]
    );
    let e = one(
        "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
    );
    assert_eq!(
        attrs(&e, &["process", "remote_host", "remote_ip", "stage"]),
        [
            Some("sshd"),
            Some("220-135-151-1.hinet-ip.hinet.net"),
            None,
            Some("pam")
        ]
    );
    let e = one(
        "Mar  1 07:27:50 h sshd[24235]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76  user=root",
    );
    assert_eq!(
        attrs(&e, &["count", "stage", "remote_ip"]),
        [Some("5"), Some("pam"), Some("5.36.59.76")]
    );
}

#[test]
fn sessions_and_disconnects_are_logons_and_logoffs() {
    let e = one(
        "Mar  1 09:32:20 h sshd[24680]: pam_unix(sshd:session): session opened for user fztu by (uid=0)",
    );
    assert_eq!(
        (e.action, e.attr("username"), e.attr("stage")),
        (Action::UserLogon, Some("fztu"), Some("session"))
    );
    let e =
        one("Mar  1 09:45:06 h sshd[24680]: pam_unix(sshd:session): session closed for user fztu");
    assert_eq!(
        (e.action, e.attr("username")),
        (Action::UserLogoff, Some("fztu"))
    );
    let e =
        one("Mar  1 09:45:06 h sshd[24680]: Disconnected from user fztu 119.137.62.142 port 49116");
    assert_eq!(
        (
            e.action,
            e.attr("username"),
            e.attr("remote_ip"),
            e.attr("stage")
        ),
        (
            Action::UserLogoff,
            Some("fztu"),
            Some("119.137.62.142"),
            Some("auth")
        )
    );
    // Cron and sudo sessions are not logons.
    assert!(parse("Mar  1 09:17:01 h CRON[1]: pam_unix(cron:session): session opened for user root by (uid=0)").is_empty());
    assert!(parse("Mar  1 09:17:01 h sudo: pam_unix(sudo:session): session opened for user root by alice(uid=0)").is_empty());
}

#[test]
fn sudo_commands_and_refusals() {
    let e = one(
        "Mar  1 10:00:00 h sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash -c 'a ; b'",
    );
    assert_eq!(e.action, Action::UserPrivilege);
    assert_eq!(
        attrs(
            &e,
            &[
                "username",
                "target_user",
                "cmd",
                "pwd",
                "tty",
                "outcome",
                "process"
            ]
        ),
        [
            Some("alice"),
            Some("root"),
            Some("/bin/bash -c 'a ; b'"),
            Some("/home/alice"),
            Some("pts/0"),
            Some("success"),
            Some("sudo")
        ]
    );
    let e = one(
        "Mar  1 10:00:00 h sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/id",
    );
    assert_eq!(
        attrs(&e, &["outcome", "reason", "cmd"]),
        [
            Some("failure"),
            Some("user NOT in sudoers"),
            Some("/usr/bin/id")
        ]
    );
    assert!(
        parse("Mar  1 10:00:00 h sudo: unable to resolve host web1: Name or service not known")
            .is_empty()
    );
}

#[test]
fn su_sessions_old_and_new() {
    let e = one(
        "Mar  1 10:00:00 h su: pam_unix(su:session): session opened for user root by alice(uid=1000)",
    );
    assert_eq!(e.action, Action::UserPrivilege);
    assert_eq!(
        attrs(&e, &["username", "target_user", "by_uid"]),
        [Some("alice"), Some("root"), Some("1000")]
    );
    let e =
        one("Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)");
    assert_eq!(
        (
            e.action,
            e.attr("username"),
            e.attr("target_user"),
            e.attr("process")
        ),
        (Action::UserPrivilege, None, Some("cyrus"), Some("su"))
    );
    assert!(
        parse("Jun 15 04:06:19 combo su(pam_unix)[21416]: session closed for user cyrus")
            .is_empty()
    );
}

#[test]
fn account_management() {
    let e = one(
        "Mar  1 10:00:00 h useradd[900]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
    );
    assert_eq!(e.action, Action::UserCreate);
    assert_eq!(
        attrs(&e, &["username", "uid", "shell", "home"]),
        [
            Some("bob"),
            Some("1001"),
            Some("/bin/bash"),
            Some("/home/bob")
        ]
    );
    let e = one("Mar  1 10:00:01 h usermod[901]: add 'bob' to group 'sudo'");
    assert_eq!(
        (e.action, e.attr("group"), e.attr("privileged_group")),
        (Action::UserModify, Some("sudo"), Some("true"))
    );
    assert!(parse("Mar  1 10:00:01 h usermod[901]: add 'bob' to shadow group 'sudo'").is_empty());
    let e = one("Mar  1 10:00:02 h gpasswd[902]: user bob added by root to group wheel");
    assert_eq!(
        attrs(&e, &["username", "group", "by", "privileged_group"]),
        [Some("bob"), Some("wheel"), Some("root"), Some("true")]
    );
    let e =
        one("Mar  1 10:00:03 h passwd[903]: pam_unix(passwd:chauthtok): password changed for bob");
    assert_eq!(
        (e.action, e.attr("username"), e.attr("change")),
        (Action::UserModify, Some("bob"), Some("password"))
    );
    let e = one(
        "Mar  1 10:00:04 h usermod[904]: change user 'bob' shell from '/bin/sh' to '/bin/bash'",
    );
    assert_eq!(
        (e.action, e.attr("username")),
        (Action::UserModify, Some("bob"))
    );
    let e = one("Mar  1 10:00:05 h userdel[905]: delete user 'bob'");
    assert_eq!(e.attr("change"), Some("deleted"));
}

#[test]
fn unrelated_lines_are_skipped_and_bad_timestamps_are_errors_that_do_not_stop_parsing() {
    let text = "Mar  1 10:00:00 h sshd[1]: Received disconnect from 1.2.3.4: 11: Bye Bye [preauth]\n\
                \n\
                garbage without a timestamp\n\
                Mar 41 10:00:00 h sshd[1]: Accepted password for a from 1.2.3.4 port 1 ssh2\n\
                Mar  1 10:00:01 h sshd[1]: Accepted password for b from 1.2.3.4 port 1 ssh2\n";
    let out = parse(text);
    assert_eq!(out.len(), 3);
    match &out[0] {
        Err(ArtifactError::Record { path, record, .. }) => {
            assert_eq!((path.as_str(), *record), ("/var/log/auth.log", 3))
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    assert!(matches!(
        &out[1],
        Err(ArtifactError::Record { record: 4, .. })
    ));
    let e = out[2].as_ref().unwrap();
    assert_eq!((e.attr("username"), e.origin.record), (Some("b"), Some(5)));
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let bytes = b"Mar  1 10:00:00 h sshd[1]: Failed password for invalid user r\xffoot from 1.2.3.4 port 1 ssh2\n".to_vec();
    let out: Vec<_> = AuthLog
        .parse(&ctx(), Box::new(std::io::Cursor::new(bytes)))
        .collect();
    let e = out[0].as_ref().unwrap();
    assert_eq!(e.attr("username"), Some("r\u{fffd}oot"));
}

#[test]
fn claims_rotated_auth_and_secure_logs_only() {
    for p in [
        "/var/log/auth.log",
        "/var/log/auth.log.1",
        "/var/log/auth.log.2.gz",
        "/var/log/secure",
        "/var/log/secure-20240301",
    ] {
        assert!(AuthLog.claims(p), "{p}");
    }
    for p in [
        "/var/log/syslog",
        "/var/log/auth.logger",
        "/var/log/secureboot",
        "/home/a/.bash_history",
    ] {
        assert!(!AuthLog.claims(p), "{p}");
    }
}
