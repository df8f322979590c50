//! The cloud-Linux heuristics over real data, parsed by riposte-artifacts as an
//! investigation would parse it:
//! - benign logs from the shared corpus (loghub `Linux_2k.log` and `OpenSSH_2k.log`,
//!   research-only licence, read in place), where none of them may fire;
//! - attacker material written for these tests after public reports of real campaigns
//!   (`testdata/linux_attacks/`, see its README), one folder per scenario laid out like
//!   the root of the compromised host, plus near misses that must stay silent.

use chrono::{TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::{VerdictPolicy, detectors, run_detectors};
use riposte_model::{Alarm, Event, Severity, Verdict};
use std::path::{Path, PathBuf};

/// The detectors added for cloud Linux attacks.
const LINUX_HEURISTICS: [&str; 6] = [
    "cryptominer",
    "ssh_key_persistence",
    "tmp_persistence",
    "log_wiping",
    "ld_preload_hijack",
    "credential_access",
];

fn corpus_file(relative: &str) -> Vec<u8> {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("test corpus file {} unreadable ({e}): set RIPOSTE_CORPUS to the shared corpus directory", path.display())
    })
}

/// Parses `bytes` as the artifact at `original_path`; every record must parse.
fn parse(bytes: &[u8], original_path: &str) -> Vec<Event> {
    let parser =
        parser_for(original_path).unwrap_or_else(|| panic!("no parser claims {original_path}"));
    let ctx = ArtifactContext {
        host: "web1".into(),
        original_path: original_path.into(),
        modified: Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap()),
    };
    parser
        .parse(&ctx, open_artifact(bytes).expect("readable"))
        .map(|r| r.unwrap_or_else(|e| panic!("{original_path}: {e}")))
        .collect()
}

/// Every file of a scenario folder, parsed as the file at the same path on the host.
fn scenario(name: &str) -> Vec<Event> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/linux_attacks")
        .join(name);
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.expect("readable test data"))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", root.display());
    files
        .iter()
        .flat_map(|f| {
            let original = format!("/{}", f.strip_prefix(&root).unwrap().display());
            parse(&std::fs::read(f).unwrap(), &original)
        })
        .collect()
}

/// One alarm, as `(rule, severity, [(file, line)…])` with the file's name only.
type Seen = (String, Severity, Vec<(String, u64)>);

fn seen(alarms: &[Alarm], events: &[Event]) -> Vec<Seen> {
    let mut out: Vec<Seen> = alarms
        .iter()
        .map(|a| {
            let lines = a
                .event_refs
                .iter()
                .map(|&r| {
                    let o = &events[r as usize].origin;
                    let file = o.path.rsplit('/').next().unwrap_or("").to_string();
                    (file, o.record.unwrap_or(0))
                })
                .collect();
            let rule = a.rule_id.clone().unwrap_or_else(|| a.detector.clone());
            (rule, a.severity, lines)
        })
        .collect();
    out.sort();
    out
}

fn alarm(rule: &str, severity: Severity, lines: &[(&str, u64)]) -> Seen {
    (
        rule.to_string(),
        severity,
        lines.iter().map(|(f, l)| (f.to_string(), *l)).collect(),
    )
}

fn sorted(mut v: Vec<Seen>) -> Vec<Seen> {
    v.sort();
    v
}

fn find<'a>(alarms: &'a [Alarm], rule: &str) -> &'a Alarm {
    alarms
        .iter()
        .find(|a| a.rule_id.as_deref().unwrap_or(&a.detector) == rule)
        .unwrap_or_else(|| panic!("no {rule} alarm"))
}

fn techniques(a: &Alarm) -> Vec<&str> {
    a.mitre.iter().map(|m| m.technique.as_str()).collect()
}

#[test]
fn the_new_detectors_are_registered() {
    let names: Vec<&str> = detectors().iter().map(|d| d.name()).collect();
    for name in LINUX_HEURISTICS {
        assert!(names.contains(&name), "{name} not registered: {names:?}");
    }
}

