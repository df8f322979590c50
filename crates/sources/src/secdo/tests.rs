use super::*;
use serde_json::json;

const KEY: &str = "b9cbe23a2c0acaa61c40abef3c792a83f302adb15649fe19bf73402e253dfd16";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The seed's network example (Check Point), with straight quotes.
fn network_example() -> Value {
    json!({
        "company": "secdo",
        "apikey": KEY,
        "timestamp": "1493209485000",
        "vendor": "Check Point",
        "product": "FireWall-1 GX",
        "source_port": "59661",
        "destination_ip": "137.254.120.31",
        "source_ip": "192.168.52.131",
        "destination_port": "80",
        "type": "OutgoingConnectionEvent",
        "severity": "HIGH",
        "event_id": "1674573196751",
    })
}

/// The seed's file example (McAfee ePO), with straight quotes.
fn file_example() -> Value {
    json!({
        "company": "secdo",
        "apikey": KEY,
        "timestamp": "1493209485000",
        "vendor": "McAfee",
        "product": "ePO",
        "agent_ip": "192.168.52.131",
        "file_path": "c:\\temp\\55\\pageant.exe",
        "type": "SuspiciousFileEvent",
        "severity": "HIGH",
        "event_id": "1674573196751",
    })
}

fn parse(payload: &Value) -> Result<Alert, SourceError> {
    let mut alerts = SecdoParser.parse(payload, now())?;
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

fn with(mut payload: Value, field: &str, value: Value) -> Value {
    payload[field] = value;
    payload
}

fn without(mut payload: Value, field: &str) -> Value {
    payload.as_object_mut().unwrap().remove(field);
    payload
}

#[test]
fn seed_network_example_parses() {
    let alert = parse(&network_example()).unwrap();
    assert_eq!(alert.source, AlertSource::Secdo);
    assert_eq!(alert.vendor, "Check Point");
    assert_eq!(alert.product, "FireWall-1 GX");
    assert_eq!(alert.vendor_event_id.as_deref(), Some("1674573196751"));
    assert_eq!(alert.severity, Severity::High);
    assert_eq!(alert.finding_type, "OutgoingConnectionEvent");
    assert_eq!(alert.time.timestamp_millis(), 1_493_209_485_000);
    assert_eq!(alert.received_at, now());
    assert_eq!(
        alert.title,
        "Outgoing connection 192.168.52.131:59661 → 137.254.120.31:80 (Check Point FireWall-1 GX)"
    );
    assert_eq!(
        alert.target.ips,
        ["192.168.52.131".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(alert.observables.source_port, Some(59661));
    assert_eq!(
        alert.observables.destination_ip,
        Some("137.254.120.31".parse().unwrap())
    );
    assert_eq!(alert.observables.destination_port, Some(80));
    assert_eq!(alert.raw["company"], "secdo");
}

#[test]
fn seed_palo_alto_example_parses() {
    let payload = json!({
        "company": "secdo", "apikey": KEY, "timestamp": "1490209247000",
        "vendor": "Palo Alto Networks", "product": "PAN-OS", "source_port": "59661",
        "destination_ip": "66.186.100.181", "source_ip": "192.168.204.133",
        "destination_port": "9000", "type": "OutgoingConnectionEvent",
        "severity": "LOW", "event_id": "871151",
    });
    let alert = parse(&payload).unwrap();
    assert_eq!(alert.severity, Severity::Low);
    assert_eq!(
        alert.target.ips,
        ["192.168.204.133".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn seed_file_example_parses() {
    let alert = parse(&file_example()).unwrap();
    assert_eq!(alert.finding_type, "SuspiciousFileEvent");
    assert_eq!(
        alert.target.ips,
        ["192.168.52.131".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        alert.observables.file_path.as_deref(),
        Some("c:\\temp\\55\\pageant.exe")
    );
    assert_eq!(alert.observables.source_ip, None);
    assert_eq!(
        alert.title,
        "Suspicious file c:\\temp\\55\\pageant.exe on 192.168.52.131 (McAfee ePO)"
    );
}

#[test]
fn incoming_connection_targets_the_destination() {
    let payload = with(network_example(), "type", json!("IncomingConnectionEvent"));
    let alert = parse(&payload).unwrap();
    assert_eq!(
        alert.target.ips,
        ["137.254.120.31".parse::<IpAddr>().unwrap()]
    );
    assert!(
        alert
            .title
            .starts_with("Incoming connection 192.168.52.131:59661 → ")
    );
}

#[test]
fn numbers_are_accepted_as_json_numbers_too() {
    let mut payload = network_example();
    payload["timestamp"] = json!(1_493_209_485_000_i64);
    payload["source_port"] = json!(59661);
    payload["destination_port"] = json!(80);
    payload["event_id"] = json!(1_674_573_196_751_i64);
    let alert = parse(&payload).unwrap();
    assert_eq!(alert.observables.destination_port, Some(80));
    assert_eq!(alert.vendor_event_id.as_deref(), Some("1674573196751"));
}

#[test]
fn optional_fields_may_be_absent() {
    let mut payload = network_example();
    for field in ["source_port", "severity", "event_id"] {
        payload = without(payload, field);
    }
    let alert = parse(&payload).unwrap();
    assert_eq!(alert.severity, Severity::Medium);
    assert_eq!(alert.vendor_event_id, None);
    assert_eq!(alert.observables.source_port, None);
    assert!(alert.title.contains("192.168.52.131 → 137.254.120.31:80"));
}

#[test]
fn ipv6_endpoints_are_bracketed_in_titles() {
    let mut payload = network_example();
    payload["source_ip"] = json!("fd00::5");
    payload["destination_ip"] = json!("2001:db8::1");
    let alert = parse(&payload).unwrap();
    assert!(alert.title.contains("[fd00::5]:59661 → [2001:db8::1]:80"));
}

#[test]
fn empty_object_reports_common_fields_and_type() {
    assert_eq!(
        fields_of(&json!({})),
        [
            "company",
            "apikey",
            "timestamp",
            "vendor",
            "product",
            "type"
        ]
    );
    let (_, problem) = problems(&json!({})).remove(5);
    assert!(problem.starts_with("missing (mandatory; one of OutgoingConnectionEvent"));
}

#[test]
fn all_missing_network_fields_are_each_reported() {
    let problems = problems(&json!({"type": "OutgoingConnectionEvent"}));
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "company",
            "apikey",
            "timestamp",
            "vendor",
            "product",
            "source_ip",
            "destination_ip",
            "destination_port"
        ]
    );
    assert!(problems.contains(&(
        "destination_ip".to_string(),
        "missing (mandatory for OutgoingConnectionEvent)".to_string()
    )));
    assert_eq!(problems[0].1, "missing (mandatory)");
}

#[test]
fn all_missing_file_fields_are_each_reported() {
    assert_eq!(
        fields_of(&json!({"type": "SuspiciousFileEvent"})),
        [
            "company",
            "apikey",
            "timestamp",
            "vendor",
            "product",
            "agent_ip",
            "file_path"
        ]
    );
}

#[test]
fn null_and_empty_mandatory_fields_are_reported() {
    let payload = with(
        with(network_example(), "vendor", Value::Null),
        "product",
        json!("  "),
    );
    assert_eq!(
        problems(&payload),
        [
            ("vendor".into(), "is null (mandatory)".into()),
            ("product".into(), "is empty (mandatory)".into()),
        ]
    );
}

#[test]
fn wrong_json_types_are_reported() {
    let mut payload = network_example();
    payload["company"] = json!(42);
    payload["vendor"] = json!(["Check Point"]);
    payload["source_ip"] = json!(3_232_248_963_u32);
    payload["destination_port"] = json!({"port": 80});
    payload["severity"] = json!(3);
    payload["event_id"] = json!(true);
    let problems = problems(&payload);
    assert_eq!(
        problems,
        [
            ("company".into(), "must be a string, got a number".into()),
            ("vendor".into(), "must be a string, got an array".into()),
            ("severity".into(), "must be a string, got a number".into()),
            (
                "event_id".into(),
                "must be a string or an integer, got a boolean".into()
            ),
            ("source_ip".into(), "must be a string, got a number".into()),
            (
                "destination_port".into(),
                "must be an integer or a string of digits, got an object".into()
            ),
        ]
    );
}

#[test]
fn bad_ips_are_reported() {
    let payload = with(
        with(network_example(), "source_ip", json!("192.168.52.256")),
        "destination_ip",
        json!("host.example"),
    );
    assert_eq!(
        problems(&payload),
        [
            (
                "source_ip".into(),
                "\"192.168.52.256\" is not an IPv4 or IPv6 address".into()
            ),
            (
                "destination_ip".into(),
                "\"host.example\" is not an IPv4 or IPv6 address".into()
            ),
        ]
    );
    let payload = with(file_example(), "agent_ip", json!("10.0.0"));
    assert_eq!(fields_of(&payload), ["agent_ip"]);
}

#[test]
fn ports_out_of_range_are_reported() {
    let payload = with(
        with(network_example(), "destination_port", json!("65536")),
        "source_port",
        json!(-1),
    );
    assert_eq!(
        problems(&payload),
        [
            (
                "source_port".into(),
                "port -1 is out of range (0–65535)".into()
            ),
            (
                "destination_port".into(),
                "port 65536 is out of range (0–65535)".into()
            ),
        ]
    );
    let payload = with(network_example(), "destination_port", json!("http"));
    assert_eq!(problems(&payload)[0].1, "\"http\" is not an integer");
}

#[test]
fn timestamps_must_be_plausible_epoch_milliseconds() {
    let cases = [
        (json!("1493209485"), "looks like epoch seconds"),
        (
            json!(1_493_209_485_000_000_i64),
            "looks like epoch microseconds",
        ),
        (json!("2017-04-26T12:24:45Z"), "is not an integer"),
        (json!("12"), "out of the plausible range"),
        (
            json!("99999999999999999999999999999999999999"),
            "is not an integer",
        ),
        (json!(1.4932e12), "must be an integer"),
        (
            json!(now().timestamp_millis() + 2 * 86_400_000),
            "out of the plausible range",
        ),
    ];
    for (value, expected) in cases {
        let problems = problems(&with(network_example(), "timestamp", value.clone()));
        assert_eq!(problems.len(), 1, "{value}: {problems:?}");
        assert_eq!(problems[0].0, "timestamp");
        assert!(
            problems[0].1.contains(expected),
            "{value}: {}",
            problems[0].1
        );
    }
}

#[test]
fn severity_is_case_insensitive_and_limited_to_three_levels() {
    for (given, expected) in [
        ("low", Severity::Low),
        ("Medium", Severity::Medium),
        ("HIGH", Severity::High),
    ] {
        let alert = parse(&with(network_example(), "severity", json!(given))).unwrap();
        assert_eq!(alert.severity, expected);
    }
    assert_eq!(
        problems(&with(network_example(), "severity", json!("CRITICAL"))),
        [(
            "severity".into(),
            "must be LOW, MEDIUM or HIGH (any case), got \"CRITICAL\"".into()
        )]
    );
}

#[test]
fn unknown_type_is_reported_and_present_fields_still_checked() {
    let payload = with(
        with(network_example(), "type", json!("DnsEvent")),
        "source_ip",
        json!("nope"),
    );
    let problems = problems(&payload);
    assert_eq!(problems[0].0, "type");
    assert!(
        problems[0]
            .1
            .starts_with("unknown type \"DnsEvent\"; expected OutgoingConnectionEvent")
    );
    assert_eq!(problems[1].0, "source_ip");
    assert_eq!(problems.len(), 2);
    let alert = parse(&with(file_example(), "type", json!("suspiciousfileevent"))).unwrap();
    assert_eq!(alert.finding_type, "SuspiciousFileEvent");
}

#[test]
fn api_key_is_removed_from_raw_and_extra_fields_kept() {
    let payload = with(network_example(), "rule_name", json!("proxy-avoidance"));
    let alert = parse(&payload).unwrap();
    let raw = alert.raw.as_object().unwrap();
    assert!(!raw.contains_key("apikey"));
    assert!(!alert.raw.to_string().contains(KEY));
    assert_eq!(raw["rule_name"], "proxy-avoidance");
    assert_eq!(raw["company"], "secdo");
    assert_eq!(raw.len(), network_example().as_object().unwrap().len());
}

#[test]
fn api_key_is_exposed_but_never_echoed_in_errors() {
    assert_eq!(secdo_api_key(&network_example()), Some(KEY));
    assert_eq!(secdo_api_key(&json!({"apikey": " "})), None);
    assert_eq!(secdo_api_key(&json!({"apikey": 5})), None);
    assert_eq!(secdo_api_key(&json!([KEY])), None);
    let payload = with(
        with(network_example(), "apikey", json!(12345)),
        "timestamp",
        json!("x"),
    );
    let err = parse(&payload).unwrap_err().to_string();
    assert!(
        err.contains("apikey: must be a string, got a number"),
        "{err}"
    );
    assert!(!err.contains("12345"));
    assert_eq!(
        problems(&with(network_example(), "apikey", json!(""))),
        [("apikey".into(), "is empty (mandatory)".into())]
    );
}

#[test]
fn payloads_that_are_not_objects_are_refused() {
    for payload in [
        json!(null),
        json!([network_example()]),
        json!("x"),
        json!(1),
    ] {
        assert_eq!(parse(&payload).unwrap_err(), SourceError::NotAnObject);
    }
}

#[test]
fn vendor_is_not_repeated_when_the_product_names_it() {
    assert_eq!(vendor_product("McAfee", "ePO"), "McAfee ePO");
    assert_eq!(
        vendor_product("Palo Alto Networks", "palo alto networks PAN-OS"),
        "palo alto networks PAN-OS"
    );
    assert_eq!(vendor_product("Ünï", "Ü"), "Ünï Ü");
}
