//! Host containment against local servers that assert the exact requests of the vendors'
//! documented APIs: CrowdStrike devices-actions (contain / lift_containment) and Defender
//! for Endpoint machine isolate / unisolate, each behind its OAuth2 client-credentials token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use riposte_sources::contain::crowdstrike::CrowdStrikeContainment;
use riposte_sources::contain::defender::DefenderContainment;
use riposte_sources::contain::{ContainmentAction, HostContainment};
use riposte_sources::poll::PollError;
use riposte_sources::poll::crowdstrike::CrowdStrikeSettings;
use riposte_sources::poll::defender::DefenderSettings;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const DEVICE: &str = "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d";
const MACHINE: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

type Handler = fn(&Seen, usize) -> (u16, Value);

#[derive(Clone)]
struct Vendor {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Handler,
}

async fn record(
    State(v): State<Vendor>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        method,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = {
        let mut all = v.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let (status, body) = (v.answer)(&seen, n);
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

async fn serve(answer: Handler) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(record).with_state(Vendor {
        seen: seen.clone(),
        answer,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

/// Falcon: token, device status `normal` (or `contained` with `?contained`), then actions.
fn falcon(seen: &Seen, _: usize) -> (u16, Value) {
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/oauth2/token") => (
            201,
            json!({"access_token": "falcon-token", "token_type": "bearer", "expires_in": 1799}),
        ),
        ("GET", "/devices/entities/devices/v2") => (
            200,
            json!({"meta": {}, "resources": [{"device_id": DEVICE, "hostname": "web-1", "status": "normal"}], "errors": []}),
        ),
        ("POST", "/devices/entities/devices-actions/v2") => (
            202,
            json!({"meta": {}, "resources": [{"id": DEVICE, "path": "/devices/entities/devices/v2?ids=x"}], "errors": []}),
        ),
        _ => (
            404,
            json!({"errors": [{"code": 404, "message": "no route"}]}),
        ),
    }
}

fn falcon_already_contained(seen: &Seen, n: usize) -> (u16, Value) {
    if seen.path == "/devices/entities/devices/v2" {
        return (
            200,
            json!({"resources": [{"device_id": DEVICE, "status": "contained"}]}),
        );
    }
    falcon(seen, n)
}

fn form(body: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2F", "/").replace("%3A", ":")))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn crowdstrike_contains_and_lifts_containment() {
    let (base, seen) = serve(falcon).await;
    let client =
        CrowdStrikeContainment::new(&CrowdStrikeSettings::new(&base, "cs-client"), "cs-secret")
            .unwrap();
    assert_eq!(client.vendor(), "crowdstrike");
    let record = client
        .contain(DEVICE, "Riposte: malicious verdict")
        .await
        .unwrap();
    assert_eq!(record.action, ContainmentAction::Contain);
    assert!(record.changed);
    assert_eq!(record.previous_state.as_deref(), Some("normal"));
    let released = client.release(&record, "Riposte: released").await.unwrap();
    assert_eq!(
        (released.action, released.changed),
        (ContainmentAction::Release, true)
    );

    let seen = seen.lock().unwrap().clone();
    let calls: Vec<(String, String, Option<String>)> = seen
        .iter()
        .map(|s| (s.method.to_string(), s.path.clone(), s.query.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".into(), "/oauth2/token".into(), None),
            (
                "GET".into(),
                "/devices/entities/devices/v2".into(),
                Some(format!("ids={DEVICE}"))
            ),
            (
                "POST".into(),
                "/devices/entities/devices-actions/v2".into(),
                Some("action_name=contain".into())
            ),
            (
                "POST".into(),
                "/devices/entities/devices-actions/v2".into(),
                Some("action_name=lift_containment".into())
            ),
        ]
    );
    assert_eq!(
        form(&seen[0].body),
        [
            ("client_id".into(), "cs-client".into()),
            ("client_secret".into(), "cs-secret".into())
        ]
    );
    for s in &seen[1..] {
        assert_eq!(s.authorization.as_deref(), Some("Bearer falcon-token"));
    }
    for s in &seen[2..] {
        assert_eq!(s.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            serde_json::from_str::<Value>(&s.body).unwrap(),
            json!({"ids": [DEVICE]})
        );
    }
}

#[tokio::test]
async fn a_host_contained_before_riposte_acted_is_not_released_by_it() {
    let (base, seen) = serve(falcon_already_contained).await;
    let client =
        CrowdStrikeContainment::new(&CrowdStrikeSettings::new(&base, "id"), "secret").unwrap();
    let record = client.contain(DEVICE, "c").await.unwrap();
    assert!(!record.changed);
    assert_eq!(record.previous_state.as_deref(), Some("contained"));
    let released = client.release(&record, "r").await.unwrap();
    assert!(!released.changed);
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.path.ends_with("devices-actions/v2")),
        "no action was sent"
    );
}

