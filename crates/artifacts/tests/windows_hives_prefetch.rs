//! The registry, Amcache and prefetch parsers against third-party tools.
//!
//! Prefetch: two real Windows 10 (MAM-compressed) files under `testdata/prefetch`,
//! checked against `sccainfo` (libscca-utils). Registry: hives written by `hivexsh`
//! (libhivex-bin, from an empty hive made here) and checked against `reglookup` (key
//! paths, values, last-write times) and regipy's plugins (UserAssist, ShimCache, Amcache
//! decoding). Corrupt input: every truncation step and random byte flips give events
//! and errors, never a panic.

use chrono::{DateTime, NaiveDateTime, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, open_artifact, parser_for};
use riposte_model::{Action, Event};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "support/empty_hive.rs"]
mod empty_hive;
use empty_hive::empty_hive;

fn parse_as(parser: &str, original_path: &str, bytes: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    let p = parser_for(original_path).unwrap_or_else(|| panic!("no parser claims {original_path}"));
    assert_eq!(p.name(), parser, "{original_path}");
    let ctx = ArtifactContext {
        host: "evidence".into(),
        original_path: original_path.into(),
        modified: None,
    };
    p.parse(&ctx, open_artifact(bytes).unwrap()).collect()
}

fn all_ok(results: Vec<Result<Event, ArtifactError>>) -> Vec<Event> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("unexpected error: {e}")))
        .collect()
}

fn run(program: &str, args: &[&str], stdin: Option<&str>, package: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): install {package}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn attr<'e>(e: &'e Event, key: &str) -> &'e str {
    e.attributes.get(key).map(String::as_str).unwrap_or("")
}

