use super::*;
use chrono::TimeZone;
use riposte_model::Action;
use serde_json::json;

fn meta() -> Meta {
    Meta {
        host: "ws1".into(),
        path: "C:\\Windows\\System32\\winevt\\Logs\\Security.evtx".into(),
    }
}

fn system(provider: &str, channel: &str, id: serde_json::Value) -> serde_json::Value {
    json!({
        "Provider": {"#attributes": {"Name": provider, "Guid": "{0}"}},
        "EventID": id,
        "Level": 0,
        "Task": 12544,
        "Opcode": 0,
        "Keywords": "0x8020000000000000",
        "TimeCreated": {"#attributes": {"SystemTime": "2024-03-01T10:00:00.1234567Z"}},
        "EventRecordID": 77,
        "Correlation": null,
        "Channel": channel,
        "Computer": "WS1.corp.example",
        "Security": {"#attributes": {"UserID": "S-1-5-18"}}
    })
}

fn event(system: serde_json::Value, data: serde_json::Value) -> Event {
    let value = json!({"Event": {"System": system, "EventData": data}});
    build_event(value.to_string(), 5, None, &meta()).unwrap()
}

fn security(id: u32, data: serde_json::Value) -> Event {
    event(
        system("Microsoft-Windows-Security-Auditing", "Security", json!(id)),
        data,
    )
}

fn sysmon(id: u32, data: serde_json::Value) -> Event {
    event(
        system(
            "Microsoft-Windows-Sysmon",
            "Microsoft-Windows-Sysmon/Operational",
            json!(id),
        ),
        data,
    )
}

fn parse_bytes(bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
    let ctx = ArtifactContext {
        host: "ws1".into(),
        original_path: "/evidence/Security.evtx".into(),
        modified: None,
    };
    Evtx.parse(&ctx, Box::new(std::io::Cursor::new(bytes)))
        .collect()
}

#[test]
fn claims_evtx_names_only() {
    assert!(Evtx.claims("C:\\Windows\\System32\\winevt\\Logs\\Security.evtx"));
    assert!(Evtx.claims("/x/Microsoft-Windows-Sysmon%4Operational.EVTX"));
    assert!(Evtx.claims("a.EvTx"));
    assert!(!Evtx.claims("/x/.evtx"));
    assert!(!Evtx.claims("/x/Security.evtx.bak"));
    assert!(!Evtx.claims("/x/Security.evt"));
    assert!(!Evtx.claims("/var/log/auth.log"));
    assert!(!Evtx.claims("/x/é.évtx"));
}

