//! The environments, rules and projects API on SQLite and Postgres, beyond CRUD (which
//! `rules_api.rs` covers): names measured in characters, local folders stored canonical,
//! repeated systems in one import, and XDR rules bound to a connection.

mod common;

use common::{get_json, library, serve_state};
use riposte_rules::EvidenceRoots;
use riposte_server::AppState;
use riposte_store::testing::both;
use riposte_store::{MasterKey, Role, Store};
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn get(&self, path: &str) -> Value {
        get_json(&self.http, self.url(path), &self.key).await
    }

    /// POSTs and expects 201.
    async fn create(&self, path: &str, body: &Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(status, 201, "{v:#}");
        v
    }
}

/// The fields a 422 names.
fn fields(v: &Value) -> Vec<String> {
    v["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("not a validation error: {v:#}"))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

fn problem<'a>(v: &'a Value, field: &str) -> &'a str {
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .and_then(|f| f["problem"].as_str())
        .unwrap_or_else(|| panic!("no problem with {field} in {v:#}"))
}

/// A server with evidence roots at `root`, and keys for each role.
async fn setup(store: &Store, root: &std::path::Path) -> (Api, Api) {
    let state = AppState {
        evidence_roots: EvidenceRoots::new([root.to_path_buf()]),
        ..AppState::new(store.clone(), MasterKey::generate())
    };
    let base = serve_state(state).await;
    let (_, analyst) = store
        .create_api_key("analyst", Role::Analyst)
        .await
        .unwrap();
    let (_, viewer) = store.create_api_key("viewer", Role::Viewer).await.unwrap();
    let http = reqwest::Client::new();
    (
        Api {
            http: http.clone(),
            base: base.clone(),
            key: analyst,
        },
        Api {
            http,
            base,
            key: viewer,
        },
    )
}

#[tokio::test]
async fn names_count_characters_folders_are_stored_canonical_and_imports_refuse_repeats() {
    for db in both().await {
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let (api, viewer) = setup(db.store(), tmp.path()).await;
        // 60 characters, 120 bytes: within the 100-character limit.
        let accented = "é".repeat(60);
        let env = api
            .create(
                "environments",
                &json!({"name": accented, "scopes": [{"kind": "aws"}]}),
            )
            .await;
        assert_eq!(env["name"], accented.as_str());
        let (s, v) = api
            .post("rules", &json!({"name": "é".repeat(101), "source": "any"}))
            .await;
        assert_eq!((s, fields(&v)), (422, vec!["name".to_string()]));

        // A folder given with `..` is stored as the folder it resolves to.
        let roundabout = format!("{}/labsz/..", lib.display());
        let local = api
            .create(
                "environments",
                &json!({"name": "lab", "scopes": [{"kind": "local", "folder": roundabout}]}),
            )
            .await;
        let canonical = lib.canonicalize().unwrap().display().to_string();
        assert_eq!(local["scopes"][0]["folder"], canonical.as_str());

        // One import naming the same system twice is refused, naming the repeat.
        let project = api.create("projects", &json!({"name": "hunt"})).await;
        let pid = project["id"].as_str().unwrap();
        let (s, v) = api
            .post(
                &format!("projects/{pid}/imports"),
                &json!({"systems": [
                    {"kind": "host", "hostname": "victim"},
                    {"kind": "host", "hostname": "labsz"},
                    {"kind": "host", "ip": "10.20.0.9"}
                ]}),
            )
            .await;
        assert_eq!(s, 422, "{v:#}");
        assert_eq!(fields(&v), ["systems[2]"]);
        assert!(
            problem(&v, "systems[2]").contains("same system as systems[0]"),
            "{v:#}"
        );
        assert!(
            viewer.get(&format!("projects/{pid}")).await["investigations"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn xdr_rules_bind_to_a_connection_of_their_vendor() {
    for db in both().await {
        let tmp = tempfile::tempdir().unwrap();
        let store = db.store().clone();
        let (api, _) = setup(&store, tmp.path()).await;
        let conn = store
            .create_connection(
                &MasterKey::generate(),
                &riposte_store::NewConnection {
                    name: "falcon".into(),
                    vendor: "crowdstrike".into(),
                    settings: json!({"base_url": "https://api.us-2.crowdstrike.com", "client_id": "abc"}),
                    secret: Some("s".into()),
                    enabled: false,
                    poll_interval: std::time::Duration::from_secs(60),
                    overlap: std::time::Duration::from_secs(300),
                    lookback: std::time::Duration::from_secs(3600),
                },
            )
            .await
            .unwrap();
        let rule = json!({"name": "contain", "source": "crowdstrike", "connection_id": conn.id,
            "actions": [{"action": "contain_host", "on": "malicious"}]});
        let created = api.create("rules", &rule).await;
        assert_eq!(created["connection_id"], conn.id.as_str());
        let mut wrong_vendor = rule.clone();
        wrong_vendor["name"] = "mde".into();
        wrong_vendor["source"] = "defender".into();
        let (s, v) = api.post("rules", &wrong_vendor).await;
        assert_eq!(s, 422);
        assert!(
            problem(&v, "connection_id").contains("is a crowdstrike connection, not defender"),
            "{v:#}"
        );

        // The connection cannot go while the rule is bound to it.
        let (_, admin) = store.create_api_key("admin", Role::Admin).await.unwrap();
        let admin = Api { key: admin, ..api };
        let (s, v) = admin.delete(&format!("connections/{}", conn.id)).await;
        assert_eq!(s, 409, "{v:#}");
        assert!(v["error"].as_str().unwrap().contains("contain"));
        assert_eq!(
            admin
                .delete(&format!("rules/{}", created["id"].as_str().unwrap()))
                .await
                .0,
            204
        );
        assert_eq!(
            admin.delete(&format!("connections/{}", conn.id)).await.0,
            204
        );
    }
}
