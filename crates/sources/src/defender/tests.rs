use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<Vec<Alert>, SourceError> {
    DefenderParser.parse(&v, Utc::now())
}

fn problems(v: Value) -> Vec<String> {
    match parse(v) {
        Ok(a) => panic!("expected a refusal, got {a:?}"),
        Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

fn mde() -> Value {
    json!({
        "id": "da1_2", "title": "Bad thing", "severity": "High", "category": "Execution",
        "computerDnsName": "pc1.corp", "machineId": "m1",
        "alertCreationTime": "2024-01-02T00:00:00Z", "firstEventTime": "2024-01-01T00:00:00Z",
        "mitreTechniques": ["T1059"],
        "evidence": [
            {"entityType": "User", "accountName": "bob", "domainName": "CORP"},
            {"entityType": "Process", "fileName": "p.exe", "filePath": "C:\\W", "sha1": "A".repeat(40),
             "processCommandLine": "p.exe -x"},
            {"entityType": "Ip", "ipAddress": "198.51.100.1"}
        ]
    })
}

#[test]
fn mde_alert_maps_evidence() {
    let a = &parse(mde()).unwrap()[0];
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.finding_type, "Execution");
    assert_eq!(a.target.hostname.as_deref(), Some("pc1.corp"));
    assert_eq!(
        a.target.tags.get(MACHINE_ID_TAG).map(String::as_str),
        Some("m1")
    );
    assert_eq!(
        a.target.ips,
        ["198.51.100.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(a.observables.file_path.as_deref(), Some("C:\\W\\p.exe"));
    assert_eq!(a.observables.file_hashes, ["a".repeat(40)]);
    assert_eq!(a.observables.command_line.as_deref(), Some("p.exe -x"));
    assert_eq!(a.observables.username.as_deref(), Some("CORP\\bob"));
    assert_eq!(a.time.to_rfc3339(), "2024-01-01T00:00:00+00:00");
}

#[test]
fn graph_alert_takes_host_and_ips_from_device_evidence() {
    let v = json!({"value": [{
        "id": "g1", "title": "T", "severity": "unknown", "createdDateTime": "2024-01-01T00:00:00Z",
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence",
                      "deviceDnsName": "srv", "mdeDeviceId": "d1", "ipInterfaces": ["10.1.1.1", "fe80::1"]}]
    }]});
    let a = &parse(v).unwrap()[0];
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.target.hostname.as_deref(), Some("srv"));
    assert_eq!(a.target.ips.len(), 2);
    assert_eq!(
        a.target.tags.get(MACHINE_ID_TAG).map(String::as_str),
        Some("d1")
    );
}

#[test]
fn missing_id_and_bad_types_name_their_paths() {
    let mut v = mde();
    v.as_object_mut().map(|o| o.remove("id"));
    v["severity"] = json!(3);
    v["evidence"][2]["ipAddress"] = json!("not-an-ip");
    assert_eq!(
        problems(json!({"value": [v]})),
        [
            "value[0].id: missing (mandatory)",
            "value[0].severity: must be a string, got a number",
            "value[0].evidence[2].ipAddress: \"not-an-ip\" is not an IPv4 or IPv6 address",
        ]
    );
}

#[test]
fn alert_without_device_and_hunting_records_are_refused() {
    assert_eq!(
        problems(json!({"id": "x", "severity": "Low"})),
        [
            "computerDnsName: missing: the alert names no device (computerDnsName, machineId, device or IP evidence)"
        ]
    );
    assert_eq!(
        problems(json!({"category": "AdvancedHunting-AlertInfo", "properties": {}})),
        [
            "category: \"AdvancedHunting-AlertInfo\" is an Advanced Hunting streaming record, not an alert; send AdvancedHunting-AlertEvidence records or alerts from the alerts API"
        ]
    );
    assert_eq!(
        problems(json!({"id": "x", "severity": "Severe", "machineId": "m"})),
        ["severity: unknown severity \"Severe\"; expected Informational, Low, Medium or High"]
    );
}
