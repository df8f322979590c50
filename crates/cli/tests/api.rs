//! The HTTP API on SQLite and Postgres: auth, roles, intake, validation, dedup, bad input.

mod common;

use common::{get_json, post_json, secdo_network, serve_in_process};
use riposte_store::Role;
use riposte_store::testing::both;
use serde_json::{Value, json};

#[tokio::test]
async fn api_contract_holds_on_both_backends() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let store = db.store().clone();
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, analyst) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();
        let (_, viewer) = store.create_api_key("viewer", Role::Viewer).await.unwrap();

        // /health needs no key; everything else does.
        assert_eq!(
            http.get(format!("{base}/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        for path in ["/api/v1/alerts", "/api/v1/investigations", "/metrics"] {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} without a key");
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth("rip_0000")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path} with an unknown key");
        }

        // The seed's SECDO example, key in the body, answers `true` and is stored once.
        let url = format!("{base}/publicapi/v2/enrich_with_secdo/");
        let r = http
            .post(&url)
            .json(&secdo_network(&analyst, "192.168.52.131", "1674573196751"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let alert_id = r.headers()["x-riposte-alert-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(r.json::<Value>().await.unwrap(), json!(true));
        let again = http
            .post(&url)
            .json(&secdo_network(&analyst, "192.168.52.131", "1674573196751"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.headers()["x-riposte-alert-id"].to_str().unwrap(),
            alert_id,
            "duplicate maps to the first alert"
        );
        assert_eq!(store.count_alerts().await.unwrap(), 1);
        let stored: Value =
            get_json(&http, format!("{base}/api/v1/alerts/{alert_id}"), &viewer).await;
        assert_eq!(stored["source"], "secdo");
        assert_eq!(stored["vendor_event_id"], "1674573196751");
        assert!(
            stored["raw"].get("apikey").is_none(),
            "the credential is never stored"
        );
        assert!(!stored.to_string().contains(&analyst));

        // A viewer may read but not submit; a wrong key in the body is refused.
        let r = http
            .post(&url)
            .json(&secdo_network(&viewer, "192.168.52.131", "x1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = http
            .post(&url)
            .json(&secdo_network("nope", "192.168.52.131", "x2"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        // Missing mandatory fields: 422 naming each one, nothing stored.
        let r = http
            .post(&url)
            .json(&json!({"apikey": analyst, "type": "OutgoingConnectionEvent"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        let fields = field_names(&body);
        for f in [
            "company",
            "timestamp",
            "vendor",
            "product",
            "source_ip",
            "destination_ip",
            "destination_port",
        ] {
            assert!(
                fields.iter().any(|x| x == f),
                "{f} must be named in {fields:?}"
            );
        }
        let r = http.post(&url).json(&json!({"apikey": analyst, "type": "SuspiciousFileEvent", "company": "c", "timestamp": "1493209485000", "vendor": "McAfee", "product": "ePO"})).send().await.unwrap();
        let body: Value = r.json().await.unwrap();
        let fields = field_names(&body);
        assert_eq!(fields, ["agent_ip", "file_path"]);
        // Wrong types and values.
        let mut bad = secdo_network(&analyst, "not-an-ip", "x3");
        bad["destination_port"] = json!("99999");
        bad["severity"] = json!("URGENT");
        bad["timestamp"] = json!(true);
        let body: Value = http
            .post(&url)
            .json(&bad)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fields = field_names(&body);
        for f in ["source_ip", "destination_port", "severity", "timestamp"] {
            assert!(
                fields.iter().any(|x| x == f),
                "{f} must be named in {fields:?}"
            );
        }
        // Malformed JSON and oversized bodies.
        let r = http
            .post(&url)
            .bearer_auth(&analyst)
            .header("content-type", "application/json")
            .body("{\"company\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("not valid JSON"));
        let huge = format!("{{\"company\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
        let r = http
            .post(&url)
            .bearer_auth(&analyst)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let r = post_json(
            &http,
            format!("{base}/api/v1/alerts"),
            &analyst,
            &json!([1, 2]),
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_eq!(
            store.count_alerts().await.unwrap(),
            1,
            "no refused request stored anything"
        );

        // The generic API.
        let generic = json!({"title": "Suspicious binary", "severity": "high", "event_id": "g-1", "target": {"hostname": "web01", "ips": ["10.0.0.5"]}});
        let r = post_json(&http, format!("{base}/api/v1/alerts"), &analyst, &generic).await;
        assert_eq!(r.status(), 202);
        let r = post_json(&http, format!("{base}/api/v1/alerts"), &analyst, &generic).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "duplicate");
        let r = post_json(
            &http,
            format!("{base}/api/v1/alerts"),
            &analyst,
            &json!({"severity": "severe", "target": {}}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let list: Value = get_json(&http, format!("{base}/api/v1/alerts"), &viewer).await;
        assert_eq!(list["total"], 2);
        let generic_and_secdo = 2;

        // Vendor payloads through their source's parser: a real GuardDuty finding from the corpus.
        let finding: Value = serde_json::from_str(
            &std::fs::read_to_string(
                common::corpus()
                    .join("alerts/guardduty/elastic-ec2-trojan-blackholetraffic-dns.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let r = post_json(
            &http,
            format!("{base}/api/v1/sources/guardduty/alerts"),
            &analyst,
            &finding,
        )
        .await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        let gd_id = body["alerts"][0]["alert_id"].as_str().unwrap().to_string();
        let stored: Value = get_json(&http, format!("{base}/api/v1/alerts/{gd_id}"), &viewer).await;
        assert_eq!(stored["source"], "guardduty");
        assert_eq!(stored["vendor_event_id"], finding["id"]);
        assert_eq!(stored["finding_type"], finding["type"]);
        assert_eq!(
            stored["target"]["instance_id"],
            finding["resource"]["instanceDetails"]["instanceId"]
        );
        let r = post_json(
            &http,
            format!("{base}/api/v1/sources/guardduty/alerts"),
            &analyst,
            &finding,
        )
        .await;
        assert_eq!(r.status(), 200, "the same finding again is a duplicate");
        let r = post_json(
            &http,
            format!("{base}/api/v1/sources/splunk/alerts"),
            &analyst,
            &finding,
        )
        .await;
        assert_eq!(r.status(), 404);
        let r = post_json(
            &http,
            format!("{base}/api/v1/sources/crowdstrike/alerts"),
            &analyst,
            &finding,
        )
        .await;
        assert!(
            r.status() == 400 || r.status() == 422,
            "a GuardDuty finding is not a CrowdStrike alert: {}",
            r.status()
        );
        let r = post_json(
            &http,
            format!("{base}/api/v1/sources/guardduty/alerts"),
            &viewer,
            &finding,
        )
        .await;
        assert_eq!(r.status(), 403);

        // Each accepted alert has exactly one triage job queued (no worker runs here).
        assert_eq!(
            store
                .jobs_of_kind(riposte_model::JobKind::TriageAlert)
                .await
                .unwrap()
                .len(),
            generic_and_secdo + 1
        );
        let metrics = http
            .get(format!("{base}/metrics"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("riposte_alerts_total"), "{metrics}");
        let r = http
            .get(format!("{base}/api/v1/investigations/not-a-uuid"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = http
            .get(format!("{base}/api/v1/investigations/{}", uuid_like()))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
}

/// The `field` names of a 422 body, in order.
fn field_names(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .expect("a fields list")
        .iter()
        .map(|f| f["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}

/// The queue by stage, in the API and on `/metrics`, on both backends: alerts accepted
/// with no worker running wait as runnable triage jobs, and the oldest one's wait grows.
#[tokio::test]
async fn the_queue_shows_each_stage_its_waiting_jobs_and_their_age() {
    for db in both().await {
        let store = db.store().clone();
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, analyst) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();
        let (_, viewer) = store.create_api_key("viewer", Role::Viewer).await.unwrap();
        for (i, ip) in ["10.1.0.1", "10.1.0.2", "10.1.0.3"].iter().enumerate() {
            let r = http
                .post(format!("{base}/publicapi/v2/enrich_with_secdo/"))
                .json(&secdo_network(&analyst, ip, &format!("queue-{i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", db.name());
        }
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let queue = get_json(&http, format!("{base}/api/v1/system/queue"), &viewer).await;
        assert_eq!(queue["window_secs"], 300);
        let stages = queue["stages"].as_array().unwrap();
        let triage = stages
            .iter()
            .find(|s| s["kind"] == "triage_alert")
            .unwrap_or_else(|| panic!("{}: {queue:#}", db.name()));
        assert_eq!(
            (
                &triage["queued"],
                &triage["ready"],
                &triage["running"],
                &triage["done_recent"]
            ),
            (&json!(3), &json!(3), &json!(0), &json!(0)),
            "{}: {triage:#}",
            db.name()
        );
        let oldest = triage["oldest_ready_secs"].as_f64().unwrap();
        assert!((1.0..120.0).contains(&oldest), "{}: {oldest}", db.name());

        let metrics = http
            .get(format!("{base}/metrics"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("riposte_queue_ready{kind=\"triage_alert\"} 3"),
            "{metrics}"
        );
        assert!(
            metrics.contains("riposte_queue_oldest_ready_seconds{kind=\"triage_alert\"}"),
            "{metrics}"
        );
        // Viewers read it; no key, no queue.
        let r = http
            .get(format!("{base}/api/v1/system/queue"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}
