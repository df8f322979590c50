//! Every CrowdStrike, Defender and SentinelOne sample of the shared corpus is either
//! mapped (checked against facts read from the file by hand) or refused with a clear
//! error; none is skipped. The corpus is not copied here (several files have unstated
//! licences): set `RIPOSTE_CORPUS`, or keep it at `<workspace>/../shared/corpus`.

use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertSource, Severity};
use riposte_sources::parser;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Folders under `alerts/` covered here, with the source that parses them.
const DIRS: [(&str, AlertSource); 3] = [
    ("crowdstrike", AlertSource::CrowdStrike),
    ("defender", AlertSource::Defender),
    ("sentinelone", AlertSource::SentinelOne),
];

/// Files expected to be refused, with a fragment of the error that explains why.
const REFUSED: &[(&str, &str)] = &[
    (
        "crowdstrike/sekoia-stream-identityprotection.json",
        "metadata.eventType: unsupported event type \"IdentityProtectionEvent\"",
    ),
    (
        "crowdstrike/sekoia-stream-incidentsummary.json",
        "metadata.eventType: unsupported event type \"IncidentSummaryEvent\"",
    ),
    (
        "crowdstrike/sekoia-stream-idpdetectionsummary.json",
        "event: names no host, IP, instance or cloud account",
    ),
    (
        "defender/sekoia-sentinel-incident-sdk.json",
        "computerDnsName: missing: the alert names no device",
    ),
    (
        "defender/sekoia-xdr-stream-alertinfo.json",
        "\"AdvancedHunting-AlertInfo\" is an Advanced Hunting streaming record",
    ),
];

fn corpus() -> PathBuf {
    let root = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let alerts = root.join("alerts");
    assert!(
        alerts.is_dir(),
        "alert corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus folder",
        alerts.display()
    );
    alerts
}

fn received() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().expect("constant timestamp")
}

fn load(rel: &str) -> Value {
    let path = corpus().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn source_of(rel: &str) -> AlertSource {
    DIRS.iter()
        .find(|(d, _)| rel.starts_with(d))
        .map(|(_, s)| *s)
        .expect("known folder")
}

fn parse(rel: &str) -> Result<Vec<Alert>, riposte_sources::SourceError> {
    let p = parser(source_of(rel)).expect("parser registered");
    p.parse(&load(rel), received())
}

fn alerts(rel: &str) -> Vec<Alert> {
    parse(rel).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn one(rel: &str) -> Alert {
    let mut all = alerts(rel);
    assert_eq!(all.len(), 1, "{rel}");
    all.remove(0)
}

fn ips(a: &Alert) -> Vec<String> {
    a.target.ips.iter().map(|i| i.to_string()).collect()
}

/// `first_seen` and `last_seen` as RFC 3339 strings.
fn seen(a: &Alert) -> (Option<String>, Option<String>) {
    (
        a.first_seen.map(|t| t.to_rfc3339()),
        a.last_seen.map(|t| t.to_rfc3339()),
    )
}

fn both(first: &str, last: &str) -> (Option<String>, Option<String>) {
    (Some(first.to_string()), Some(last.to_string()))
}

fn tag<'a>(a: &'a Alert, key: &str) -> Option<&'a str> {
    a.target.tags.get(key).map(String::as_str)
}

/// Every file of the three folders, as `folder/name`.
fn corpus_files() -> Vec<String> {
    let mut out = Vec::new();
    for (dir, _) in DIRS {
        let entries =
            std::fs::read_dir(corpus().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let name = entry.expect("directory entry").file_name();
            out.push(format!("{dir}/{}", name.to_string_lossy()));
        }
    }
    out.sort();
    out
}