#[test]
fn benign_corpus_logs_raise_none_of_them() {
    // Linux_2k.log is a Red Hat /var/log/messages (ftpd, sshd(pam_unix), su, kernel,
    // logrotate, cups…). Read as what it is, nothing fires and the verdict is clean.
    let linux = corpus_file("linux-logs/loghub/Linux/Linux_2k.log");
    let messages = parse(&linux, "/var/log/messages");
    assert_eq!(messages.len(), 2000);
    let alarms = run_detectors(&messages);
    assert_eq!(seen(&alarms, &messages), []);
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::NoEvidence
    );

    // Read as an auth log (as tests/corpus.rs does), its 677 `sshd(pam_unix)` failures
    // are real brute force from 27 sources: ssh_bruteforce alone fires, Suspicious.
    let secure = parse(&linux, "/var/log/secure");
    let alarms = run_detectors(&secure);
    assert_eq!(alarms.len(), 27);
    assert!(alarms.iter().all(|a| a.detector == "ssh_bruteforce"));
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::Suspicious
    );

    // OpenSSH_2k.log: again only the brute force of tests/corpus.rs.
    let mut openssh = corpus_file("linux-logs/loghub/OpenSSH/OpenSSH_2k.log");
    openssh.push(b'\n');
    let events = parse(&openssh, "/var/log/auth.log");
    let alarms = run_detectors(&events);
    assert_eq!(alarms.len(), 6);
    assert!(alarms.iter().all(|a| a.detector == "ssh_bruteforce"));
}

#[test]
fn teamtnt_style_session_in_root_history() {
    let events = scenario("teamtnt");
    let alarms = run_detectors(&events);
    let h = |line| (".bash_history", line);
    assert_eq!(
        seen(&alarms, &events),
        sorted(vec![
            alarm("imds_query", Severity::Low, &[h(8)]),
            alarm("imds_credentials", Severity::High, &[h(10)]),
            alarm("imds_credentials", Severity::High, &[h(12)]),
            alarm("cloud_credentials_read", Severity::Low, &[h(14)]),
            alarm("cloud_credentials_stolen", Severity::High, &[h(16)]),
            alarm("cloud_credentials_read", Severity::Low, &[h(18)]),
            alarm("ssh_key_added", Severity::Medium, &[h(22)]),
            alarm("ssh_keys_locked", Severity::Medium, &[h(24)]),
            alarm("download_exec", Severity::High, &[h(30), h(32), h(34)]),
            alarm("cryptominer", Severity::High, &[h(34)]),
            alarm("ld_so_preload_written", Severity::High, &[h(38)]),
            alarm("logs_wiped", Severity::Medium, &[h(40)]),
            alarm("history_cleared", Severity::Medium, &[h(42)]),
            alarm("history_cleared", Severity::Medium, &[h(44)]),
        ])
    );
    let miner = find(&alarms, "cryptominer");
    assert_eq!(miner.detector, "cryptominer");
    assert_eq!(techniques(miner), ["T1496"]);
    assert!(
        miner
            .title
            .starts_with("Cryptominer run by root: /var/tmp/.ICE-unix/.x/xmrig")
    );
    for needle in [
        "miner program `xmrig`",
        "mining pool `pool.supportxmr.com`",
        "miner option `--donate-level`",
        "a Monero wallet address",
        "/root/.bash_history line 34, 2024-03-01T08:05:20+00:00",
    ] {
        assert!(
            miner.description.contains(needle),
            "{needle}: {}",
            miner.description
        );
    }
    assert_eq!(techniques(find(&alarms, "imds_credentials")), ["T1552.005"]);
    assert_eq!(techniques(find(&alarms, "ssh_key_added")), ["T1098.004"]);
    assert_eq!(
        techniques(find(&alarms, "ld_so_preload_written")),
        ["T1574.006", "T1574.006"]
    );
    assert_eq!(techniques(find(&alarms, "history_cleared")), ["T1070.003"]);
    assert_eq!(techniques(find(&alarms, "logs_wiped")), ["T1070.002"]);

    let verdict = VerdictPolicy::default().decide(&alarms);
    assert_eq!((verdict.verdict, verdict.score), (Verdict::Malicious, 100));
}

