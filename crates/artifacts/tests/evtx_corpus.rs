//! The EVTX parser over the shared corpus's Windows event logs (EVTX-ATTACK-SAMPLES, GPL-3.0:
//! read in place, never copied here).
//!
//! Expected numbers were established independently of this parser, with the `evtx_dump`
//! binary of the `evtx` crate (0.15.1, `cargo install evtx`), run single-threaded:
//! - record counts: `evtx_dump -t 1 -o jsonl FILE | wc -l` (5,431 over the 228 files, which
//!   is also the record count in `reference/README.md` for Hayabusa);
//! - per-event-id counts: the same JSONL grouped by `Event.System.EventID`;
//! - field values: read off `evtx_dump FILE` (XML) for the record named in each test.
//!
//! Hayabusa 4.0.0's detections (`reference/hayabusa-4.0.0-evtx.jsonl`) give a second,
//! independent check: every record it names exists with the same event id and computer.

use chrono::{TimeZone, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, open_artifact, parser_for};
use riposte_model::{Action, Event};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("evtx").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory \
         (the one holding evtx/)",
        dir.display()
    );
    dir
}

fn evtx_dir() -> PathBuf {
    corpus().join("evtx")
}

fn parse_bytes(name: &str, bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
    let original = format!("C:\\Windows\\System32\\winevt\\Logs\\{name}");
    let parser = parser_for(&original).expect("a parser claims .evtx");
    assert_eq!(parser.name(), "evtx");
    let ctx = ArtifactContext {
        host: "evidence-host".into(),
        original_path: original,
        modified: None,
    };
    parser
        .parse(
            &ctx,
            open_artifact(std::io::Cursor::new(bytes)).expect("in memory"),
        )
        .collect()
}

fn parse_file(relative: &str) -> Vec<Result<Event, ArtifactError>> {
    let path = evtx_dir().join(relative);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let name = Path::new(relative)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("x.evtx");
    parse_bytes(name, bytes)
}

fn ok_events(relative: &str) -> Vec<Event> {
    let results = parse_file(relative);
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(errors.is_empty(), "{relative}: {errors:?}");
    results.into_iter().map(Result::unwrap).collect()
}

fn record(events: &[Event], id: u64) -> &Event {
    events
        .iter()
        .find(|e| e.origin.record == Some(id))
        .unwrap_or_else(|| panic!("no record {id}"))
}

fn assert_attrs(e: &Event, expected: &[(&str, &str)]) {
    for (k, v) in expected {
        assert_eq!(e.attr(k), Some(*v), "attribute {k} of {}", e.message);
    }
}

fn all_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable corpus").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&evtx_dir(), &mut files);
    files.sort();
    files
}

#[test]
fn record_counts_match_evtx_dump() {
    for (file, expected) in [
        (
            "Execution/exec_sysmon_1_lolbin_rundll32_advpack_RegisterOCX.evtx",
            2,
        ),
        (
            "Defense Evasion/DE_suspicious_remote_eventlog_svc_access_5145.evtx",
            8,
        ),
        ("Defense Evasion/DE_1102_security_log_cleared.evtx", 112),
        (
            "Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
            6,
        ),
        (
            "AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
            565,
        ),
        ("Privilege Escalation/Sysmon_UACME_64.evtx", 530),
        ("Other/rdpcorets_148_mst120_bluekeep_rpdscan_full.evtx", 733),
    ] {
        assert_eq!(ok_events(file).len(), expected, "{file}");
    }
}

