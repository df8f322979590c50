use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn parse(v: Value) -> Result<Vec<Alert>, SourceError> {
    CrowdStrikeParser.parse(&v, now())
}

fn problems(v: Value) -> Vec<String> {
    match parse(v) {
        Ok(a) => panic!("expected a refusal, got {a:?}"),
        Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

fn api_alert() -> Value {
    json!({
        "composite_id": "cid:ind:aid:1",
        "id": "ind:aid:1",
        "severity": 45,
        "display_name": "Suspicious process",
        "device": {
            "hostname": "web-1",
            "local_ip": "10.0.0.5",
            "external_ip": "203.0.113.9",
            "instance_id": "i-0abc",
            "service_provider_account_id": "123456789012",
            "zone_group": "eu-west-1a",
            "device_id": "aid"
        },
        "filepath": "\\Device\\HarddiskVolume3\\Temp\\x.exe",
        "filename": "x.exe",
        "cmdline": "x.exe -q",
        "sha256": "AB".repeat(32),
        "user_name": "bob",
        "timestamp": "2026-04-30T10:00:00Z"
    })
}

#[test]
fn alerts_api_entity_maps_target_and_observables() {
    let alerts = parse(api_alert()).unwrap();
    let a = &alerts[0];
    assert_eq!(a.vendor_event_id.as_deref(), Some("cid:ind:aid:1"));
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.target.hostname.as_deref(), Some("web-1"));
    assert_eq!(a.target.instance_id.as_deref(), Some("i-0abc"));
    assert_eq!(a.target.account_id.as_deref(), Some("123456789012"));
    assert_eq!(a.target.region.as_deref(), Some("eu-west-1a"));
    let ips: Vec<String> = a.target.ips.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, ["10.0.0.5", "203.0.113.9"]);
    assert_eq!(
        a.observables.file_path.as_deref(),
        Some("\\Device\\HarddiskVolume3\\Temp\\x.exe")
    );
    assert_eq!(a.observables.file_hashes, ["ab".repeat(32)]);
    assert_eq!(a.observables.username.as_deref(), Some("bob"));
    assert_eq!(a.time.to_rfc3339(), "2026-04-30T10:00:00+00:00");
    assert_eq!(a.raw, api_alert());
}

#[test]
fn severity_names_win_over_numbers_and_numbers_follow_the_scale() {
    for (n, want) in [
        (0, Severity::Informational),
        (19, Severity::Informational),
        (20, Severity::Low),
        (59, Severity::Medium),
        (60, Severity::High),
        (80, Severity::Critical),
        (100, Severity::Critical),
    ] {
        let mut v = api_alert();
        v["severity"] = json!(n);
        assert_eq!(parse(v).unwrap()[0].severity, want, "severity {n}");
    }
    let mut v = api_alert();
    v["severity_name"] = json!("Critical");
    v["severity"] = json!(10);
    assert_eq!(parse(v).unwrap()[0].severity, Severity::Critical);
}

#[test]
fn resources_wrapper_yields_one_alert_each_and_names_bad_items() {
    let ok = parse(json!({"resources": [api_alert(), api_alert()]})).unwrap();
    assert_eq!(ok.len(), 2);
    let mut bad = api_alert();
    bad.as_object_mut().map(|o| {
        o.remove("id");
        o.remove("composite_id")
    });
    assert_eq!(
        problems(json!({"resources": [api_alert(), bad]})),
        ["resources[1].id: missing (mandatory unless composite_id is given)"]
    );
}

#[test]
fn wrong_types_are_reported_with_paths() {
    let mut v = api_alert();
    v["severity"] = json!("high");
    v["device"]["local_ip"] = json!(10);
    v["sha256"] = json!("xyz");
    assert_eq!(
        problems(v),
        [
            "severity: must be a number, got a string",
            "device.local_ip: must be a string, got a number",
            "sha256: \"xyz\" is not an MD5, SHA-1 or SHA-256 hex digest",
        ]
    );
    assert_eq!(
        problems(json!({"resources": {}})),
        ["resources: must be an array, got an object"]
    );
    assert_eq!(parse(json!([])), Err(SourceError::NotAnObject));
}

