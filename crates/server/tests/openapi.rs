//! The OpenAPI document served at `/api/v1/openapi.json`: who may read it, what it says,
//! and that the router serves exactly the operations it documents.

use riposte_server::{AppState, router};
use riposte_store::testing::{TestDb, sqlite};
use riposte_store::{MasterKey, Role};
use serde_json::Value;

const DOC: &str = "/api/v1/openapi.json";

/// Serves the API in-process on SQLite; returns the database (keep it alive), the base URL
/// and a viewer key.
async fn serve() -> (TestDb, String, String) {
    let db = sqlite().await;
    let (_, viewer) = db
        .store()
        .create_api_key("viewer", Role::Viewer)
        .await
        .unwrap();
    let app = router(AppState::new(db.store().clone(), MasterKey::generate()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (db, format!("http://{addr}"), viewer)
}

/// The document's operations as (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                ops.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

/// A concrete URL path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000000")
        .replace("{source}", "generic")
}

async fn fetch_doc(http: &reqwest::Client, base: &str, key: &str) -> Value {
    let r = http
        .get(format!("{base}{DOC}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn openapi_document_needs_a_key_and_is_openapi_3_1() {
    let (_db, base, viewer) = serve().await;
    let http = reqwest::Client::new();

    let r = http.get(format!("{base}{DOC}")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no key");
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = http
        .get(format!("{base}{DOC}"))
        .bearer_auth("rip_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "unknown key");

    let r = http
        .get(format!("{base}{DOC}"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a viewer key is enough");
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "OpenAPI 3.1, got {version}");
    assert_eq!(doc["info"]["title"], "Riposte API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["info"]["license"]["name"], "Apache-2.0");
    let scheme = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    // What is served is the document the library builds.
    assert_eq!(
        doc,
        serde_json::to_value(riposte_server::openapi()).unwrap()
    );
}

#[tokio::test]
async fn openapi_document_lists_the_main_operations() {
    let (_db, base, viewer) = serve().await;
    let doc = fetch_doc(&reqwest::Client::new(), &base, &viewer).await;
    for (method, path) in [
        ("post", "/api/v1/alerts"),
        ("get", "/api/v1/alerts/{id}"),
        ("post", "/api/v1/connections"),
        ("post", "/api/v1/connections/{id}/test"),
        ("post", "/hooks/{id}"),
        ("post", "/publicapi/v2/enrich_with_secdo/"),
        ("post", "/publicapi/v2/enrich_with_secdo"),
        ("get", "/api/v1/investigations/{id}/timeline"),
        ("get", "/api/v1/openapi.json"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
    // Path parameters are declared.
    let params = &doc["paths"]["/api/v1/alerts/{id}"]["get"]["parameters"];
    assert!(
        params
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "id" && p["in"] == "path"),
        "{params}"
    );
    // Request bodies of hand-parsed handlers are described.
    let body = &doc["paths"]["/api/v1/connections"]["post"]["requestBody"];
    assert!(body["content"]["application/json"]["schema"].is_object());
}

#[tokio::test]
async fn every_operation_but_health_requires_an_api_key() {
    let (_db, base, viewer) = serve().await;
    let doc = fetch_doc(&reqwest::Client::new(), &base, &viewer).await;
    let ops = operations(&doc);
    assert!(!ops.is_empty());
    for (method, path, op) in ops {
        let schemes: Vec<&str> = op["security"]
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .filter_map(Value::as_object)
                    .flat_map(|req| req.keys().map(String::as_str))
                    .collect()
            })
            .unwrap_or_default();
        match path.as_str() {
            "/health" => assert!(schemes.is_empty(), "/health is public"),
            // Push integrations authenticate with their own secret, not an API key.
            "/hooks/{id}" => assert_eq!(
                schemes,
                ["integration_secret", "integration_signature"],
                "{method} {path}"
            ),
            _ => assert_eq!(
                schemes,
                [riposte_server::API_KEY_SCHEME],
                "{method} {path} must declare the api_key security requirement"
            ),
        }
        if path != "/health" {
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} must document its 401"
            );
        }
    }
}

/// Every documented operation is routed (it neither reaches the fallback 404 nor gets 405),
/// and no documented path answers a method it does not document.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let (_db, base, viewer) = serve().await;
    let http = reqwest::Client::new();
    let doc = fetch_doc(&http, &base, &viewer).await;
    let ops = operations(&doc);

    // A path that is not routed reaches the fallback: the check below can tell.
    let r = http
        .get(format!("{base}/api/v1/nonexistent"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no such route"));

    for (method, path, _) in &ops {
        // A viewer key: every write is refused (403/401) before it changes anything.
        let r = http
            .request(method.parse().unwrap(), format!("{base}{}", concrete(path)))
            .bearer_auth(&viewer)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert!(
            !(status == 404 && text.contains("no such route")),
            "{method} {path} is documented but reaches the fallback"
        );
    }

    let paths: std::collections::BTreeSet<&String> = ops.iter().map(|(_, p, _)| p).collect();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if ops.iter().any(|(m, p, _)| m == method && p == path) {
                continue;
            }
            let r = http
                .request(method.parse().unwrap(), format!("{base}{}", concrete(path)))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                405,
                "{method} {path} is not documented, so it must not be routed"
            );
        }
    }
}

/// The property names a schema documents (following `$ref`, `allOf`, `oneOf`, `anyOf`).
fn documented_properties(doc: &Value, schema: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return documented_properties(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(props) = schema["properties"].as_object() {
        out.extend(props.keys().cloned());
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            out.extend(documented_properties(doc, part));
        }
    }
    out
}

/// The schema of an operation's response with `status`.
fn response_schema<'d>(doc: &'d Value, method: &str, path: &str, status: u16) -> &'d Value {
    &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]["schema"]
}