// ---------------------------------------------------------------- prefetch

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// `Sep 18, 2020 22:44:32.551352300 UTC` (sccainfo's format).
fn scca_time(s: &str) -> DateTime<Utc> {
    let s = s.trim().trim_end_matches(" UTC");
    NaiveDateTime::parse_from_str(s, "%b %d, %Y %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("sccainfo time {s:?}: {e}"))
        .and_utc()
}

/// The `key : value` lines of sccainfo's report, in order.
fn sccainfo(path: &Path) -> Vec<(String, String)> {
    run(
        "sccainfo",
        &[path.to_str().unwrap()],
        None,
        "the Debian package libscca-utils",
    )
    .lines()
    .filter_map(|l| l.split_once(':'))
    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
    .collect()
}

#[test]
fn windows10_prefetch_agrees_with_sccainfo() {
    for name in ["AM_DELTA.EXE-78CA83B0.pf", "AUDIODG.EXE-AB22E9A6.pf"] {
        let path = testdata(&format!("prefetch/{name}"));
        let report = sccainfo(&path);
        let get = |key: &str| {
            report
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("sccainfo has no {key}"))
        };
        let bytes = std::fs::read(&path).unwrap();
        let events = all_ok(parse_as(
            "prefetch",
            &format!("C:\\Windows\\Prefetch\\{name}"),
            &bytes,
        ));
        // One run event per set last-run time, most recent first.
        // "Last run time: 1 : Sep 18, …" splits into ("Last run time", "1 : Sep 18, …").
        let times: Vec<DateTime<Utc>> = report
            .iter()
            .filter(|(k, v)| k == "Last run time" && !v.contains("Not set"))
            .map(|(_, v)| scca_time(v.split_once(':').map(|(_, t)| t).unwrap_or(v)))
            .collect();
        assert!(!times.is_empty(), "{name}");
        assert_eq!(events.len(), times.len(), "{name}");
        let filenames: Vec<String> = report
            .iter()
            .filter(|(k, _)| k == "Filename")
            .map(|(_, v)| {
                v.split_once(':')
                    .map(|(_, p)| p.trim().to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(get("Number of filenames"), filenames.len().to_string());
        for (i, (event, time)) in events.iter().zip(&times).enumerate() {
            assert_eq!(event.action, Action::ProcessRun);
            assert_eq!(event.time, Some(*time), "{name} run {i}");
            assert_eq!(attr(event, "run_index"), (i + 1).to_string());
            assert_eq!(attr(event, "file_name"), get("Executable filename"));
            assert_eq!(attr(event, "run_count"), get("Run count"));
            assert_eq!(attr(event, "prefetch_version"), get("Format version"));
            assert_eq!(
                format!("0x{}", attr(event, "prefetch_hash").to_lowercase()),
                get("Prefetch hash")
            );
            assert_eq!(attr(event, "volume_path"), get("Device path"));
            assert_eq!(
                format!("0x{}", attr(event, "volume_serial").to_lowercase()),
                get("Serial number")
            );
            assert_eq!(
                attr(event, "volume_created")
                    .parse::<DateTime<Utc>>()
                    .unwrap(),
                scca_time(&get("Creation time"))
            );
            let ours: Vec<&str> = attr(event, "referenced_files").lines().collect();
            assert_eq!(ours, filenames, "{name}");
            assert!(
                filenames.contains(&attr(event, "file_path").to_string())
                    && attr(event, "file_path")
                        .ends_with(&format!("\\{}", get("Executable filename"))),
                "{}",
                attr(event, "file_path")
            );
        }
    }
}

// ---------------------------------------------------------------- registry

/// Writes a hive with hivexsh commands; returns its bytes and its path.
fn hivex_hive(dir: &Path, name: &str, script: &str) -> (Vec<u8>, PathBuf) {
    let path = dir.join(name);
    std::fs::write(&path, empty_hive()).unwrap();
    run(
        "hivexsh",
        &["-w", path.to_str().unwrap()],
        Some(&format!("{script}\ncommit\n")),
        "the Debian package libhivex-bin",
    );
    (std::fs::read(&path).unwrap(), path)
}

/// reglookup's rows: path → (type, value, mtime).
fn reglookup(path: &Path) -> HashMap<String, (String, String, String)> {
    run(
        "reglookup",
        &[path.to_str().unwrap()],
        None,
        "the Debian package reglookup",
    )
    .lines()
    .skip(1)
    .filter_map(|l| {
        let mut cols = l.rsplitn(2, ',');
        let mtime = cols.next()?.to_string();
        let rest = cols.next()?;
        let (path, rest) = rest.split_once(',')?;
        let (kind, value) = rest.split_once(',')?;
        Some((unescape(path), (kind.to_string(), unescape(value), mtime)))
    })
    .collect()
}

/// Undoes reglookup's `%XX` escaping of special characters.
fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let code = b
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], code) {
            (b'%', Some(c)) => {
                out.push(c);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a regipy plugin on the hive and returns its entries as JSON.
fn regipy(path: &Path, module: &str, class: &str) -> Vec<serde_json::Value> {
    let code = format!(
        "import json,sys\nfrom regipy.registry import RegistryHive\nfrom {module} import {class} as P\n\
         p = P(RegistryHive(sys.argv[1]), as_json=True)\np.run()\nprint(json.dumps(p.entries))"
    );
    let out = run(
        "python3",
        &["-c", &code, path.to_str().unwrap()],
        None,
        "the PyPI package regipy",
    );
    let parsed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    match parsed {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => o
            .into_values()
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .collect(),
        other => panic!("unexpected regipy output {other}"),
    }
}

fn reglookup_time(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
}

fn seconds(e: &str) -> DateTime<Utc> {
    let t: DateTime<Utc> = e.parse().unwrap();
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

const FILETIMES: [u64; 3] = [
    0x01d6_8e0b_2f3c_4d5e,
    0x01d7_1234_5678_9abc,
    0x01da_0102_0304_0506,
];

fn userassist_data(run_count: u32, focus: u32, last: u64) -> Vec<u8> {
    let mut d = vec![0u8; 72];
    d[4..8].copy_from_slice(&run_count.to_le_bytes());
    d[8..12].copy_from_slice(&focus.to_le_bytes());
    d[12..16].copy_from_slice(&12345u32.to_le_bytes());
    d[60..68].copy_from_slice(&last.to_le_bytes());
    d
}

fn ntuser_script() -> String {
    let programs = [
        ("C:\\Tools\\PsExec.exe", 7, 3, FILETIMES[0]),
        ("C:\\Users\\bob\\Downloads\\invoice.exe", 1, 1, FILETIMES[1]),
    ];
    let mut values = String::new();
    for (name, runs, focus, last) in programs {
        values.push_str(&format!(
            "{}\nhex:3:{}\n",
            rot13(name),
            hex(&userassist_data(runs, focus, last))
        ));
    }
    format!(
        "add Software\ncd Software\nadd Microsoft\ncd Microsoft\nadd Windows\ncd Windows\n\
         add CurrentVersion\ncd CurrentVersion\nadd Run\ncd Run\nsetval 2\nOneDrive\n\
         string:\"C:\\Users\\bob\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background\n\
         Updater\nstring:powershell.exe -nop -w hidden -enc SQBFAFgA\ncd ..\nadd Explorer\ncd Explorer\n\
         add UserAssist\ncd UserAssist\nadd {{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}}\n\
         cd {{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}}\nadd Count\ncd Count\nsetval 2\n{values}"
    )
}

#[test]
fn ntuser_run_keys_and_userassist_agree_with_reglookup_and_regipy() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, path) = hivex_hive(dir.path(), "NTUSER.DAT", &ntuser_script());
    let events = all_ok(parse_as("registry", "C:\\Users\\bob\\NTUSER.DAT", &bytes));
    let rows = reglookup(&path);

    let run_key = "/Software/Microsoft/Windows/CurrentVersion/Run";
    let runs: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::RegistryExists)
        .collect();
    let expected: Vec<(&String, &(String, String, String))> = rows
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{run_key}/")))
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs.len(), expected.len());
    let key_time = reglookup_time(&rows[run_key].2);
    for (path, (_, value, _)) in expected {
        let name = path.rsplit('/').next().unwrap();
        let e = runs
            .iter()
            .find(|e| attr(e, "value_name") == name)
            .unwrap_or_else(|| panic!("no event for {name}"));
        assert_eq!(attr(e, "key_value"), value);
        assert_eq!(attr(e, "cmd"), value);
        assert_eq!(
            attr(e, "key_name"),
            "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
        );
        assert_eq!(attr(e, "username"), "bob");
        assert_eq!(attr(e, "time_source"), "key_last_written");
        assert_eq!(e.time.map(|t| seconds(&t.to_rfc3339())), Some(key_time));
    }

    let assists: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::ProcessRun)
        .collect();
    let mut reference = regipy(
        &path,
        "regipy.plugins.ntuser.user_assist",
        "UserAssistPlugin",
    );
    // regipy lists the GUIDs Windows 7 and 8 share twice, so it reports their entries twice.
    reference.dedup_by(|a, b| a["name"] == b["name"]);
    reference.sort_by_key(|r| r["name"].to_string());
    reference.dedup_by(|a, b| a["name"] == b["name"]);
    assert_eq!(assists.len(), reference.len());
    assert_eq!(assists.len(), 2);
    for entry in reference {
        let name = entry["name"].as_str().unwrap();
        let e = assists
            .iter()
            .find(|e| attr(e, "file_path") == name)
            .unwrap_or_else(|| panic!("no event for {name}"));
        assert_eq!(attr(e, "run_count"), entry["run_counter"].to_string());
        assert_eq!(attr(e, "focus_count"), entry["focus_count"].to_string());
        assert_eq!(attr(e, "time_source"), "last_executed");
        let theirs: DateTime<Utc> = format!(
            "{}Z",
            entry["timestamp"]
                .as_str()
                .unwrap()
                .trim_end_matches("+00:00")
        )
        .parse()
        .unwrap();
        assert_eq!(
            e.time.map(|t| t.timestamp_micros()),
            Some(theirs.timestamp_micros())
        );
    }
}

