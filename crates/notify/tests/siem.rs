//! SIEM exports end to end: Splunk HEC and Elasticsearch `_bulk` batches, credentials and
//! retries, against a local receiver that records the exact requests.

mod common;

use common::{Answer, loopback_allowed, ok, receiver, status};
use riposte_model::NotificationEvent;
use riposte_notify::{AlarmSummary, Dispatcher, NotificationContext};
use riposte_store::testing::sqlite;
use riposte_store::{DeliveryTarget, MasterKey, SiemExportSpec};
use serde_json::{Value, json};

const EVENT: NotificationEvent = NotificationEvent::ProcessingWithAlarms;

fn context(alarms: usize) -> NotificationContext {
    NotificationContext {
        title: "Reverse shell on db-2".into(),
        verdict: Some("Malicious Activity Identified".into()),
        score: Some(80),
        host: Some("db-2".into()),
        investigation_id: Some("inv-9".into()),
        time: chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00.250Z")
            .ok()
            .map(|t| t.to_utc()),
        alarms: (0..alarms)
            .map(|n| AlarmSummary {
                detector: format!("d{n}"),
                title: format!("alarm {n}"),
                severity: "medium".into(),
                mitre: vec![],
            })
            .collect(),
        ..Default::default()
    }
}

fn export(kind: &str, url: &str, settings: Value) -> SiemExportSpec {
    SiemExportSpec {
        name: kind.into(),
        kind: kind.into(),
        url: url.into(),
        events: vec![EVENT],
        settings,
        max_attempts: 3,
        base_delay_ms: 0,
        enabled: true,
    }
}

#[tokio::test]
async fn splunk_hec_gets_batched_events_with_its_token_and_retries() {
    let rx = receiver(vec![
        status(503),
        Answer(200, vec![], r#"{"text":"Success","code":0}"#.into()),
    ])
    .await;
    let db = sqlite().await;
    let key = MasterKey::generate();
    let created = db
        .store()
        .create_siem_export(
            &key,
            &export(
                "splunk_hec",
                &rx.base,
                json!({"batch_size": 2, "index": "security", "sourcetype": "riposte:finding"}),
            ),
            Some(r#"{"type":"splunk","token":"hec-token-1"}"#),
        )
        .await
        .unwrap();
    let outcomes = Dispatcher::new(db.store().clone(), key, loopback_allowed())
        .dispatch(EVENT, &context(3))
        .await
        .unwrap();
    // 1 verdict + 3 alarms in batches of 2: two deliveries; the first retried once.
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|o| o.report.ok()));
    assert_eq!(outcomes[0].report.attempts.len(), 2);

    let got = rx.requests();
    assert_eq!(got.len(), 3);
    let mut kinds = Vec::new();
    for r in &got {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/services/collector/event")
        );
        assert_eq!(r.header("authorization"), Some("Splunk hec-token-1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(got[0].body, got[1].body, "the failed batch is sent again");
    for r in &got[1..] {
        // HEC batches are event objects one after the other.
        let events: Vec<Value> = serde_json::Deserializer::from_slice(&r.body)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(events.len(), 2);
        for e in events {
            assert_eq!(e["time"], 1714557600.25);
            assert_eq!(e["host"], "db-2");
            assert_eq!(e["index"], "security");
            assert_eq!(e["sourcetype"], "riposte:finding");
            assert_eq!(e["source"], "riposte");
            assert_eq!(e["event"]["investigation_id"], "inv-9");
            kinds.push(e["event"]["kind"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(kinds, ["verdict", "alarm", "alarm", "alarm"]);
    let log = db
        .store()
        .list_deliveries(DeliveryTarget::SiemExport, &created.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log.iter().filter(|a| a.status_code == Some(503)).count(), 1);
}

#[tokio::test]
async fn elasticsearch_bulk_gets_ndjson_into_the_configured_index() {
    let rx = receiver(vec![Answer(
        200,
        vec![],
        r#"{"took":3,"errors":false,"items":[]}"#.into(),
    )])
    .await;
    let db = sqlite().await;
    let key = MasterKey::generate();
    db.store()
        .create_siem_export(
            &key,
            &export("elasticsearch", &format!("{}/", rx.base), json!({"index": "riposte-alarms"})),
            Some(r#"{"type":"api_key","key":"VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}"#),
        )
        .await
        .unwrap();
    let outcomes = Dispatcher::new(db.store().clone(), key, loopback_allowed())
        .dispatch(EVENT, &context(2))
        .await
        .unwrap();
    assert!(outcomes[0].report.ok());
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/_bulk"));
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(
        r.header("authorization"),
        Some("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
    );
    let text = r.text();
    assert!(text.ends_with('\n'), "the bulk API needs a final newline");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "an action line before each of 3 records");
    for pair in lines.chunks(2) {
        assert_eq!(pair[0], json!({"index": {"_index": "riposte-alarms"}}));
        assert_eq!(pair[1]["@timestamp"], "2024-05-01T10:00:00.250Z");
    }
    assert_eq!(lines[1]["kind"], "verdict");
    assert_eq!(lines[1]["alarm_count"], 2);
    assert_eq!(lines[3]["alarm"]["title"], "alarm 0");
}

#[tokio::test]
async fn bulk_item_errors_and_basic_auth() {
    let rx = receiver(vec![
        Answer(
            200,
            vec![],
            r#"{"took":3, "errors": true, "items":[{"index":{"status":400}}]}"#.into(),
        ),
        ok(),
    ])
    .await;
    let db = sqlite().await;
    let key = MasterKey::generate();
    let created = db
        .store()
        .create_siem_export(
            &key,
            &export("elasticsearch", &rx.base, json!({})),
            Some(r#"{"type":"basic","username":"elastic","password":"changeme"}"#),
        )
        .await
        .unwrap();
    let outcomes = Dispatcher::new(db.store().clone(), key, loopback_allowed())
        .dispatch(EVENT, &context(0))
        .await
        .unwrap();
    assert!(!outcomes[0].report.ok(), "item errors fail the batch");
    let got = rx.requests();
    assert_eq!(
        got.len(),
        1,
        "item errors (mapping, validation) are not retried"
    );
    assert_eq!(
        got[0].header("authorization"),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );
    assert_eq!(
        got[0].text().lines().next(),
        Some(r#"{"index":{"_index":"riposte"}}"#)
    );
    let log = db
        .store()
        .list_deliveries(DeliveryTarget::SiemExport, &created.id, 10)
        .await
        .unwrap();
    assert!(log[0].error.as_deref().unwrap().contains("item errors"));
}
