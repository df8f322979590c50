//! Finding 5 of the hardening review, against a spawned `riposte serve` on SQLite and
//! Postgres: a webhook URL is a credential (Slack and Teams put their secret in its path).
//! It is stored sealed — rows an older version stored in clear are sealed when the server
//! starts —, every role reads it masked, admins replace it but never read it back, and it
//! never reaches the log (at debug level) or the audit trail, while deliveries still go to
//! the real URL.

mod common;

use axum::Router;
use axum::http::Uri;
use common::{Server, apikey, get_json, library, post_json, serve_binary};
use riposte_store::Store;
use riposte_store::testing::insert_webhook_in_clear;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Every secret part of the URLs below carries this marker.
const MARK: &str = "s3cret";

/// A receiver on loopback that records the path and query of every request; its origin.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let app = Router::new().fallback(move |uri: Uri| {
        let sink = sink.clone();
        async move {
            let target = uri.path_and_query().map(ToString::to_string);
            sink.lock().unwrap().push(target.unwrap_or_default());
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

struct Fixture {
    server: Server,
    http: reqwest::Client,
    store: Store,
    admin: String,
    analyst: String,
    viewer: String,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/webhooks{path}", self.server.base)
    }

    /// `GET /api/v1/webhooks/{id}` as each role: the same webhook, its URL as `shown`.
    async fn read_as_everyone(&self, id: &str, shown: &str) -> Value {
        let mut seen = Vec::new();
        for key in [&self.viewer, &self.analyst, &self.admin] {
            let one = get_json(&self.http, self.url(&format!("/{id}")), key).await;
            let all = get_json(&self.http, self.url(""), key).await;
            for text in [one.to_string(), all.to_string()] {
                assert!(!text.contains(MARK) && !text.contains("pw@"), "{text}");
            }
            assert_eq!(one["url"], shown, "{one:#}");
            seen.push(one);
        }
        seen.pop().unwrap()
    }

    /// Sends a test notification as the analyst; it must be accepted.
    async fn send_test(&self, id: &str) {
        let r = post_json(
            &self.http,
            self.url(&format!("/{id}/test")),
            &self.analyst,
            &json!({}),
        )
        .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "{v:#}");
    }

    async fn put(&self, id: &str, body: &Value) -> Value {
        let r = self
            .http
            .put(self.url(&format!("/{id}")))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

async fn webhook_urls_are_credentials(db_url: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = library(tmp.path());
    let admin = apikey(&data, db_url, "admin");
    let analyst = apikey(&data, db_url, "analyst");
    let viewer = apikey(&data, db_url, "viewer");
    let store = match db_url {
        Some(url) => Store::connect(url).await.unwrap(),
        None => Store::open_sqlite(&data.join("riposte.db")).await.unwrap(),
    };
    let (origin, seen) = receiver().await;
    let masked = format!("{origin}/services/***");
    let legacy_path = format!("/services/T1/B1/legacy-{MARK}");
    insert_webhook_in_clear(&store, "legacy", &format!("{origin}{legacy_path}")).await;

    let mut extra = vec!["--no-bundled-sigma", "--outbound-allow", "127.0.0.1/32"];
    if let Some(url) = db_url {
        extra.extend(["--database-url", url]);
    }
    let server = serve_binary(&data, &lib, &extra, &[("RIPOSTE_LOG", "debug".into())]);
    let f = Fixture {
        server,
        http: reqwest::Client::new(),
        store,
        admin,
        analyst,
        viewer,
    };

    // The stored-in-clear row was sealed at start, and still delivers to its real URL.
    let (shown, sealed): (String, String) =
        sqlx::query_as("SELECT url, url_sealed FROM webhooks WHERE id = 'legacy'")
            .fetch_one(f.store.pool())
            .await
            .unwrap();
    assert_eq!(shown, masked);
    assert!(
        sealed.starts_with("v1:") && !sealed.contains(MARK),
        "{sealed}"
    );
    f.read_as_everyone("legacy", &masked).await;
    f.send_test("legacy").await;
    assert_eq!(seen.lock().unwrap().pop().unwrap(), legacy_path);

    // A new webhook whose URL holds secrets everywhere a URL can.
    let (host, port) = origin["http://".len()..].split_once(':').unwrap();
    let real =
        format!("http://u:pw@{host}:{port}/services/T0/B0/new-{MARK}?token=q-{MARK}#f-{MARK}");
    let r = post_json(
        &f.http,
        f.url(""),
        &f.admin,
        &json!({"name": "soc", "url": real, "preset": "slack",
                "events": ["processing_complete"], "secret": "sign-me"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["url"], masked.as_str(), "{created:#}");
    assert!(!created.to_string().contains(MARK));
    let id = created["id"].as_str().unwrap().to_string();
    let current = f.read_as_everyone(&id, &masked).await;
    f.send_test(&id).await;
    assert_eq!(
        seen.lock().unwrap().pop().unwrap(),
        format!("/services/T0/B0/new-{MARK}?token=q-{MARK}")
    );

    // What an admin read, sent back (the masked URL), keeps the real one.
    let mut round_trip = json!({});
    for k in [
        "name", "url", "preset", "events", "template", "settings", "enabled",
    ] {
        round_trip[k] = current[k].clone();
    }
    round_trip["enabled"] = json!(false);
    let updated = f.put(&id, &round_trip).await;
    assert_eq!(
        (&updated["url"], &updated["enabled"]),
        (&json!(masked), &json!(false))
    );
    f.send_test(&id).await;
    assert_eq!(
        seen.lock().unwrap().pop().unwrap(),
        format!("/services/T0/B0/new-{MARK}?token=q-{MARK}")
    );
    // Leaving it out keeps it too; a new one replaces it.
    round_trip.as_object_mut().unwrap().remove("url");
    f.put(&id, &round_trip).await;
    f.send_test(&id).await;
    assert!(
        seen.lock()
            .unwrap()
            .pop()
            .unwrap()
            .contains(&format!("new-{MARK}"))
    );
    round_trip["url"] = json!(format!("{origin}/services/T2/B2/next-{MARK}"));
    assert_eq!(f.put(&id, &round_trip).await["url"], masked.as_str());
    f.read_as_everyone(&id, &masked).await;
    f.send_test(&id).await;
    assert_eq!(
        seen.lock().unwrap().pop().unwrap(),
        format!("/services/T2/B2/next-{MARK}")
    );

    // At rest: only sealed. (The row stored in clear above may linger in SQLite's free
    // pages; the URLs given through the API never touched the disk in clear.)
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT url, url_sealed FROM webhooks")
        .fetch_all(f.store.pool())
        .await
        .unwrap();
    assert!(!format!("{rows:?}").contains(MARK), "{rows:?}");
    if db_url.is_none() {
        for file in ["riposte.db", "riposte.db-wal"] {
            let bytes = std::fs::read(data.join(file)).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&format!("new-{MARK}")), "{file}");
            assert!(!text.contains(&format!("next-{MARK}")), "{file}");
        }
    }
    // The audit trail records the masked URL.
    for action in ["webhook.created", "webhook.updated"] {
        let entries = f.store.audit_entries(action).await.unwrap();
        assert!(!entries.is_empty(), "{action}");
        let text = format!("{entries:?}");
        assert!(!text.contains(MARK) && text.contains(&masked), "{text}");
    }
    // The log, at debug level, never shows any of it.
    let log = f.server.log();
    assert!(log.contains("DEBUG"), "the server logged at debug level");
    assert!(!log.contains(MARK) && !log.contains("pw@"), "{log}");
}

#[tokio::test]
async fn webhook_urls_are_credentials_on_sqlite() {
    webhook_urls_are_credentials(None).await;
}

#[tokio::test]
async fn webhook_urls_are_credentials_on_postgres() {
    let url = riposte_store::testing::fresh_postgres_url().await;
    webhook_urls_are_credentials(Some(&url)).await;
}
