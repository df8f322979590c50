use super::*;
use serde_json::json;
use std::net::IpAddr;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The example of GENERIC_ALERT.md.
fn example() -> Value {
    json!({
        "title": "Reverse shell spawned by nginx worker",
        "severity": "high",
        "time": "2024-05-31T22:14:03Z",
        "first_seen": "2024-05-31T22:10:41Z",
        "last_seen": "2024-05-31T22:14:03Z",
        "vendor": "Acme",
        "product": "EDR",
        "event_id": "det-20240531-0042",
        "description": "nginx spawned /bin/sh with a socket on stdin.",
        "finding_type": "Execution/ReverseShell",
        "target": {
            "hostname": "web01.corp.example",
            "instance_id": "i-0abc1234def567890",
            "ips": ["10.0.0.5", "203.0.113.7"],
            "account_id": "123456789012",
            "region": "eu-west-1",
            "cloud_provider": "AWS",
            "tags": {"env": "prod", "team": "web"}
        },
        "observables": {
            "source_ip": "10.0.0.5",
            "source_port": 40522,
            "destination_ip": "198.51.100.23",
            "destination_port": 4444,
            "file_path": "/bin/sh",
            "file_hashes": ["D41D8CD98F00B204E9800998ECF8427E"],
            "command_line": "sh -i",
            "username": "www-data"
        },
        "ticket": "SEC-42"
    })
}

fn parse(payload: &Value) -> Result<Alert, SourceError> {
    let mut alerts = GenericParser.parse(payload, now())?;
    assert_eq!(alerts.len(), 1);
    Ok(alerts.remove(0))
}