#[test]
fn non_evtx_input_is_one_clear_error() {
    for input in [
        b"".to_vec(),
        b"Elf".to_vec(),
        b"Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password".to_vec(),
        b"ElfChnk\0 a chunk, not a file".to_vec(),
    ] {
        let results = parse_bytes(input);
        assert_eq!(results.len(), 1);
        let Err(ArtifactError::Read {
            record: 0, source, ..
        }) = &results[0]
        else {
            panic!("expected one read error, got {results:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::InvalidData);
        assert!(
            results[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("not an EVTX file")
        );
    }
}

#[test]
fn a_bare_or_short_header_is_an_error_not_a_panic() {
    let mut header = MAGIC.to_vec();
    header.resize(100, 0);
    let results = parse_bytes(header);
    assert_eq!(results.len(), 1, "{results:?}");
    assert!(results[0].is_err());

    // A whole header and no chunk: a valid, empty log.
    let mut header = MAGIC.to_vec();
    header.resize(4096, 0);
    let results = parse_bytes(header);
    assert!(results.iter().all(Result::is_err), "{results:?}");
}

#[test]
fn system_fields_become_attributes() {
    let e = security(
        4663,
        json!({"ObjectName": "C:\\secret.txt", "AccessMask": "0x1"}),
    );
    assert_eq!(e.host, "ws1");
    assert_eq!(e.action, Action::HostInfo);
    assert_eq!(e.message, "Microsoft-Windows-Security-Auditing 4663");
    assert_eq!(
        e.time,
        Some(
            Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_700)
        )
    );
    for (k, v) in [
        ("event_id", "4663"),
        ("provider", "Microsoft-Windows-Security-Auditing"),
        ("channel", "Security"),
        ("computer", "WS1.corp.example"),
        ("record_id", "77"),
        ("header_record_id", "5"),
        ("level", "0"),
        ("task", "12544"),
        ("opcode", "0"),
        ("keywords", "0x8020000000000000"),
        ("user_sid", "S-1-5-18"),
        ("ObjectName", "C:\\secret.txt"),
        ("AccessMask", "0x1"),
    ] {
        assert_eq!(e.attr(k), Some(v), "{k}");
    }
    assert_eq!(e.origin.parser, "evtx");
    assert_eq!(e.origin.record, Some(77));
    assert!(e.raw.starts_with("{\"Event\""));
}

#[test]
fn event_id_with_qualifiers_unnamed_data_and_user_data() {
    let mut sys = system(
        "MSSQLSERVER",
        "Application",
        json!({"#attributes": {"Qualifiers": 16384}, "#text": 15457}),
    );
    sys["Security"] = serde_json::Value::Null;
    let e = event(
        sys.clone(),
        json!({"Data": {"#text": ["show advanced options", "0", "1"]}, "Binary": "61"}),
    );
    assert_eq!(e.attr("event_id"), Some("15457"));
    assert_eq!(e.attr("Data[1]"), Some("show advanced options"));
    assert_eq!(e.attr("Data[3]"), Some("1"));
    assert_eq!(e.attr("Binary"), Some("61"));
    assert_eq!(e.attr("user_sid"), None);
    assert_eq!(e.message, "MSSQLSERVER 15457");

    let value = json!({"Event": {
        "System": system("Microsoft-Windows-Eventlog", "Security", json!(1102)),
        "UserData": {"LogFileCleared": {
            "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
            "SubjectUserSid": "S-1-5-21-1", "SubjectUserName": "user01", "SubjectDomainName": "EXAMPLE",
            "Nested": {"Inner": "x"}
        }}
    }});
    let e = build_event(value.to_string(), 1, None, &meta()).unwrap();
    assert_eq!(e.attr("SubjectUserName"), Some("user01"));
    assert_eq!(e.attr("Nested.Inner"), Some("x"));
    assert_eq!(e.attr("xmlns"), None);
    assert_eq!(e.action, Action::HostInfo);
    assert_eq!(e.message, "1102 Security log cleared by EXAMPLE\\user01");
    assert_eq!(e.attr("username"), Some("user01"));
}

#[test]
fn sysmon_process_create_is_a_run() {
    let e = sysmon(
        1,
        json!({
            "ProcessId": 3320, "Image": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe /c whoami ", "User": "IEWIN7\\IEUser",
            "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
            "ParentProcessId": 2800, "Hashes": "SHA1=EE8C", "RuleName": ""
        }),
    );
    assert_eq!(e.action, Action::ProcessRun);
    assert_eq!(e.message, "Sysmon 1 process cmd.exe /c whoami");
    for (k, v) in [
        ("cmd", "cmd.exe /c whoami"),
        ("CommandLine", "cmd.exe /c whoami "),
        ("file_path", "C:\\Windows\\System32\\cmd.exe"),
        ("file_name", "cmd.exe"),
        ("pid", "3320"),
        ("parent_path", "C:\\Windows\\explorer.exe"),
        ("parent_cmd", "C:\\Windows\\Explorer.EXE"),
        ("parent_pid", "2800"),
        ("username", "IEWIN7\\IEUser"),
        ("process_hash", "SHA1=EE8C"),
        ("RuleName", ""),
    ] {
        assert_eq!(e.attr(k), Some(v), "{k}");
    }
}

#[test]
fn security_process_create_is_a_run_with_decimal_pids() {
    let e = security(
        4688,
        json!({
            "NewProcessId": "0x440", "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "", "ProcessId": "0x448", "SubjectUserName": "PC01$", "SubjectDomainName": "EXAMPLE"
        }),
    );
    assert_eq!(e.action, Action::ProcessRun);
    assert_eq!(e.message, "4688 process C:\\Windows\\System32\\cmd.exe");
    assert_eq!(e.attr("pid"), Some("1088"));
    assert_eq!(e.attr("parent_pid"), Some("1096"));
    assert_eq!(
        e.attr("cmd"),
        None,
        "empty command lines are not normalized"
    );
    assert_eq!(e.attr("username"), Some("PC01$"));
    assert_eq!(e.attr("file_name"), Some("cmd.exe"));
}

#[test]
fn logons_failures_and_logoffs() {
    let data = json!({"TargetUserName": "bob", "TargetDomainName": "CORP", "IpAddress": "10.0.0.5", "IpPort": "50106", "LogonType": 3, "WorkstationName": "-"});
    let e = security(4624, data.clone());
    assert_eq!(e.action, Action::UserLogon);
    assert_eq!(e.message, "4624 logon bob from 10.0.0.5 (type 3)");
    assert_eq!(e.attr("username"), Some("bob"));
    assert_eq!(e.attr("remote_ip"), Some("10.0.0.5"));
    assert_eq!(e.attr("remote_port"), Some("50106"));
    assert_eq!(e.attr("logon_type"), Some("3"));
    assert_eq!(e.attr("domain"), Some("CORP"));
    assert_eq!(e.attr("remote_host"), None, "`-` is no value");

    let e = security(
        4625,
        json!({"TargetUserName": "IEUser", "IpAddress": "-", "IpPort": "-", "LogonType": "2"}),
    );
    assert_eq!(e.action, Action::UserLogonFailed);
    assert_eq!(e.message, "4625 failed logon IEUser (type 2)");
    assert_eq!(e.attr("remote_ip"), None);

    for id in [4634, 4647] {
        let e = security(id, json!({"TargetUserName": "bob", "LogonType": 3}));
        assert_eq!(e.action, Action::UserLogoff);
        assert_eq!(e.message, format!("{id} logoff bob"));
    }
    // The same ids from another provider are not logons.
    let e = event(system("Some-App", "Application", json!(4624)), data);
    assert_eq!(e.action, Action::HostInfo);
}

#[test]
fn sysmon_network_direction() {
    let data = json!({"Image": "System", "ProcessId": 4, "Protocol": "tcp", "Initiated": "false",
        "SourceIp": "172.16.66.37", "SourcePort": 50106, "SourceHostname": "-",
        "DestinationIp": "172.16.66.36", "DestinationPort": 445, "DestinationHostname": "ws1"});
    let e = sysmon(3, data.clone());
    assert_eq!(e.action, Action::NetworkIncoming);
    assert_eq!(e.attr("remote_ip"), Some("172.16.66.37"));
    assert_eq!(e.attr("remote_port"), Some("50106"));
    assert_eq!(e.attr("local_ip"), Some("172.16.66.36"));
    assert_eq!(e.attr("local_port"), Some("445"));
    assert_eq!(
        e.message,
        "Sysmon 3 connection System <- 172.16.66.37:50106"
    );

    let mut out = data;
    out["Initiated"] = json!("true");
    let e = sysmon(3, out);
    assert_eq!(e.action, Action::NetworkOutgoing);
    assert_eq!(e.attr("remote_ip"), Some("172.16.66.36"));
    assert_eq!(e.attr("remote_port"), Some("445"));
    assert_eq!(e.attr("remote_host"), Some("ws1"));
    assert_eq!(e.attr("local_ip"), Some("172.16.66.37"));
    assert_eq!(e.attr("protocol"), Some("tcp"));
}

#[test]
fn sysmon_files_registry_and_injection() {
    let e = sysmon(
        11,
        json!({"Image": "C:\\w\\x.exe", "TargetFilename": "C:\\Users\\a\\evil.dll", "ProcessId": 9}),
    );
    assert_eq!(e.action, Action::FileCreate);
    assert_eq!(e.attr("file_path"), Some("C:\\Users\\a\\evil.dll"));
    assert_eq!(e.attr("file_name"), Some("evil.dll"));
    assert_eq!(e.attr("process_path"), Some("C:\\w\\x.exe"));
    assert_eq!(
        sysmon(23, json!({"TargetFilename": "C:\\a"})).action,
        Action::FileDelete
    );

    let e = sysmon(
        13,
        json!({"EventType": "SetValue", "TargetObject": "HKLM\\Run\\x", "Details": "DWORD (0x00000000)"}),
    );
    assert_eq!(e.action, Action::RegistryWrite);
    assert_eq!(e.attr("key_name"), Some("HKLM\\Run\\x"));
    assert_eq!(e.attr("key_value"), Some("DWORD (0x00000000)"));
    assert_eq!(e.message, "Sysmon 13 SetValue HKLM\\Run\\x");
    assert_eq!(
        sysmon(12, json!({"EventType": "CreateKey", "TargetObject": "k"})).action,
        Action::RegistryWrite
    );
    assert_eq!(
        sysmon(12, json!({"EventType": "DeleteValue", "TargetObject": "k"})).action,
        Action::RegistryDelete
    );
    let e = sysmon(
        14,
        json!({"EventType": "RenameKey", "TargetObject": "k", "NewName": "k2"}),
    );
    assert_eq!(e.action, Action::RegistryRename);
    assert_eq!(e.attr("key_new_name"), Some("k2"));

    let e = sysmon(
        8,
        json!({"SourceImage": "m.exe", "SourceProcessId": 1, "TargetImage": "C:\\Windows\\explorer.exe", "TargetProcessId": 2}),
    );
    assert_eq!(e.action, Action::ProcessInjection);
    assert_eq!(e.attr("file_path"), Some("C:\\Windows\\explorer.exe"));
    assert_eq!(e.attr("pid"), Some("2"));
    assert_eq!(e.attr("injector_path"), Some("m.exe"));
    assert_eq!(e.attr("injector_pid"), Some("1"));
    assert_eq!(
        e.message,
        "Sysmon 8 remote thread m.exe -> C:\\Windows\\explorer.exe"
    );
    let e = sysmon(
        10,
        json!({"SourceImage": "a.exe", "TargetImage": "lsass.exe", "GrantedAccess": "0x1010"}),
    );
    assert_eq!(e.action, Action::ProcessInjection);
    assert_eq!(e.attr("granted_access"), Some("0x1010"));
    // Not Sysmon: event 1 of another provider is not a process.
    let e = event(
        system("Other", "Application", json!(1)),
        json!({"Image": "x"}),
    );
    assert_eq!(e.action, Action::HostInfo);
}

#[test]
fn service_installs_are_registry_writes() {
    let e = event(
        system("Service Control Manager", "System", json!(7045)),
        json!({"ServiceName": "WinPwnage", "ImagePath": "%COMSPEC% /c echo x", "AccountName": "LocalSystem"}),
    );
    assert_eq!(e.action, Action::RegistryWrite);
    assert_eq!(
        e.message,
        "7045 service installed WinPwnage: %COMSPEC% /c echo x"
    );
    assert_eq!(
        e.attr("key_name"),
        Some("HKLM\\SYSTEM\\CurrentControlSet\\Services\\WinPwnage")
    );
    assert_eq!(e.attr("key_value"), Some("%COMSPEC% /c echo x"));
    assert_eq!(e.attr("cmd"), Some("%COMSPEC% /c echo x"));
    assert_eq!(e.attr("service_account"), Some("LocalSystem"));
    let e = security(
        4697,
        json!({"ServiceName": "s", "ServiceFileName": "C:\\s.exe", "ServiceAccount": "LocalSystem", "SubjectUserName": "bob"}),
    );
    assert_eq!(e.action, Action::RegistryWrite);
    assert_eq!(e.attr("key_value"), Some("C:\\s.exe"));
    assert_eq!(e.attr("username"), Some("bob"));
}

#[test]
fn odd_records_still_make_events() {
    // No System at all, a scalar EventData, a bad SystemTime: the header's time is used.
    let header = Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).single();
    let value = json!({"Event": {"EventData": "free text"}});
    let e = build_event(value.to_string(), 9, header, &meta()).unwrap();
    assert_eq!(e.time, header);
    assert_eq!(e.attr("time_source"), Some("record_header"));
    assert_eq!(e.attr("Data"), Some("free text"));
    assert_eq!(e.attr("record_id"), Some("9"));
    assert_eq!(e.origin.record, Some(9));
    assert_eq!(e.message, "unknown provider ?");
    let mut sys = system("P", "C", json!(1));
    sys["TimeCreated"] = json!({"#attributes": {"SystemTime": "yesterday"}});
    let value = json!({"Event": {"System": sys}});
    let e = build_event(value.to_string(), 77, None, &meta()).unwrap();
    assert_eq!(e.time, None);
    assert_eq!(e.attr("header_record_id"), None);
    let e = build_event("[1, 2]".into(), 1, None, &meta()).unwrap();
    assert_eq!(e.action, Action::HostInfo);
    assert_eq!(e.raw, "[1, 2]");
    for bad in [
        "",
        "{",
        "{\"Event\": {\"System\": 1}} trailing",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ] {
        assert!(build_event(bad.into(), 1, None, &meta()).is_err(), "{bad}");
    }
    // Odd but valid shapes inside the record.
    let odd = json!({"Event": {"System": {"Provider": [1], "EventID": [1, 2], "TimeCreated": "x", "Security": 5},
        "EventData": {"A": {"B": {"#text": "t", "C": null}}, "L": [{"x": 1}, null]}, "UserData": {"W": "scalar"}}});
    let e = build_event(odd.to_string(), 1, None, &meta()).unwrap();
    assert_eq!(e.attr("event_id"), None);
    assert_eq!(e.attr("A.B"), Some("t"));
    assert_eq!(e.attr("A.B.C"), Some(""));
    assert_eq!(e.attr("L[1].x"), Some("1"));
    assert_eq!(e.attr("L[2]"), Some(""));
    assert_eq!(e.attr("Data"), Some("scalar"));
}

/// A real log from the shared corpus (read in place: GPL-licensed).
fn corpus_log() -> Vec<u8> {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join("evtx/Other/rdpcorets_148_mst120_bluekeep_rpdscan_full.evtx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{} (set RIPOSTE_CORPUS): {e}", path.display()))
}