/// Files with facts asserted below; with [`REFUSED`] they must cover the whole folder.
const MAPPED: &[&str] = &[
    "crowdstrike/demisto-alertsapi-v2-cloud-ioa-entities-response.json",
    "crowdstrike/elastic-alertsapi-idp-identity-verification-denied.json",
    "crowdstrike/elastic-alertsapi-ldt-epp-quarantine-pup.json",
    "crowdstrike/sekoia-stream-detectionsummary-intel-file-exe.json",
    "crowdstrike/sekoia-stream-detectionsummary-intel-svchost.json",
    "crowdstrike/sekoia-stream-detectionsummary-overwatch.json",
    "crowdstrike/sekoia-stream-detectionsummary-setup-exe.json",
    "crowdstrike/sekoia-stream-eppdetectionsummary-linux-custom-ioc-network.json",
    "crowdstrike/sekoia-stream-eppdetectionsummary-ngav.json",
    "crowdstrike/sekoia-stream-eppdetectionsummary-ondemand-scan.json",
    "crowdstrike/sekoia-stream-eppdetectionsummary-windows.json",
    "crowdstrike/sekoia-stream-mobiledetectionsummary.json",
    "defender/demisto-mde-api-alerts-response-crlf.json",
    "defender/elastic-graph-alerts-v2-hidden-file-execution.json",
    "defender/elastic-mde-api-alert-exeselrun-file-evidence.json",
    "defender/elastic-mde-api-alert-mountsi-file-evidence.json",
    "defender/msdocs-mde-api-alert-meterpreter.json",
    "defender/msdocs-mde-api-alert-rundll32-with-evidence.json",
    "defender/sekoia-xdr-stream-alertevidence-machine-remediation.json",
    "defender/sekoia-xdr-stream-alertevidence-process-suspclickfix-blocked.json",
    "sentinelone/elastic-cloud-detection-alert-api-doc-placeholders.json",
    "sentinelone/elastic-cloud-detection-alert-star-powershell.json",
    "sentinelone/sekoia-activity-3608-star-custom-rule.json",
    "sentinelone/sekoia-threat-infostealer-mimikatz.json",
    "sentinelone/sekoia-threat-linux-apprun-docker.json",
    "sentinelone/sekoia-threat-malware-suspicious-tmp.json",
    "sentinelone/sekoia-threat-officetimeline.json",
];

#[test]
fn every_corpus_file_is_either_mapped_or_refused() {
    let expected: BTreeSet<String> = MAPPED
        .iter()
        .copied()
        .chain(REFUSED.iter().map(|(f, _)| *f))
        .map(String::from)
        .collect();
    let found: BTreeSet<String> = corpus_files().into_iter().collect();
    assert_eq!(
        found, expected,
        "a corpus file was added or removed: classify it here"
    );
    for rel in MAPPED {
        assert!(!alerts(rel).is_empty(), "{rel}");
    }
}

#[test]
fn unsupported_shapes_are_refused_with_a_clear_error() {
    for (rel, why) in REFUSED {
        match parse(rel) {
            Ok(a) => panic!("{rel}: expected a refusal, got {} alert(s)", a.len()),
            Err(e) => assert!(e.to_string().contains(why), "{rel}: {e}"),
        }
    }
}

