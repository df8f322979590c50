//! Route table: one module per resource. Every route is registered with
//! `utoipa_axum::routes!`, which adds the handler's `#[utoipa::path]` operation to the
//! OpenAPI document and its method and path to the router in one step.
//!
//! To add a resource: write `src/routes/<resource>.rs` with handlers annotated with
//! `#[utoipa::path(...)]`, declare the module below, and add one line to [`routes`]:
//! `.routes(routes!(<resource>::create, <resource>::list))`. Handlers listed in one
//! `routes!` must share one path (e.g. `POST` and `GET /api/v1/alerts`); use one `routes!`
//! per path. Never use plain `.route(...)`: that route would be served but undocumented
//! (a unit test below refuses it).

mod actions;
mod alerts;
mod apikeys;
mod body;
mod connections;
mod credentials;
mod environments;
mod events;
pub use events::parse_event_query;
mod hooks;
mod hunts;
mod integrations;
mod investigations;
mod limits;
mod projects;
mod rules;
mod secdo;
mod siem_exports;
mod system;
mod webhooks;

use crate::openapi::ApiDoc;
use crate::{ApiError, AppState, MAX_BODY_BYTES};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use riposte_model::AlertSource;
use riposte_sources::SourceError;
use riposte_store::{AlertInsert, Store};
use riposte_worker::group_commit::{IntakeError, IntakeRequest, IntakeWriter, IntegrationStamp};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every route of the API with its OpenAPI operation, and the fallback 404.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::metrics))
        .routes(routes!(system::queue))
        .routes(routes!(system::openapi_document))
        .routes(routes!(alerts::create, alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::retriage))
        .routes(routes!(alerts::create_from_source))
        .routes(routes!(hooks::receive))
        .routes(routes!(integrations::create, integrations::list))
        .routes(routes!(integrations::delete))
        .routes(routes!(integrations::rotate_secret))
        .routes(routes!(credentials::list))
        .routes(routes!(credentials::put, credentials::delete))
        .routes(routes!(connections::create, connections::list))
        .routes(routes!(connections::get, connections::delete))
        .routes(routes!(connections::test))
        .routes(routes!(connections::poll_now))
        .routes(routes!(connections::errors))
        .routes(routes!(secdo::enrich))
        .routes(routes!(secdo::enrich_without_slash))
        .routes(routes!(investigations::list))
        .routes(routes!(investigations::get))
        .routes(routes!(investigations::timeline))
        .routes(routes!(investigations::events))
        .routes(routes!(actions::release))
        .routes(routes!(events::query))
        .routes(routes!(environments::create, environments::list))
        .routes(routes!(
            environments::get,
            environments::update,
            environments::delete
        ))
        .routes(routes!(environments::resolve))
        .routes(routes!(rules::create, rules::list))
        .routes(routes!(rules::get, rules::update, rules::delete))
        .routes(routes!(rules::enable))
        .routes(routes!(rules::disable))
        .routes(routes!(rules::versions))
        .routes(routes!(projects::create, projects::list))
        .routes(routes!(projects::get))
        .routes(routes!(projects::import))
        .routes(routes!(hunts::create, hunts::list))
        .routes(routes!(hunts::get, hunts::update, hunts::delete))
        .routes(routes!(hunts::run))
        .routes(routes!(hunts::runs))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::test))
        .routes(routes!(webhooks::preview))
        .routes(routes!(apikeys::create, apikeys::list))
        .routes(routes!(apikeys::revoke))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(siem_exports::create, siem_exports::list))
        .routes(routes!(
            siem_exports::get,
            siem_exports::update,
            siem_exports::delete
        ))
        .routes(routes!(siem_exports::deliveries))
        .fallback(|| async {
            ApiError::NotFound("no such route; see the API section of the README".into())
        })
}

/// The body as JSON, held to `limits` (see [`body`]): 413 for oversized bodies, 400
/// naming where the JSON breaks (or a duplicate key), 422 naming each field past its
/// bound or holding a NUL.
pub(crate) fn json_body(
    body: Result<Bytes, BytesRejection>,
    limits: &body::Limits,
) -> Result<serde_json::Value, ApiError> {
    parse_json(&body_bytes(body)?, limits)
}