#[test]
fn event_ids_and_actions_match_evtx_dump() {
    let count = |events: &[Event]| {
        let mut by_id: BTreeMap<u32, usize> = BTreeMap::new();
        for e in events {
            let id = e.attr("event_id").and_then(|i| i.parse().ok()).unwrap_or(0);
            *by_id.entry(id).or_default() += 1;
        }
        by_id.into_iter().collect::<Vec<_>>()
    };
    let panache = ok_events("AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx");
    assert_eq!(
        count(&panache),
        [
            (1, 511),
            (3, 4),
            (5, 1),
            (7, 5),
            (10, 1),
            (11, 4),
            (12, 3),
            (13, 30),
            (19, 2),
            (20, 2),
            (21, 2)
        ]
    );
    let uacme = ok_events("Privilege Escalation/Sysmon_UACME_64.evtx");
    assert_eq!(
        count(&uacme),
        [
            (1, 3),
            (5, 2),
            (7, 511),
            (10, 1),
            (11, 2),
            (12, 7),
            (22, 1),
            (23, 3)
        ]
    );
    let actions = |events: &[Event], action| events.iter().filter(|e| e.action == action).count();
    assert_eq!(actions(&panache, Action::ProcessRun), 511);
    assert_eq!(actions(&panache, Action::ProcessInjection), 1);
    assert_eq!(actions(&panache, Action::FileCreate), 4);
    assert_eq!(
        actions(&panache, Action::NetworkOutgoing) + actions(&panache, Action::NetworkIncoming),
        4
    );
    assert_eq!(actions(&uacme, Action::FileDelete), 3);
    // Sysmon 12 (3 + 7) and 13 (30 + 0) are registry events.
    let registry = |events: &[Event]| {
        events
            .iter()
            .filter(|e| e.entity == riposte_model::EntityKind::Registry)
            .count()
    };
    assert_eq!(registry(&panache), 33);
    assert_eq!(registry(&uacme), 7);
    // Sysmon 5, 7, 19, 20, 21, 22 are host events.
    assert_eq!(actions(&uacme, Action::HostInfo), 2 + 511 + 1);
}

#[test]
fn sysmon_process_create_fields() {
    let events = ok_events("Execution/exec_sysmon_1_lolbin_rundll32_advpack_RegisterOCX.evtx");
    let e = record(&events, 16452);
    assert_eq!(e.action, Action::ProcessRun);
    assert_eq!(e.host, "evidence-host");
    assert_eq!(
        e.time,
        Some(
            Utc.with_ymd_and_hms(2019, 5, 12, 14, 18, 9).unwrap()
                + chrono::Duration::nanoseconds(589_507_800)
        )
    );
    let cmd = "\"C:\\Windows\\System32\\rundll32.exe\"  advpack.dll,RegisterOCX c:\\Windows\\System32\\calc.exe";
    assert_attrs(
        e,
        &[
            ("event_id", "1"),
            ("provider", "Microsoft-Windows-Sysmon"),
            ("channel", "Microsoft-Windows-Sysmon/Operational"),
            ("computer", "IEWIN7"),
            ("record_id", "16452"),
            ("user_sid", "S-1-5-18"),
            ("CommandLine", cmd),
            ("cmd", cmd),
            ("Image", "C:\\Windows\\System32\\rundll32.exe"),
            ("file_path", "C:\\Windows\\System32\\rundll32.exe"),
            ("file_name", "rundll32.exe"),
            ("pid", "816"),
            ("parent_path", "C:\\Windows\\System32\\cmd.exe"),
            ("parent_cmd", "\"C:\\Windows\\system32\\cmd.exe\""),
            ("ParentCommandLine", "\"C:\\Windows\\system32\\cmd.exe\" "),
            ("parent_pid", "3320"),
            ("username", "IEWIN7\\IEUser"),
        ],
    );
    assert!(
        e.attr("process_hash")
            .unwrap()
            .starts_with("SHA1=892503B20247B341CFD20DDA5FDACFA41527A087,")
    );
    assert_eq!(e.message, format!("Sysmon 1 process {cmd}"));
    assert_eq!(e.origin.parser, "evtx");
    // raw is the record as compact JSON.
    let raw: serde_json::Value = serde_json::from_str(&e.raw).expect("raw is JSON");
    assert_eq!(raw["Event"]["System"]["EventRecordID"], 16452);
    assert!(!e.raw.contains('\n'));
}