#[test]
fn alert_without_host_or_account_is_refused() {
    let v = json!({"id": "x", "severity": 50});
    assert_eq!(
        problems(v),
        [
            "device: names no host, IP, instance or cloud account; identity-only detections are not supported"
        ]
    );
}

fn stream(event_type: &str, event: Value) -> Value {
    json!({"metadata": {"eventType": event_type, "eventCreationTime": 1_700_000_000_000_i64}, "event": event})
}

#[test]
fn stream_detection_summary_uses_one_to_five_and_joins_path() {
    let v = stream(
        "DetectionSummaryEvent",
        json!({"ComputerName": "pc1", "LocalIP": "192.0.2.7", "SensorId": "s1", "Severity": 3,
               "FileName": "a.exe", "FilePath": "\\Device\\HarddiskVolume2\\Windows",
               "MD5String": "68b329da9893e34099c7d8ad5cb9c940", "DetectId": "ldt:s1:1",
               "ProcessStartTime": 1_699_999_000}),
    );
    let a = &parse(v).unwrap()[0];
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.vendor_event_id.as_deref(), Some("ldt:s1:1"));
    assert_eq!(
        a.observables.file_path.as_deref(),
        Some("\\Device\\HarddiskVolume2\\Windows\\a.exe")
    );
    assert_eq!(
        a.target
            .tags
            .get("crowdstrike.device_id")
            .map(String::as_str),
        Some("s1")
    );
    assert_eq!(a.time.timestamp(), 1_699_999_000);
}

#[test]
fn stream_epp_uses_percent_and_event_creation_time() {
    let v = stream(
        "EppDetectionSummaryEvent",
        json!({"Hostname": "h", "Severity": 70, "FilePath": "/usr/bin/x", "FileName": "x"}),
    );
    let a = &parse(v).unwrap()[0];
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.observables.file_path.as_deref(), Some("/usr/bin/x"));
    assert_eq!(a.time.timestamp_millis(), 1_700_000_000_000);
}

#[test]
fn stream_refuses_other_event_types_and_bad_shapes() {
    assert_eq!(
        problems(stream("AuthActivityAuditEvent", json!({}))),
        [
            "metadata.eventType: unsupported event type \"AuthActivityAuditEvent\"; expected one of DetectionSummaryEvent, EppDetectionSummaryEvent, IdpDetectionSummaryEvent, MobileDetectionSummaryEvent, XdrDetectionSummaryEvent, AutomatedLeadSummaryEvent"
        ]
    );
    assert_eq!(
        problems(json!({"metadata": {"eventType": "DetectionSummaryEvent"}, "event": "x"})),
        ["event: must be an object, got a string"]
    );
    assert_eq!(
        problems(stream(
            "DetectionSummaryEvent",
            json!({"ComputerName": "h", "Severity": 9})
        )),
        ["event.Severity: 9 is not a severity (1–5)"]
    );
}

/// An XDR detection in the documented stream shape: flat fields, comma-separated lists,
/// a 0–100 severity and nanosecond times (values made up here).
fn xdr_event() -> Value {
    stream(
        "XdrDetectionSummaryEvent",
        json!({
            "Author": "CrowdStrike",
            "DataDomains": "Identity,Network,Endpoint",
            "Description": "Encrypted C2 traffic and logons from one address.",
            "DetectId": "cid:ind:cid:xdr|0123abcd",
            "EndTimeEpoch": 1_699_990_100_000_000_000_i64,
            "IPv4Addresses": "192.0.2.21, 192.0.2.26",
            "HostNames": "WIN-XDR-1,WIN-XDR-2",
            "SensorIds": "aid-1,aid-2",
            "Users": "alice,bob",
            "SHA256Hashes": "ab".repeat(32),
            "MD5Hashes": "68b329da9893e34099c7d8ad5cb9c940",
            "Name": "C2 and brute force from a common IP",
            "PatternId": 100_011,
            "Severity": 90,
            "StartTimeEpoch": 1_699_990_000_000_000_000_i64,
            "Tactics": "Initial Access,Execution",
            "TacticIds": "TA0001,TA0002",
            "Techniques": "Spearphishing Attachment,Exploitation for Client Execution",
            "TechniqueIds": "T1566.001,T1203",
            "XdrType": "xdr"
        }),
    )
}