#[test]
fn crowdstrike_alerts_api_samples() {
    let ioa = alerts("crowdstrike/demisto-alertsapi-v2-cloud-ioa-entities-response.json");
    assert_eq!(ioa.len(), 2);
    assert_eq!(
        ioa[0].vendor_event_id.as_deref(),
        Some("00000000000000000000000000000001:fcs:ioa-211:00000000-0000-0000-0000-000000000002")
    );
    assert_eq!(ioa[0].severity, Severity::High);
    assert_eq!(ioa[0].target.account_id.as_deref(), Some("000000000001"));
    assert_eq!(ioa[0].target.region.as_deref(), Some("dummy-region-1"));
    assert_eq!(ioa[0].target.cloud_provider.as_deref(), Some("aws"));
    assert_eq!(
        tag(&ioa[0], "crowdstrike.resource_id"),
        Some("sg-0000000000000dummy")
    );
    assert_eq!(ioa[1].severity, Severity::Low);
    assert_eq!(ioa[1].title, "Another IOA");
    // first_/last_timestamp: the behaviour's first and last occurrence.
    assert_eq!(
        seen(&ioa[0]),
        both("2026-04-20T22:39:25+00:00", "2026-04-20T22:39:25+00:00")
    );
    // created_/updated_timestamp are Falcon's record times, not the activity.
    assert_eq!(seen(&ioa[1]), (None, None));

    let idp = one("crowdstrike/elastic-alertsapi-idp-identity-verification-denied.json");
    assert_eq!(idp.severity, Severity::High);
    assert_eq!(
        idp.target.hostname.as_deref(),
        Some("ABDC454.net.example.com")
    );
    assert_eq!(ips(&idp), ["81.2.69.144"]);
    assert_eq!(idp.observables.username.as_deref(), Some("admin.abcdef"));

    let pup = one("crowdstrike/elastic-alertsapi-ldt-epp-quarantine-pup.json");
    assert_eq!(pup.severity, Severity::Low); // severity 30, no severity_name
    assert_eq!(pup.target.hostname.as_deref(), Some("ABC709-1175"));
    assert_eq!(ips(&pup), ["81.2.69.142"]); // local_ip and external_ip are the same
    assert_eq!(
        tag(&pup, "crowdstrike.device_id"),
        Some("2ce412d17b334ad4adc8c1c54dbfec4b")
    );
    assert_eq!(
        pup.observables.file_hashes,
        [
            "b26a6791b72753d2317efd5e1363d93fdd33e611c8b9e08a3b24ea4d755b81fd",
            "cdf9cfebb400ce89d5b6032bfcdc693b"
        ]
    );
    assert!(
        pup.observables
            .file_path
            .as_deref()
            .is_some_and(|p| p.ends_with(
                "\\Windows\\openvpn-cds-pfSense-UDP4-1194-pfsense-install-2.6.5-I001-amd64.exe"
            ))
    );
    assert_eq!(pup.observables.username.as_deref(), Some("mohit.jha"));
    assert_eq!(pup.time.to_rfc3339(), "2023-11-03T18:00:22.328+00:00");
    assert_eq!((seen(&idp), seen(&pup)), ((None, None), (None, None)));
}