/// `SOFTWARE` has no `Software\` level: its autostarts sit at `Microsoft\Windows\…\Run`,
/// `Wow6432Node\…` and `…\Policies\Explorer\Run`; a value elsewhere is no autostart.
#[test]
fn software_run_keys_agree_with_reglookup() {
    let dir = tempfile::tempdir().unwrap();
    let script = "add Microsoft\ncd Microsoft\nadd Windows\ncd Windows\nadd CurrentVersion\n\
                  cd CurrentVersion\nadd Run\ncd Run\nsetval 2\nSecurityHealth\n\
                  expandstring:%windir%\\system32\\SecurityHealthSystray.exe\nsvc\n\
                  string:C:\\ProgramData\\svc.exe -k\ncd ..\nadd Policies\ncd Policies\n\
                  add Explorer\ncd Explorer\nadd Run\ncd Run\nsetval 1\npol\n\
                  string:C:\\Windows\\Temp\\p.exe\ncd ..\ncd ..\ncd ..\nadd Explorer\n\
                  cd Explorer\nsetval 1\nNotAnAutostart\nstring:x.exe\ncd \\\n\
                  add Wow6432Node\ncd Wow6432Node\nadd Microsoft\ncd Microsoft\nadd Windows\n\
                  cd Windows\nadd CurrentVersion\ncd CurrentVersion\nadd RunOnce\ncd RunOnce\n\
                  setval 1\nonce\nstring:\"C:\\Program Files (x86)\\a b\\x.exe\" /q";
    let (bytes, path) = hivex_hive(dir.path(), "SOFTWARE", script);
    let events = all_ok(parse_as(
        "registry",
        "C:\\Windows\\System32\\config\\SOFTWARE",
        &bytes,
    ));
    let rows = reglookup(&path);
    let run_keys = [
        "/Microsoft/Windows/CurrentVersion/Run",
        "/Microsoft/Windows/CurrentVersion/Policies/Explorer/Run",
        "/Wow6432Node/Microsoft/Windows/CurrentVersion/RunOnce",
    ];
    let expected: Vec<(&String, &(String, String, String))> = rows
        .iter()
        .filter(|(p, (kind, _, _))| {
            kind != "KEY"
                && run_keys
                    .iter()
                    .any(|k| p.rsplit_once('/').map(|(key, _)| key) == Some(*k))
        })
        .collect();
    assert_eq!(expected.len(), 4, "{rows:?}");
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for (value_path, (_, value, _)) in expected {
        let (key, name) = value_path.rsplit_once('/').unwrap();
        let e = events
            .iter()
            .find(|e| attr(e, "value_name") == name)
            .unwrap_or_else(|| panic!("no event for {value_path}"));
        assert_eq!(e.action, Action::RegistryExists);
        assert_eq!(
            attr(e, "key_name"),
            format!("HKLM\\SOFTWARE{}", key.replace('/', "\\"))
        );
        assert_eq!(attr(e, "key_value"), value);
        assert_eq!(attr(e, "cmd"), value);
        assert_eq!(
            e.time.map(|t| seconds(&t.to_rfc3339())),
            Some(reglookup_time(&rows[key].2))
        );
    }
}

/// A Windows 10 AppCompatCache value with these (path, modified) entries.
fn shimcache_win10(entries: &[(&str, u64)]) -> Vec<u8> {
    let mut v = vec![0u8; 0x34];
    v[0..4].copy_from_slice(&0x34u32.to_le_bytes());
    for (path, modified) in entries {
        let path = utf16(path);
        let mut body = Vec::new();
        body.extend((path.len() as u16).to_le_bytes());
        body.extend(&path);
        body.extend(modified.to_le_bytes());
        body.extend(4u32.to_le_bytes());
        body.extend([1, 2, 3, 4]);
        v.extend(b"10ts");
        v.extend(0u32.to_le_bytes());
        v.extend((body.len() as u32).to_le_bytes());
        v.extend(body);
    }
    v
}

