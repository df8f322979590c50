//! Malformed payloads never panic a parser: each one is accepted or refused with an error.

use chrono::{DateTime, Utc};
use riposte_model::AlertSource;
use riposte_sources::{SourceError, parser};
use serde_json::{Value, json};

/// Odd values of every JSON type, including extremes and deep nesting.
fn weird_values() -> Vec<Value> {
    let mut nested = json!(null);
    for _ in 0..64 {
        nested = json!([nested, {"k": nested.clone()}]);
        if nested.to_string().len() > 20_000 {
            break;
        }
    }
    let mut deep = json!(null);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(-0.0),
        json!(""),
        json!(" "),
        json!("\u{0}\u{7f}\u{202e}"),
        json!("é".repeat(9_000)),
        json!("9".repeat(17_000)),
        json!("-"),
        json!("+"),
        json!("::"),
        json!("1.2.3.4/24"),
        json!("[::1]:80"),
        json!("-170141183460469231731687303715884105728"),
        json!("2024-13-45T99:99:99Z"),
        json!([]),
        json!([null, [null, [null]]]),
        json!({}),
        json!({"a": {"b": {"c": null}}}),
        nested,
        deep,
    ]
}

/// Every field either parser knows, top level and nested.
const FIELDS: &[&str] = &[
    "company",
    "apikey",
    "timestamp",
    "vendor",
    "product",
    "source_ip",
    "source_port",
    "destination_ip",
    "destination_port",
    "agent_ip",
    "file_path",
    "type",
    "severity",
    "event_id",
    "title",
    "time",
    "description",
    "finding_type",
    "target",
    "observables",
];

const NESTED: &[(&str, &[&str])] = &[
    (
        "target",
        &[
            "hostname",
            "instance_id",
            "ips",
            "account_id",
            "region",
            "cloud_provider",
            "tags",
        ],
    ),
    (
        "observables",
        &[
            "source_ip",
            "source_port",
            "destination_ip",
            "destination_port",
            "file_path",
            "file_hashes",
            "command_line",
            "username",
        ],
    ),
];

fn valid_payloads() -> Vec<(AlertSource, Value)> {
    vec![
        (
            AlertSource::Secdo,
            json!({"company": "secdo", "apikey": "k", "timestamp": "1493209485000", "vendor": "v",
                   "product": "p", "source_port": "1", "destination_ip": "1.1.1.1",
                   "source_ip": "10.0.0.1", "destination_port": "80", "type": "OutgoingConnectionEvent"}),
        ),
        (
            AlertSource::Secdo,
            json!({"company": "secdo", "apikey": "k", "timestamp": 1493209485000_i64, "vendor": "v",
                   "product": "p", "agent_ip": "10.0.0.1", "file_path": "c:\\x", "type": "SuspiciousFileEvent"}),
        ),
        (
            AlertSource::Generic,
            json!({"title": "t", "severity": "low", "target": {"hostname": "h", "ips": ["10.0.0.1"], "tags": {"a": "b"}},
                   "observables": {"file_hashes": ["d41d8cd98f00b204e9800998ecf8427e"]}}),
        ),
    ]
}

fn check(source: AlertSource, payload: &Value) {
    let now: DateTime<Utc> = DateTime::from_timestamp(1_717_200_000, 0).unwrap();
    let parser = parser(source).unwrap();
    match parser.parse(payload, now) {
        Ok(alerts) => assert!(!alerts.is_empty()),
        Err(SourceError::NotAnObject) => assert!(!payload.is_object()),
        Err(SourceError::InvalidFields(errs)) => {
            assert!(!errs.is_empty());
            for e in &errs {
                // Messages quote at most a short excerpt of the input.
                assert!(
                    e.problem.len() < 512,
                    "{}: {} bytes",
                    e.field,
                    e.problem.len()
                );
            }
        }
    }
}

#[test]
fn malformed_payloads_never_panic() {
    let weird = weird_values();
    let mut checked = 0;
    for (source, valid) in valid_payloads() {
        for w in &weird {
            check(source, w);
            for field in FIELDS {
                let mut p = valid.clone();
                p[*field] = w.clone();
                check(source, &p);
                checked += 1;
            }
            for (parent, children) in NESTED {
                for child in *children {
                    let mut p = valid.clone();
                    if !p[*parent].is_object() {
                        p[*parent] = json!({});
                    }
                    p[*parent][*child] = w.clone();
                    check(source, &p);
                    p[*parent][*child] = json!([w.clone(), w.clone()]);
                    check(source, &p);
                    checked += 2;
                }
            }
        }
        // Every field set to the same odd value at once.
        for w in &weird {
            let mut p = valid.clone();
            for field in FIELDS {
                p[*field] = w.clone();
            }
            check(source, &p);
        }
    }
    assert!(checked > 3_000, "{checked}");
}

#[test]
fn every_value_is_refused_as_a_whole_payload_unless_an_object() {
    for source in [AlertSource::Secdo, AlertSource::Generic] {
        for w in weird_values() {
            let result = parser(source).unwrap().parse(&w, Utc::now());
            if w.is_object() {
                assert!(matches!(result, Err(SourceError::InvalidFields(_))));
            } else {
                assert_eq!(result.unwrap_err(), SourceError::NotAnObject);
            }
        }
    }
}