#[test]
fn crowdstrike_stream_samples() {
    const SHA256: &str = "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b";
    let intel = one("crowdstrike/sekoia-stream-detectionsummary-intel-svchost.json");
    assert_eq!(intel.severity, Severity::High);
    assert_eq!(intel.target.hostname.as_deref(), Some("example.com"));
    assert_eq!(ips(&intel), ["192.0.2.1"]);
    assert_eq!(
        intel.observables.file_path.as_deref(),
        Some("\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe")
    );
    assert_eq!(
        intel.vendor_event_id.as_deref(),
        Some("ldt:1234567890abcdef1234567890abcdef:1111111111111111111")
    );
    assert!(intel.observables.file_hashes.iter().any(|h| h == SHA256));

    let file = one("crowdstrike/sekoia-stream-detectionsummary-intel-file-exe.json");
    assert_eq!(ips(&file), ["1.2.3.4"]);
    assert_eq!(file.observables.username.as_deref(), Some("JOHNDOE"));
    assert_eq!(file.time.timestamp(), 1_743_579_634); // ProcessStartTime, epoch seconds

    let overwatch = one("crowdstrike/sekoia-stream-detectionsummary-overwatch.json");
    assert_eq!(overwatch.severity, Severity::Critical);
    assert_eq!(overwatch.vendor_event_id, None); // OverWatch events carry no DetectId
    assert_eq!(
        overwatch.observables.file_path.as_deref(),
        Some("\\Device\\HarddiskVolume2\\Windows\\explorer.exe")
    );

    let setup = one("crowdstrike/sekoia-stream-detectionsummary-setup-exe.json");
    assert_eq!(setup.severity, Severity::Low); // SeverityName Low (Severity 2 of 5)
    assert_eq!(setup.time.timestamp_millis(), 1_682_930_000_000); // ProcessStartTime in ms here

    let linux = one("crowdstrike/sekoia-stream-eppdetectionsummary-linux-custom-ioc-network.json");
    assert_eq!(linux.severity, Severity::High);
    assert_eq!(
        linux.observables.file_path.as_deref(),
        Some("/usr/sbin/named")
    );
    assert_eq!(
        linux.observables.command_line.as_deref(),
        Some("/usr/sbin/named -u user")
    );

    let ngav = one("crowdstrike/sekoia-stream-eppdetectionsummary-ngav.json");
    assert_eq!(ngav.severity, Severity::Low);
    assert_eq!(
        tag(&ngav, "crowdstrike.device_id"),
        Some("c8d1292a8a904216aa25ab728f4b45fd")
    );

    let scan = one("crowdstrike/sekoia-stream-eppdetectionsummary-ondemand-scan.json");
    assert_eq!(scan.severity, Severity::High); // Severity 70 of 100, no name
    assert_eq!(
        scan.vendor_event_id.as_deref(),
        Some("7da61e27e34f4b8394081896af72e2c7")
    );
    assert_eq!(scan.observables.file_hashes, [SHA256]);
    assert_eq!(scan.time.timestamp_millis(), 1_723_134_750_000); // eventCreationTime

    let win = one("crowdstrike/sekoia-stream-eppdetectionsummary-windows.json");
    assert_eq!(win.observables.username.as_deref(), Some("John.Doe"));
    assert_eq!(
        win.finding_type,
        "Defense Evasion: Indirect Command Execution"
    );

    let mobile = one("crowdstrike/sekoia-stream-mobiledetectionsummary.json");
    assert_eq!(mobile.severity, Severity::Medium); // 50 of 100
    assert_eq!(mobile.target.hostname.as_deref(), Some("example.com"));

    // Detection summaries state no first/last observation.
    for a in [
        &intel, &file, &overwatch, &setup, &linux, &ngav, &scan, &win, &mobile,
    ] {
        assert_eq!(seen(a), (None, None), "{:?}", a.vendor_event_id);
    }
}

