//! The HTTP API of environments, detection rules and projects, through a real in-process
//! server on SQLite and Postgres: CRUD, roles, validation errors that name their field,
//! rule versions and enable/disable, the target resolver, and all-or-nothing imports.
//! No workers run: investigations started by imports stay queued, which is all these
//! tests look at.

mod common;

use common::{library, serve_library};
use reqwest::Method;
use riposte_store::testing::{TestDb, both};
use riposte_store::{Role, Store};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A well-formed id that names nothing.
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

/// An EC2 instance id of the valid 17-hex-digit form.
const INSTANCE: &str = "i-0123456789abcdef0";

/// A client of the API with one key (or none).
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1/{path}", self.base));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Sends `text` as the body, labelled as JSON whatever it is.
    async fn send_text(&self, method: Method, path: &str, text: &str) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1/{path}", self.base))
            .header("content-type", "application/json")
            .body(text.to_string());
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn post_empty(&self, path: &str) -> (u16, Value) {
        self.send(Method::POST, path, None).await
    }

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// GETs and expects 200.
    async fn read(&self, path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {v:#}");
        v
    }

    /// POSTs and expects 201.
    async fn create(&self, path: &str, body: &Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(status, 201, "POST {path} {body}: {v:#}");
        v
    }
}

async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A server on one backend, with an evidence library and a key of each role.
struct Fixture {
    _tmp: tempfile::TempDir,
    lib: PathBuf,
    admin: Api,
    analyst: Api,
    viewer: Api,
    anonymous: Api,
}

async fn setup(db: &TestDb) -> Fixture {
    eprintln!("backend: {}", db.name());
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let store: Store = db.store().clone();
    let base = serve_library(store.clone(), tmp.path()).await;
    let http = reqwest::Client::new();
    let mut keys = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("analyst", Role::Analyst),
        ("viewer", Role::Viewer),
    ] {
        let (_, key) = store.create_api_key(name, role).await.unwrap();
        keys.push(Some(key));
    }
    keys.push(None);
    let mut apis = keys.into_iter().map(|key| Api {
        http: http.clone(),
        base: base.clone(),
        key,
    });
    Fixture {
        _tmp: tmp,
        lib,
        admin: apis.next().unwrap(),
        analyst: apis.next().unwrap(),
        viewer: apis.next().unwrap(),
        anonymous: apis.next().unwrap(),
    }
}

impl Fixture {
    fn lib_dir(&self) -> String {
        self.lib.display().to_string()
    }

    /// Creates a local environment on the evidence library.
    async fn local_env(&self, name: &str) -> Value {
        self.analyst
            .create(
                "environments",
                &json!({"name": name, "scopes": [{"kind": "local", "folder": self.lib_dir()}]}),
            )
            .await
    }

    /// Creates an environment with one AWS scope.
    async fn aws_env(&self, name: &str, scope: Value) -> Value {
        let mut scope = scope;
        scope["kind"] = "aws".into();
        self.analyst
            .create("environments", &json!({"name": name, "scopes": [scope]}))
            .await
    }
}

/// The fields a 422 names, after checking it is one.
fn invalid_fields(status: u16, v: &Value) -> Vec<String> {
    assert_eq!(status, 422, "expected a validation error: {v:#}");
    assert!(v["error"].is_string(), "{v:#}");
    v["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {v:#}"))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts a 422 naming `field`, and returns that field's problem.