/// A Windows 8.0 (`00ts`) or 8.1 (`10ts`) AppCompatCache value: a 0x80-byte header, then
/// entries of signature, hash, size, path, package name, insert and shim flags, last
/// modification time and data (the layout Mandiant's ShimCacheParser, in regipy, reads).
fn shimcache_win8(signature: &[u8; 4], entries: &[(&str, u64, u32)]) -> Vec<u8> {
    let mut v = vec![0u8; 0x80];
    v[0..4].copy_from_slice(&0x80u32.to_le_bytes());
    for (path, modified, flags) in entries {
        let path = utf16(path);
        let package = utf16("Microsoft.WindowsStore_8wekyb3d8bbwe");
        let mut body = Vec::new();
        body.extend((path.len() as u16).to_le_bytes());
        body.extend(&path);
        body.extend((package.len() as u16).to_le_bytes());
        body.extend(&package);
        body.extend(flags.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        body.extend(modified.to_le_bytes());
        body.extend(4u32.to_le_bytes());
        body.extend([1, 2, 3, 4]);
        v.extend(signature);
        v.extend(0u32.to_le_bytes());
        v.extend((body.len() as u32).to_le_bytes());
        v.extend(body);
    }
    v
}

/// A Windows 7 x86 AppCompatCache value (magic, count, 32-byte entries, then the paths).
fn shimcache_win7_x86(entries: &[(&str, u64, u32)]) -> Vec<u8> {
    let mut v = vec![0u8; 0x80];
    v[0..4].copy_from_slice(&0xBADC_0FEEu32.to_le_bytes());
    v[4..8].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut strings_at = 0x80 + 32 * entries.len();
    let mut strings = Vec::new();
    for (path, modified, flags) in entries {
        let path = utf16(path);
        v.extend((path.len() as u16).to_le_bytes());
        v.extend((path.len() as u16 + 2).to_le_bytes());
        v.extend((strings_at as u32).to_le_bytes());
        v.extend(modified.to_le_bytes());
        v.extend(flags.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend(0u32.to_le_bytes());
        strings.extend(&path);
        strings.extend([0, 0]);
        strings_at += path.len() + 2;
    }
    v.extend(strings);
    v
}

/// A Windows 7 x64 AppCompatCache value (magic, count, 48-byte entries, then the paths).
fn shimcache_win7(entries: &[(&str, u64, u32)]) -> Vec<u8> {
    let mut v = vec![0u8; 0x80];
    v[0..4].copy_from_slice(&0xBADC_0FEEu32.to_le_bytes());
    v[4..8].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut strings_at = 0x80 + 48 * entries.len();
    let mut strings = Vec::new();
    for (path, modified, flags) in entries {
        let path = utf16(path);
        let mut e = Vec::new();
        e.extend((path.len() as u16).to_le_bytes());
        e.extend((path.len() as u16 + 2).to_le_bytes());
        e.extend(0u32.to_le_bytes());
        e.extend((strings_at as u64).to_le_bytes());
        e.extend(modified.to_le_bytes());
        e.extend(flags.to_le_bytes());
        e.extend(0u32.to_le_bytes());
        e.extend(0u64.to_le_bytes());
        e.extend(0u64.to_le_bytes());
        v.extend(e);
        strings.extend(&path);
        strings.extend([0, 0]);
        strings_at += path.len() + 2;
    }
    v.extend(strings);
    v
}

fn system_script(shimcache: &[u8]) -> String {
    format!(
        "add Select\ncd Select\nsetval 1\nCurrent\ndword:0x2\ncd ..\n\
         add ControlSet001\ncd ControlSet001\nadd Services\ncd Services\nadd Stale\ncd Stale\nsetval 1\n\
         ImagePath\nstring:C:\\old.exe\ncd ..\ncd ..\nadd Control\ncd Control\nadd \"Session Manager\"\n\
         cd \"Session Manager\"\nadd AppCompatCache\ncd \\\n\
         add ControlSet002\ncd ControlSet002\nadd Services\ncd Services\n\
         add evilsvc\ncd evilsvc\nsetval 4\nImagePath\nexpandstring:%SystemRoot%\\Temp\\evil.exe -k\n\
         Start\ndword:0x2\nType\ndword:0x10\nObjectName\nstring:LocalSystem\ncd ..\n\
         add netsvcx\ncd netsvcx\nsetval 2\nImagePath\nexpandstring:%SystemRoot%\\system32\\svchost.exe -k netsvcs\n\
         Start\ndword:0x3\nadd Parameters\ncd Parameters\nsetval 1\nServiceDll\nexpandstring:C:\\ProgramData\\x.dll\n\
         cd ..\ncd ..\nadd NoImage\ncd ..\nadd Control\ncd Control\nadd \"Session Manager\"\n\
         cd \"Session Manager\"\nadd AppCompatCache\ncd AppCompatCache\nsetval 1\nAppCompatCache\nhex:3:{}\n\
         cd \\\nadd MountedDevices\ncd MountedDevices\nsetval 2\n\\DosDevices\\C:\nhex:3:{}\n\
         \\DosDevices\\E:\nhex:3:{}",
        hex(shimcache),
        hex(&[0x78, 0x56, 0x34, 0x12, 0, 0, 0x10, 0, 0, 0, 0, 0]),
        hex(&utf16(
            "\\??\\USBSTOR#Disk&Ven_SanDisk&Prod_Cruzer#123&0#{53f56307}"
        )),
    )
}

#[test]
fn system_services_shimcache_and_mounted_devices_agree_with_reglookup_and_regipy() {
    let dir = tempfile::tempdir().unwrap();
    for (name, cache, executed) in [
        (
            "win10",
            shimcache_win10(&[
                ("C:\\Windows\\Temp\\evil.exe", FILETIMES[2]),
                ("C:\\Tools\\nc.exe", FILETIMES[0]),
            ]),
            None,
        ),
        (
            "win7",
            shimcache_win7(&[
                ("C:\\Windows\\Temp\\evil.exe", FILETIMES[2], 2),
                ("C:\\Tools\\nc.exe", FILETIMES[0], 0),
            ]),
            Some(["true", "false"]),
        ),
        (
            "win7x86",
            shimcache_win7_x86(&[
                ("C:\\Windows\\Temp\\evil.exe", FILETIMES[2], 2),
                ("C:\\Tools\\nc.exe", FILETIMES[0], 0),
            ]),
            Some(["true", "false"]),
        ),
        (
            "win8",
            shimcache_win8(
                b"00ts",
                &[
                    ("C:\\Windows\\Temp\\evil.exe", FILETIMES[2], 2),
                    ("C:\\Tools\\nc.exe", FILETIMES[0], 0),
                ],
            ),
            Some(["true", "false"]),
        ),
        (
            "win81",
            shimcache_win8(
                b"10ts",
                &[
                    ("C:\\Windows\\Temp\\evil.exe", FILETIMES[2], 2),
                    ("C:\\Tools\\nc.exe", FILETIMES[0], 0),
                ],
            ),
            Some(["true", "false"]),
        ),
    ] {
        let hive_dir = dir.path().join(name);
        std::fs::create_dir_all(&hive_dir).unwrap();
        let script = system_script(&cache).replace("\"Session Manager\"", "Session Manager");
        let (bytes, path) = hivex_hive(&hive_dir, "SYSTEM", &script);
        let events = all_ok(parse_as(
            "registry",
            "C:\\Windows\\System32\\config\\SYSTEM",
            &bytes,
        ));
        let rows = reglookup(&path);

        // Services: only the current control set (Select\Current = 2), only keys with an image.
        let services: Vec<&Event> = events
            .iter()
            .filter(|e| !attr(e, "service_name").is_empty())
            .collect();
        let mut names: Vec<&str> = services.iter().map(|e| attr(e, "service_name")).collect();
        names.sort();
        assert_eq!(names, ["evilsvc", "netsvcx"]);
        for e in &services {
            let key = format!("/ControlSet002/Services/{}", attr(e, "service_name"));
            let (_, image, _) = &rows[&format!("{key}/ImagePath")];
            assert_eq!(attr(e, "key_value"), image);
            assert_eq!(attr(e, "cmd"), image);
            assert_eq!(
                e.time.map(|t| seconds(&t.to_rfc3339())),
                Some(reglookup_time(&rows[&key].2))
            );
            assert_eq!(attr(e, "control_set"), "ControlSet002");
            assert_eq!(
                attr(e, "key_name"),
                format!("HKLM\\SYSTEM{}", key.replace('/', "\\"))
            );
        }
        let evil = services
            .iter()
            .find(|e| attr(e, "service_name") == "evilsvc")
            .unwrap();
        assert_eq!(
            attr(evil, "start"),
            rows["/ControlSet002/Services/evilsvc/Start"]
                .1
                .trim_start_matches("0x")
                .trim_start_matches('0')
        );
        assert_eq!(attr(evil, "start_name"), "auto");
        assert_eq!(
            attr(evil, "service_account"),
            rows["/ControlSet002/Services/evilsvc/ObjectName"].1
        );
        let netsvc = services
            .iter()
            .find(|e| attr(e, "service_name") == "netsvcx")
            .unwrap();
        assert_eq!(
            attr(netsvc, "service_dll"),
            rows["/ControlSet002/Services/netsvcx/Parameters/ServiceDll"].1
        );

        // ShimCache: regipy decodes the same entries.
        let shims: Vec<&Event> = events
            .iter()
            .filter(|e| e.action == Action::FileExists)
            .collect();
        let reference = regipy(&path, "regipy.plugins.system.shimcache", "ShimCachePlugin");
        assert_eq!(shims.len(), reference.len(), "{name}: {reference:?}");
        assert_eq!(shims.len(), 2);
        for (i, (e, r)) in shims.iter().zip(&reference).enumerate() {
            assert_eq!(attr(e, "file_path"), r["path"].as_str().unwrap(), "{name}");
            assert_eq!(attr(e, "shimcache_position"), i.to_string());
            let theirs: DateTime<Utc> = format!(
                "{}Z",
                r["last_mod_date"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches("+00:00")
            )
            .parse()
            .unwrap();
            // regipy converts FILETIMEs through a float: it may round the last microsecond.
            let ours = e.time.unwrap().timestamp_micros();
            assert!(
                (ours - theirs.timestamp_micros()).abs() <= 1,
                "{name}: {ours} vs {theirs}"
            );
            assert_eq!(attr(e, "time_source"), "file_modified");
            if let Some(flags) = executed {
                assert_eq!(attr(e, "executed"), flags[i]);
                assert_eq!(r["exec_flag"].as_str().unwrap().to_lowercase(), flags[i]);
            }
        }

        // MountedDevices: one event per value reglookup lists.
        let mounted: Vec<&Event> = events
            .iter()
            .filter(|e| attr(e, "key_name") == "HKLM\\SYSTEM\\MountedDevices")
            .collect();
        let listed = rows
            .keys()
            .filter(|k| k.starts_with("/MountedDevices/"))
            .count();
        assert_eq!(mounted.len(), listed);
        assert_eq!(mounted.len(), 2);
        let usb = mounted
            .iter()
            .find(|e| attr(e, "value_name") == "\\DosDevices\\E:")
            .unwrap();
        assert!(attr(usb, "key_value").starts_with("\\??\\USBSTOR#Disk&Ven_SanDisk"));
    }
}

/// Moves the data of the value `name` into a `db` big-data record, as Windows stores
/// values over 16,344 bytes in hives of version 1.4 and later (hivex never writes one):
/// a new hive bin holding the `db` cell, its segment list and 16,344-byte segments, the
/// value pointed at it, the base block's bins size and checksum updated. Third-party
/// readers then read the value back.
fn store_as_big_data(hive: &mut Vec<u8>, name: &str, data: &[u8]) {
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let get32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let vk = (4096..hive.len() - 24)
        .find(|&at| {
            &hive[at..at + 2] == b"vk"
                && usize::from(u16::from_le_bytes([hive[at + 2], hive[at + 3]])) == name.len()
                && hive.get(at + 20..at + 20 + name.len()) == Some(name.as_bytes())
        })
        .unwrap_or_else(|| panic!("no value {name}"));
    let bins_size = get32(hive, 40) as usize;
    let mut cells: Vec<u8> = Vec::new();
    let cell = |cells: &mut Vec<u8>, payload: &[u8]| -> u32 {
        let offset = (bins_size + 0x20 + cells.len()) as u32;
        let size = (payload.len() + 4).div_ceil(8) * 8;
        cells.extend((-(size as i32)).to_le_bytes());
        cells.extend(payload);
        cells.resize(cells.len() + size - 4 - payload.len(), 0);
        offset
    };
    let segments: Vec<u32> = data.chunks(16344).map(|c| cell(&mut cells, c)).collect();
    let list: Vec<u8> = segments.iter().flat_map(|o| o.to_le_bytes()).collect();
    let list = cell(&mut cells, &list);
    let mut db = b"db".to_vec();
    db.extend((segments.len() as u16).to_le_bytes());
    db.extend(list.to_le_bytes());
    let db = cell(&mut cells, &db);
    let bin_size = (0x20 + cells.len() + 8).div_ceil(4096) * 4096;
    let mut bin = b"hbin".to_vec();
    bin.extend((bins_size as u32).to_le_bytes());
    bin.extend((bin_size as u32).to_le_bytes());
    bin.resize(0x20, 0);
    bin.extend(&cells);
    let free = bin_size - bin.len();
    bin.extend((free as i32).to_le_bytes());
    bin.resize(bin_size, 0);
    hive.truncate(4096 + bins_size);
    hive.extend(bin);
    put32(hive, vk + 4, data.len() as u32);
    put32(hive, vk + 8, db);
    put32(hive, 40, (bins_size + bin_size) as u32);
    let checksum = (0..127).fold(0u32, |x, i| x ^ get32(hive, i * 4));
    put32(hive, 508, checksum);
}

/// A real Windows 10 cache is tens of KB, so Windows keeps it in a `db` record: read it
/// through one and compare with reglookup (the raw value) and regipy (the entries).
#[test]
fn big_shimcache_values_in_db_records_agree_with_reglookup_and_regipy() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = (0..400)
        .map(|i| format!("C:\\Program Files\\Vendor{i:03}\\bin\\tool{i:03}.exe"))
        .collect();
    let mut entries: Vec<(&str, u64)> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), FILETIMES[i % 3] + i as u64 * 10_000_000))
        .collect();
    // One short entry makes the last segment a multiple of 8 bytes long: libregf and
    // reglookup take a segment's data as its cell size less 8, which is only exact then.
    entries.push(("C:\\abcd.exe", FILETIMES[1]));
    let cache = shimcache_win10(&entries);
    assert_eq!(cache.len() % 8, 0);
    assert!(cache.len() > 2 * 16344, "{} bytes", cache.len());
    let placeholder = shimcache_win10(&entries[..1]);
    let script = system_script(&placeholder).replace("\"Session Manager\"", "Session Manager");
    let (mut bytes, path) = hivex_hive(dir.path(), "SYSTEM", &script);
    store_as_big_data(&mut bytes, "AppCompatCache", &cache);
    std::fs::write(&path, &bytes).unwrap();

    let rows = reglookup(&path);
    let (_, stored, _) =
        &rows["/ControlSet002/Control/Session Manager/AppCompatCache/AppCompatCache"];
    // reglookup escapes the bytes it does not print as %XX; unescaped, it is the value.
    assert_eq!(
        *stored,
        String::from_utf8_lossy(&cache),
        "reglookup reads the value through the db record"
    );

    let events = all_ok(parse_as(
        "registry",
        "C:\\Windows\\System32\\config\\SYSTEM",
        &bytes,
    ));
    let shims: Vec<&Event> = events
        .iter()
        .filter(|e| e.action == Action::FileExists)
        .collect();
    let reference = regipy(&path, "regipy.plugins.system.shimcache", "ShimCachePlugin");
    assert_eq!(shims.len(), 401);
    assert_eq!(shims.len(), reference.len());
    for (e, r) in shims.iter().zip(&reference) {
        assert_eq!(attr(e, "file_path"), r["path"].as_str().unwrap());
    }
}