fn parse_with_cap(bytes: Vec<u8>, cap: usize) -> (usize, Vec<String>) {
    let ctx = ArtifactContext {
        host: "ws1".into(),
        original_path: "Security.evtx".into(),
        modified: None,
    };
    let records = Records::new(&ctx, Box::new(std::io::Cursor::new(bytes)), cap);
    let (mut ok, mut errors) = (0, Vec::new());
    for r in records {
        match r {
            Ok(_) => ok += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    (ok, errors)
}

#[test]
fn logs_over_the_memory_cap_are_spilled_to_a_temporary_file() {
    let log = corpus_log();
    // 733 records in 7 chunks (evtx_dump), the same whether in memory or spilled.
    assert_eq!(parse_with_cap(log.clone(), MAX_IN_MEMORY), (733, vec![]));
    assert_eq!(parse_with_cap(log.clone(), 100_000), (733, vec![]));
    assert_eq!(parse_with_cap(log.clone(), 0), (733, vec![]));
    // A truncated log is padded in the temporary file just as in memory.
    let cut = log[..4096 + 2 * 65536 + 30_000].to_vec();
    let in_memory = parse_with_cap(cut.clone(), MAX_IN_MEMORY);
    let spilled = parse_with_cap(cut, 100_000);
    assert_eq!(in_memory, spilled);
    assert!(in_memory.0 > 236 && in_memory.1.len() == 1, "{in_memory:?}");
}