#[test]
fn stream_xdr_detection_is_an_alert_about_its_first_host() {
    let a = &parse(xdr_event()).unwrap()[0];
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.product, "Falcon XDR");
    assert_eq!(
        a.vendor_event_id.as_deref(),
        Some("cid:ind:cid:xdr|0123abcd")
    );
    assert_eq!(a.title, "C2 and brute force from a common IP");
    assert_eq!(
        a.finding_type,
        "Initial Access,Execution: Spearphishing Attachment,Exploitation for Client Execution"
    );
    assert_eq!(a.target.hostname.as_deref(), Some("WIN-XDR-1"));
    assert_eq!(
        a.target.ips,
        [
            "192.0.2.21".parse::<std::net::IpAddr>().unwrap(),
            "192.0.2.26".parse().unwrap()
        ]
    );
    let tag = |k: &str| a.target.tags.get(k).map(String::as_str);
    assert_eq!(tag("crowdstrike.device_id"), Some("aid-1"));
    assert_eq!(tag("crowdstrike.hostnames"), Some("WIN-XDR-1,WIN-XDR-2"));
    assert_eq!(tag("crowdstrike.device_ids"), Some("aid-1,aid-2"));
    assert_eq!(a.observables.username.as_deref(), Some("alice"));
    assert_eq!(a.observables.file_hashes.len(), 2);
    // Nanoseconds read as such; the end is the last sighting.
    assert_eq!(a.time.timestamp(), 1_699_990_000);
    assert_eq!(a.last_seen.map(|t| t.timestamp()), Some(1_699_990_100));
}