#[test]
fn defender_samples() {
    let list = alerts("defender/demisto-mde-api-alerts-response-crlf.json");
    let sev: Vec<Severity> = list.iter().map(|a| a.severity).collect();
    assert_eq!(sev, [Severity::Medium, Severity::Low, Severity::Low]);
    assert!(
        list.iter()
            .all(|a| tag(a, "defender.machine_id")
                == Some("43df73d1dac43593d1275e20422f44a949f6dfc3"))
    );
    assert_eq!(
        list[0].vendor_event_id.as_deref(),
        Some("da637029414680409372_735564929")
    );
    // firstEventTime / lastEventTime.
    assert_eq!(
        seen(&list[0]),
        both(
            "2019-08-05T00:53:51.146936700+00:00",
            "2019-08-05T00:53:51.146936700+00:00"
        )
    );
    assert_eq!(
        seen(&list[2]),
        both(
            "2019-06-25T17:43:12.281298200+00:00",
            "2019-08-10T03:33:38.105260400+00:00"
        )
    );

    let graph = one("defender/elastic-graph-alerts-v2-hidden-file-execution.json");
    assert_eq!(graph.severity, Severity::Low);
    // firstActivityDateTime / lastActivityDateTime.
    assert_eq!(
        seen(&graph),
        both(
            "2021-04-26T07:45:50.116+00:00",
            "2021-05-02T07:56:58.222+00:00"
        )
    );
    assert_eq!(graph.target.hostname.as_deref(), Some("tempDns"));
    assert_eq!(ips(&graph), ["1.1.1.1"]);
    assert_eq!(
        tag(&graph, "defender.machine_id"),
        Some("73e7e2de709dff64ef64b1d0c30e67fab63279db")
    );
    assert_eq!(
        graph.observables.file_path.as_deref(),
        Some("C:\\Program Files\\temp\\MsSense.exe")
    );
    assert!(
        graph
            .observables
            .file_hashes
            .iter()
            .any(|h| h == "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec")
    );

    let exe = one("defender/elastic-mde-api-alert-exeselrun-file-evidence.json");
    assert_eq!(
        seen(&exe),
        both(
            "2020-06-30T10:07:44.333733+00:00",
            "2020-06-30T10:07:44.333733+00:00"
        )
    );
    assert_eq!(exe.target.hostname.as_deref(), Some("testserver4"));
    assert_eq!(
        exe.observables.file_path.as_deref(),
        Some("C:\\Windows\\Temp\\sb-sim-temp-ikyxqi\\sb_10554_bs_h4qpk5\\SB.xsl")
    );

    let mountsi = one("defender/elastic-mde-api-alert-mountsi-file-evidence.json");
    assert_eq!(
        seen(&mountsi),
        both(
            "2020-06-30T09:31:22.572955800+00:00",
            "2020-06-30T09:46:15.087667600+00:00"
        )
    );
    assert_eq!(mountsi.severity, Severity::Informational);
    assert!(
        mountsi
            .observables
            .file_hashes
            .iter()
            .any(|h| h == "fd46705c4f67a8ef16e76259ca6d6253241e51a1f8952223145f92aa1907d356")
    );

    let met = one("defender/msdocs-mde-api-alert-meterpreter.json");
    assert_eq!(
        seen(&met),
        both(
            "2020-07-20T10:52:17.665436900+00:00",
            "2020-07-20T10:52:18.136290500+00:00"
        )
    );
    assert_eq!(
        met.target.hostname.as_deref(),
        Some("temp123.middleeast.corp.microsoft.com")
    );
    assert_eq!(met.observables.username.as_deref(), Some("DOMAIN\\temp123"));

    let rundll = one("defender/msdocs-mde-api-alert-rundll32-with-evidence.json");
    assert_eq!(
        seen(&rundll),
        both(
            "2021-01-26T20:31:32.956266100+00:00",
            "2021-01-26T20:31:33.057732200+00:00"
        )
    );
    assert_eq!(
        rundll.observables.command_line.as_deref(),
        Some("rundll32.exe  c:\\temp\\suspicious.dll,RepeatAfterMe")
    );
    assert_eq!(
        rundll.observables.file_path.as_deref(),
        Some("C:\\Windows\\SysWOW64\\rundll32.exe")
    );
    assert!(
        rundll
            .observables
            .file_hashes
            .iter()
            .any(|h| h == "dc0ade0c95d6db98882bc8fa6707e64353cd6f7767ff48d6a81a6c2aef21c608")
    );
    assert_eq!(rundll.observables.username.as_deref(), Some("DOMAIN\\name"));
}

