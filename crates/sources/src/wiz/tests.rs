use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A webhook issue notification in the shape Wiz documents for its webhook action.
fn webhook_issue() -> Value {
    json!({
        "trigger": {"source": "ISSUES", "type": "Created", "ruleId": "r1", "ruleName": "notify"},
        "issue": {"id": "issue-1", "status": "OPEN", "severity": "CRITICAL",
                  "created": "2024-05-01T10:00:00Z"},
        "resource": {"id": "wiz-res-1", "name": "web-1", "type": "VIRTUAL_MACHINE",
                     "cloudPlatform": "AWS", "region": "eu-west-1",
                     "subscriptionId": "111122223333", "subscriptionName": "prod",
                     "providerId": "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc123def4567890",
                     "tags": {"env": "prod"}},
        "control": {"id": "wc-1", "name": "VM with critical vulnerability exposed to the internet",
                    "description": "d", "severity": "HIGH"}
    })
}

fn one(payload: &Value) -> Alert {
    let mut alerts = WizParser.parse(payload, now()).unwrap();
    assert_eq!(alerts.len(), 1);
    alerts.remove(0)
}

fn problems(payload: &Value) -> Vec<String> {
    let err = WizParser.parse(payload, now()).unwrap_err();
    err.field_errors().iter().map(|e| e.to_string()).collect()
}

#[test]
fn webhook_issue_maps_to_an_alert_on_the_vm() {
    let a = one(&webhook_issue());
    assert_eq!((a.vendor.as_str(), a.product.as_str()), ("Wiz", "Wiz"));
    assert_eq!(a.vendor_event_id.as_deref(), Some("issue-1"));
    assert_eq!(
        a.title,
        "VM with critical vulnerability exposed to the internet"
    );
    assert_eq!(a.finding_type, "ISSUE");
    // The issue's severity wins over the control's default.
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.time.to_rfc3339(), "2024-05-01T10:00:00+00:00");
    let t = &a.target;
    assert_eq!(t.instance_id.as_deref(), Some("i-0abc123def4567890"));
    assert_eq!(t.hostname.as_deref(), Some("web-1"));
    assert_eq!(t.cloud_provider.as_deref(), Some("aws"));
    assert_eq!(t.account_id.as_deref(), Some("111122223333"));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
    assert_eq!(t.tags["env"], "prod");
    assert_eq!(t.tags["resource.type"], "VIRTUAL_MACHINE");
}

#[test]
fn non_vm_resources_get_no_instance_id_or_hostname() {
    let mut p = webhook_issue();
    p["resource"]["type"] = json!("BUCKET");
    p["resource"]["cloudPlatform"] = json!("GCP");
    p["resource"]["providerId"] = json!("i-0abc");
    let t = one(&p).target;
    assert_eq!((t.instance_id, t.hostname), (None, None));
    assert_eq!(t.cloud_provider.as_deref(), Some("gcp"));
    assert_eq!(t.tags["resource.id"], "i-0abc");
    assert_eq!(t.tags["resource.name"], "web-1");
}

#[test]
fn instance_ids_are_recognised_bare_or_in_an_arn_only() {
    assert_eq!(instance_id("i-0abc").as_deref(), Some("i-0abc"));
    assert_eq!(
        instance_id("arn:aws:ec2:us-east-2:1:instance/i-00ff").as_deref(),
        Some("i-00ff")
    );
    for no in [
        "i-",
        "i-xyz",
        "vm-1",
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1",
        "1234567890",
        "arn:aws:rds:us-east-1:1:db:i-00",
    ] {
        assert_eq!(instance_id(no), None, "{no}");
    }
}

#[test]
fn severities_map_by_name_and_bad_ones_are_reported() {
    for (name, s) in [
        ("INFORMATIONAL", Severity::Informational),
        ("LOW", Severity::Low),
        ("MEDIUM", Severity::Medium),
        ("HIGH", Severity::High),
        ("critical", Severity::Critical),
    ] {
        let mut p = webhook_issue();
        p["issue"]["severity"] = json!(name);
        assert_eq!(one(&p).severity, s);
    }
    let mut p = webhook_issue();
    p["issue"]["severity"] = json!("SEVERE");
    assert_eq!(
        problems(&p),
        ["issue.severity: must be INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL, got \"SEVERE\""]
    );
}

#[test]
fn missing_mandatory_fields_are_all_reported_with_paths() {
    let p = json!({"issue": {"status": "OPEN"}, "control": {}});
    assert_eq!(
        problems(&p),
        [
            "issue.id: missing (mandatory)",
            "issue.severity: missing (mandatory; one of INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL)",
            "control.name: missing (the control's name)",
        ]
    );
    let detection = json!({"ruleMatch": {"rule": {}}, "primaryResource": {"region": 5}});
    assert_eq!(
        problems(&detection),
        [
            "ruleMatch.rule.name: missing (the rule's name)",
            "primaryResource.region: must be a string, got a number",
            "id: missing (mandatory)",
            "severity: missing (mandatory; one of INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL)",
        ]
    );
}

#[test]
fn posture_findings_and_unknown_shapes_are_refused_with_what_to_send() {
    let vuln = json!({"id": "v", "severity": "LOW", "vulnerableAsset": {}});
    let p = problems(&vuln);
    assert!(
        p[0].starts_with("vulnerableAsset: a Wiz vulnerability finding is not an alert; expected"),
        "{p:?}"
    );
    let config = json!({"id": "c", "severity": "LOW", "rule": {}, "result": "FAIL"});
    assert!(problems(&config)[0].starts_with("result: a Wiz cloud configuration finding"));
    assert!(problems(&json!({"x": 1}))[0].starts_with("issue: missing; expected a Wiz webhook"));
    assert_eq!(
        WizParser.parse(&json!([]), now()).unwrap_err(),
        SourceError::NotAnObject
    );
}
