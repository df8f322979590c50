//! Pull connections end to end on SQLite and Postgres: created and tested through the API,
//! polled by workers against fake CrowdStrike and Defender APIs that speak the documented
//! endpoints, with restarts, late alerts and payloads the parser refuses.

mod common;

use chrono::{Duration as Span, Utc};
use common::{get_json, post_json, serve_state};
use riposte_fakes::crowdstrike::{FakeCrowdStrike, sample_alert as cs_alert};
use riposte_fakes::defender::{FakeDefender, sample_alert as mde_alert};
use riposte_notify::OutboundPolicy;
use riposte_server::AppState;
use riposte_store::testing::both;
use riposte_store::{BlobStore, MasterKey, Role, Store};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::{Value, json};

fn lab() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
    }
}

fn worker(store: &Store, key: &MasterKey, dir: &std::path::Path) -> Worker {
    let config = WorkerConfig {
        outbound: lab(),
        master_key: key.clone(),
        ..WorkerConfig::default()
    };
    Worker::new(
        store.clone(),
        BlobStore::local(&dir.join("evidence")).unwrap(),
        config,
    )
}

async fn vendor_ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = sqlx::query_scalar("SELECT vendor_event_id FROM alerts")
        .fetch_all(store.pool())
        .await
        .unwrap();
    ids.sort();
    ids
}

