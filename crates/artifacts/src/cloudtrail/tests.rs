use super::*;
use riposte_model::EntityKind;

fn parse(text: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    let ctx = ArtifactContext {
        host: "aws".into(),
        original_path: "/$Riposte/cloudtrail/trail.json".into(),
        modified: None,
    };
    CloudTrail
        .parse(&ctx, Box::new(std::io::Cursor::new(text.to_vec())))
        .collect()
}

fn ok(results: &[Result<Event, ArtifactError>]) -> Vec<&Event> {
    results.iter().filter_map(|r| r.as_ref().ok()).collect()
}

const REC: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA1","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"eventTime":"2024-03-01T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","requestParameters":{"userName":"bob"},"responseElements":null,"eventID":"e1"}"#;

#[test]
fn claims_cloudtrail_paths_only() {
    for path in [
        "/AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/123456789012_CloudTrail_us-east-1_20240301T1000Z_abc.json.gz",
        "/evidence/123456789012_CloudTrail_eu-west-1_20240301T1000Z_x.json.gz",
        "/$Riposte/cloudtrail/lookup.json",
        "C:\\cases\\CloudTrail\\export.jsonl",
    ] {
        assert!(CloudTrail.claims(path), "{path}");
    }
    for path in [
        "/AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/01/1_CloudTrail-Digest_us-east-1_x.json.gz",
        "/var/log/app.json",
        "/CloudTrail/readme.txt",
    ] {
        assert!(!CloudTrail.claims(path), "{path}");
    }
}

#[test]
fn envelope_records_are_streamed_one_by_one() {
    let text = format!("{{\"Records\": [\n  {REC},\n  {REC}\n]}}\n");
    let results = parse(text.as_bytes());
    assert_eq!(results.len(), 2);
    let e = results[0].as_ref().unwrap();
    assert_eq!(e.entity, EntityKind::Cloud);
    assert_eq!(e.action, Action::CloudApiCall);
    assert_eq!(e.time.unwrap().to_rfc3339(), "2024-03-01T10:00:00+00:00");
    assert_eq!(e.attr("event_name"), Some("CreateAccessKey"));
    assert_eq!(e.attr("event_source"), Some("iam.amazonaws.com"));
    assert_eq!(e.attr("username"), Some("alice"));
    assert_eq!(e.attr("remote_ip"), Some("203.0.113.7"));
    assert_eq!(e.attr("account_id"), Some("123456789012"));
    assert_eq!(e.attr("request_parameters"), Some(r#"{"userName":"bob"}"#));
    assert_eq!(e.raw, REC);
    assert_eq!(e.origin.record, Some(1));
    assert_eq!(results[1].as_ref().unwrap().origin.record, Some(2));
}

#[test]
fn records_key_after_other_keys_and_trailing_keys_work() {
    let text = format!("{{\"x\":{{\"a\":[1,2]}}, \"Records\":[{REC}], \"more\":\"}}]\"}}");
    let results = parse(text.as_bytes());
    assert_eq!(ok(&results).len(), 1);
    assert_eq!(results.len(), 1);
}

#[test]
fn json_lines_arrays_and_single_objects() {
    let text = format!("{REC}\n{REC}\n");
    assert_eq!(ok(&parse(text.as_bytes())).len(), 2);
    let text = format!("[{REC},{REC},{REC}]");
    assert_eq!(ok(&parse(text.as_bytes())).len(), 3);
    let text = format!("\u{feff}{REC}");
    assert_eq!(ok(&parse(text.as_bytes())).len(), 1);
    assert!(parse(b"").is_empty());
    assert!(parse(b"{\"Records\":[]}").is_empty());
}

#[test]
fn lookup_events_output_is_unwrapped() {
    let inner = serde_json::to_string(REC).unwrap();
    let text = format!(
        "{{\"Events\":[{{\"EventId\":\"e1\",\"EventName\":\"CreateAccessKey\",\"CloudTrailEvent\":{inner}}}],\"NextToken\":\"t\"}}"
    );
    let results = parse(text.as_bytes());
    assert_eq!(results.len(), 1);
    let e = results[0].as_ref().unwrap();
    assert_eq!(e.attr("username"), Some("alice"));
    assert_eq!(e.raw, REC);
}

#[test]
fn bad_records_are_errors_and_the_rest_is_read() {
    let text = format!(
        "{{\"Records\":[{REC}, {{\"eventName\": }}, 42, {{\"no\":\"fields\"}}, {REC}]}}\nnot json\nmore garbage\n{REC}\n{{\"eventName\":\"X\",\"eventTime\":\"yesterday\"}}\n{{\"Records\":[{REC}"
    );
    let results = parse(text.as_bytes());
    let summary: Vec<bool> = results.iter().map(Result::is_ok).collect();
    // In the envelope: record, invalid JSON, not an object, not a record, record; then
    // garbage lines (reported once), a record, one with an unreadable time, and a cut
    // envelope whose first record is still read.
    assert_eq!(
        summary,
        vec![
            true, false, false, false, true, false, true, true, true, false
        ]
    );
    let untimed = results[7].as_ref().unwrap();
    assert!(untimed.time.is_none());
    assert!(untimed.attr("time_error").is_some());
}

#[test]
fn service_identities_insights_and_huge_parameters() {
    let text = r#"{"eventTime":"2020-08-12T12:03:12Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","sourceIPAddress":"lambda.amazonaws.com","userIdentity":{"type":"AWSService","invokedBy":"lambda.amazonaws.com"},"requestParameters":{"p":"PAYLOAD"}}"#
        .replace("PAYLOAD", &"é".repeat(5000));
    let results = parse(text.as_bytes());
    let e = results[0].as_ref().unwrap();
    assert_eq!(e.attr("remote_ip"), None);
    assert_eq!(e.attr("source_ip_address"), Some("lambda.amazonaws.com"));
    assert_eq!(e.attr("invoked_by"), Some("lambda.amazonaws.com"));
    assert_eq!(e.attr("username"), None);
    assert_eq!(e.attr("request_parameters_truncated"), Some("true"));
    assert!(e.attr("request_parameters").unwrap().len() <= MAX_FIELD + 3);
}

#[test]
fn oversized_records_are_skipped_without_buffering() {
    let big = format!(
        "{{\"Records\":[{{\"eventName\":\"{}\"}}, {REC}]}}",
        "a".repeat(MAX_RECORD + 10)
    );
    let results = parse(big.as_bytes());
    assert_eq!(results.len(), 2);
    assert!(results[0].is_err());
    assert!(results[1].is_ok());
}
