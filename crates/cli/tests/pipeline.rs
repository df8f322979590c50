//! Alert to verdict, in process, on SQLite and Postgres, over real corpus logs.

mod common;

use common::{
    BRUTE_IP, get_json, library, post_secdo, serve_in_process, wait_for_investigation,
    webhook_receiver,
};
use riposte_model::InvestigationStatus;
use riposte_notify::OutboundPolicy;
use riposte_store::testing::both;
use riposte_store::{BlobStore, Role, Store};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn alerts_become_investigations_with_verdicts_and_webhooks() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let store: Store = db.store().clone();
        let (hook, received) = webhook_receiver().await;
        let master_key = riposte_store::MasterKey::generate();
        // A Slack webhook of Settings › Integrations, beside the command-line webhook.
        let (slack, slack_received) = webhook_receiver().await;
        store
            .create_webhook(
                &master_key,
                &riposte_store::WebhookSpec {
                    name: "soc-slack".into(),
                    url: slack,
                    preset: "slack".into(),
                    events: vec![riposte_model::NotificationEvent::ProcessingWithAlarms],
                    template: None,
                    settings: serde_json::json!({}),
                    max_attempts: 2,
                    base_delay_ms: 10,
                    enabled: true,
                },
                Some("slack-secret"),
                None,
            )
            .await
            .unwrap();
        let config = WorkerConfig {
            master_key: master_key.clone(),
            evidence_roots: riposte_rules::EvidenceRoots::new([tmp.path().to_path_buf()]),
            webhook_url: Some(hook),
            webhook_secret: Some("hook-secret".into()),
            outbound: OutboundPolicy {
                allow: vec!["127.0.0.1/32".parse().unwrap()],
            },
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        };
        assert!(
            riposte_worker::bootstrap::evidence_library_defaults(&store, &lib)
                .await
                .unwrap()
        );
        let blobs = BlobStore::local(&tmp.path().join("evidence")).unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        for _ in 0..2 {
            tokio::spawn(Worker::new(store.clone(), blobs.clone(), config.clone()).run(rx.clone()));
        }
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, key) = store.create_api_key("t", Role::Analyst).await.unwrap();

        // The victim: brute force from BRUTE_IP then a root login from it, and a reverse shell.
        let alert = post_secdo(&http, &base, &key, "10.20.0.9", "victim-1").await;
        let d = wait_for_investigation(&http, &base, &key, &alert).await;
        let inv = &d["investigation"];
        assert_eq!(inv["status"], "complete", "{d:#}");
        assert_eq!(inv["host"], "victim");
        assert_eq!(
            inv["verdict"]["verdict"], "Malicious Activity Identified",
            "{d:#}"
        );
        let titles: Vec<&str> = d["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap())
            .collect();
        assert!(titles.iter().any(|t| t.contains(BRUTE_IP)), "{titles:?}");
        // The default rule keeps the alert with the evidence, beside the host's files.
        let (context, files): (Vec<&Value>, Vec<&Value>) = d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .partition(|e| e["provenance"]["method"] == "alert-context");
        assert_eq!(context.len(), 1, "{:#}", d["evidence"]);
        assert_eq!(
            files.len(),
            3,
            "auth.log, .bash_history, hostname: {:#}",
            d["evidence"]
        );
        let stored_context: Value = serde_json::from_slice(
            &blobs
                .get(context[0]["storage_key"].as_str().unwrap())
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(stored_context["class_uid"], 2004);
        // Chain of custody: each item's hash is the source file's, and the stored copy matches.
        for item in files {
            use sha2::Digest;
            assert_eq!(item["provenance"]["method"], "evidence-library");
            let source = std::fs::read(item["provenance"]["source"].as_str().unwrap()).unwrap();
            assert_eq!(item["sha256"], hex::encode(sha2::Sha256::digest(&source)));
            assert_eq!(item["size"], source.len());
            let stored = blobs
                .get(item["storage_key"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(
                &stored[..],
                &source[..],
                "stored copy of {}",
                item["provenance"]["original_path"]
            );
        }
        assert!(d["events_count"].as_i64().unwrap() > 10);
        let jobs: Vec<(&str, &str)> = d["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| (j["kind"].as_str().unwrap(), j["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            jobs,
            [
                ("collect", "done"),
                ("process", "done"),
                ("detect", "done"),
                ("notify", "done")
            ]
            .map(|(a, b)| (a, b))
            .to_vec(),
            "{jobs:?}"
        );
        let audit: Vec<&str> = d["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert!(
            audit.contains(&"investigation.started")
                && audit.contains(&"verdict.reached")
                && audit.contains(&"notification.sent"),
            "{audit:?}"
        );

        // The timeline API filters what was stored.
        let inv_id = inv["id"].as_str().unwrap();
        let page: Value = get_json(
            &http,
            format!("{base}/api/v1/investigations/{inv_id}/timeline?action=logon&limit=10"),
            &key,
        )
        .await;
        let logons = page["events"].as_array().unwrap();
        assert_eq!(logons.len(), 1, "{page:#}");
        assert_eq!(logons[0]["attributes"]["remote_ip"], BRUTE_IP);
        let r = http
            .get(format!(
                "{base}/api/v1/investigations/{inv_id}/timeline?action=teleport"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);

        // The webhook got the result, signed.
        let got = received.lock().unwrap().clone();
        let (headers, body) = got
            .iter()
            .find(|(_, b)| b["investigation_id"] == inv["id"])
            .expect("webhook for the victim");
        assert_eq!(body["verdict"], "Malicious Activity Identified");
        assert_eq!(body["event"], "processing_with_alarms");
        assert!(headers.contains_key("x-riposte-signature"));
        // And the Slack webhook got the preset's message, signed with its own secret.
        let slack_got = slack_received.lock().unwrap().clone();
        let title = inv["title"].as_str().unwrap();
        let (headers, body) = slack_got
            .iter()
            .find(|(_, b)| {
                b["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("{title}\nDetails: ")))
            })
            .unwrap_or_else(|| panic!("Slack message for the victim: {slack_got:?}"));
        assert_eq!(
            body.as_object().unwrap().len(),
            1,
            "Slack's payload is only text"
        );
        assert!(headers.contains_key("x-riposte-signature"));

        // LabSZ: the real log has brute force but no login from a brute-forcing address.
        let alert = post_secdo(&http, &base, &key, "10.20.0.5", "labsz-1").await;
        let d = wait_for_investigation(&http, &base, &key, &alert).await;
        assert_eq!(d["investigation"]["host"], "labsz");
        assert_eq!(
            d["investigation"]["verdict"]["verdict"], "Suspicious Activity",
            "{:#}",
            d["alarms"]
        );
        // Logons are sshd's "Accepted" lines and PAM's "session opened" lines.
        let accepted = common::openssh_log()
            .lines()
            .filter(|l| l.contains("Accepted ") || l.contains("session opened"))
            .count() as i64;
        let page: Value = get_json(
            &http,
            format!(
                "{base}/api/v1/investigations/{}/timeline?action=logon",
                d["investigation"]["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
        assert_eq!(page["events"].as_array().unwrap().len() as i64, accepted);

        // An alert about an unknown host is stored, explained, and starts nothing.
        let alert = post_secdo(&http, &base, &key, "10.99.99.99", "nobody-1").await;
        let mut decision = Value::Null;
        for _ in 0..100 {
            let a: Value = get_json(&http, format!("{base}/api/v1/alerts/{alert}"), &key).await;
            if !a["decision"].is_null() {
                decision = a;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(decision["investigation_id"].is_null());
        assert!(
            decision["decision"]
                .as_str()
                .unwrap()
                .contains("10.99.99.99"),
            "{decision:#}"
        );
        assert_eq!(store.list_investigations(10, 0).await.unwrap().len(), 2);
        assert!(
            store
                .list_investigations(10, 0)
                .await
                .unwrap()
                .iter()
                .all(|i| i.status == InvestigationStatus::Complete)
        );
        let _ = stop.send(true);
    }
}
