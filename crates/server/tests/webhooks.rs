//! `/api/v1/webhooks`: CRUD with roles, validation naming the field, secrets never returned,
//! "send test" against a local receiver, and the delivery log.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::Method;
use riposte_notify::{OutboundPolicy, SIGNATURE_HEADER, verify};
use riposte_server::{AppState, router};
use riposte_store::testing::{TestDb, sqlite};
use riposte_store::{MasterKey, Role};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

struct Api {
    _db: TestDb,
    base: String,
    http: reqwest::Client,
    admin: String,
    analyst: String,
    viewer: String,
}

impl Api {
    async fn start() -> Api {
        let db = sqlite().await;
        let key = |role| {
            let store = db.store().clone();
            async move { store.create_api_key("k", role).await.unwrap().1 }
        };
        let (admin, analyst, viewer) = (
            key(Role::Admin).await,
            key(Role::Analyst).await,
            key(Role::Viewer).await,
        );
        let mut state = AppState::new(db.store().clone(), MasterKey::generate());
        state.outbound = OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        let app = router(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Api {
            _db: db,
            base: format!("http://{addr}/api/v1/webhooks"),
            http: reqwest::Client::new(),
            admin,
            analyst,
            viewer,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
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

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push((headers, body));
            "received"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/services/T0/B0/X"), seen)
}

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn crud_with_roles_and_secrets_never_returned() {
    let api = Api::start().await;
    let (url, _) = receiver().await;
    let new = json!({
        "name": "slack-soc", "url": url, "preset": "slack",
        "events": ["processing_with_alarms", "response_action_failed"],
        "secret": "hmac-do-not-return",
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
    assert_eq!(created["preset"], "slack");
    assert_eq!(created["has_secret"], true);
    assert_eq!(created["has_auth"], false);
    assert_eq!(
        created["events"],
        json!(["processing_with_alarms", "response_action_failed"])
    );
    assert!(created["template"].is_null());
    assert!(!created.to_string().contains("hmac-do-not-return"));
    // The URL is a credential: shown masked, to admins too.
    let masked = url.replace("/T0/B0/X", "/***");
    assert_eq!(created["url"], masked.as_str());

    let (s, listed) = api.call(Method::GET, "", &api.viewer, None).await;
    assert_eq!(s, 200);
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("hmac-do-not-return"));
    let (s, one) = api
        .call(Method::GET, &format!("/{id}"), &api.viewer, None)
        .await;
    assert_eq!((s, one["name"].as_str()), (200, Some("slack-soc")));
    for key in [&api.viewer, &api.analyst, &api.admin] {
        let (_, one) = api.call(Method::GET, &format!("/{id}"), key, None).await;
        assert_eq!(one["url"], masked.as_str());
    }

    let (s, body) = api
        .call(Method::POST, "", &api.admin, Some(new.clone()))
        .await;
    assert_eq!(
        (s, fields(&body)),
        (422, vec!["name".to_string()]),
        "{body}"
    );

    // Replace: absent secret is kept; a template is validated.
    let mut changed = new.clone();
    changed.as_object_mut().unwrap().remove("secret");
    changed["template"] = json!("{\"text\": \"$Verdict on $Host\"}");
    changed["enabled"] = json!(false);
    let (s, updated) = api
        .call(
            Method::PUT,
            &format!("/{id}"),
            &api.admin,
            Some(changed.clone()),
        )
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(
        (
            updated["has_secret"].as_bool(),
            updated["enabled"].as_bool()
        ),
        (Some(true), Some(false))
    );
    changed["secret"] = Value::Null;
    let (_, cleared) = api
        .call(Method::PUT, &format!("/{id}"), &api.admin, Some(changed))
        .await;
    assert_eq!(cleared["has_secret"], false);

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
    let (s, _) = api.call(Method::GET, "", "rip_unknown", None).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn malformed_webhooks_are_refused_naming_each_field() {
    let api = Api::start().await;
    let (s, body) = api
        .call(
            Method::POST,
            "",
            &api.admin,
            Some(
                json!({"name": "", "url": "ftp://x", "preset": "pagerduty", "events": ["lunch"],
                        "max_attempts": 0, "base_delay_ms": -1, "enabled": "yes", "secret": 5}),
            ),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let mut got = fields(&body);
    got.sort();
    assert_eq!(
        got,
        [
            "base_delay_ms",
            "enabled",
            "events[0]",
            "max_attempts",
            "name",
            "preset",
            "secret",
            "url"
        ]
    );

    let bad = |extra: Value| {
        let mut b =
            json!({"name": "n", "url": "http://127.0.0.1:9/x", "events": ["processing_complete"]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, field, says) in [
        (
            json!({"template": "{\"a\": \"$Titel\"}"}),
            "template",
            "unknown variable `$Titel`",
        ),
        (
            json!({"template": "{\"a\": \"$Title}"}),
            "template",
            "not valid JSON",
        ),
        (
            json!({"preset": "jira", "settings": {"project_key": "SEC", "issue_type": "Task"}}),
            "auth",
            "needs a `basic` or `bearer`",
        ),
        (
            json!({"preset": "jira", "auth": {"type": "bearer", "token": "t"}}),
            "settings.project_key",
            "missing",
        ),
        (json!({"auth": {"type": "bearer"}}), "auth", "token"),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            "url",
            "non-public address",
        ),
        (
            json!({"url": "http://10.0.0.8/hook"}),
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
    let (s, _) = api.call(Method::GET, "", &api.viewer, None).await;
    assert_eq!(s, 200);
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
async fn send_test_reaches_the_receiver_signed_and_is_logged() {
    let api = Api::start().await;
    let (url, seen) = receiver().await;
    let (_, created) = api
        .call(
            Method::POST,
            "",
            &api.admin,
            Some(json!({"name": "t", "url": url, "preset": "slack", "events": ["alert_received"], "secret": "sig-key"})),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let (s, _) = api
        .call(Method::POST, &format!("/{id}/test"), &api.viewer, None)
        .await;
    assert_eq!(s, 403, "viewers cannot send");
    let (s, result) = api
        .call(Method::POST, &format!("/{id}/test"), &api.analyst, None)
        .await;
    assert_eq!(s, 200, "{result}");
    assert_eq!(result["ok"], true);
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["response_excerpt"], "received");

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    let text: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        text["text"],
        "Test notification from Riposte to t\nDetails: Test notification"
    );
    let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(
        verify(
            "sig-key",
            signature,
            body,
            chrono::Utc::now().timestamp(),
            60
        )
        .is_ok()
    );

    let (s, log) = api
        .call(Method::GET, &format!("/{id}/deliveries"), &api.viewer, None)
        .await;
    assert_eq!(s, 200);
    let attempts = log["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["event"], "test");
    assert_eq!(attempts[0]["delivery_id"], result["delivery_id"]);
    assert_eq!(
        (attempts[0]["attempt"].as_u64(), attempts[0]["ok"].as_bool()),
        (Some(1), Some(true))
    );

    let (s, _) = api
        .call(Method::POST, "/nope/test", &api.analyst, None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(Method::GET, "/nope/deliveries", &api.viewer, None)
        .await;
    assert_eq!(s, 404);
}