/// The raw body, with 413 for oversized bodies.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(format!("cannot read request body: {e}"))
        }
    })
}

/// A resource id from the path; 404 naming the resource when it is not a valid id (no
/// such resource can exist).
pub(crate) fn resource_id<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFound(format!("no {what} {id}")))
}

/// The body as a typed value: 400 when it is not JSON, 422 naming the field (as a path such
/// as `scopes[0].kind`) when it does not fit the type.
pub(crate) fn typed_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limits: &body::Limits,
) -> Result<T, ApiError> {
    typed_value(json_body(body, limits)?)
}

/// A JSON value as a typed value, with 422 naming the field that does not fit.
pub(crate) fn typed_value<T: serde::de::DeserializeOwned>(
    mut value: serde_json::Value,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    tags_first(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::Invalid(vec![field(&at, e.into_inner().to_string())])
    })
}

/// Moves every object's tag ([`riposte_model::TAG_FIELD`]) to the front, so tagged enums
/// (scopes, imported systems) read it before their fields and a type error names the field
/// (`scopes[0].port`, not `scopes[0]`): see [`riposte_model::Tagged`]. Objects keep their
/// order because serde_json's `preserve_order` is on.
fn tags_first(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(tag) = map.shift_remove(riposte_model::TAG_FIELD) {
                map.shift_insert(0, riposte_model::TAG_FIELD.to_string(), tag);
            }
            map.values_mut().for_each(tags_first);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(tags_first),
        _ => {}
    }
}

/// `Ok` when nothing was found, else 422 with every problem.
pub(crate) fn problems(found: Vec<riposte_rules::FieldProblem>) -> Result<(), ApiError> {
    if found.is_empty() {
        Ok(())
    } else {
        invalid(found)
    }
}

/// 422 with the problems found.
pub(crate) fn invalid<T>(found: Vec<riposte_rules::FieldProblem>) -> Result<T, ApiError> {
    Err(ApiError::Invalid(
        found
            .into_iter()
            .map(|p| field(&p.field, p.problem))
            .collect(),
    ))
}

/// Bytes as JSON held to `limits`, with 400 naming where the JSON breaks and 422 naming
/// each field past its bound.
pub(crate) fn parse_json(
    bytes: &[u8],
    limits: &body::Limits,
) -> Result<serde_json::Value, ApiError> {
    let value = body::parse_strict(bytes)?;
    body::check(&value, limits)?;
    Ok(value)
}

