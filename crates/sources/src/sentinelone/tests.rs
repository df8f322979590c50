use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<Vec<Alert>, SourceError> {
    SentinelOneParser.parse(&v, Utc::now())
}

fn problems(v: Value) -> Vec<String> {
    match parse(v) {
        Ok(a) => panic!("expected a refusal, got {a:?}"),
        Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

fn threat(confidence: &str) -> Value {
    json!({
        "id": "111",
        "threatInfo": {"threatName": "x.exe", "classification": "Trojan", "confidenceLevel": confidence,
                       "sha256": "C".repeat(64), "filePath": "C:\\x.exe", "createdAt": "2024-01-01T00:00:00Z"},
        "agentRealtimeInfo": {"agentComputerName": "pc9"},
        "agentDetectionInfo": {"agentIpV4": "10.0.0.1,10.0.0.2", "externalIp": "203.0.113.1", "siteName": "HQ"}
    })
}

#[test]
fn threat_severity_follows_confidence() {
    for (confidence, want) in [
        ("malicious", Severity::High),
        ("suspicious", Severity::Medium),
        ("n/a", Severity::Medium),
    ] {
        assert_eq!(
            parse(threat(confidence)).unwrap()[0].severity,
            want,
            "{confidence}"
        );
    }
    let mut v = threat("n/a");
    v["threatInfo"]["severity"] = json!("Critical");
    assert_eq!(parse(v).unwrap()[0].severity, Severity::Critical);
}

#[test]
fn threat_maps_agent_and_file() {
    let a = &parse(json!({"data": [threat("malicious")]})).unwrap()[0];
    assert_eq!(a.title, "Trojan: x.exe");
    assert_eq!(a.target.hostname.as_deref(), Some("pc9"));
    let ips: Vec<String> = a.target.ips.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "203.0.113.1"]);
    assert_eq!(
        a.target.tags.get("sentinelone.site").map(String::as_str),
        Some("HQ")
    );
    assert_eq!(a.observables.file_hashes, ["c".repeat(64)]);
}

#[test]
fn missing_ids_and_wrong_types_name_their_paths() {
    let mut v = threat("malicious");
    v.as_object_mut().map(|o| o.remove("id"));
    v["agentDetectionInfo"]["agentIpV4"] = json!(["10.0.0.1"]);
    assert_eq!(
        problems(json!({"data": [v]})),
        [
            "data[0].id: missing (mandatory; or give threatInfo.threatId)",
            "data[0].agentDetectionInfo.agentIpV4: must be a string, got an array",
        ]
    );
    assert_eq!(
        problems(
            json!({"alertInfo": {}, "ruleInfo": {"severity": "E_HIGH"}, "agentDetectionInfo": {"name": "h"}})
        ),
        ["alertInfo.alertId: missing (mandatory)"]
    );
}

#[test]
fn activities_other_than_custom_rule_alerts_and_unknown_shapes_are_refused() {
    assert_eq!(
        problems(json!({"activityType": 27, "id": "1", "data": {}})),
        ["activityType: unsupported activity; only 3608 (custom rule alert) is a detection"]
    );
    assert_eq!(
        problems(json!({"foo": 1})),
        ["$: not a SentinelOne threat (threatInfo), alert (alertInfo) or activity (activityType)"]
    );
    let v =
        json!({"activityType": 3608, "id": 5, "data": {"severity": "E_LOW", "origagentname": "h"}});
    assert_eq!(parse(v).unwrap()[0].severity, Severity::Low);
}