#[test]
fn logon_fields() {
    let events = ok_events("Defense Evasion/DE_suspicious_remote_eventlog_svc_access_5145.evtx");
    let e = record(&events, 772607);
    assert_eq!(e.action, Action::UserLogon);
    assert_eq!(
        e.message,
        "4624 logon Administrator from 172.16.66.37 (type 3)"
    );
    assert_attrs(
        e,
        &[
            ("username", "Administrator"),
            ("TargetUserName", "Administrator"),
            ("remote_ip", "172.16.66.37"),
            ("remote_port", "50106"),
            ("logon_type", "3"),
            ("computer", "01566s-win16-ir.threebeesco.com"),
        ],
    );

    let events = ok_events("Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx");
    let failed = record(&events, 137222);
    assert_eq!(failed.action, Action::UserLogonFailed);
    assert_eq!(failed.message, "4625 failed logon IEUser (type 2)");
    assert_eq!(failed.attr("remote_ip"), None, "IpAddress is `-`");
    assert_eq!(
        failed.attr("ProcessName"),
        Some("C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe")
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == Action::UserLogon)
            .count(),
        3
    );

    let events = ok_events("Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx");
    let e = record(&events, 432903);
    assert_eq!(e.message, "4624 logon user01 from ::1 (type 9)");
    let e = record(&events, 432905);
    assert_eq!(e.action, Action::ProcessRun);
    assert_attrs(
        e,
        &[
            ("file_path", "C:\\Windows\\System32\\cmd.exe"),
            ("event_id", "4688"),
        ],
    );
    assert_eq!(e.attr("cmd"), None, "CommandLine is empty in this log");
}

#[test]
fn network_service_and_log_cleared_fields() {
    let events =
        ok_events("Defense Evasion/DE_remote_eventlog_svc_crash_byt3bl33d3r_sysmon_17_1_3.evtx");
    let e = record(&events, 7380);
    assert_eq!(e.action, Action::NetworkIncoming, "Initiated is false");
    assert_attrs(
        e,
        &[
            ("remote_ip", "172.16.66.37"),
            ("remote_port", "50106"),
            ("local_ip", "172.16.66.36"),
            ("local_port", "445"),
            ("file_path", "System"),
        ],
    );

    let events = ok_events("Privilege Escalation/System_7045_namedpipe_privesc.evtx");
    let e = record(&events, 10446);
    assert_eq!(e.action, Action::RegistryWrite);
    let image =
        "%COMSPEC% /c ping -n 1 127.0.0.1 >nul && echo 'WinPwnage' > \\\\.\\pipe\\WinPwnagePipe";
    assert_attrs(
        e,
        &[
            ("service_name", "WinPwnage"),
            ("ImagePath", image),
            ("key_value", image),
            (
                "key_name",
                "HKLM\\SYSTEM\\CurrentControlSet\\Services\\WinPwnage",
            ),
        ],
    );

    let events = ok_events("Defense Evasion/DE_1102_security_log_cleared.evtx");
    let e = record(&events, 452811);
    assert_eq!(e.message, "1102 Security log cleared by EXAMPLE\\user01");
    assert_attrs(
        e,
        &[("SubjectUserName", "user01"), ("SubjectLogonId", "0x17dad")],
    );
}

#[test]
fn whole_corpus_parses_and_agrees_with_hayabusa() {
    let files = all_files();
    assert_eq!(files.len(), 228);
    let root = evtx_dir();
    let mut total = 0;
    let mut seen: HashMap<(String, u64), (String, String)> = HashMap::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .expect("under the corpus")
            .to_string_lossy()
            .replace('\\', "/");
        let events = ok_events(&relative);
        for e in &events {
            assert!(e.time.is_some(), "{relative}: {}", e.message);
            assert!(!e.raw.is_empty());
            let key = (relative.clone(), e.origin.record.expect("record id"));
            let value = (
                e.attr("event_id").unwrap_or_default().to_string(),
                e.attr("computer").unwrap_or_default().to_string(),
            );
            seen.insert(key, value);
        }
        total += events.len();
    }
    assert_eq!(total, 5431);

    let reference = corpus().join("reference/hayabusa-4.0.0-evtx.jsonl");
    let text = std::fs::read_to_string(&reference).expect("reference detections");
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let d: serde_json::Value = serde_json::from_str(line).expect("JSONL");
        let file = d["evtx_file"].as_str().expect("evtx_file").to_string();
        let id = d["record_id"].as_u64().expect("record_id");
        let found = seen
            .get(&(file.clone(), id))
            .unwrap_or_else(|| panic!("Hayabusa's {file} record {id} not produced"));
        assert_eq!(found.0, d["event_id"].to_string(), "{file} {id}");
        assert_eq!(
            Some(found.1.as_str()),
            d["computer"].as_str(),
            "{file} {id}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3854);
}