/// Defender XDR's streaming `AdvancedHunting-AlertEvidence` rows: the Machine row names
/// the device; the Process row names it only inside `AdditionalFields` (its `DeviceName`
/// is null). Sent together in an Event Hub `records` batch with the `AlertInfo` row of
/// the same alert, the two evidence rows of `…_1` are one alert.
#[test]
fn defender_alert_evidence_rows() {
    const MACHINE: &str = "defender/sekoia-xdr-stream-alertevidence-machine-remediation.json";
    const PROCESS: &str =
        "defender/sekoia-xdr-stream-alertevidence-process-suspclickfix-blocked.json";
    let machine = one(MACHINE);
    assert_eq!(machine.source, AlertSource::Defender);
    assert_eq!(
        machine.vendor_event_id.as_deref(),
        Some("11111111-1111-1111-1111-111111111111_1")
    );
    assert_eq!(machine.title, "Suspicious Process Discovery");
    assert_eq!(machine.severity, Severity::Low);
    assert_eq!(machine.product, "Microsoft Defender for Endpoint");
    assert_eq!(
        machine.target.hostname.as_deref(),
        Some("hostname.example.local")
    );
    assert_eq!(
        tag(&machine, "defender.machine_id"),
        Some("11111111111111111111111111111111111111111111")
    );
    assert_eq!(
        machine.finding_type,
        "Discovery: Process Discovery (T1057), PowerShell (T1059.001)"
    );
    assert_eq!(
        machine.time.to_rfc3339(),
        "2026-01-13T09:28:36.223663100+00:00"
    );

    let process = one(PROCESS);
    assert_eq!(
        process.title,
        "Suspicious 'SuspClickFix' behavior was blocked"
    );
    assert_eq!(
        process.target.hostname.as_deref(),
        Some("hostname.example.local")
    );
    assert_eq!(
        tag(&process, "defender.machine_id"),
        Some("11111111111111111111111111111111111111111111")
    );
    assert!(
        process
            .observables
            .command_line
            .as_deref()
            .is_some_and(|c| c.contains("Sync-AppvPublishingServer")),
        "{:?}",
        process.observables
    );
    assert_eq!(
        process.observables.file_path.as_deref(),
        Some("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")
    );
    assert_eq!(process.observables.file_hashes.len(), 2);

    let batch = json!({"records": [load(PROCESS), load("defender/sekoia-xdr-stream-alertinfo.json"), load(MACHINE)]});
    let p = parser(AlertSource::Defender).expect("parser registered");
    let grouped = p
        .parse(&batch, received())
        .expect("a batch with evidence rows");
    assert_eq!(grouped.len(), 1, "{grouped:?}");
    let g = &grouped[0];
    assert_eq!(g.vendor_event_id, machine.vendor_event_id);
    assert_eq!(g.target.hostname.as_deref(), Some("hostname.example.local"));
    assert_eq!(g.observables.command_line, process.observables.command_line);
    assert_eq!(g.time, machine.time.min(process.time));
    assert_eq!(g.raw.as_array().map(Vec::len), Some(2));

    // A row naming no device, alone: refused with the field and what to send.
    let mut lone = load(PROCESS);
    lone["properties"]["AdditionalFields"] = json!("{}");
    let err = p.parse(&lone, received()).expect_err("no device");
    assert!(
        err.to_string().contains("properties.DeviceName: alert \"11111111-1111-1111-1111-111111111111_1\" names no device"),
        "{err}"
    );
}