fn amcache_script() -> String {
    let files = [
        (
            "0000abc",
            "c:\\users\\bob\\downloads\\invoice.exe",
            "0000a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
            "11/02/2023 10:20:30",
        ),
        (
            "0000def",
            "c:\\windows\\temp\\evil.exe",
            "0000356a192b7913b04c54574d18c28d46e6395428ab",
            "01/15/2024 08:00:00",
        ),
    ];
    let mut s = String::from(
        "add Root\ncd Root\nadd InventoryApplicationFile\ncd InventoryApplicationFile\n",
    );
    for (key, path, id, link) in files {
        s.push_str(&format!(
            "add {key}\ncd {key}\nsetval 4\nLowerCaseLongPath\nstring:{path}\nFileId\nstring:{id}\n\
             LinkDate\nstring:{link}\nName\nstring:{}\ncd ..\n",
            path.rsplit('\\').next().unwrap()
        ));
    }
    s
}

#[test]
fn amcache_files_agree_with_regipy() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, path) = hivex_hive(dir.path(), "Amcache.hve", &amcache_script());
    let events = all_ok(parse_as(
        "amcache",
        "C:\\Windows\\AppCompat\\Programs\\Amcache.hve",
        &bytes,
    ));
    let reference = regipy(&path, "regipy.plugins.amcache.amcache", "AmCachePlugin");
    let files: Vec<&serde_json::Value> = reference
        .iter()
        .filter(|r| r.get("sha1").is_some())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events.len(), files.len(), "{reference:?}");
    for r in files {
        let e = events
            .iter()
            .find(|e| attr(e, "file_path") == r["lower_case_long_path"].as_str().unwrap_or(""))
            .unwrap_or_else(|| panic!("no event for {r}"));
        assert_eq!(attr(e, "file_hash"), r["sha1"].as_str().unwrap());
        assert_eq!(attr(e, "link_date"), r["link_date"].as_str().unwrap());
        let theirs: DateTime<Utc> = format!(
            "{}Z",
            r["timestamp"].as_str().unwrap().trim_end_matches("+00:00")
        )
        .parse()
        .unwrap();
        assert_eq!(e.time.map(|t| t.timestamp()), Some(theirs.timestamp()));
        assert_eq!(e.action, Action::FileExists);
    }
}

