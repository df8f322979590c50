//! The environments, rules and projects API on SQLite and Postgres: CRUD, roles, validation
//! errors naming their field, rule versions, enable/disable, the resolver, and imports.

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

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
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

fn aws_env(name: &str) -> Value {
    json!({"name": name, "scopes": [{"kind": "aws", "accounts": ["123456789012"], "regions": ["us-east-1"], "tags": {"env": "prod"}}]})
}

#[tokio::test]
async fn environments_crud_roles_and_validation() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let (api, viewer) = setup(db.store(), tmp.path()).await;

        let env = api
            .create(
                "environments",
                &json!({"name": "all-ec2", "scopes": [{"kind": "aws", "accounts": "all"}]}),
            )
            .await;
        assert_eq!(env["scopes"][0]["accounts"], "all");
        assert_eq!(env["scopes"][0]["resource_type"], "ec2");
        let id = env["id"].as_str().unwrap().to_string();
        assert_eq!(api.get(&format!("environments/{id}")).await, env);
        let local = api.create("environments", &json!({"name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]})).await;
        let names: Vec<Value> = viewer.get("environments").await["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].clone())
            .collect();
        assert_eq!(names, [json!("all-ec2"), json!("lab")]);

        // Viewers read but never change.
        assert_eq!(viewer.post("environments", &aws_env("x")).await.0, 403);
        assert_eq!(
            viewer
                .put(&format!("environments/{id}"), &aws_env("x"))
                .await
                .0,
            403
        );
        assert_eq!(viewer.delete(&format!("environments/{id}")).await.0, 403);
        let anonymous = api.http.get(api.url("environments")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);

        // Every problem names its field.
        let (s, v) = api
            .post(
                "environments",
                &json!({"name": "all-ec2", "scopes": [{"kind": "aws"}]}),
            )
            .await;
        assert_eq!((s, fields(&v)), (422, vec!["name".to_string()]));
        let (s, v) = api
            .post(
                "environments",
                &json!({"name": "bad", "scopes": [
                    {"kind": "aws", "accounts": ["12345"], "regions": ["Mars"]},
                    {"kind": "ssh", "credential": "k"},
                    {"kind": "local", "folder": "/etc"},
                    {"kind": "local", "folder": "relative/dir"}
                ]}),
            )
            .await;
        assert_eq!(s, 422);
        assert_eq!(
            fields(&v),
            [
                "scopes[0].accounts[0]",
                "scopes[0].regions[0]",
                "scopes[1].cidrs",
                "scopes[2].folder",
                "scopes[3].folder"
            ]
        );
        assert!(problem(&v, "scopes[2].folder").contains("outside the server's evidence roots"));
        let (s, v) = api
            .post(
                "environments",
                &json!({"name": "x", "scopes": [{"kind": "gcp"}]}),
            )
            .await;
        assert_eq!(s, 422);
        assert!(fields(&v)[0].starts_with("scopes[0]"), "{v:#}");
        assert!(v["fields"][0]["problem"].as_str().unwrap().contains("gcp"));
        let (s, v) = api
            .post(
                "environments",
                &json!({"name": "x", "scopes": [], "colour": "red"}),
            )
            .await;
        assert_eq!(s, 422);
        assert!(
            v["fields"][0]["problem"]
                .as_str()
                .unwrap()
                .contains("colour"),
            "{v:#}"
        );
        let r = api
            .http
            .post(api.url("environments"))
            .bearer_auth(&api.key)
            .header("content-type", "application/json")
            .body("{nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(api.post("environments", &json!([1])).await.0, 400);

        // Replace, then delete; unknown ids are 404.
        let (s, v) = api
            .put(&format!("environments/{id}"), &aws_env("prod"))
            .await;
        assert_eq!(s, 200, "{v:#}");
        assert_eq!(v["name"], "prod");
        assert_eq!(v["scopes"][0]["tags"]["env"], "prod");
        assert_eq!(api.delete(&format!("environments/{id}")).await.0, 204);
        assert_eq!(api.delete(&format!("environments/{id}")).await.0, 404);
        assert_eq!(
            api.get(&format!("environments/{id}")).await["error"]
                .as_str()
                .map(|e| e.contains("no environment")),
            Some(true)
        );
        assert_eq!(local["scopes"][0]["kind"], "local");
    }
}

#[tokio::test]
async fn rules_crud_versions_enable_disable_and_validation() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let (api, viewer) = setup(db.store(), tmp.path()).await;
        let aws = api.create("environments", &aws_env("prod")).await;
        let local = api.create("environments", &json!({"name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]})).await;

        let spec = json!({"name": "gd", "source": "guardduty", "environment_id": aws["id"],
            "filters": {"min_severity": "medium"}, "actions": [{"action": "stop_instance", "on": "malicious"}]});
        let mut created_body = spec.clone();
        created_body["enabled"] = false.into();
        let rule = api.create("rules", &created_body).await;
        let id = rule["id"].as_str().unwrap().to_string();
        assert_eq!(
            (rule["version"].clone(), rule["enabled"].clone()),
            (json!(1), json!(false))
        );

        // Enabling is state, not a version; every edit is a version.
        let (s, v) = api.post(&format!("rules/{id}/enable"), &json!({})).await;
        assert_eq!(
            (s, v["enabled"].clone(), v["version"].clone()),
            (200, json!(true), json!(1))
        );
        let mut edit = spec.clone();
        edit["investigation_type"] = "full".into();
        assert_eq!(api.put(&format!("rules/{id}"), &edit).await.1["version"], 2);
        edit["filters"]["min_severity"] = "high".into();
        let (s, v) = api.put(&format!("rules/{id}"), &edit).await;
        assert_eq!(
            (s, v["version"].clone(), v["enabled"].clone()),
            (200, json!(3), json!(true))
        );
        let versions = viewer.get(&format!("rules/{id}/versions")).await;
        let summary: Vec<(Value, Value, Value)> = versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["version"].clone(),
                    v["spec"]["investigation_type"].clone(),
                    v["spec"]["filters"]["min_severity"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (json!(1), json!("triage"), json!("medium")),
                (json!(2), json!("full"), json!("medium")),
                (json!(3), json!("full"), json!("high")),
            ]
        );
        assert!(
            versions["versions"][0]["created_by"]
                .as_str()
                .unwrap()
                .contains("analyst")
        );
        let (s, v) = api.post(&format!("rules/{id}/disable"), &json!({})).await;
        assert_eq!(
            (s, v["enabled"].clone(), v["version"].clone()),
            (200, json!(false), json!(3))
        );

        // Viewers cannot change rules.
        assert_eq!(viewer.post("rules", &spec).await.0, 403);
        assert_eq!(viewer.put(&format!("rules/{id}"), &edit).await.0, 403);
        assert_eq!(
            viewer
                .post(&format!("rules/{id}/enable"), &json!({}))
                .await
                .0,
            403
        );
        assert_eq!(viewer.delete(&format!("rules/{id}")).await.0, 403);

        // Validation: each refusal names its field.
        let cases = [
            (json!({"name": "a", "source": "splunk"}), "source", "splunk"),
            (
                json!({"name": "b", "source": "guardduty"}),
                "environment_id",
                "missing",
            ),
            (
                json!({"name": "c", "source": "guardduty", "environment_id": "00000000-0000-4000-8000-000000000000"}),
                "environment_id",
                "no environment has id",
            ),
            (
                json!({"name": "d", "source": "any", "environment_id": local["id"], "actions": [{"action": "stop_instance", "on": "malicious"}]}),
                "actions[0].action",
                "has no AWS scope",
            ),
            (
                json!({"name": "e", "source": "defender", "actions": [{"action": "contain_host", "on": "suspicious"}]}),
                "actions[0].action",
                "connection_id",
            ),
            (
                json!({"name": "f", "source": "generic", "connection_id": "x"}),
                "connection_id",
                "only crowdstrike and defender",
            ),
            (
                json!({"name": "g", "source": "any", "filters": {"titles": [""]}}),
                "filters.titles[0]",
                "empty",
            ),
            (
                json!({"name": "h", "source": "any", "filters": {"min_severity": "extreme"}}),
                "filters.min_severity",
                "extreme",
            ),
            (
                json!({"name": "gd", "source": "any"}),
                "name",
                "already exists",
            ),
        ];
        for (body, field, words) in cases {
            let (s, v) = api.post("rules", &body).await;
            assert_eq!(s, 422, "{body}: {v:#}");
            assert!(fields(&v).contains(&field.to_string()), "{body}: {v:#}");
            assert!(problem(&v, field).contains(words), "{body}: {v:#}");
        }
        let mut with_enabled = edit.clone();
        with_enabled["enabled"] = true.into();
        let (s, v) = api.put(&format!("rules/{id}"), &with_enabled).await;
        assert_eq!((s, fields(&v)), (422, vec!["enabled".to_string()]));

        // The environment a rule uses cannot be deleted, nor lose what the rule's actions need.
        let aws_id = aws["id"].as_str().unwrap();
        let (s, v) = api.delete(&format!("environments/{aws_id}")).await;
        assert_eq!(s, 409);
        assert!(v["error"].as_str().unwrap().contains("gd"), "{v:#}");
        let (s, v) = api.put(&format!("environments/{aws_id}"), &json!({"name": "prod", "scopes": [{"kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "k"}]})).await;
        assert_eq!(s, 422);
        assert!(
            problem(&v, "scopes").contains("rule gd would break"),
            "{v:#}"
        );

        // Deleted rules keep their versions.
        assert_eq!(api.delete(&format!("rules/{id}")).await.0, 204);
        assert_eq!(
            api.send(reqwest::Method::GET, &format!("rules/{id}"), None)
                .await
                .0,
            404
        );
        assert_eq!(
            viewer.get(&format!("rules/{id}/versions")).await["versions"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(api.delete(&format!("environments/{aws_id}")).await.0, 204);
    }
}

#[tokio::test]
async fn the_resolver_explains_coverage() {
    for db in both().await {
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let (api, viewer) = setup(db.store(), tmp.path()).await;
        api.create("environments", &aws_env("prod")).await;
        api.create("environments", &json!({"name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]})).await;
        let target = json!({"instance_id": "i-0123456789abcdef0", "account_id": "123456789012", "region": "us-east-1", "tags": {"env": "prod"}});
        let (s, v) = viewer.post("environments/resolve", &target).await;
        assert_eq!(s, 200);
        assert_eq!(v["covered"], true, "{v:#}");
        assert_eq!(v["scope"]["environment"], "prod");
        assert_eq!(v["scope"]["acquisition"]["method"], "ec2");
        let mut elsewhere = target.clone();
        elsewhere["region"] = "eu-west-3".into();
        let (_, v) = viewer.post("environments/resolve", &elsewhere).await;
        assert_eq!(v["covered"], false);
        assert!(
            v["reasons"].as_array().unwrap().iter().any(|r| r
                .as_str()
                .unwrap()
                .contains("region eu-west-3 is not one of us-east-1")),
            "{v:#}"
        );
        let (_, v) = viewer
            .post("environments/resolve", &json!({"hostname": "victim"}))
            .await;
        assert_eq!(v["scope"]["acquisition"]["method"], "library", "{v:#}");
        assert_eq!(v["scope"]["acquisition"]["host"], "victim");
        let (s, _) = viewer
            .post("environments/resolve", &json!({"ips": ["not-an-ip"]}))
            .await;
        assert_eq!(s, 422);
    }
}

#[tokio::test]
async fn projects_import_systems_all_or_nothing() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let (api, viewer) = setup(db.store(), tmp.path()).await;
        api.create(
            "environments",
            &json!({"name": "aws", "scopes": [{"kind": "aws", "accounts": "all"}]}),
        )
        .await;
        api.create("environments", &json!({"name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]})).await;
        let project = api
            .create(
                "projects",
                &json!({"name": "Sunday hunt", "description": "weekly"}),
            )
            .await;
        let pid = project["id"].as_str().unwrap().to_string();
        assert_eq!(viewer.post("projects", &json!({"name": "x"})).await.0, 403);

        // The scheduled-hunt call: EC2 instances by id and region, plus library hosts.
        let systems = json!({"systems": [
            {"kind": "ec2", "instance_id": "i-0123456789abcdef0", "region": "us-east-1"},
            {"kind": "host", "hostname": "victim"},
            {"kind": "path", "path": lib.join("labsz").display().to_string()}
        ], "investigation_type": "triage"});
        assert_eq!(
            viewer
                .post(&format!("projects/{pid}/imports"), &systems)
                .await
                .0,
            403
        );
        let (s, v) = api.post(&format!("projects/{pid}/imports"), &systems).await;
        assert_eq!(s, 202, "{v:#}");
        let methods: Vec<&str> = v["investigations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["scope"]["acquisition"]["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["ec2", "library", "library"]);
        assert_eq!(
            v["investigations"][2]["scope"]["acquisition"]["host"],
            "labsz"
        );
        let detail = viewer.get(&format!("projects/{pid}")).await;
        let listed = detail["investigations"].as_array().unwrap();
        assert_eq!(listed.len(), 3);
        assert!(listed.iter().all(|i| i["project_id"] == pid.as_str()));
        let inv = viewer
            .get(&format!(
                "investigations/{}",
                v["investigations"][0]["investigation_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(inv["investigation"]["plan"]["investigation_type"], "triage");
        assert!(
            inv["investigation"]["plan"].get("rule").is_none(),
            "{inv:#}"
        );

        // One system nobody covers: 422 naming it, and nothing started.
        let (s, v) = api
            .post(
                &format!("projects/{pid}/imports"),
                &json!({"systems": [
                    {"kind": "host", "hostname": "victim"}, {"kind": "host", "hostname": "nowhere"}
                ]}),
            )
            .await;
        assert_eq!(s, 422);
        assert_eq!(fields(&v), ["systems[1]"]);
        assert!(problem(&v, "systems[1]").contains("nowhere"), "{v:#}");
        assert_eq!(
            viewer.get(&format!("projects/{pid}")).await["investigations"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let (s, _) = api
            .post(
                &format!("projects/{pid}/imports"),
                &json!({"systems": [{"kind": "ec2", "instance_id": "i-0123456789abcdef0"}]}),
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = api
            .post(&format!("projects/{pid}/imports"), &json!({"systems": []}))
            .await;
        assert_eq!(s, 422);
        let (s, _) = api
            .post(
                "projects/00000000-0000-4000-8000-000000000000/imports",
                &systems,
            )
            .await;
        assert_eq!(s, 404);
        let (s, v) = api
            .post(
                &format!("projects/{pid}/imports"),
                &json!({"systems": [{"kind": "path", "path": "/etc"}]}),
            )
            .await;
        assert_eq!(s, 422);
        assert!(problem(&v, "systems[0]").contains("outside"), "{v:#}");
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