/// One field's validation problem.
pub(crate) fn field(field: &str, problem: impl Into<String>) -> riposte_sources::FieldError {
    riposte_sources::FieldError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The `name` of a resource being created: trimmed, 1 to 100 characters.
pub(crate) fn required_name(
    body: &serde_json::Value,
    errors: &mut Vec<riposte_sources::FieldError>,
) -> Option<String> {
    match body
        .get("name")
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
    {
        Some(n) if !n.is_empty() && n.len() <= 100 => Some(n.to_string()),
        _ => {
            errors.push(field(
                "name",
                "missing or empty (a string of 1 to 100 characters)",
            ));
            None
        }
    }
}

/// Commits a handler's transaction (a failure is ours: 500).
pub(crate) async fn commit(tx: riposte_store::Transaction) -> Result<(), ApiError> {
    tx.commit().await.map_err(|e| ApiError::Internal(e.into()))
}

/// Records an administrative action in the audit trail, in its own transaction.
pub(crate) async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<(), ApiError> {
    let mut tx = store.begin().await?;
    Store::audit(&mut tx, None, actor, action, detail).await?;
    commit(tx).await
}

/// Maps a source's refusal to a 400/422 naming the fields.
fn refused(e: SourceError) -> ApiError {
    match e {
        SourceError::NotAnObject => ApiError::BadRequest(e.to_string()),
        SourceError::InvalidFields(fields) => ApiError::Invalid(fields),
    }
}

/// A push integration's request, recorded inside the intake's transaction: the
/// integration's last use, and a signed request's signature (remembered until
/// `expires_at`, so the same request is refused if replayed).
pub(crate) struct IntegrationUse<'a> {
    pub(crate) integration: &'a str,
    pub(crate) signature: Option<(&'a str, chrono::DateTime<chrono::Utc>)>,
}

/// Parses a payload with `source`'s parser, then stores the alerts and enqueues their
/// triage, all before answering. Duplicates are reported and change nothing.
pub(crate) async fn intake(
    writer: &IntakeWriter,
    actor: &str,
    source: AlertSource,
    payload: &serde_json::Value,
    via: Option<IntegrationUse<'_>>,
) -> Result<Vec<AlertInsert>, ApiError> {
    let parser = riposte_sources::parser(source)
        .ok_or_else(|| ApiError::NotFound(format!("no parser for source {source}")))?;
    let alerts = parser.parse(payload, chrono::Utc::now()).map_err(refused)?;
    let request = IntakeRequest {
        actor: actor.to_string(),
        connection_id: None,
        alerts,
        integration: via.map(|via| IntegrationStamp {
            integration: via.integration.to_string(),
            signature: via
                .signature
                .map(|(signature, expires_at)| (signature.to_string(), expires_at)),
        }),
    };
    writer.submit(request).await.map_err(|e| match e {
        IntakeError::Replayed => ApiError::Unauthorized(e.to_string()),
        IntakeError::Store(e) => e.into(),
        IntakeError::Stopped => ApiError::Internal(e.into()),
    })
}

/// 202 when anything new was accepted, 200 when everything was a duplicate.
pub(crate) fn intake_status(outcomes: &[AlertInsert]) -> StatusCode {
    if outcomes
        .iter()
        .any(|o| matches!(o, AlertInsert::Created(_)))
    {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

#[cfg(test)]
mod tests {
    use super::routes;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// Every operation the API serves. Adding a route means adding it here too: the API is
    /// a contract, and this table is its index.
    const OPERATIONS: &[(&str, &str)] = &[
        ("get", "/health"),
        ("get", "/metrics"),
        ("get", "/api/v1/system/queue"),
        ("get", "/api/v1/openapi.json"),
        ("post", "/api/v1/alerts"),
        ("get", "/api/v1/alerts"),
        ("get", "/api/v1/alerts/{id}"),
        ("post", "/api/v1/alerts/{id}/retriage"),
        ("post", "/api/v1/sources/{source}/alerts"),
        ("post", "/hooks/{id}"),
        ("post", "/api/v1/integrations"),
        ("get", "/api/v1/integrations"),
        ("delete", "/api/v1/integrations/{id}"),
        ("post", "/api/v1/integrations/{id}/secret"),
        ("get", "/api/v1/credentials"),
        ("put", "/api/v1/credentials/{name}"),
        ("delete", "/api/v1/credentials/{name}"),
        ("post", "/api/v1/connections"),
        ("get", "/api/v1/connections"),
        ("get", "/api/v1/connections/{id}"),
        ("delete", "/api/v1/connections/{id}"),
        ("post", "/api/v1/connections/{id}/test"),
        ("post", "/api/v1/connections/{id}/poll"),
        ("get", "/api/v1/connections/{id}/errors"),
        ("post", "/publicapi/v2/enrich_with_secdo/"),
        ("post", "/publicapi/v2/enrich_with_secdo"),
        ("get", "/api/v1/investigations"),
        ("get", "/api/v1/investigations/{id}"),
        ("get", "/api/v1/investigations/{id}/timeline"),
        ("get", "/api/v1/investigations/{id}/events"),
        ("post", "/api/v1/actions/{id}/release"),
        ("post", "/api/v1/webhooks/preview"),
        ("post", "/api/v1/apikeys"),
        ("get", "/api/v1/apikeys"),
        ("delete", "/api/v1/apikeys/{id}"),
        ("get", "/api/v1/events"),
        ("post", "/api/v1/environments"),
        ("get", "/api/v1/environments"),
        ("get", "/api/v1/environments/{id}"),
        ("put", "/api/v1/environments/{id}"),
        ("delete", "/api/v1/environments/{id}"),
        ("post", "/api/v1/environments/resolve"),
        ("post", "/api/v1/rules"),
        ("get", "/api/v1/rules"),
        ("get", "/api/v1/rules/{id}"),
        ("put", "/api/v1/rules/{id}"),
        ("delete", "/api/v1/rules/{id}"),
        ("post", "/api/v1/rules/{id}/enable"),
        ("post", "/api/v1/rules/{id}/disable"),
        ("get", "/api/v1/rules/{id}/versions"),
        ("post", "/api/v1/projects"),
        ("get", "/api/v1/projects"),
        ("get", "/api/v1/projects/{id}"),
        ("post", "/api/v1/projects/{id}/imports"),
        ("post", "/api/v1/hunts"),
        ("get", "/api/v1/hunts"),
        ("get", "/api/v1/hunts/{id}"),
        ("put", "/api/v1/hunts/{id}"),
        ("delete", "/api/v1/hunts/{id}"),
        ("post", "/api/v1/hunts/{id}/run"),
        ("get", "/api/v1/hunts/{id}/runs"),
        ("post", "/api/v1/webhooks"),
        ("get", "/api/v1/webhooks"),
        ("get", "/api/v1/webhooks/{id}"),
        ("put", "/api/v1/webhooks/{id}"),
        ("delete", "/api/v1/webhooks/{id}"),
        ("post", "/api/v1/webhooks/{id}/test"),
        ("get", "/api/v1/webhooks/{id}/deliveries"),
        ("post", "/api/v1/siem-exports"),
        ("get", "/api/v1/siem-exports"),
        ("get", "/api/v1/siem-exports/{id}"),
        ("put", "/api/v1/siem-exports/{id}"),
        ("delete", "/api/v1/siem-exports/{id}"),
        ("get", "/api/v1/siem-exports/{id}/deliveries"),
    ];

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// The document of the route table, as JSON.
    fn document() -> Value {
        let (_, doc) = routes().split_for_parts();
        serde_json::to_value(&doc).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if METHODS.contains(&method.as_str()) {
                    ops.push((method.clone(), path.clone(), op.clone()));
                }
            }
        }
        ops
    }

    /// The source of `routes()`, from its signature to the fallback.
    fn routes_source() -> &'static str {
        let src = include_str!("mod.rs");
        let start = src.find("pub(crate) fn routes()").unwrap();
        let end = start + src[start..].find(".fallback(").unwrap();
        &src[start..end]
    }

    #[test]
    fn the_router_paths_are_the_documented_paths() {
        let doc = document();
        let paths: BTreeSet<&str> = OPERATIONS.iter().map(|(_, p)| *p).collect();
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            paths.len(),
            "routed paths: every routed path is in the document, once"
        );
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let expected: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, expected);
    }

    /// `routes!` routes and documents a handler in one step; a plain `.route(...)` (or a
    /// nested or merged plain router) would be served without being documented.
    #[test]
    fn routes_are_registered_only_through_routes_macro() {
        let src = routes_source();
        for plain in [
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
            ".merge(",
        ] {
            assert!(
                !src.contains(plain),
                "routes() must register handlers with `.routes(routes!(...))`, not `{plain}`"
            );
        }
        // Each handler named in a `routes!` adds one operation (none has several methods).
        let handlers: usize = src
            .split("routes!(")
            .skip(1)
            .map(|call| {
                call[..call.find(')').unwrap()]
                    .split(',')
                    .filter(|h| !h.trim().is_empty())
                    .count()
            })
            .sum();
        assert_eq!(handlers, operations(&document()).len());
    }

    #[test]
    fn operations_are_complete_and_unique() {
        let doc = document();
        let tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let mut ids = BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let what = format!("{method} {path}");
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(
                ids.insert(id.clone()),
                "{what}: operationId {id} is not unique"
            );
            let op_tags = op["tags"].as_array().unwrap();
            assert_eq!(op_tags.len(), 1, "{what}: one tag");
            assert!(
                tags.contains(op_tags[0].as_str().unwrap()),
                "{what}: tag {} is not declared in ApiDoc",
                op_tags[0]
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{what}: summary"
            );
            assert!(
                op["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{what}: description"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{what}: a success response"
            );
            for name in path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            {
                assert!(
                    op["parameters"].as_array().is_some_and(|ps| ps
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path")),
                    "{what}: path parameter {name} is not declared"
                );
            }
        }
    }

    /// Every `$ref` names a schema the document carries.
    #[test]
    fn schema_references_resolve() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} does not resolve"
            );
        }
    }
}