#[test]
fn stream_xdr_times_in_milliseconds_and_seconds_and_the_other_ip_spelling() {
    let mut v = xdr_event();
    let ev = v["event"].as_object_mut().unwrap();
    ev.insert("StartTimeEpoch".into(), json!(1_699_990_000_123_i64));
    ev.insert("EndTimeEpoch".into(), json!(1_699_990_100_i64));
    ev.remove("IPv4Addresses");
    ev.insert("IPV4Addresses".into(), json!("198.51.100.4"));
    let a = &parse(v).unwrap()[0];
    assert_eq!(a.time.timestamp_millis(), 1_699_990_000_123);
    assert_eq!(a.last_seen.map(|t| t.timestamp()), Some(1_699_990_100));
    assert_eq!(
        a.target.ips,
        ["198.51.100.4".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn stream_xdr_without_id_host_or_valid_severity_is_refused_field_by_field() {
    let v = stream(
        "XdrDetectionSummaryEvent",
        json!({"Name": "x", "Severity": 120, "StartTimeEpoch": -5}),
    );
    assert_eq!(
        problems(v),
        [
            "event.DetectId: mandatory: an XDR detection is identified by its DetectId (or CompositeId)",
            "event.Severity: 120 is not a severity (0–100)",
            "event.StartTimeEpoch: must be a positive epoch time",
            "event: names no host, IP, instance or cloud account; identity-only detections are not supported",
        ]
    );
}

/// An automated lead in the documented stream shape (values made up here).
fn lead_event(severities: &[Option<u64>]) -> Value {
    let indicators: Vec<Value> = severities
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut ind = json!({
                "IndicatorId": format!("ind:aid-7:{i}-10358-1"),
                "SignalAssociationTimestamp": 1_699_990_000 + i as i64,
                "PatternId": 10_358 + i as i64,
                "PatternDisposition": 0,
                "ProcessId": format!("{}", 1000 + i),
                "HostId": "aid-7",
                "Hostname": "LAPTOP-7",
                "Description": format!("indicator {i} description"),
                "DisplayName": format!("Indicator{i}")
            });
            if let Some(s) = s {
                ind["Severity"] = json!(s);
            }
            ind
        })
        .collect();
    stream(
        "AutomatedLeadSummaryEvent",
        json!({
            "LeadId": "feedface",
            "Name": "LAPTOP-7 at 2023-11-14T19:26:40Z",
            "SignalStartTimestamp": 1_699_990_000,
            "SignalEndTimestamp": 1_699_990_060,
            "SignalUpdatedTimestamp": 1_699_990_060,
            "Score": 54,
            "ThreatgraphIndicators": indicators,
            "MitreAttack": [
                {"PatternID": 6004},
                {"Tactic": "Execution", "TacticID": "TA0002", "Technique": "PowerShell", "TechniqueID": "T1059.001", "PatternID": 10358},
                {"Tactic": "Execution", "TacticID": "TA0002", "Technique": "PowerShell", "TechniqueID": "T1059.001", "PatternID": 10359}
            ],
            "LeadType": "simple",
            "CompositeId": "cid:automated-lead:cid:feedface",
            "FalconHostLink": "https://falcon.example.com/automated-leads/cid:automated-lead:cid:feedface"
        }),
    )
}

#[test]
fn stream_automated_lead_is_a_lead_of_at_most_medium_severity() {
    // Indicators of 70 and 50: High capped at Medium.
    let a = &parse(lead_event(&[Some(70), Some(50)])).unwrap()[0];
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.product, "Falcon automated leads");
    assert_eq!(
        a.vendor_event_id.as_deref(),
        Some("cid:automated-lead:cid:feedface")
    );
    assert_eq!(a.title, "Automated lead: Indicator0, Indicator1");
    assert_eq!(a.finding_type, "Execution: PowerShell (T1059.001)");
    assert_eq!(a.target.hostname.as_deref(), Some("LAPTOP-7"));
    assert_eq!(
        a.target
            .tags
            .get("crowdstrike.device_id")
            .map(String::as_str),
        Some("aid-7")
    );
    assert!(
        a.description
            .contains("Indicator1: indicator 1 description"),
        "{}",
        a.description
    );
    assert!(
        a.description
            .contains("Falcon: https://falcon.example.com/"),
        "{}",
        a.description
    );
    assert_eq!(a.time.timestamp(), 1_699_990_000);
    assert_eq!(a.last_seen.map(|t| t.timestamp()), Some(1_699_990_060));
    // No indicator severity: Low. A low indicator stays low.
    let a = &parse(lead_event(&[None])).unwrap()[0];
    assert_eq!(a.severity, Severity::Low);
    let a = &parse(lead_event(&[Some(10), Some(30)])).unwrap()[0];
    assert_eq!(a.severity, Severity::Low);
}

#[test]
fn stream_automated_lead_without_indicators_or_with_bad_ones_is_refused() {
    let mut v = lead_event(&[]);
    v["event"]
        .as_object_mut()
        .unwrap()
        .remove("ThreatgraphIndicators");
    assert_eq!(
        problems(v),
        [
            "event.ThreatgraphIndicators: mandatory: the lead's indicators name its host",
            "event.ThreatgraphIndicators: names no host, IP, instance or cloud account; identity-only detections are not supported",
        ]
    );
    let mut v = lead_event(&[Some(500)]);
    v["event"]["SignalStartTimestamp"] = json!("soon");
    assert_eq!(
        problems(v),
        [
            "event.ThreatgraphIndicators[0].Severity: 500 is not a severity (0–100)",
            "event.SignalStartTimestamp: must be a positive epoch time in seconds",
        ]
    );
}

#[test]
fn stream_firewall_matches_are_not_alerts() {
    let v = stream(
        "FirewallMatchEvent",
        json!({"DeviceId": "aid", "HostName": "h", "RuleAction": "2", "EventType": "FirewallRuleIP4Matched"}),
    );
    let problems = problems(v);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .starts_with("metadata.eventType: unsupported event type \"FirewallMatchEvent\""),
        "{problems:?}"
    );
}