/// The older layout (Windows 8, early 10): `Root\File\{volume}\{file}` with numbered
/// values, `15` the path and `101` the SHA-1 with its `0000` prefix.
#[test]
fn legacy_amcache_files_agree_with_regipy() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "1a2b",
            "C:\\Users\\bob\\AppData\\Local\\Temp\\dropper.exe",
            "0000da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        (
            "3c4d",
            "C:\\Program Files\\Tool\\tool.exe",
            "000077de68daecd823babbb58edb1c8e14d7106e83bb",
        ),
    ];
    let mut script = String::from(
        "add Root\ncd Root\nadd File\ncd File\nadd {3a8b0f1c-0000-0000-0000-100000000000}\n\
         cd {3a8b0f1c-0000-0000-0000-100000000000}\n",
    );
    for (key, full_path, sha1) in files {
        script.push_str(&format!(
            "add {key}\ncd {key}\nsetval 4\n15\nstring:{full_path}\n101\nstring:{sha1}\n\
             0\nstring:Tool Suite\n1\nstring:Tool Corp\ncd ..\n"
        ));
    }
    let (bytes, path) = hivex_hive(dir.path(), "Amcache.hve", &script);
    let events = all_ok(parse_as(
        "amcache",
        "C:\\Windows\\AppCompat\\Programs\\Amcache.hve",
        &bytes,
    ));
    let reference = regipy(&path, "regipy.plugins.amcache.amcache", "AmCachePlugin");
    assert_eq!(events.len(), 2);
    assert_eq!(events.len(), reference.len(), "{reference:?}");
    let rows = reglookup(&path);
    for r in reference {
        let full_path = r["full_path"].as_str().unwrap();
        let e = events
            .iter()
            .find(|e| attr(e, "file_path") == full_path)
            .unwrap_or_else(|| panic!("no event for {r}"));
        assert_eq!(e.action, Action::FileExists);
        assert_eq!(attr(e, "file_hash"), r["sha1"].as_str().unwrap());
        assert_eq!(attr(e, "product_name"), r["product_name"].as_str().unwrap());
        assert_eq!(attr(e, "publisher"), r["company_name"].as_str().unwrap());
        let key = format!(
            "/Root/File/{{3a8b0f1c-0000-0000-0000-100000000000}}/{}",
            attr(e, "amcache_key").rsplit('\\').next().unwrap()
        );
        assert_eq!(
            e.time.map(|t| seconds(&t.to_rfc3339())),
            Some(reglookup_time(&rows[&key].2))
        );
    }
}