#[tokio::test]
async fn crowdstrike_and_defender_connections_poll_without_gaps_or_duplicates() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let store = db.store().clone();
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate();
        let mut state = AppState::new(store.clone(), key.clone());
        state.outbound = lab();
        let base = serve_state(state).await;
        let http = reqwest::Client::new();
        let (_, admin) = store.create_api_key("admin", Role::Admin).await.unwrap();
        let (_, analyst) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();
        let (_, viewer) = store.create_api_key("viewer", Role::Viewer).await.unwrap();
        let connections = format!("{base}/api/v1/connections");

        let falcon = FakeCrowdStrike::new("cs-client", "cs-secret");
        falcon.set_max_page_size(2);
        let now = Utc::now();
        for n in 1..=5 {
            falcon.add_alert(cs_alert(
                n,
                now - Span::minutes(30) + Span::minutes(n as i64),
            ));
        }
        // An alert updated long before the first window's lookback is never fetched.
        falcon.add_alert(cs_alert(99, now - Span::days(3)));
        let falcon_server = falcon.start().await;

        // Validation: the field at fault is named; viewers and analysts cannot create.
        let spec = |secret: &str| {
            json!({"name": "falcon", "vendor": "crowdstrike", "secret": secret, "poll_interval_seconds": 1, "overlap_seconds": 0,
                   "settings": {"base_url": falcon_server.url(), "client_id": "cs-client", "page_size": 2}})
        };
        for key in [&viewer, &analyst] {
            assert_eq!(
                post_json(&http, &connections, key, &spec("x"))
                    .await
                    .status(),
                403
            );
        }
        let bad = [
            (
                json!({"name": "a", "vendor": "qradar", "settings": {}}),
                "vendor",
            ),
            (
                json!({"name": "a", "vendor": "crowdstrike", "settings": {"base_url": falcon_server.url(), "client_id": "x"}}),
                "secret",
            ),
            (
                json!({"name": "a", "vendor": "crowdstrike", "secret": "s", "settings": {"client_id": "x"}}),
                "settings",
            ),
            (
                json!({"name": "a", "vendor": "crowdstrike", "secret": "s", "settings": {"base_url": "http://169.254.169.254", "client_id": "x"}}),
                "settings",
            ),
            (
                json!({"name": "a", "vendor": "crowdstrike", "secret": "s", "poll_interval_seconds": -4, "settings": {"base_url": falcon_server.url(), "client_id": "x"}}),
                "poll_interval_seconds",
            ),
        ];
        for (body, at) in bad {
            let r = post_json(&http, &connections, &admin, &body).await;
            assert_eq!(r.status(), 422, "{body}");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["fields"][0]["field"], at, "{err}");
        }

        // A wrong secret is accepted at creation but the test call says why it fails.
        let r = post_json(&http, &connections, &admin, &spec("wrong-secret")).await;
        assert_eq!(r.status(), 201);
        let wrong: Value = r.json().await.unwrap();
        let wrong_id = wrong["id"].as_str().unwrap();
        assert!(!wrong.to_string().contains("wrong-secret"));
        let tested = post_json(
            &http,
            format!("{connections}/{wrong_id}/test"),
            &analyst,
            &json!({}),
        )
        .await;
        let tested: Value = tested.json().await.unwrap();
        assert_eq!(tested["ok"], false, "{tested}");
        assert!(
            tested["error"]
                .as_str()
                .unwrap()
                .contains("authentication failed"),
            "{tested}"
        );
        let r = http
            .delete(format!("{connections}/{wrong_id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);

        let created: Value = post_json(&http, &connections, &admin, &spec("cs-secret"))
            .await
            .json()
            .await
            .unwrap();
        let cs_id = created["id"].as_str().unwrap().to_string();
        let tested: Value = post_json(
            &http,
            format!("{connections}/{cs_id}/test"),
            &analyst,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(tested["ok"], true, "{tested}");

        // First poll: the five recent alerts over three pages, each stored once.
        let w1 = worker(&store, &key, dir.path());
        assert!(w1.poll_one().await.unwrap());
        let ids = vendor_ids(&store).await;
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert!(ids.iter().all(|id| !id.ends_with(":99")));
        let conn = get_json(&http, format!("{connections}/{cs_id}"), &viewer).await;
        assert_eq!(conn["alerts_ingested"], 5, "{conn}");
        assert!(
            conn["cursor"].is_string() && conn["last_error"].is_null(),
            "{conn}"
        );
        // Each new alert was queued for triage like any pushed one.
        let triage: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'triage_alert'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(triage, 5);

        // Not due again until its interval passes (nothing to claim right now).
        assert!(!w1.poll_one().await.unwrap());

        // A late alert, an updated one, and a payload the parser refuses; a restarted
        // worker (new instance) picks up exactly the new alert and records the bad one.
        falcon.add_alert(cs_alert(6, Utc::now()));
        let mut updated = cs_alert(2, Utc::now());
        updated["status"] = json!("in_progress");
        assert!(falcon.update_alert(updated));
        let mut broken = cs_alert(7, Utc::now());
        broken["device"] = json!("not-an-object");
        broken["severity"] = json!("very");
        broken["created_timestamp"] = json!(12);
        broken["timestamp"] = json!(12);
        falcon.add_alert(broken);
        let r = http
            .post(format!("{connections}/{cs_id}/poll"))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        drop(w1);
        let w2 = worker(&store, &key, dir.path());
        assert!(w2.poll_one().await.unwrap());
        let ids = vendor_ids(&store).await;
        assert_eq!(ids.len(), 6, "{ids:?}");
        let errors = get_json(&http, format!("{connections}/{cs_id}/errors"), &viewer).await;
        let errors = errors["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]["payload"]["composite_id"]
                .as_str()
                .unwrap()
                .ends_with(":7")
        );
        // The updated alert counted as a repeat, not a new alert.
        let seen: i64 = sqlx::query_scalar("SELECT MAX(seen_count) FROM alerts")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(seen >= 2);

        // Rate limited beyond the poller's retries: the poll fails, the cursor stays,
        // the error is visible; the next poll catches up with nothing lost.
        let before = get_json(&http, format!("{connections}/{cs_id}"), &viewer).await;
        falcon.add_alert(cs_alert(8, Utc::now()));
        falcon.set_retry_after(0);
        falcon.rate_limit_next(50);
        store.poll_connection_now(&cs_id).await.unwrap();
        assert!(w2.poll_one().await.unwrap());
        let failed = get_json(&http, format!("{connections}/{cs_id}"), &viewer).await;
        assert_eq!(failed["failures"], 1, "{failed}");
        assert!(
            failed["last_error"]
                .as_str()
                .unwrap()
                .contains("rate limited"),
            "{failed}"
        );
        assert_eq!(failed["cursor"], before["cursor"]);
        falcon.rate_limit_next(0);
        store.poll_connection_now(&cs_id).await.unwrap();
        assert!(w2.poll_one().await.unwrap());
        assert_eq!(vendor_ids(&store).await.len(), 7);
        let healed = get_json(&http, format!("{connections}/{cs_id}"), &viewer).await;
        assert!(
            healed["last_error"].is_null() && healed["failures"] == 0,
            "{healed}"
        );

        // Defender: tokens from the (fake) Entra endpoint, nextLink pagination.
        let mde = FakeDefender::new("tenant-1", "mde-client", "mde-secret");
        mde.set_max_page_size(2);
        for n in 1..=3 {
            mde.add_alert(mde_alert(n, Utc::now() - Span::minutes(10)));
        }
        let mde_server = mde.start().await;
        let spec = json!({"name": "mde", "vendor": "defender", "secret": "mde-secret", "overlap_seconds": 0,
            "settings": {"tenant_id": "tenant-1", "client_id": "mde-client", "login_url": mde_server.url(), "api_url": mde_server.url()}});
        let created: Value = post_json(&http, &connections, &admin, &spec)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(created["vendor"], "defender", "{created}");
        let w3 = worker(&store, &key, dir.path());
        assert!(w3.poll_one().await.unwrap());
        let sources: Vec<String> =
            sqlx::query_scalar("SELECT source FROM alerts WHERE source = 'defender'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(sources.len(), 3);
        assert!(mde.token_requests() >= 1);

        // Listing never shows a credential.
        let listed = get_json(&http, &connections, &viewer).await;
        let text = listed.to_string();
        assert!(!text.contains("cs-secret") && !text.contains("mde-secret"));
        assert_eq!(listed["connections"].as_array().unwrap().len(), 2);
        let stored: Vec<String> = sqlx::query_scalar("SELECT secret_sealed FROM connections")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(
            stored
                .iter()
                .all(|s| s.starts_with("v1:") && !s.contains("secret"))
        );
    }
}