#[tokio::test]
async fn crowdstrike_refusals_are_errors_with_the_vendor_message() {
    fn forbidden(seen: &Seen, n: usize) -> (u16, Value) {
        if seen.path.ends_with("devices-actions/v2") {
            return (
                403,
                json!({"errors": [{"code": 403, "message": "access denied, authorization failed"}]}),
            );
        }
        falcon(seen, n)
    }
    let (base, _) = serve(forbidden).await;
    let client =
        CrowdStrikeContainment::new(&CrowdStrikeSettings::new(&base, "id"), "secret").unwrap();
    let e = client.contain(DEVICE, "c").await.unwrap_err();
    assert!(matches!(e, PollError::Auth(_)), "{e}");
    assert!(
        e.to_string().contains("access denied") && e.to_string().contains("Hosts: Write"),
        "{e}"
    );
    let e = client.contain("../oauth2/token", "c").await.unwrap_err();
    assert!(matches!(e, PollError::Config(_)), "{e}");
}

/// Entra token endpoint and Defender machine actions.
fn defender(seen: &Seen, n: usize) -> (u16, Value) {
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/tenant-1/oauth2/v2.0/token") => (
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "entra-token"}),
        ),
        ("POST", p)
            if p == format!("/api/machines/{MACHINE}/isolate")
                || p == format!("/api/machines/{MACHINE}/unisolate") =>
        {
            let kind = if p.ends_with("/isolate") {
                "Isolate"
            } else {
                "Unisolate"
            };
            (
                201,
                json!({"id": format!("action-{n}"), "type": kind, "status": "Pending", "machineId": MACHINE}),
            )
        }
        _ => (
            404,
            json!({"error": {"code": "NotFound", "message": "no route"}}),
        ),
    }
}

#[tokio::test]
async fn defender_isolates_and_releases_with_comments() {
    let (base, seen) = serve(defender).await;
    let mut settings = DefenderSettings::new("tenant-1", "app-id");
    settings.login_url = base.clone();
    settings.api_url = base.clone();
    let client = DefenderContainment::new(&settings, "app-secret").unwrap();
    assert_eq!(client.vendor(), "defender");
    let record = client
        .contain(MACHINE, "Riposte: malicious verdict on inv-1")
        .await
        .unwrap();
    assert!(record.changed);
    assert_eq!(record.vendor_action_id.as_deref(), Some("action-1"));
    let released = client.release(&record, "Riposte: released").await.unwrap();
    assert_eq!(released.action, ContainmentAction::Release);
    assert_eq!(released.vendor_action_id.as_deref(), Some("action-2"));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one token serves both calls");
    assert_eq!(seen[0].path, "/tenant-1/oauth2/v2.0/token");
    assert_eq!(
        form(&seen[0].body),
        [
            ("client_id".into(), "app-id".into()),
            ("client_secret".into(), "app-secret".into()),
            ("grant_type".into(), "client_credentials".into()),
            (
                "scope".into(),
                "https://api.securitycenter.microsoft.com/.default".into()
            ),
        ]
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", format!("/api/machines/{MACHINE}/isolate").as_str())
    );
    assert_eq!(
        serde_json::from_str::<Value>(&seen[1].body).unwrap(),
        json!({"Comment": "Riposte: malicious verdict on inv-1", "IsolationType": "Full"})
    );
    assert_eq!(seen[2].path, format!("/api/machines/{MACHINE}/unisolate"));
    assert_eq!(
        serde_json::from_str::<Value>(&seen[2].body).unwrap(),
        json!({"Comment": "Riposte: released"})
    );
    for s in &seen[1..] {
        assert_eq!(s.authorization.as_deref(), Some("Bearer entra-token"));
        assert_eq!(s.content_type.as_deref(), Some("application/json"));
    }

    // A record of another vendor is refused, not sent.
    let mut foreign = record.clone();
    foreign.vendor = "crowdstrike".into();
    assert!(matches!(
        client.release(&foreign, "x").await,
        Err(PollError::Config(_))
    ));
}