/// A dirty hive (its primary and secondary sequence numbers differ: the last write did
/// not complete, its .LOG1/.LOG2 hold newer data) is read as it is, with one error saying
/// the logs were not replayed and every event marked. regipy reads the sequence numbers.
#[test]
fn dirty_hives_are_read_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, _) = hivex_hive(dir.path(), "NTUSER.DAT", &ntuser_script());
    let mut dirty = clean.clone();
    let primary = u32::from_le_bytes(dirty[4..8].try_into().unwrap());
    dirty[8..12].copy_from_slice(&(primary + 1).to_le_bytes());
    let checksum = (0..127).fold(0u32, |x, i| {
        x ^ u32::from_le_bytes(dirty[i * 4..i * 4 + 4].try_into().unwrap())
    });
    dirty[508..512].copy_from_slice(&checksum.to_le_bytes());
    let path = dir.path().join("dirty.dat");
    std::fs::write(&path, &dirty).unwrap();
    let sequences = run(
        "python3",
        &[
            "-c",
            "import sys\nfrom regipy.registry import RegistryHive\n\
             h = RegistryHive(sys.argv[1]).header\n\
             print(h.primary_sequence_num, h.secondary_sequence_num)",
            path.to_str().unwrap(),
        ],
        None,
        "the PyPI package regipy",
    );
    let sequences: Vec<u32> = sequences
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_ne!(sequences[0], sequences[1], "regipy: {sequences:?}");

    let original = "C:\\Users\\bob\\NTUSER.DAT";
    let expected = all_ok(parse_as("registry", original, &clean));
    let results = parse_as("registry", original, &dirty);
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("not replayed"), "{errors:?}");
    let events: Vec<&Event> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(events.len(), expected.len());
    for (e, clean) in events.iter().zip(&expected) {
        assert_eq!(attr(e, "hive_dirty"), "true");
        assert_eq!(attr(clean, "hive_dirty"), "");
        assert_eq!(attr(e, "key_value"), attr(clean, "key_value"));
        assert_eq!(e.time, clean.time);
    }
}

