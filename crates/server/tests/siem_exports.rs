//! `/api/v1/siem-exports`: CRUD with roles, validation naming the field, the credential
//! sealed and never returned, and an export configured through the API pushing a batch to
//! a local collector with that credential, seen in its delivery log.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use reqwest::Method;
use riposte_model::NotificationEvent;
use riposte_notify::{Dispatcher, NotificationContext, OutboundPolicy};
use riposte_server::{AppState, router};
use riposte_store::testing::{TestDb, sqlite};
use riposte_store::{MasterKey, Role};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

struct Api {
    db: TestDb,
    key: MasterKey,
    base: String,
    http: reqwest::Client,
    admin: String,
    analyst: String,
    viewer: String,
}

fn loopback() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
    }
}

impl Api {
    async fn start() -> Api {
        let db = sqlite().await;
        let api_key = |role| {
            let store = db.store().clone();
            async move { store.create_api_key("k", role).await.unwrap().1 }
        };
        let (admin, analyst, viewer) = (
            api_key(Role::Admin).await,
            api_key(Role::Analyst).await,
            api_key(Role::Viewer).await,
        );
        let key = MasterKey::generate();
        let mut state = AppState::new(db.store().clone(), key.clone());
        state.outbound = loopback();
        let app = router(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Api {
            db,
            key,
            base: format!("http://{addr}/api/v1/siem-exports"),
            http: reqwest::Client::new(),
            admin,
            analyst,
            viewer,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

/// A collector that records every request and answers `{"text":"Success","code":0}`.
async fn collector() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            sink.lock()
                .unwrap()
                .push((uri.path().to_string(), headers, body));
            r#"{"text":"Success","code":0}"#
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn fields(body: &Value) -> Vec<String> {
    let mut got: Vec<String> = body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    got
}

#[tokio::test]
async fn crud_with_roles_and_the_credential_never_returned() {
    let api = Api::start().await;
    let (url, _) = collector().await;
    let new = json!({
        "name": "splunk-soc", "kind": "splunk_hec", "url": url,
        "events": ["processing_with_alarms", "response_action_taken"],
        "settings": {"index": "security", "batch_size": 50},
        "auth": {"type": "splunk", "token": "hec-do-not-return"},
        "max_attempts": 3, "base_delay_ms": 100,
    });
    let (s, _) = api
        .call(Method::POST, "", &api.analyst, Some(new.clone()))
        .await;
    assert_eq!(s, 403, "analysts cannot create");
    let (s, created) = api
        .call(Method::POST, "", &api.admin, Some(new.clone()))
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["kind"], "splunk_hec");
    assert_eq!(created["has_auth"], true);
    assert_eq!(
        created["settings"],
        json!({"index": "security", "batch_size": 50})
    );
    assert_eq!(
        created["events"],
        json!(["processing_with_alarms", "response_action_taken"])
    );
    assert_eq!(
        (
            created["max_attempts"].as_u64(),
            created["enabled"].as_bool()
        ),
        (Some(3), Some(true))
    );
    assert!(!created.to_string().contains("hec-do-not-return"));
    let raw: String = sqlx::query_scalar("SELECT auth_sealed FROM siem_exports")
        .fetch_one(api.db.store().pool())
        .await
        .unwrap();
    assert!(!raw.contains("hec-do-not-return"), "sealed at rest");

    let (s, listed) = api.call(Method::GET, "", &api.viewer, None).await;
    assert_eq!(s, 200);
    assert_eq!(listed["siem_exports"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("hec-do-not-return"));
    let (s, one) = api
        .call(Method::GET, &format!("/{id}"), &api.viewer, None)
        .await;
    assert_eq!((s, one["name"].as_str()), (200, Some("splunk-soc")));

    let (s, body) = api
        .call(Method::POST, "", &api.admin, Some(new.clone()))
        .await;
    assert_eq!(
        (s, fields(&body)),
        (422, vec!["name".to_string()]),
        "{body}"
    );

    // Replace: an absent credential is kept, `null` removes it (Splunk then refuses).
    let mut changed = new.clone();
    changed.as_object_mut().unwrap().remove("auth");
    changed["enabled"] = json!(false);
    let (s, updated) = api
        .call(
            Method::PUT,
            &format!("/{id}"),
            &api.analyst,
            Some(changed.clone()),
        )
        .await;
    assert_eq!(s, 403, "analysts cannot replace");
    let (s, updated_ok) = api
        .call(
            Method::PUT,
            &format!("/{id}"),
            &api.admin,
            Some(changed.clone()),
        )
        .await;
    assert_eq!(s, 200, "{updated} {updated_ok}");
    assert_eq!(
        (
            updated_ok["has_auth"].as_bool(),
            updated_ok["enabled"].as_bool()
        ),
        (Some(true), Some(false))
    );
    changed["auth"] = Value::Null;
    let (s, body) = api
        .call(
            Method::PUT,
            &format!("/{id}"),
            &api.admin,
            Some(changed.clone()),
        )
        .await;
    assert_eq!(
        (s, fields(&body)),
        (422, vec!["auth".to_string()]),
        "{body}"
    );
    // Elasticsearch may run without a credential; the Splunk token is not kept for it.
    changed["kind"] = json!("elasticsearch");
    changed["settings"] = json!({"index": "riposte-alarms"});
    changed.as_object_mut().unwrap().remove("auth");
    let (s, es) = api
        .call(Method::PUT, &format!("/{id}"), &api.admin, Some(changed))
        .await;
    assert_eq!(s, 200, "{es}");
    assert_eq!(
        (es["kind"].as_str(), es["has_auth"].as_bool()),
        (Some("elasticsearch"), Some(false))
    );

    let (s, _) = api
        .call(Method::DELETE, &format!("/{id}"), &api.analyst, None)
        .await;
    assert_eq!(s, 403);
    let (s, _) = api
        .call(Method::DELETE, &format!("/{id}"), &api.admin, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(Method::GET, &format!("/{id}"), &api.viewer, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(Method::DELETE, &format!("/{id}"), &api.admin, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = api.call(Method::GET, "", "rip_unknown", None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn malformed_exports_are_refused_naming_each_field() {
    let api = Api::start().await;
    let (s, body) = api
        .call(
            Method::POST,
            "",
            &api.admin,
            Some(
                json!({"name": "", "kind": "qradar", "url": "", "events": ["lunch"],
                        "settings": [], "max_attempts": 11, "base_delay_ms": "soon",
                        "enabled": 1, "auth": {"type": "bearer"}}),
            ),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(
        fields(&body),
        [
            "auth",
            "base_delay_ms",
            "enabled",
            "events[0]",
            "kind",
            "max_attempts",
            "name",
            "settings",
            "url"
        ]
    );

    let bad = |extra: Value| {
        let mut b = json!({"name": "n", "kind": "elasticsearch", "url": "http://127.0.0.1:9",
                           "events": ["processing_complete"]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, field, says) in [
        (
            json!({"kind": "splunk_hec"}),
            "auth",
            "needs a `splunk` credential",
        ),
        (
            json!({"kind": "splunk_hec", "auth": {"type": "basic", "username": "u", "password": "p"}}),
            "auth",
            "takes a splunk credential",
        ),
        (
            json!({"settings": {"index": "Upper Case"}}),
            "settings.index",
            "not a valid index name",
        ),
        (
            json!({"settings": {"batch_size": 0}}),
            "settings.batch_size",
            "1–10000",
        ),
        (
            json!({"kind": "splunk_hec", "auth": {"type": "splunk", "token": "t"}, "settings": {"sourcetype": 5}}),
            "settings.sourcetype",
            "non-empty string",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/"}),
            "url",
            "non-public address",
        ),
        (
            json!({"url": "http://10.0.0.8:9200"}),
            "url",
            "--outbound-allow",
        ),
        (json!({"events": []}), "events", "non-empty"),
    ] {
        let (s, body) = api
            .call(Method::POST, "", &api.admin, Some(bad(extra.clone())))
            .await;
        assert_eq!(s, 422, "{extra}: {body}");
        let problem = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .unwrap_or_else(|| panic!("{extra}: no problem with {field}: {body}"));
        assert!(
            problem["problem"].as_str().unwrap().contains(says),
            "{extra}: {problem}"
        );
    }
    let (s, listed) = api.call(Method::GET, "", &api.viewer, None).await;
    assert_eq!(
        (s, listed["siem_exports"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let r = api
        .http
        .post(&api.base)
        .bearer_auth(&api.admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn an_export_made_through_the_api_pushes_with_its_sealed_token_and_logs_it() {
    let api = Api::start().await;
    let (url, seen) = collector().await;
    let (s, created) = api
        .call(
            Method::POST,
            "",
            &api.admin,
            Some(json!({"name": "hec", "kind": "splunk_hec", "url": url,
                        "events": ["processing_with_alarms"],
                        "settings": {"sourcetype": "riposte:verdict"},
                        "auth": {"type": "splunk", "token": "hec-token-7"}})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let context = NotificationContext {
        title: "Backdoor:EC2/Spambot on web-1".into(),
        verdict: Some("Malicious Activity Identified".into()),
        score: Some(80),
        host: Some("web-1".into()),
        ..Default::default()
    };
    let outcomes = Dispatcher::new(api.db.store().clone(), api.key.clone(), loopback())
        .dispatch(NotificationEvent::ProcessingWithAlarms, &context)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].report.ok(), "{:?}", outcomes[0].report);

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (path, headers, body) = &got[0];
    assert_eq!(path, "/services/collector/event");
    assert_eq!(headers["authorization"], "Splunk hec-token-7");
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["sourcetype"], "riposte:verdict");
    assert_eq!(event["event"]["kind"], "verdict");
    assert_eq!(event["event"]["verdict"], "Malicious Activity Identified");

    let (s, log) = api
        .call(Method::GET, &format!("/{id}/deliveries"), &api.viewer, None)
        .await;
    assert_eq!(s, 200, "{log}");
    let attempts = log["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["event"], "processing_with_alarms");
    assert_eq!(attempts[0]["delivery_id"], outcomes[0].delivery_id.as_str());
    assert_eq!(
        (
            attempts[0]["ok"].as_bool(),
            attempts[0]["status_code"].as_u64()
        ),
        (Some(true), Some(200))
    );
    let (s, _) = api
        .call(Method::GET, "/nope/deliveries", &api.viewer, None)
        .await;
    assert_eq!(s, 404);
}