fn problems(payload: &Value) -> Vec<(String, String)> {
    match parse(payload) {
        Err(SourceError::InvalidFields(errs)) => {
            errs.into_iter().map(|e| (e.field, e.problem)).collect()
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
}

fn fields_of(payload: &Value) -> Vec<String> {
    problems(payload).into_iter().map(|(f, _)| f).collect()
}

fn minimal() -> Value {
    json!({"title": "t", "severity": "low", "target": {"hostname": "web01"}})
}

#[test]
fn documented_example_parses() {
    let alert = parse(&example()).unwrap();
    assert_eq!(alert.source, AlertSource::Generic);
    assert_eq!(alert.severity, Severity::High);
    assert_eq!(alert.time.to_rfc3339(), "2024-05-31T22:14:03+00:00");
    let seen = [alert.first_seen, alert.last_seen].map(|t| t.map(|t| t.to_rfc3339()));
    assert_eq!(
        seen,
        [
            Some("2024-05-31T22:10:41+00:00".into()),
            Some("2024-05-31T22:14:03+00:00".into())
        ]
    );
    assert_eq!(alert.vendor_event_id.as_deref(), Some("det-20240531-0042"));
    assert_eq!(alert.finding_type, "Execution/ReverseShell");
    assert_eq!(alert.target.hostname.as_deref(), Some("web01.corp.example"));
    assert_eq!(alert.target.ips.len(), 2);
    assert_eq!(alert.target.cloud_provider.as_deref(), Some("aws"));
    assert_eq!(alert.target.tags["env"], "prod");
    assert_eq!(alert.observables.destination_port, Some(4444));
    assert_eq!(
        alert.observables.file_hashes,
        ["d41d8cd98f00b204e9800998ecf8427e"]
    );
    assert_eq!(alert.observables.username.as_deref(), Some("www-data"));
    assert_eq!(alert.raw["ticket"], "SEC-42");
}

#[test]
fn the_example_in_the_markdown_is_the_tested_one() {
    let doc = include_str!("../../GENERIC_ALERT.md");
    let start = doc.find("```json\n").expect("json block") + "```json\n".len();
    let end = start + doc[start..].find("```").expect("end of block");
    let documented: Value = serde_json::from_str(&doc[start..end]).unwrap();
    assert_eq!(documented, example());
}

#[test]
fn minimal_alert_gets_defaults() {
    let alert = parse(&minimal()).unwrap();
    assert_eq!(alert.time, now());
    assert_eq!(
        (alert.vendor.as_str(), alert.product.as_str()),
        ("unknown", "unknown")
    );
    assert_eq!(alert.vendor_event_id, None);
    assert_eq!(alert.observables, Observables::default());
}

#[test]
fn all_missing_fields_are_each_reported() {
    let problems = problems(&json!({}));
    assert_eq!(
        problems,
        [
            ("title".into(), "missing (mandatory)".into()),
            (
                "severity".into(),
                "missing (mandatory; one of informational, low, medium, high, critical)".into()
            ),
            ("target".into(), "missing (mandatory)".into()),
        ]
    );
}

#[test]
fn target_must_name_the_system() {
    let payload =
        json!({"title": "t", "severity": "low", "target": {"region": "eu-west-1", "ips": []}});
    assert_eq!(
        problems(&payload),
        [(
            "target".into(),
            "must name the system: give at least one of hostname, instance_id or ips".into()
        )]
    );
    for target in [json!({"instance_id": "i-1"}), json!({"ips": ["::1"]})] {
        let mut payload = minimal();
        payload["target"] = target;
        assert!(parse(&payload).is_ok());
    }
}

#[test]
fn severities_follow_the_riposte_scale() {
    for (given, expected) in [
        ("informational", Severity::Informational),
        ("INFO", Severity::Informational),
        ("Critical", Severity::Critical),
    ] {
        let mut payload = minimal();
        payload["severity"] = json!(given);
        assert_eq!(parse(&payload).unwrap().severity, expected);
    }
    let mut payload = minimal();
    payload["severity"] = json!("urgent");
    assert_eq!(
        problems(&payload),
        [(
            "severity".into(),
            "must be one of informational, low, medium, high, critical, got \"urgent\"".into()
        )]
    );
}

#[test]
fn time_must_be_rfc3339() {
    let mut payload = minimal();
    payload["time"] = json!("2024-05-31 22:14");
    let problems_ = problems(&payload);
    assert_eq!(problems_[0].0, "time");
    assert!(
        problems_[0]
            .1
            .starts_with("\"2024-05-31 22:14\" is not an RFC 3339 timestamp")
    );
    payload["time"] = json!(1_717_193_643_000_i64);
    assert_eq!(
        problems(&payload),
        [("time".into(), "must be a string, got a number".into())]
    );
    payload["time"] = json!("2024-05-31T23:14:03+01:00");
    assert_eq!(
        parse(&payload).unwrap().time.to_rfc3339(),
        "2024-05-31T22:14:03+00:00"
    );
}

#[test]
fn first_and_last_seen_are_optional_rfc3339() {
    let alert = parse(&minimal()).unwrap();
    assert_eq!((alert.first_seen, alert.last_seen), (None, None));
    let mut payload = minimal();
    payload["first_seen"] = json!(1_717_193_643_000_i64);
    payload["last_seen"] = json!("yesterday");
    let fields: Vec<String> = problems(&payload).into_iter().map(|p| p.0).collect();
    assert_eq!(fields, ["first_seen", "last_seen"]);
}

#[test]
fn wrong_types_name_their_json_path() {
    let mut payload = example();
    payload["title"] = json!(["t"]);
    payload["event_id"] = json!(1.5);
    payload["target"]["hostname"] = json!(7);
    payload["target"]["ips"] = json!(["10.0.0.5", "10.0.0.300", null, 4]);
    payload["target"]["tags"] = json!({"env": 1, "a b": null});
    payload["observables"]["source_port"] = json!("40522");
    payload["observables"]["destination_port"] = json!(70000);
    payload["observables"]["file_hashes"] = json!(["abc", 5]);
    payload["observables"]["username"] = json!({});
    assert_eq!(
        problems(&payload),
        [
            ("title".into(), "must be a string, got an array".into()),
            (
                "event_id".into(),
                "must be a string or an integer, got a number".into()
            ),
            (
                "target.hostname".into(),
                "must be a string, got a number".into()
            ),
            (
                "target.ips[1]".into(),
                "\"10.0.0.300\" is not an IPv4 or IPv6 address".into()
            ),
            (
                "target.ips[2]".into(),
                "is null (expected an IP address)".into()
            ),
            (
                "target.ips[3]".into(),
                "must be a string, got a number".into()
            ),
            (
                "target.tags[\"a b\"]".into(),
                "is null (tag values must be strings)".into()
            ),
            (
                "target.tags.env".into(),
                "must be a string, got a number".into()
            ),
            (
                "observables.source_port".into(),
                "must be an integer, got a string".into()
            ),
            (
                "observables.destination_port".into(),
                "port 70000 is out of range (0–65535)".into()
            ),
            (
                "observables.file_hashes[0]".into(),
                "\"abc\" is not an MD5, SHA-1 or SHA-256 hex digest (32, 40 or 64 hex digits)"
                    .into()
            ),
            (
                "observables.file_hashes[1]".into(),
                "must be a string, got a number".into()
            ),
            (
                "observables.username".into(),
                "must be a string, got an object".into()
            ),
        ]
    );
}

#[test]
fn containers_of_the_wrong_type_are_reported() {
    let mut payload = minimal();
    payload["target"] = json!(["web01"]);
    payload["observables"] = json!("x");
    assert_eq!(fields_of(&payload), ["target", "observables"]);
    let mut payload = minimal();
    payload["target"]["ips"] = json!("10.0.0.5");
    payload["target"]["tags"] = json!([]);
    assert_eq!(
        problems(&payload),
        [
            ("target.ips".into(), "must be an array, got a string".into()),
            (
                "target.tags".into(),
                "must be an object, got an array".into()
            ),
        ]
    );
}

#[test]
fn oversized_strings_are_refused() {
    let mut payload = minimal();
    payload["title"] = json!("x".repeat(MAX_STRING_BYTES + 1));
    payload["description"] = json!("y".repeat(MAX_TEXT_BYTES));
    assert_eq!(
        problems(&payload),
        [(
            "title".into(),
            format!(
                "too long ({} bytes; at most {MAX_STRING_BYTES})",
                MAX_STRING_BYTES + 1
            )
        )]
    );
}

#[test]
fn unknown_fields_are_kept_in_raw_not_errors() {
    let mut payload = minimal();
    payload["x_custom"] = json!({"nested": [1, 2]});
    payload["target"]["datacenter"] = json!("fra1");
    let alert = parse(&payload).unwrap();
    assert_eq!(alert.raw, payload);
    assert_eq!(alert.target.ips, Vec::<IpAddr>::new());
}

#[test]
fn times_out_of_range_or_out_of_order_name_the_field() {
    let mut payload = example();
    payload["time"] = json!("0000-01-01T00:00:00Z");
    payload["first_seen"] = json!("2024-05-31T22:14:03Z");
    payload["last_seen"] = json!("2024-05-31T22:10:41Z");
    let found = problems(&payload);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["time", "first_seen"], "{found:?}");
    assert!(
        found[0].1.contains("outside the years 1970 to 2100"),
        "{found:?}"
    );
    assert!(found[1].1.contains("after last_seen"), "{found:?}");

    let mut payload = example();
    payload["last_seen"] = json!("9999-12-31T23:59:59Z");
    assert_eq!(problems(&payload)[0].0, "last_seen");
    // The example itself (in range, in order) is still accepted.
    assert!(parse(&example()).is_ok());
}