#[test]
fn kinsing_style_cron_preload_and_syslog() {
    let events = scenario("kinsing");
    let alarms = run_detectors(&events);
    // The same command in the crontab and in syslog's CRON lines is one alarm.
    // Files are read in path order: /var/log/syslog before /var/spool/cron/crontabs/root.
    let wget = [("syslog", 3), ("syslog", 5), ("root", 6)];
    let miner = [("syslog", 4), ("syslog", 7), ("root", 7)];
    assert_eq!(
        seen(&alarms, &events),
        sorted(vec![
            alarm("download_pipe_shell", Severity::High, &wget),
            alarm("persistence_from_tmp", Severity::High, &miner),
            alarm("cryptominer", Severity::High, &miner),
            alarm("cryptominer", Severity::High, &[("root", 8)]),
            alarm(
                "ld_so_preload_entry",
                Severity::High,
                &[("ld.so.preload", 1)]
            ),
        ])
    );
    let scheduled = find(&alarms, "persistence_from_tmp");
    assert_eq!(
        scheduled.title,
        "Cron ran a program from /tmp by root: /tmp/kdevtmpfsi > /dev/null 2>&1"
    );
    assert_eq!(techniques(scheduled), ["T1053.003", "T1059.004"]);
    let miners: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.detector == "cryptominer")
        .collect();
    assert!(
        miners
            .iter()
            .all(|a| techniques(a) == ["T1496", "T1053.003"])
    );
    let preload = find(&alarms, "ld_so_preload_entry");
    assert!(
        preload
            .description
            .contains("outside the system library directories")
    );
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::Malicious
    );
}

#[test]
fn gang_8220_style_commands_in_auditd() {
    let events = scenario("gang8220");
    assert_eq!(events.len(), 10);
    assert!(
        events
            .iter()
            .all(|e| e.attr("username") == Some("www-data"))
    );
    let alarms = run_detectors(&events);
    // Each EXECVE group is five lines: group n starts at line 5n + 1.
    let a = |group: u64| ("audit.log", 5 * group + 1);
    assert_eq!(
        seen(&alarms, &events),
        sorted(vec![
            alarm("reverse_shell", Severity::High, &[a(2)]),
            alarm("imds_credentials", Severity::High, &[a(3)]),
            alarm("imds_credentials", Severity::High, &[a(4)]),
            alarm("download_pipe_shell", Severity::High, &[a(5)]),
            alarm("persistence_from_tmp", Severity::High, &[a(5)]),
            alarm("download_exec", Severity::High, &[a(6), a(7), a(8)]),
            alarm("cryptominer", Severity::High, &[a(8)]),
        ])
    );
    let shell = find(&alarms, "reverse_shell");
    assert_eq!(techniques(shell), ["T1059.004", "T1095"]);
    assert!(shell.title.contains("by www-data"), "{}", shell.title);
    let cron = find(&alarms, "persistence_from_tmp");
    assert!(
        cron.title
            .starts_with("Cron job added that downloads and runs code by www-data"),
        "{}",
        cron.title
    );
    assert_eq!(techniques(cron), ["T1053.003"]);
    let miner = find(&alarms, "cryptominer");
    assert!(
        miner
            .description
            .contains("mining pool `xmr-eu1.nanopool.org`"),
        "{}",
        miner.description
    );
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::Malicious
    );
}

#[test]
fn backdoor_unit_uid_zero_account_and_ssrf_to_imds() {
    let events = scenario("backdoor");
    let alarms = run_detectors(&events);
    let log = |line| ("access.log", line);
    assert_eq!(
        seen(&alarms, &events),
        sorted(vec![
            alarm("imds_ssrf", Severity::Low, &[log(3)]),
            alarm("imds_ssrf", Severity::Medium, &[log(4)]),
            alarm("imds_ssrf", Severity::High, &[log(5)]),
            alarm("imds_ssrf", Severity::High, &[log(6)]),
            alarm("root_equivalent_account", Severity::High, &[("passwd", 11)]),
            alarm(
                "persistence_from_tmp",
                Severity::High,
                &[("sysupdate.service", 1)]
            ),
        ])
    );
    let ssrf = alarms
        .iter()
        .find(|a| a.rule_id.as_deref() == Some("imds_ssrf") && a.severity == Severity::High)
        .unwrap();
    assert!(ssrf.title.contains("from 198.51.100.23"), "{}", ssrf.title);
    assert_eq!(techniques(ssrf), ["T1190", "T1552.005"]);
    assert_eq!(
        find(&alarms, "root_equivalent_account").title,
        "Account sysupd with UID 0 in /etc/passwd (root-equivalent)"
    );
    let unit = find(&alarms, "persistence_from_tmp");
    assert_eq!(techniques(unit), ["T1543.002", "T1059.004"]);
    assert!(unit.title.contains("(sysupdate.service)"), "{}", unit.title);
    assert_eq!(
        VerdictPolicy::default().decide(&alarms).verdict,
        Verdict::Malicious
    );
}