#[test]
fn sentinelone_samples() {
    let mimikatz = one("sentinelone/sekoia-threat-infostealer-mimikatz.json");
    assert_eq!(mimikatz.severity, Severity::High); // confidenceLevel malicious
    assert_eq!(
        mimikatz.target.hostname.as_deref(),
        Some("host13.example.com")
    );
    assert_eq!(ips(&mimikatz), ["10.0.1.4", "1.1.1.1", "198.51.100.20"]);
    assert_eq!(
        mimikatz.observables.file_hashes,
        ["dddddddddddddddddddddddddddddddddddddddd"]
    );
    assert_eq!(
        mimikatz.vendor_event_id.as_deref(),
        Some("1113032189486913422")
    );
    // threatInfo.identifiedAt; no shape states a last observation.
    assert_eq!(
        seen(&mimikatz),
        (Some("2021-03-16T16:36:16.157+00:00".into()), None)
    );

    let docker = one("sentinelone/sekoia-threat-linux-apprun-docker.json");
    assert_eq!(
        seen(&docker),
        (Some("2025-02-10T10:55:23.587476+00:00".into()), None)
    );
    assert_eq!(docker.severity, Severity::Medium); // suspicious
    assert_eq!(
        docker.target.hostname.as_deref(),
        Some("server01.example.com")
    );
    assert_eq!(
        ips(&docker),
        ["192.0.2.1", "192.0.2.2", "192.0.2.10", "192.0.2.3"]
    );
    assert!(
        docker
            .observables
            .file_hashes
            .iter()
            .any(|h| h == &"2".repeat(64))
    );

    let tmp = one("sentinelone/sekoia-threat-malware-suspicious-tmp.json");
    assert_eq!(
        seen(&tmp),
        (Some("2021-03-16T14:00:14.188+00:00".into()), None)
    );
    assert_eq!(tmp.target.hostname.as_deref(), Some("host07.example.com"));
    assert_eq!(ips(&tmp), ["1.1.1.1", "203.0.113.10"]);
    assert_eq!(tag(&tmp, "sentinelone.site"), Some("Sekoia.io"));

    let office = one("sentinelone/sekoia-threat-officetimeline.json");
    assert_eq!(
        seen(&office),
        (Some("2022-03-11T12:44:16.158+00:00".into()), None)
    );
    assert_eq!(
        office.target.hostname.as_deref(),
        Some("host05.example.com")
    );
    assert_eq!(office.observables.file_hashes, ["5".repeat(40)]);

    let star = one("sentinelone/elastic-cloud-detection-alert-star-powershell.json");
    assert_eq!(star.severity, Severity::Critical); // ruleInfo.severity
    assert_eq!(star.target.hostname.as_deref(), Some("srv-win1"));
    assert!(
        star.observables
            .file_hashes
            .iter()
            .any(|h| h == "75d6634a676fb0bea5bfd8d424e2bd4f685f3885853637ea143b2671a3bb76e9")
    );

    // Cloud-detection alerts carry only record times (alertInfo.createdAt/updatedAt).
    assert_eq!(seen(&star), (None, None));

    let doc = one("sentinelone/elastic-cloud-detection-alert-api-doc-placeholders.json");
    assert_eq!(seen(&doc), (None, None));
    assert_eq!(doc.severity, Severity::Low);
    assert_eq!(ips(&doc), ["81.2.69.192"]); // srcMachineIp

    let activity = one("sentinelone/sekoia-activity-3608-star-custom-rule.json");
    assert_eq!(activity.severity, Severity::Medium); // E_MEDIUM
    // data.detectedat, epoch milliseconds.
    assert_eq!(
        activity.first_seen.map(|t| t.timestamp_millis()),
        Some(1_637_076_565_467)
    );
    assert_eq!(activity.last_seen, None);
    assert_eq!(
        activity.target.hostname.as_deref(),
        Some("host08.example.com")
    );
    assert_eq!(
        activity.observables.username.as_deref(),
        Some("example.com\\testuser")
    );
}

/// Every field and array item, at every depth, replaced by null, a number, an array and a
/// string: each variant must be accepted or refused, never panic.
#[test]
fn mutated_corpus_payloads_never_panic() {
    fn paths(v: &Value, at: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
        let children: Vec<(PathStep, &Value)> = match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, c)| (PathStep::Key(k.clone()), c))
                .collect(),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, c)| (PathStep::Index(i), c))
                .collect(),
            _ => return,
        };
        for (step, child) in children {
            at.push(step);
            out.push(at.clone());
            paths(child, at, out);
            at.pop();
        }
    }
    let replacements = [
        json!(null),
        json!(-7),
        json!([1, "x"]),
        json!("x"),
        json!({}),
    ];
    let mut runs = 0;
    for rel in corpus_files() {
        let p = parser(source_of(&rel)).expect("parser registered");
        let original = load(&rel);
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in all {
            for r in &replacements {
                let mut v = original.clone();
                if let Some(slot) = lookup(&mut v, &path) {
                    *slot = r.clone();
                }
                let _ = p.parse(&v, received());
                runs += 1;
            }
        }
    }
    assert!(runs > 1000, "only {runs} mutations ran");
}

#[derive(Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn lookup<'v>(v: &'v mut Value, path: &[PathStep]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        PathStep::Key(k) => v.get_mut(k.as_str()),
        PathStep::Index(i) => v.get_mut(*i),
    })
}