// ---------------------------------------------------------------- corrupt input

/// Deterministic xorshift64*, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn truncated_and_byte_flipped_hives_and_prefetch_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (ntuser, _) = hivex_hive(dir.path(), "NTUSER.DAT", &ntuser_script());
    let (system, _) = hivex_hive(
        dir.path(),
        "SYSTEM",
        &system_script(&shimcache_win10(&[("C:\\x.exe", FILETIMES[0])]))
            .replace("\"Session Manager\"", "Session Manager"),
    );
    let prefetch = std::fs::read(testdata("prefetch/AUDIODG.EXE-AB22E9A6.pf")).unwrap();
    let samples: [(&str, &str, &[u8]); 3] = [
        ("registry", "/Users/bob/NTUSER.DAT", &ntuser),
        ("registry", "/Windows/System32/config/SYSTEM", &system),
        ("prefetch", "/Windows/Prefetch/A.EXE-00000000.pf", &prefetch),
    ];
    let mut rng = Rng(0x5eed_0bad_cafe_f00d);
    for (parser, path, bytes) in samples {
        let whole = parse_as(parser, path, bytes);
        let good = whole.iter().filter(|r| r.is_ok()).count();
        assert!(good > 0 && whole.iter().all(|r| r.is_ok()), "{path}");
        // Truncations: a hive cut anywhere says so (keys past the cut are lost), never panics.
        for end in (0..bytes.len()).step_by(97) {
            let results = parse_as(parser, path, &bytes[..end]);
            if parser == "registry" {
                assert!(results.iter().any(|r| r.is_err()), "{path} cut at {end}");
            }
        }
        // Byte flips: every result is an event or an error.
        let mut partial = 0;
        for _ in 0..400 {
            let mut mutated = bytes.to_vec();
            for _ in 0..1 + rng.next() % 8 {
                let i = (rng.next() % mutated.len() as u64) as usize;
                mutated[i] ^= 1 << (rng.next() % 8);
            }
            let results = parse_as(parser, path, &mutated);
            if results.iter().any(|r| r.is_ok()) && results.iter().any(|r| r.is_err()) {
                partial += 1;
            }
        }
        if parser == "registry" {
            assert!(
                partial > 0,
                "{path}: no flip gave partial results with errors"
            );
        }
    }
}