#[test]
fn weak_signals_are_suspicious_not_malicious() {
    let events = scenario("weak");
    let alarms = run_detectors(&events);
    let h = |line| (".bash_history", line);
    assert_eq!(
        seen(&alarms, &events),
        sorted(vec![
            alarm("shadow_read", Severity::Medium, &[h(2)]),
            alarm("logs_wiped", Severity::Medium, &[h(6)]),
            alarm("history_cleared", Severity::Medium, &[h(7)]),
        ])
    );
    let verdict = VerdictPolicy::default().decide(&alarms);
    // Log wiping counts once however many ways it was done; the shadow read adds 20.
    assert_eq!((verdict.verdict, verdict.score), (Verdict::Suspicious, 40));
    let wiping: Vec<Alarm> = alarms
        .iter()
        .filter(|a| a.detector == "log_wiping")
        .cloned()
        .collect();
    let alone = VerdictPolicy::default().decide(&wiping);
    assert_eq!((alone.verdict, alone.score), (Verdict::Suspicious, 20));
}

#[test]
fn near_misses_raise_nothing() {
    let events = scenario("benign");
    assert!(events.len() > 30, "{}", events.len());
    let alarms = run_detectors(&events);
    assert_eq!(seen(&alarms, &events), []);
}

/// A small deterministic generator (xorshift) for odd input.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn odd_input_never_panics() {
    let mut noise = Noise(0x5eed_1234_abcd_ef01);
    // Fragments the matchers look for, so that odd input reaches deep into them.
    let pieces: &[&[u8]] = &[
        b"curl ",
        b"| sh",
        b" > /var/log/",
        b"/etc/ld.so.preload",
        b"LD_PRELOAD=",
        b"stratum+tcp://",
        b"169.254.169.254/latest/meta-data/iam/security-credentials/",
        b"%",
        b"%2",
        b"echo \"",
        b"'",
        b"\"",
        b"(crontab -l; ",
        b"| crontab -",
        b"useradd -u",
        b" -G",
        b"=",
        b"-",
        b"cd ",
        b"/tmp/",
        b"./",
        b"authorized_keys",
        b">>",
        b"\xff\xfe",
        b"\xe2\x82",
        b"\xc3\xa9",
        b"\0",
        b"\n",
        b"\t",
        b" ",
        b"#1700000000\n",
        b"* * * * * ",
    ];
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\n\n\n".to_vec(),
        vec![b'a'; 1024 * 1024 + 100],
        b"echo "
            .iter()
            .chain([b'x'; 200_000].iter())
            .chain(b" >> /etc/ld.so.preload")
            .copied()
            .collect(),
        (0..=255u8).collect(),
    ];
    for _ in 0..300 {
        let n = (noise.next() % 40) as usize;
        let mut bytes = Vec::new();
        for _ in 0..n {
            if noise.next().is_multiple_of(3) {
                bytes.push((noise.next() % 256) as u8);
            } else {
                bytes.extend_from_slice(pieces[(noise.next() as usize) % pieces.len()]);
            }
        }
        inputs.push(bytes);
    }
    let mut all = Vec::new();
    for (i, bytes) in inputs.iter().enumerate() {
        for path in [
            "/root/.bash_history",
            "/var/spool/cron/crontabs/root",
            "/var/log/syslog",
            "/etc/ld.so.preload",
        ] {
            let parser = parser_for(path).unwrap();
            let ctx = ArtifactContext {
                host: "h".into(),
                original_path: path.into(),
                modified: None,
            };
            // Bad records are the parsers' business; the detectors get what parses.
            all.extend(
                parser
                    .parse(&ctx, open_artifact(&bytes[..]).unwrap())
                    .flatten(),
            );
        }
        // And straight into the detectors, bypassing the parsers' line limits.
        let text = String::from_utf8_lossy(bytes).into_owned();
        let direct = riposte_model::Event::new(
            None,
            "h",
            riposte_model::Action::ProcessRun,
            "x",
            riposte_model::EventOrigin::default(),
        )
        .with("cmd", text.clone());
        let web = riposte_model::Event::new(
            None,
            "h",
            riposte_model::Action::NetworkIncoming,
            "x",
            riposte_model::EventOrigin::default(),
        )
        .with("url", text)
        .with("status", "200");
        let pair = [direct, web];
        well_formed(&run_detectors(&pair), pair.len());
        if i.is_multiple_of(50) {
            well_formed(&run_detectors(&all), all.len());
        }
    }
    well_formed(&run_detectors(&all), all.len());
}

