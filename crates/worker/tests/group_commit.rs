//! The intake's group commit: concurrent requests are stored together with the outcomes of
//! storing them one by one, on SQLite and a real Postgres; a replayed signature is refused
//! without failing the requests committed with it.

use chrono::Utc;
use riposte_model::{Alert, AlertId, AlertSource, JobKind, Observables, Severity, Target};
use riposte_store::AlertInsert;
use riposte_store::testing::both;
use riposte_worker::group_commit::{IntakeError, IntakeRequest, IntakeWriter, IntegrationStamp};
use std::collections::{HashMap, HashSet};

fn alert(event_id: &str) -> Alert {
    Alert {
        id: AlertId::new(),
        source: AlertSource::Generic,
        vendor: "acme".into(),
        product: "edr".into(),
        vendor_event_id: Some(event_id.into()),
        title: format!("alert {event_id}"),
        description: String::new(),
        severity: Severity::Low,
        finding_type: String::new(),
        time: Utc::now(),
        first_seen: None,
        last_seen: None,
        received_at: Utc::now(),
        target: Target {
            hostname: Some("web01".into()),
            ..Default::default()
        },
        observables: Observables::default(),
        raw: serde_json::json!({}),
    }
}

fn request(event_ids: &[String]) -> IntakeRequest {
    IntakeRequest {
        actor: "apikey:test".into(),
        connection_id: None,
        alerts: event_ids.iter().map(|id| alert(id)).collect(),
        integration: None,
    }
}

#[tokio::test]
async fn concurrent_requests_are_stored_once_each_with_their_triage_and_audit() {
    for db in both().await {
        let store = db.store().clone();
        let writer = IntakeWriter::new(store.clone());
        // 200 requests of 1–3 alerts over 120 distinct event ids: many repeats, within a
        // request, across requests of one batch, and across batches.
        let requests: Vec<Vec<String>> = (0..200)
            .map(|n| {
                (0..(n % 3 + 1))
                    .map(|k| format!("ev-{}", (n * 7 + k * 13) % 120))
                    .collect()
            })
            .collect();
        let mut tasks = Vec::new();
        for ids in requests.clone() {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                let r = request(&ids);
                let sent: Vec<AlertId> = r.alerts.iter().map(|a| a.id).collect();
                (ids, sent, writer.submit(r).await.unwrap())
            }));
        }
        let mut created: HashMap<String, AlertId> = HashMap::new();
        let mut answers = Vec::new();
        for t in tasks {
            let (ids, sent, outcomes) = t.await.unwrap();
            assert_eq!(outcomes.len(), ids.len());
            for ((event, id), outcome) in ids.iter().zip(&sent).zip(&outcomes) {
                if let AlertInsert::Created(c) = outcome {
                    assert_eq!(c, id, "a created alert keeps the id it was sent with");
                    assert!(
                        created.insert(event.clone(), *c).is_none(),
                        "{event} created twice"
                    );
                }
            }
            answers.push((ids, outcomes));
        }
        assert_eq!(
            created.len(),
            120,
            "{}: every event id stored once",
            db.name()
        );
        for (ids, outcomes) in &answers {
            for (event, outcome) in ids.iter().zip(outcomes) {
                if let AlertInsert::Duplicate(d) = outcome {
                    assert_eq!(
                        Some(d),
                        created.get(event),
                        "a duplicate names the stored alert"
                    );
                }
            }
        }
        assert_eq!(store.count_alerts().await.unwrap(), 120);
        let triage: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1")
            .bind(JobKind::TriageAlert.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(triage, 120, "one triage job per stored alert");
        let accepted = store.audit_entries("alert.accepted").await.unwrap();
        assert_eq!(accepted.len(), 120);
        let total_sent: i64 = requests.iter().map(|r| r.len() as i64).sum();
        let seen: i64 = sqlx::query_scalar("SELECT CAST(SUM(seen_count) AS BIGINT) FROM alerts")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(seen, total_sent, "every arrival is counted");
    }
}