const RDP: &str = "Other/rdpcorets_148_mst120_bluekeep_rpdscan_full.evtx";

fn rdp_bytes() -> Vec<u8> {
    std::fs::read(evtx_dir().join(RDP)).expect("corpus file")
}

/// Record header ids of the good events, and the errors. (This log was exported: its
/// records' `EventRecordID`s are 845-1577, their header ids 1-733; the crate's errors and
/// `evtx_dump info` use the header ids.)
fn split(results: Vec<Result<Event, ArtifactError>>) -> (Vec<u64>, Vec<String>) {
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(e) => {
                let header = e.attr("header_record_id").or(e.attr("record_id"));
                let id: u64 = header.and_then(|id| id.parse().ok()).expect("record id");
                assert_eq!(e.origin.record, Some(id + 844));
                ids.push(id);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    (ids, errors)
}

#[test]
fn a_truncated_log_gives_the_records_before_the_cut_and_an_error() {
    // Chunks 0 and 1 hold records 1-236, chunk 2 records 237-355 (`evtx_dump info`).
    let mut bytes = rdp_bytes();
    bytes.truncate(4096 + 2 * 65536 + 30_000);
    let (ids, errors) = split(parse_bytes("Security.evtx", bytes));
    assert!(ids.len() > 236 && ids.len() < 355, "{}", ids.len());
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("truncated EVTX file"), "{errors:?}");

    // Cut inside the file header.
    let mut bytes = rdp_bytes();
    bytes.truncate(2000);
    let (ids, errors) = split(parse_bytes("Security.evtx", bytes));
    assert!(ids.is_empty());
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("truncated EVTX file"), "{errors:?}");
}

#[test]
fn a_corrupt_chunk_or_record_is_an_error_and_the_rest_is_read() {
    // Chunk 3 (records 356-476) loses its magic.
    let mut bytes = rdp_bytes();
    let chunk3 = 4096 + 3 * 65536;
    bytes[chunk3..chunk3 + 8].copy_from_slice(b"XXXXXXXX");
    let (ids, errors) = split(parse_bytes("Security.evtx", bytes));
    assert_eq!(ids.len(), 733 - 121);
    assert!(!ids.iter().any(|id| (356..=476).contains(id)));
    assert!(ids.contains(&355) && ids.contains(&477) && ids.contains(&733));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("chunk number 3"), "{errors:?}");

    // Record 400's BinXML is overwritten with 0xff bytes.
    let mut bytes = rdp_bytes();
    let at = find_record(&bytes, 400);
    bytes[at + 28..at + 64].fill(0xff);
    let (ids, errors) = split(parse_bytes("Security.evtx", bytes));
    assert_eq!(ids.len(), 732);
    assert!(!ids.contains(&400));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("record 400"), "{errors:?}");
}

/// Offset of the record header (`**\0\0`, size, id) of record `id`.
fn find_record(bytes: &[u8], id: u64) -> usize {
    bytes
        .windows(16)
        .position(|w| w[..4] == *b"**\0\0" && w[8..16] == id.to_le_bytes())
        .expect("record present")
}

#[test]
fn non_evtx_input_is_one_clear_error() {
    let auth = corpus().join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log");
    let bytes = std::fs::read(auth).unwrap_or_else(|_| b"not an event log\n".to_vec());
    let (ids, errors) = split(parse_bytes("Security.evtx", bytes));
    assert!(ids.is_empty());
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("not an EVTX file"), "{errors:?}");
}

#[test]
fn dropping_the_iterator_early_stops_cleanly() {
    let ctx = ArtifactContext {
        host: "h".into(),
        original_path: "Security.evtx".into(),
        modified: None,
    };
    let parser = parser_for("Security.evtx").expect("evtx");
    for take in [0, 1, 300] {
        let got = parser
            .parse(&ctx, Box::new(std::io::Cursor::new(rdp_bytes())))
            .take(take)
            .count();
        assert_eq!(got, take);
    }
}