fn problem_of(answer: &(u16, Value), field: &str) -> String {
    let (status, v) = answer;
    let fields = invalid_fields(*status, v);
    assert!(
        fields.iter().any(|f| f == field),
        "{field} not among {fields:?}: {v:#}"
    );
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .unwrap()["problem"]
        .as_str()
        .unwrap()
        .to_string()
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v:#}"))
        .to_string()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list:#}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn environments_crud_round_trips_and_names_are_unique() {
    for db in both().await {
        let f = setup(&db).await;
        let api = &f.analyst;
        let aws = api
            .create(
                "environments",
                &json!({"name": "aws-all", "description": "every account",
                        "scopes": [{"kind": "aws", "accounts": "all", "regions": ["us-east-1", "eu-west-1"],
                                    "tags": {"env": "prod"}, "role_name": "RiposteResponder"}]}),
            )
            .await;
        let aws_id = id(&aws);
        assert_eq!(aws["name"], "aws-all");
        assert_eq!(aws["description"], "every account");
        let scope = &aws["scopes"][0];
        assert_eq!(scope["kind"], "aws");
        assert_eq!(scope["accounts"], "all", "{aws:#}");
        assert_eq!(scope["regions"], json!(["us-east-1", "eu-west-1"]));
        assert_eq!(scope["tags"], json!({"env": "prod"}));
        assert_eq!(scope["role_name"], "RiposteResponder");
        let lab = f.local_env("lab").await;
        assert_eq!(
            lab["scopes"][0],
            json!({"kind": "local", "folder": f.lib_dir()})
        );

        let list = api.read("environments").await;
        assert_eq!(names(&list["environments"]), ["aws-all", "lab"]);
        let got = api.read(&format!("environments/{aws_id}")).await;
        assert_eq!(got, aws, "GET returns what POST answered");

        // Rename: same id, same scopes, new name.
        let (status, renamed) = api
            .put(
                &format!("environments/{aws_id}"),
                &json!({"name": "aws-everything", "scopes": aws["scopes"]}),
            )
            .await;
        assert_eq!(status, 200, "{renamed:#}");
        assert_eq!(renamed["id"], aws["id"]);
        assert_eq!(renamed["name"], "aws-everything");
        assert_eq!(renamed["scopes"][0]["accounts"], "all");
        let got = api.read(&format!("environments/{aws_id}")).await;
        assert_eq!(got["name"], "aws-everything");
        let list = api.read("environments").await;
        assert_eq!(names(&list["environments"]), ["aws-everything", "lab"]);

        // Names are unique, on create and on rename.
        let taken = api
            .post(
                "environments",
                &json!({"name": "lab", "scopes": [{"kind": "aws", "accounts": "all"}]}),
            )
            .await;
        assert!(problem_of(&taken, "name").contains("lab"), "{taken:?}");
        let taken = api
            .put(
                &format!("environments/{aws_id}"),
                &json!({"name": "lab", "scopes": aws["scopes"]}),
            )
            .await;
        problem_of(&taken, "name");
        // Keeping its own name is not a conflict.
        let (status, v) = api
            .put(
                &format!("environments/{}", id(&lab)),
                &json!({"name": "lab", "description": "the library", "scopes": lab["scopes"]}),
            )
            .await;
        assert_eq!(status, 200, "{v:#}");
        assert_eq!(v["description"], "the library");

        // Delete, then it is gone everywhere.
        let (status, v) = api.delete(&format!("environments/{aws_id}")).await;
        assert_eq!(status, 204, "{v:#}");
        assert_eq!(api.get(&format!("environments/{aws_id}")).await.0, 404);
        assert_eq!(api.delete(&format!("environments/{aws_id}")).await.0, 404);
        let put_gone = api
            .put(
                &format!("environments/{aws_id}"),
                &json!({"name": "x", "scopes": aws["scopes"]}),
            )
            .await;
        assert_eq!(put_gone.0, 404, "{put_gone:?}");
        let list = api.read("environments").await;
        assert_eq!(names(&list["environments"]), ["lab"]);
        // Unknown and malformed ids are 404.
        assert_eq!(api.get(&format!("environments/{UNKNOWN_ID}")).await.0, 404);
        assert_eq!(api.get("environments/not-an-id").await.0, 404);
        // The name is free again.
        f.aws_env("aws-all", json!({"accounts": "all"})).await;
    }
}