#[tokio::test]
async fn a_replayed_signature_is_refused_and_the_rest_of_its_batch_is_stored() {
    for db in both().await {
        let store = db.store().clone();
        let writer = IntakeWriter::new(store.clone());
        let expires = Utc::now() + chrono::Duration::minutes(5);
        let signed = |event: &str, signature: &str| IntakeRequest {
            integration: Some(IntegrationStamp {
                integration: "int-1".into(),
                signature: Some((signature.into(), expires)),
            }),
            ..request(&[event.to_string()])
        };
        let mut tasks = Vec::new();
        for n in 0..40 {
            let writer = writer.clone();
            // Every fourth request repeats the signature of the one before it.
            let signature = format!("sig-{}", if n % 4 == 3 { n - 1 } else { n });
            let r = signed(&format!("signed-{n}"), &signature);
            tasks.push(tokio::spawn(async move { writer.submit(r).await }));
        }
        let mut replayed = 0;
        let mut stored = HashSet::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(outcomes) => {
                    for o in outcomes {
                        let AlertInsert::Created(id) = o else {
                            panic!("unexpected {o:?}");
                        };
                        stored.insert(id);
                    }
                }
                Err(IntakeError::Replayed) => replayed += 1,
                Err(e) => panic!("{}: {e}", db.name()),
            }
        }
        assert_eq!(replayed, 10, "{}", db.name());
        assert_eq!(stored.len(), 30);
        assert_eq!(store.count_alerts().await.unwrap(), 30);
    }
}

#[tokio::test]
async fn a_deep_triage_queue_defers_low_severity_triage_but_accepts_every_alert() {
    use riposte_store::{NewJob, Store};
    use riposte_worker::group_commit::{BackPressure, Deferral};
    use std::time::Duration;
    for db in both().await {
        let store = db.store().clone();
        let backlog: Vec<NewJob> = (0..6)
            .map(|n| NewJob::new(JobKind::TriageAlert, serde_json::json!({"n": n}), None))
            .collect();
        let mut conn = store.pool().acquire().await.unwrap();
        Store::enqueue_many(&mut conn, &backlog).await.unwrap();
        drop(conn);
        let bp = BackPressure {
            queue_limit: 5,
            defer: Deferral {
                below: Severity::Medium,
                delay: Duration::from_secs(300),
            },
        };
        let writer = IntakeWriter::new(store.clone()).with_back_pressure(bp);
        let mut low = request(&["quiet".to_string()]);
        low.alerts[0].severity = Severity::Low;
        let mut high = request(&["loud".to_string()]);
        high.alerts[0].severity = Severity::High;
        let low_id = low.alerts[0].id;
        let high_id = high.alerts[0].id;
        writer.submit(low).await.unwrap();
        writer.submit(high).await.unwrap();
        assert_eq!(store.count_alerts().await.unwrap(), 2, "both accepted");
        let run_at = |alert: AlertId| {
            let store = store.clone();
            async move {
                let (created, run): (i64, i64) =
                    sqlx::query_as("SELECT created_at, run_at FROM jobs WHERE payload LIKE $1")
                        .bind(format!("%{alert}%"))
                        .fetch_one(store.pool())
                        .await
                        .unwrap();
                run - created
            }
        };
        assert_eq!(
            run_at(high_id).await,
            0,
            "{}: high severity is triaged at once",
            db.name()
        );
        assert_eq!(run_at(low_id).await, 300_000, "low severity waits");
        let accepted = store.audit_entries("alert.accepted").await.unwrap();
        let deferred: Vec<_> = accepted
            .iter()
            .filter(|e| e.detail.contains("triage_deferred_secs"))
            .collect();
        assert_eq!(deferred.len(), 1);
        assert!(deferred[0].detail.contains(&low_id.to_string()));
        // Without back-pressure nothing waits.
        let plain = IntakeWriter::new(store.clone());
        let mut other = request(&["quiet-2".to_string()]);
        other.alerts[0].severity = Severity::Low;
        let other_id = other.alerts[0].id;
        plain.submit(other).await.unwrap();
        assert_eq!(run_at(other_id).await, 0);
    }
}
