//! `riposte respond release` of a host containment a rule made: the binary opens the
//! connection's credential with the server's master key from the data directory and asks
//! a local Falcon API (OAuth2 token, then `devices-actions/v2?action_name=lift_containment`
//! with the device id, as CrowdStrike documents) to lift it; the record says released.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use riposte_model::{
    ActionChange, ActionRecord, ActionStatus, ActionTarget, ResponseAction, XdrHost,
};
use riposte_store::{MasterKey, Store};
use serde_json::json;
use std::sync::{Arc, Mutex};

type Calls = Arc<Mutex<Vec<(String, String, Option<String>, String)>>>;

async fn falcon(
    State(calls): State<Calls>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    calls.lock().unwrap().push((
        method.to_string(),
        uri.to_string(),
        auth,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    if uri.path() == "/oauth2/token" {
        return (
            axum::http::StatusCode::CREATED,
            axum::Json(json!({"access_token": "tok", "token_type": "bearer", "expires_in": 1799})),
        )
            .into_response();
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(json!({"meta": {}, "resources": [{"id": request["ids"][0]}], "errors": []})),
    )
        .into_response()
}

#[tokio::test]
async fn a_rules_containment_is_lifted_by_the_cli_through_its_connection() {
    let calls: Calls = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(falcon).with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The server's data directory: its database and master key, a Falcon connection, and
    // the record a rule left after containing the device.
    let data = tempfile::tempdir().unwrap();
    let key = MasterKey::load_or_create(&data.path().join("master.key")).unwrap();
    let store = Store::open_sqlite(&data.path().join("riposte.db"))
        .await
        .unwrap();
    let connection = store
        .create_connection(&key, &riposte_store::testing::falcon_connection(&base))
        .await
        .unwrap();
    let device = "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d";
    let mut record = ActionRecord::new(
        ResponseAction::ContainHost,
        ActionTarget::Xdr(XdrHost {
            vendor: "crowdstrike".into(),
            host_id: device.into(),
            connection_id: connection.id.clone(),
        }),
        false,
    );
    record.status = ActionStatus::Succeeded;
    record.requested_by = "rule:contain-falcon-hosts".into();
    record.change = Some(ActionChange::ContainHost {
        vendor: "crowdstrike".into(),
        host_id: device.into(),
        previous_state: Some("normal".into()),
        vendor_action_id: None,
        contained: true,
    });
    store.insert_action_record(&record).await.unwrap();
    drop(store);

    // Loopback is not reachable unless allowed: refused before any call, and recorded.
    let out = release(data.path(), &record, &[]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("127.0.0.1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(calls.lock().unwrap().is_empty());

    let out = release(data.path(), &record, &["--outbound-allow", "127.0.0.1/32"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = calls.lock().unwrap().clone();
    let lift = seen
        .iter()
        .find(|(m, u, _, _)| m == "POST" && u.starts_with("/devices/entities/devices-actions/v2"))
        .unwrap_or_else(|| panic!("no devices action in {seen:?}"));
    assert_eq!(
        lift.1,
        "/devices/entities/devices-actions/v2?action_name=lift_containment"
    );
    assert_eq!(lift.2.as_deref(), Some("Bearer tok"));
    assert_eq!(lift.3, format!(r#"{{"ids":["{device}"]}}"#));

    let store = Store::open_sqlite(&data.path().join("riposte.db"))
        .await
        .unwrap();
    let after = store.action_record(record.id).await.unwrap().unwrap();
    assert_eq!(after.status, ActionStatus::Released, "{after:?}");
    assert_eq!(
        after.release_note.as_deref(),
        Some(format!("lifted the containment of crowdstrike host {device}").as_str())
    );
}

/// `riposte respond release <record> --data-dir <data> [extra…]`, off the test's runtime
/// (the fake vendor API runs on it).
async fn release(
    data: &std::path::Path,
    record: &ActionRecord,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"));
    cmd.args(["respond", "release", &record.id.to_string(), "--data-dir"])
        .arg(data)
        .args(extra)
        .env_remove("RIPOSTE_MASTER_KEY")
        .env_remove("RIPOSTE_DATABASE_URL");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}