#[tokio::test]
async fn environment_validation_errors_name_the_field() {
    for db in both().await {
        let f = setup(&db).await;
        let api = &f.analyst;
        let post = |body: Value| async move { api.post("environments", &body).await };

        let unknown_kind = post(json!({"name": "e", "scopes": [{"kind": "gcp"}]})).await;
        let fields = invalid_fields(unknown_kind.0, &unknown_kind.1);
        assert!(
            fields.iter().all(|f| f.starts_with("scopes[0]")),
            "{unknown_kind:?}"
        );

        let bad_aws = post(json!({"name": "e", "scopes": [
            {"kind": "aws", "accounts": ["12345"], "regions": ["useast1"]}]}))
        .await;
        assert!(problem_of(&bad_aws, "scopes[0].accounts[0]").contains("12345"));
        assert!(problem_of(&bad_aws, "scopes[0].regions[0]").contains("useast1"));
        // Only the bad entries are named.
        let second = post(json!({"name": "e", "scopes": [
            {"kind": "aws", "accounts": ["123456789012", "abc"], "regions": ["us-east-1", "mars-1"]}]}))
        .await;
        let fields = invalid_fields(second.0, &second.1);
        assert_eq!(
            fields,
            ["scopes[0].accounts[1]", "scopes[0].regions[1]"],
            "{second:?}"
        );
        let accounts_word =
            post(json!({"name": "e", "scopes": [{"kind": "aws", "accounts": "some"}]})).await;
        let fields = invalid_fields(accounts_word.0, &accounts_word.1);
        assert!(
            fields.iter().all(|f| f.starts_with("scopes[0]")),
            "{accounts_word:?}"
        );

        let ssh =
            post(json!({"name": "e", "scopes": [{"kind": "ssh", "credential": "ir-key"}]})).await;
        problem_of(&ssh, "scopes[0].cidrs");
        let ssh_ok = post(json!({"name": "ssh", "scopes": [
            {"kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "ir-key"}]}))
        .await;
        assert_eq!(ssh_ok.0, 201, "{ssh_ok:?}");
        assert_eq!(ssh_ok.1["scopes"][0]["port"], 22);

        let outside =
            post(json!({"name": "e", "scopes": [{"kind": "local", "folder": "/etc"}]})).await;
        assert!(
            problem_of(&outside, "scopes[0].folder").contains("outside"),
            "{outside:?}"
        );
        let relative =
            post(json!({"name": "e", "scopes": [{"kind": "local", "folder": "library/labsz"}]}))
                .await;
        assert!(
            problem_of(&relative, "scopes[0].folder").contains("absolute"),
            "{relative:?}"
        );
        // The second scope is named by its own index.
        let second_scope = post(json!({"name": "e", "scopes": [
            {"kind": "local", "folder": f.lib_dir()}, {"kind": "local", "folder": "/etc"}]}))
        .await;
        assert_eq!(
            invalid_fields(second_scope.0, &second_scope.1),
            ["scopes[1].folder"]
        );

        let no_scopes = post(json!({"name": "e", "scopes": []})).await;
        problem_of(&no_scopes, "scopes");
        let unknown_field = post(json!({"name": "e", "colour": "blue",
                                         "scopes": [{"kind": "aws", "accounts": "all"}]}))
        .await;
        assert_eq!(unknown_field.0, 422, "{unknown_field:?}");
        assert!(
            unknown_field.1.to_string().contains("colour"),
            "{unknown_field:?}"
        );
        let unknown_scope_field = post(json!({"name": "e",
                                              "scopes": [{"kind": "aws", "accounts": "all", "colour": 1}]}))
        .await;
        let fields = invalid_fields(unknown_scope_field.0, &unknown_scope_field.1);
        assert!(
            fields.iter().all(|f| f.starts_with("scopes[0]")),
            "{unknown_scope_field:?}"
        );

        let not_json = api
            .send_text(Method::POST, "environments", "{\"name\": ")
            .await;
        assert_eq!(not_json.0, 400, "{not_json:?}");
        let array = api.send_text(Method::POST, "environments", "[]").await;
        assert_eq!(array.0, 400, "{array:?}");
        // PUT validates the same way.
        let lab = f.local_env("lab").await;
        let bad_put = api
            .put(
                &format!("environments/{}", id(&lab)),
                &json!({"name": "lab", "scopes": [{"kind": "aws", "accounts": ["1"]}]}),
            )
            .await;
        problem_of(&bad_put, "scopes[0].accounts[0]");
        let not_json = api
            .send_text(Method::PUT, &format!("environments/{}", id(&lab)), "nope")
            .await;
        assert_eq!(not_json.0, 400, "{not_json:?}");

        // Nothing refused was stored, and the PUTs changed nothing.
        let list = api.read("environments").await;
        assert_eq!(names(&list["environments"]), ["lab", "ssh"]);
        assert_eq!(api.read(&format!("environments/{}", id(&lab))).await, lab);
    }
}

#[tokio::test]
async fn viewers_only_read_and_resolve_and_anonymous_callers_get_401() {
    for db in both().await {
        let f = setup(&db).await;
        let aws = f
            .aws_env("aws", json!({"accounts": "all", "regions": ["us-east-1"]}))
            .await;
        let env_path = format!("environments/{}", id(&aws));
        let rule = f
            .analyst
            .create(
                "rules",
                &json!({"name": "gd", "source": "guardduty", "environment_id": aws["id"]}),
            )
            .await;
        let rule_path = format!("rules/{}", id(&rule));
        let project = f.analyst.create("projects", &json!({"name": "hunt"})).await;
        let project_path = format!("projects/{}", id(&project));
        let import =
            json!({"systems": [{"kind": "ec2", "instance_id": INSTANCE, "region": "us-east-1"}]});
        let new_env = json!({"name": "other", "scopes": [{"kind": "aws", "accounts": "all"}]});
        let new_rule = json!({"name": "other", "source": "any"});

        let changes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "environments".into(), Some(new_env.clone())),
            (
                Method::PUT,
                env_path.clone(),
                Some(json!({"name": "renamed", "scopes": aws["scopes"]})),
            ),
            (Method::DELETE, env_path.clone(), None),
            (Method::POST, "rules".into(), Some(new_rule.clone())),
            (
                Method::PUT,
                rule_path.clone(),
                Some(
                    json!({"name": "gd", "source": "guardduty", "environment_id": aws["id"], "priority": 1}),
                ),
            ),
            (Method::DELETE, rule_path.clone(), None),
            (Method::POST, format!("{rule_path}/enable"), None),
            (Method::POST, format!("{rule_path}/disable"), None),
            (
                Method::POST,
                "projects".into(),
                Some(json!({"name": "mine"})),
            ),
            (
                Method::POST,
                format!("{project_path}/imports"),
                Some(import.clone()),
            ),
        ];
        for (method, path, body) in &changes {
            let (status, v) = f.viewer.send(method.clone(), path, body.as_ref()).await;
            assert_eq!(status, 403, "viewer {method} {path}: {v:#}");
            let (status, v) = f.anonymous.send(method.clone(), path, body.as_ref()).await;
            assert_eq!(status, 401, "anonymous {method} {path}: {v:#}");
        }

        let reads = [
            "environments".to_string(),
            env_path.clone(),
            "rules".into(),
            rule_path.clone(),
            format!("{rule_path}/versions"),
            "projects".into(),
            project_path.clone(),
        ];
        for path in &reads {
            f.viewer.read(path).await;
            let (status, v) = f.anonymous.get(path).await;
            assert_eq!(status, 401, "anonymous GET {path}: {v:#}");
        }
        let target = json!({"instance_id": INSTANCE, "region": "us-east-1"});
        let (status, v) = f.viewer.post("environments/resolve", &target).await;
        assert_eq!(status, 200, "{v:#}");
        assert_eq!(v["covered"], true, "{v:#}");
        let (status, _) = f.anonymous.post("environments/resolve", &target).await;
        assert_eq!(status, 401);
        let wrong_key = Api {
            key: Some("rip_not-a-key".into()),
            ..f.viewer.clone()
        };
        assert_eq!(wrong_key.get("environments").await.0, 401);

        // Nothing the viewer tried happened.
        assert_eq!(f.viewer.read(&env_path).await, aws);
        let now = f.viewer.read(&rule_path).await;
        assert_eq!(
            (now["version"].as_u64(), now["enabled"].as_bool()),
            (Some(1), Some(true))
        );
        assert_eq!(
            names(&f.viewer.read("environments").await["environments"]),
            ["aws"]
        );
        assert_eq!(names(&f.viewer.read("rules").await["rules"]), ["gd"]);
        assert_eq!(
            names(&f.viewer.read("projects").await["projects"]),
            ["hunt"]
        );
        let detail = f.viewer.read(&project_path).await;
        assert_eq!(detail["investigations"], json!([]));

        // Admins may change everything analysts may.
        f.admin.create("environments", &new_env).await;
        f.admin.create("rules", &new_rule).await;
        let (status, v) = f.admin.post_empty(&format!("{rule_path}/disable")).await;
        assert_eq!(status, 200, "{v:#}");
        assert_eq!(v["enabled"], false);
        let (status, v) = f
            .admin
            .post(&format!("{project_path}/imports"), &import)
            .await;
        assert_eq!(status, 202, "{v:#}");
    }
}

#[tokio::test]
async fn openapi_lists_the_environment_rule_and_project_paths() {
    for db in both().await {
        let f = setup(&db).await;
        let doc = f.viewer.read("openapi.json").await;
        let paths = doc["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("no paths: {doc:#}"));
        let expected = [
            ("/api/v1/environments", vec!["get", "post"]),
            ("/api/v1/environments/{id}", vec!["get", "put", "delete"]),
            ("/api/v1/environments/resolve", vec!["post"]),
            ("/api/v1/rules", vec!["get", "post"]),
            ("/api/v1/rules/{id}", vec!["get", "put", "delete"]),
            ("/api/v1/rules/{id}/enable", vec!["post"]),
            ("/api/v1/rules/{id}/disable", vec!["post"]),
            ("/api/v1/rules/{id}/versions", vec!["get"]),
            ("/api/v1/projects", vec!["get", "post"]),
            ("/api/v1/projects/{id}", vec!["get"]),
            ("/api/v1/projects/{id}/imports", vec!["post"]),
        ];
        for (path, methods) in expected {
            let item = paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
            for m in methods {
                assert!(item.get(m).is_some(), "{m} {path} is not documented");
            }
        }
    }
}

#[tokio::test]
async fn rules_keep_every_version_and_enabling_is_not_a_new_version() {
    for db in both().await {
        let f = setup(&db).await;
        let aws = f
            .aws_env("aws", json!({"accounts": "all", "regions": ["us-east-1"]}))
            .await;
        let v1 = json!({"name": "gd-backdoor", "source": "guardduty", "environment_id": aws["id"],
                        "filters": {"min_severity": "medium"}, "priority": 10});
        let mut body = v1.clone();
        body["enabled"] = false.into();
        let rule = f.analyst.create("rules", &body).await;
        let rule_id = id(&rule);
        let path = format!("rules/{rule_id}");
        assert_eq!(rule["version"], 1);
        assert_eq!(rule["enabled"], false);
        assert_eq!(rule["name"], "gd-backdoor");
        assert_eq!(rule["source"], "guardduty");
        assert_eq!(rule["environment_id"], aws["id"]);
        assert_eq!(rule["filters"]["min_severity"], "medium");
        assert_eq!(rule["priority"], 10);
        // Defaults are filled in.
        assert_eq!(rule["investigation_type"], "triage");
        assert_eq!(rule["attach_alert_context"], true);
        assert_eq!(rule["join_window_minutes"], 60);
        assert_eq!(f.analyst.read(&path).await, rule);

        // Enable and disable: the state changes, the version does not.
        let (status, enabled) = f.analyst.post_empty(&format!("{path}/enable")).await;
        assert_eq!(status, 200, "{enabled:#}");
        assert_eq!(
            (enabled["enabled"].as_bool(), enabled["version"].as_u64()),
            (Some(true), Some(1))
        );
        let got = f.analyst.read(&path).await;
        assert_eq!(
            (got["enabled"].as_bool(), got["version"].as_u64()),
            (Some(true), Some(1))
        );
        let (status, disabled) = f.analyst.post_empty(&format!("{path}/disable")).await;
        assert_eq!(status, 200, "{disabled:#}");
        assert_eq!(
            (disabled["enabled"].as_bool(), disabled["version"].as_u64()),
            (Some(false), Some(1))
        );
        let (status, _) = f.analyst.post_empty(&format!("{path}/enable")).await;
        assert_eq!(status, 200);
        let versions = f.analyst.read(&format!("{path}/versions")).await;
        assert_eq!(
            versions["versions"].as_array().unwrap().len(),
            1,
            "{versions:#}"
        );

        // Each PUT is a new version (v2 by the analyst, v3 by the admin); enabled stays.
        let v2 = json!({"name": "gd-backdoor", "source": "guardduty", "environment_id": aws["id"],
                        "filters": {"min_severity": "medium", "finding_types": ["Backdoor:EC2/*"]},
                        "investigation_type": "full", "priority": 10});
        let (status, r2) = f.analyst.put(&path, &v2).await;
        assert_eq!(status, 200, "{r2:#}");
        assert_eq!(r2["version"], 2);
        assert_eq!(r2["enabled"], true);
        assert_eq!(r2["investigation_type"], "full");
        let v3 = json!({"name": "gd-backdoor-2", "source": "guardduty", "environment_id": aws["id"],
                        "priority": 5, "actions": [{"action": "stop_instance", "on": "malicious"}]});
        let (status, r3) = f.admin.put(&path, &v3).await;
        assert_eq!(status, 200, "{r3:#}");
        assert_eq!(r3["version"], 3);
        assert_eq!(r3["id"], rule["id"]);
        assert_eq!(r3["name"], "gd-backdoor-2");
        assert_eq!(
            r3["filters"],
            json!({}),
            "a PUT replaces the whole definition"
        );
        assert_eq!(f.analyst.read(&path).await, r3);
        let list = f.viewer.read("rules").await;
        assert_eq!(names(&list["rules"]), ["gd-backdoor-2"]);
        assert_eq!(list["rules"][0]["version"], 3);
        // Enabling is still not a version.
        let (_, again) = f.analyst.post_empty(&format!("{path}/disable")).await;
        assert_eq!(again["version"], 3);

        let versions = f.viewer.read(&format!("{path}/versions")).await;
        assert_eq!(versions["id"], rule["id"]);
        let list = versions["versions"].as_array().unwrap();
        let numbers: Vec<u64> = list
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [1, 2, 3], "{versions:#}");
        for (saved, sent) in list.iter().zip([&v1, &v2, &v3]) {
            for (field, value) in sent.as_object().unwrap() {
                assert_eq!(
                    &saved["spec"][field], value,
                    "version {}: {field}",
                    saved["version"]
                );
            }
            assert!(saved["spec"].get("enabled").is_none(), "{saved:#}");
            assert!(saved["created_at"].is_string(), "{saved:#}");
        }
        let by = |i: usize| list[i]["created_by"].as_str().unwrap().to_string();
        assert!(by(0).contains("analyst"), "{}", by(0));
        assert!(by(1).contains("analyst"), "{}", by(1));
        assert!(by(2).contains("admin"), "{}", by(2));

        // Deleted: gone, but its versions stay.
        let (status, v) = f.analyst.delete(&path).await;
        assert_eq!(status, 204, "{v:#}");
        assert_eq!(f.analyst.get(&path).await.0, 404);
        assert_eq!(f.analyst.delete(&path).await.0, 404);
        assert_eq!(f.analyst.put(&path, &v3).await.0, 404);
        assert_eq!(f.analyst.post_empty(&format!("{path}/enable")).await.0, 404);
        assert_eq!(
            names(&f.analyst.read("rules").await["rules"]),
            Vec::<&str>::new()
        );
        let after = f.viewer.read(&format!("{path}/versions")).await;
        assert_eq!(after["versions"].as_array().unwrap().len(), 3, "{after:#}");
        assert_eq!(after["versions"], versions["versions"]);
        // A rule that never existed has no versions.
        assert_eq!(
            f.viewer
                .get(&format!("rules/{UNKNOWN_ID}/versions"))
                .await
                .0,
            404
        );
        assert_eq!(f.viewer.get(&format!("rules/{UNKNOWN_ID}")).await.0, 404);
        assert_eq!(f.viewer.get("rules/not-an-id").await.0, 404);
    }
}

#[tokio::test]
async fn rule_validation_errors_name_the_field_and_protect_environments() {
    for db in both().await {
        let f = setup(&db).await;
        let api = &f.analyst;
        let aws = f
            .aws_env(
                "aws",
                json!({"accounts": ["123456789012"], "regions": ["us-east-1"]}),
            )
            .await;
        let lab = f.local_env("lab").await;
        let gone = f.aws_env("gone", json!({"accounts": "all"})).await;
        assert_eq!(
            api.delete(&format!("environments/{}", id(&gone))).await.0,
            204
        );
        let post = |body: Value| async move { api.post("rules", &body).await };

        let splunk = post(json!({"name": "r", "source": "splunk"})).await;
        assert!(
            problem_of(&splunk, "source").contains("splunk"),
            "{splunk:?}"
        );
        let no_env = post(json!({"name": "r", "source": "guardduty"})).await;
        assert!(
            problem_of(&no_env, "environment_id").contains("missing"),
            "{no_env:?}"
        );
        let wiz = post(json!({"name": "r", "source": "wiz"})).await;
        problem_of(&wiz, "environment_id");
        let unknown_env =
            post(json!({"name": "r", "source": "guardduty", "environment_id": gone["id"]})).await;
        assert!(
            problem_of(&unknown_env, "environment_id").contains(&id(&gone)),
            "{unknown_env:?}"
        );
        let malformed_env =
            post(json!({"name": "r", "source": "guardduty", "environment_id": "prod"})).await;
        problem_of(&malformed_env, "environment_id");
        let stop_local = post(
            json!({"name": "r", "source": "any", "environment_id": lab["id"],
                                     "actions": [{"action": "stop_instance", "on": "malicious"}]}),
        )
        .await;
        let why = problem_of(&stop_local, "actions[0].action");
        assert!(
            why.contains("stop_instance") && why.contains("lab"),
            "{why}"
        );
        let stop_no_env = post(json!({"name": "r", "source": "any",
                                      "actions": [{"action": "isolate_role", "on": "suspicious"}]}))
        .await;
        problem_of(&stop_no_env, "actions[0].action");
        let contain = post(json!({"name": "r", "source": "crowdstrike",
                                  "actions": [{"action": "contain_host", "on": "malicious"}]}))
        .await;
        problem_of(&contain, "actions[0].action");
        let contain_generic = post(json!({"name": "r", "source": "generic",
                                          "actions": [{"action": "contain_host", "on": "malicious"}]}))
        .await;
        problem_of(&contain_generic, "actions[0].action");
        let conn = post(json!({"name": "r", "source": "generic", "connection_id": "abc"})).await;
        problem_of(&conn, "connection_id");
        let unknown_conn =
            post(json!({"name": "r", "source": "crowdstrike", "connection_id": "abc"})).await;
        problem_of(&unknown_conn, "connection_id");
        let empty_title =
            post(json!({"name": "r", "source": "any", "filters": {"titles": ["*x*", ""]}})).await;
        assert_eq!(
            invalid_fields(empty_title.0, &empty_title.1),
            ["filters.titles[1]"]
        );
        let empty_title =
            post(json!({"name": "r", "source": "any", "filters": {"titles": [" "]}})).await;
        problem_of(&empty_title, "filters.titles[0]");
        let extreme =
            post(json!({"name": "r", "source": "any", "filters": {"min_severity": "extreme"}}))
                .await;
        assert_eq!(extreme.0, 422, "{extreme:?}");
        let unknown_action = post(json!({"name": "r", "source": "any",
                                         "actions": [{"action": "reboot", "on": "malicious"}]}))
        .await;
        assert!(
            invalid_fields(unknown_action.0, &unknown_action.1)
                .iter()
                .all(|f| f.starts_with("actions[0]")),
            "{unknown_action:?}"
        );
        let unknown_field = post(json!({"name": "r", "source": "any", "colour": 1})).await;
        assert_eq!(unknown_field.0, 422, "{unknown_field:?}");
        let bad_enabled = post(json!({"name": "r", "source": "any", "enabled": "yes"})).await;
        problem_of(&bad_enabled, "enabled");
        let not_json = api.send_text(Method::POST, "rules", "{").await;
        assert_eq!(not_json.0, 400, "{not_json:?}");
        let array = api.send_text(Method::POST, "rules", "[1]").await;
        assert_eq!(array.0, 400, "{array:?}");
        // Several problems at once are all named.
        let many = post(
            json!({"name": "r", "source": "guardduty", "connection_id": "x",
                               "filters": {"finding_types": [""]}}),
        )
        .await;
        let fields: BTreeSet<String> = invalid_fields(many.0, &many.1).into_iter().collect();
        let expected: BTreeSet<String> = [
            "environment_id",
            "connection_id",
            "filters.finding_types[0]",
        ]
        .map(String::from)
        .into();
        assert_eq!(fields, expected, "{many:?}");
        assert_eq!(names(&api.read("rules").await["rules"]), Vec::<&str>::new());

        // A valid rule with an EC2 action on the AWS environment.
        let stop = api
            .create(
                "rules",
                &json!({"name": "stopper", "source": "guardduty", "environment_id": aws["id"],
                        "actions": [{"action": "stop_instance", "on": "malicious"}]}),
            )
            .await;
        let stop_path = format!("rules/{}", id(&stop));
        let dup = post(json!({"name": "stopper", "source": "any"})).await;
        problem_of(&dup, "name");
        // `enabled` belongs to enable/disable, not to PUT; the rule is unchanged.
        let put_enabled = api
            .put(
                &stop_path,
                &json!({"name": "stopper", "source": "guardduty", "environment_id": aws["id"], "enabled": false}),
            )
            .await;
        problem_of(&put_enabled, "enabled");
        let put_bad = api
            .put(
                &stop_path,
                &json!({"name": "stopper", "source": "guardduty"}),
            )
            .await;
        problem_of(&put_bad, "environment_id");
        let unchanged = api.read(&stop_path).await;
        assert_eq!(unchanged, stop);
        assert_eq!(
            api.read(&format!("{stop_path}/versions")).await["versions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // Renaming onto another rule's name is refused too.
        let other = api
            .create("rules", &json!({"name": "other", "source": "any"}))
            .await;
        let rename = api
            .put(
                &format!("rules/{}", id(&other)),
                &json!({"name": "stopper", "source": "any"}),
            )
            .await;
        problem_of(&rename, "name");

        // The environment is protected while the rule uses it, even disabled.
        let env_path = format!("environments/{}", id(&aws));
        let (status, v) = api.delete(&env_path).await;
        assert_eq!(status, 409, "{v:#}");
        assert!(v["error"].as_str().unwrap().contains("stopper"), "{v:#}");
        assert_eq!(api.post_empty(&format!("{stop_path}/disable")).await.0, 200);
        let (status, v) = api.delete(&env_path).await;
        assert_eq!(status, 409, "{v:#}");
        assert_eq!(api.read(&env_path).await, aws, "the refused DELETE kept it");
        let no_aws = api
            .put(
                &env_path,
                &json!({"name": "aws", "scopes": [{"kind": "local", "folder": f.lib_dir()}]}),
            )
            .await;
        assert!(
            problem_of(&no_aws, "scopes").contains("stopper"),
            "{no_aws:?}"
        );
        assert_eq!(
            api.read(&env_path).await,
            aws,
            "the refused PUT changed nothing"
        );
        // A change that keeps an AWS scope is fine.
        let (status, v) = api
            .put(
                &env_path,
                &json!({"name": "aws", "scopes": [{"kind": "aws", "accounts": "all"}]}),
            )
            .await;
        assert_eq!(status, 200, "{v:#}");
        // Once the rule is gone, so may the environment be.
        assert_eq!(api.delete(&stop_path).await.0, 204);
        assert_eq!(api.delete(&env_path).await.0, 204);
    }
}

#[tokio::test]
async fn resolve_names_the_covering_scope_or_why_none_does() {
    for db in both().await {
        let f = setup(&db).await;
        let aws = f
            .aws_env(
                "aws-prod",
                json!({"accounts": ["123456789012"], "regions": ["us-east-1"],
                       "tags": {"env": "prod"}, "role_name": "RiposteResponder"}),
            )
            .await;
        let lab = f.local_env("lab").await;
        let viewer = &f.viewer;
        let resolve = |target: Value| async move {
            let (status, v) = viewer.post("environments/resolve", &target).await;
            assert_eq!(status, 200, "{target}: {v:#}");
            v
        };
        let target = json!({"instance_id": INSTANCE, "account_id": "123456789012",
                            "region": "us-east-1", "cloud_provider": "aws", "tags": {"env": "prod"}});

        let v = resolve(target.clone()).await;
        assert_eq!(v["covered"], true, "{v:#}");
        let scope = &v["scope"];
        assert_eq!(scope["environment"], "aws-prod");
        assert_eq!(scope["environment_id"], aws["id"]);
        assert_eq!(scope["scope_index"], 0);
        assert_eq!(scope["acquisition"]["method"], "ec2", "{v:#}");
        assert_eq!(scope["acquisition"]["instance_id"], INSTANCE);
        assert_eq!(scope["acquisition"]["account_id"], "123456789012");
        assert_eq!(scope["acquisition"]["region"], "us-east-1");
        assert_eq!(scope["acquisition"]["role_name"], "RiposteResponder");

        let mut wrong_region = target.clone();
        wrong_region["region"] = "eu-west-1".into();
        let v = resolve(wrong_region).await;
        assert_eq!(v["covered"], false, "{v:#}");
        assert!(v.get("scope").is_none_or(Value::is_null), "{v:#}");
        let reasons = v["reasons"].to_string();
        assert!(
            reasons.contains("eu-west-1") && reasons.contains("aws-prod"),
            "{v:#}"
        );

        let mut wrong_tag = target.clone();
        wrong_tag["tags"] = json!({"env": "dev"});
        let v = resolve(wrong_tag).await;
        assert_eq!(v["covered"], false, "{v:#}");
        assert!(v["reasons"].to_string().contains("env"), "{v:#}");

        let mut wrong_account = target.clone();
        wrong_account["account_id"] = "999999999999".into();
        let v = resolve(wrong_account).await;
        assert_eq!(v["covered"], false, "{v:#}");
        assert!(v["reasons"].to_string().contains("999999999999"), "{v:#}");

        // The library covers its hosts by name.
        let v = resolve(json!({"hostname": "victim"})).await;
        assert_eq!(v["covered"], true, "{v:#}");
        assert_eq!(v["scope"]["environment"], "lab");
        assert_eq!(v["scope"]["environment_id"], lab["id"]);
        assert_eq!(v["scope"]["acquisition"]["method"], "library", "{v:#}");
        assert_eq!(v["scope"]["acquisition"]["host"], "victim");
        assert_eq!(v["scope"]["acquisition"]["folder"], f.lib_dir());

        let v = resolve(json!({"hostname": "nowhere"})).await;
        assert_eq!(v["covered"], false, "{v:#}");
        assert!(!v["reasons"].as_array().unwrap().is_empty(), "{v:#}");

        let not_json = f
            .viewer
            .send_text(Method::POST, "environments/resolve", "host=victim")
            .await;
        assert_eq!(not_json.0, 400, "{not_json:?}");
        let bad_ip = f
            .viewer
            .post("environments/resolve", &json!({"ips": ["not-an-ip"]}))
            .await;
        assert_eq!(bad_ip.0, 422, "{bad_ip:?}");
    }
}

#[tokio::test]
async fn imports_start_one_investigation_per_system_or_none() {
    for db in both().await {
        let f = setup(&db).await;
        let api = &f.analyst;
        f.aws_env("aws-all", json!({"accounts": "all"})).await;
        let lab = f.local_env("lab").await;
        let project = api
            .create(
                "projects",
                &json!({"name": "Sunday hunt", "description": "weekly"}),
            )
            .await;
        let pid = id(&project);
        assert_eq!(project["name"], "Sunday hunt");
        assert_eq!(project["description"], "weekly");
        assert!(
            project["created_by"].as_str().unwrap().contains("analyst"),
            "{project:#}"
        );
        let bad_name = api.post("projects", &json!({"name": "  "})).await;
        problem_of(&bad_name, "name");
        assert_eq!(
            names(&api.read("projects").await["projects"]),
            ["Sunday hunt"]
        );
        let imports = format!("projects/{pid}/imports");

        let labsz = f.lib.join("labsz").display().to_string();
        let (status, v) = api
            .post(
                &imports,
                &json!({"systems": [
                    {"kind": "ec2", "instance_id": INSTANCE, "region": "us-east-1"},
                    {"kind": "host", "hostname": "victim"},
                    {"kind": "path", "path": labsz},
                ], "investigation_type": "triage"}),
            )
            .await;
        assert_eq!(status, 202, "{v:#}");
        assert_eq!(v["project_id"], project["id"]);
        let started = v["investigations"].as_array().unwrap();
        let systems: Vec<u64> = started
            .iter()
            .map(|i| i["system"].as_u64().unwrap())
            .collect();
        assert_eq!(systems, [0, 1, 2], "{v:#}");
        let methods: Vec<&str> = started
            .iter()
            .map(|i| i["scope"]["acquisition"]["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["ec2", "library", "library"], "{v:#}");
        assert_eq!(started[0]["scope"]["environment"], "aws-all");
        assert_eq!(started[0]["scope"]["acquisition"]["instance_id"], INSTANCE);
        assert_eq!(started[0]["scope"]["acquisition"]["region"], "us-east-1");
        assert_eq!(started[1]["scope"]["environment_id"], lab["id"]);
        assert_eq!(started[1]["scope"]["acquisition"]["host"], "victim");
        assert_eq!(started[2]["scope"]["environment_id"], lab["id"]);
        assert_eq!(started[2]["scope"]["acquisition"]["host"], "labsz");
        let ids: BTreeSet<String> = started
            .iter()
            .map(|i| i["investigation_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 3, "three distinct investigations: {v:#}");

        let detail = f.viewer.read(&format!("projects/{pid}")).await;
        assert_eq!(detail["project"]["id"], project["id"]);
        let listed = detail["investigations"].as_array().unwrap();
        let listed_ids: BTreeSet<String> = listed
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed_ids, ids, "{detail:#}");
        for i in listed {
            assert_eq!(i["project_id"], project["id"], "{i:#}");
        }
        for (n, inv) in ids.iter().enumerate() {
            let d = f.viewer.read(&format!("investigations/{inv}")).await;
            let inv = &d["investigation"];
            assert_eq!(inv["project_id"], project["id"], "{d:#}");
            let plan = &inv["plan"];
            assert_eq!(plan["investigation_type"], "triage", "{d:#}");
            assert!(plan.get("rule").is_none_or(Value::is_null), "{d:#}");
            assert!(
                plan["scope"]["acquisition"]["method"].is_string(),
                "{n}: {d:#}"
            );
        }

        // All or nothing: systems[1] is covered by no scope, so not even systems[0] starts.
        let refused = api
            .post(
                &imports,
                &json!({"systems": [
                    {"kind": "ec2", "instance_id": "i-0aaaaaaaaaaaaaaaa", "region": "us-east-1"},
                    {"kind": "host", "hostname": "nowhere"},
                    {"kind": "host", "hostname": "labsz"},
                ]}),
            )
            .await;
        assert_eq!(
            invalid_fields(refused.0, &refused.1),
            ["systems[1]"],
            "{refused:?}"
        );
        let still = f.viewer.read(&format!("projects/{pid}")).await;
        assert_eq!(
            still["investigations"].as_array().unwrap().len(),
            3,
            "{still:#}"
        );
        let all = f.viewer.read("investigations").await;
        assert_eq!(
            all["investigations"].as_array().unwrap().len(),
            3,
            "{all:#}"
        );

        // Malformed systems.
        let unknown_kind = api
            .post(&imports, &json!({"systems": [{"kind": "vm", "instance_id": INSTANCE, "region": "us-east-1"}]}))
            .await;
        let fields = invalid_fields(unknown_kind.0, &unknown_kind.1);
        assert!(
            fields.iter().all(|f| f.starts_with("systems[0]")),
            "{unknown_kind:?}"
        );
        let no_region = api
            .post(
                &imports,
                &json!({"systems": [{"kind": "ec2", "instance_id": INSTANCE}]}),
            )
            .await;
        let fields = invalid_fields(no_region.0, &no_region.1);
        assert!(
            fields.iter().all(|f| f.starts_with("systems[0]")),
            "{no_region:?}"
        );
        let empty_host = api
            .post(
                &imports,
                &json!({"systems": [{"kind": "host", "hostname": "labsz"}, {"kind": "host"}]}),
            )
            .await;
        assert_eq!(invalid_fields(empty_host.0, &empty_host.1), ["systems[1]"]);
        let outside = api
            .post(
                &imports,
                &json!({"systems": [{"kind": "path", "path": "/etc"}]}),
            )
            .await;
        assert_eq!(invalid_fields(outside.0, &outside.1), ["systems[0]"]);
        let none = api.post(&imports, &json!({"systems": []})).await;
        problem_of(&none, "systems");
        let unknown_env = api
            .post(
                &imports,
                &json!({"systems": [{"kind": "host", "hostname": "victim"}], "environment_id": UNKNOWN_ID}),
            )
            .await;
        problem_of(&unknown_env, "environment_id");
        let not_json = api.send_text(Method::POST, &imports, "systems").await;
        assert_eq!(not_json.0, 400, "{not_json:?}");
        let still = f.viewer.read(&format!("projects/{pid}")).await;
        assert_eq!(
            still["investigations"].as_array().unwrap().len(),
            3,
            "{still:#}"
        );

        // Unknown projects.
        let body = json!({"systems": [{"kind": "host", "hostname": "victim"}]});
        let (status, v) = api
            .post(&format!("projects/{UNKNOWN_ID}/imports"), &body)
            .await;
        assert_eq!(status, 404, "{v:#}");
        assert_eq!(api.get(&format!("projects/{UNKNOWN_ID}")).await.0, 404);
        assert_eq!(api.get("projects/not-an-id").await.0, 404);
        let all = f.viewer.read("investigations").await;
        assert_eq!(
            all["investigations"].as_array().unwrap().len(),
            3,
            "{all:#}"
        );
    }
}