/// Every field of `body` (an object) is documented by `schema`.
fn assert_documented(doc: &Value, schema: &Value, body: &Value, what: &str) {
    let documented = documented_properties(doc, schema);
    assert!(!documented.is_empty(), "{what}: no documented properties");
    for key in body.as_object().expect("an object").keys() {
        assert!(
            documented.contains(key),
            "{what}: the answer has `{key}`, which the document does not describe ({documented:?})"
        );
    }
}

/// Real answers carry only documented fields (the response schemas did not drift).
#[tokio::test]
async fn real_answers_match_the_documented_schemas() {
    let (db, base, viewer) = serve().await;
    let (_, admin) = db
        .store()
        .create_api_key("admin", Role::Admin)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let doc = fetch_doc(&http, &base, &viewer).await;

    let r = http
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({
            "title": "Suspicious login", "severity": "high", "event_id": "e-1",
            "target": {"hostname": "web-1", "ips": ["10.0.0.5"]},
            "observables": {"source_ip": "203.0.113.9", "username": "root"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let created: Value = r.json().await.unwrap();
    assert_documented(
        &doc,
        response_schema(&doc, "post", "/api/v1/alerts", 202),
        &created,
        "POST /api/v1/alerts",
    );

    let id = created["alert_id"].as_str().unwrap();
    let r = http
        .get(format!("{base}/api/v1/alerts/{id}"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let alert: Value = r.json().await.unwrap();
    let schema = response_schema(&doc, "get", "/api/v1/alerts/{id}", 200);
    assert_documented(&doc, schema, &alert, "GET /api/v1/alerts/{id}");
    assert_documented(
        &doc,
        &doc["components"]["schemas"]["Target"],
        &alert["target"],
        "alert target",
    );

    let r = http
        .get(format!("{base}/api/v1/alerts"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_documented(
        &doc,
        response_schema(&doc, "get", "/api/v1/alerts", 200),
        &list,
        "GET /api/v1/alerts",
    );

    let r = http
        .post(format!("{base}/api/v1/integrations"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "s1", "source": "sentinelone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let integration: Value = r.json().await.unwrap();
    assert_documented(
        &doc,
        response_schema(&doc, "post", "/api/v1/integrations", 201),
        &integration,
        "POST /api/v1/integrations",
    );
    let r = http
        .get(format!("{base}/api/v1/integrations"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_documented(
        &doc,
        &doc["components"]["schemas"]["Integration"],
        &list["integrations"][0],
        "GET /api/v1/integrations",
    );

    let r = http
        .post(format!("{base}/api/v1/integrations"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let invalid: Value = r.json().await.unwrap();
    assert_documented(
        &doc,
        response_schema(&doc, "post", "/api/v1/integrations", 422),
        &invalid,
        "422",
    );
    assert_documented(
        &doc,
        &doc["components"]["schemas"]["FieldProblem"],
        &invalid["fields"][0],
        "422 field",
    );
}
