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
            "metadata.eventType: unsupported event type \"AuthActivityAuditEvent\"; expected one of DetectionSummaryEvent, EppDetectionSummaryEvent, IdpDetectionSummaryEvent, MobileDetectionSummaryEvent"
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