/// Alarms reference existing events and keep one-line titles.
fn well_formed(alarms: &[Alarm], events: usize) {
    for a in alarms {
        assert!(!a.event_refs.is_empty(), "{}", a.title);
        assert!(
            a.event_refs.iter().all(|&r| (r as usize) < events),
            "{}",
            a.title
        );
        assert!(!a.title.contains(['\n', '\r']), "{}", a.title);
        assert!(a.title.chars().count() <= 161, "{}", a.title);
    }
}

/// Every heuristic finds the same over the events it `wants` as over the whole timeline:
/// the streaming engine keeps only those, so a missing case would lose alarms.
#[test]
fn each_heuristic_wants_every_event_it_reads() {
    let mut timelines: Vec<Vec<Event>> = [
        "backdoor", "benign", "gang8220", "kinsing", "teamtnt", "weak",
    ]
    .iter()
    .map(|s| scenario(s))
    .collect();
    timelines.push(parse(
        &corpus_file("linux-logs/loghub/OpenSSH/OpenSSH_2k.log"),
        "/var/log/auth.log",
    ));
    timelines.push(parse(
        &corpus_file("linux-logs/loghub/Linux/Linux_2k.log"),
        "/var/log/messages",
    ));
    let mut compared = 0;
    for events in &timelines {
        for d in detectors() {
            let whole = d.detect(events);
            let wanted: Vec<usize> = (0..events.len()).filter(|&i| d.wants(&events[i])).collect();
            let subset: Vec<Event> = wanted.iter().map(|&i| events[i].clone()).collect();
            let mut from_subset = d.detect(&subset);
            for a in &mut from_subset {
                a.event_refs = a
                    .event_refs
                    .iter()
                    .map(|&p| wanted[p as usize] as u64)
                    .collect();
            }
            assert_eq!(whole, from_subset, "{}", d.name());
            compared += whole.len();
        }
    }
    assert!(
        compared > 10,
        "the scenarios raise alarms to compare ({compared})"
    );
}

/// A window far smaller than the candidate events (a fifth of the brute-force log per
/// window) finds what one pass over the whole timeline finds.
#[test]
fn small_windows_find_what_one_window_finds() {
    let mut events = parse(
        &corpus_file("linux-logs/loghub/OpenSSH/OpenSSH_2k.log"),
        "/var/log/auth.log",
    );
    events.extend(scenario("teamtnt"));
    events.extend(scenario("kinsing"));
    events.sort_by_key(|e| e.time.map(|t| t.timestamp_micros()).unwrap_or(i64::MAX));
    let key = |alarms: &[Alarm]| {
        let mut keys: Vec<(String, Option<String>, String)> = alarms
            .iter()
            .map(|a| (a.detector.clone(), a.rule_id.clone(), a.title.clone()))
            .collect();
        keys.sort();
        keys
    };
    let one = riposte_detect::DetectionEngine::new().run(&events);
    let small = riposte_detect::DetectionEngine::new()
        .with_limits(riposte_detect::Limits {
            window_bytes: 256 << 10,
            story_bytes: 1 << 20,
        })
        .run(&events);
    assert!(!one.is_empty());
    assert_eq!(key(&one), key(&small));
    well_formed(&small, events.len());
}
