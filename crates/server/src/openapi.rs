//! The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json`.
//!
//! The document is not written by hand: `routes::routes()` registers every handler with
//! `utoipa_axum::routes!`, which adds the handler's `#[utoipa::path]` operation to the
//! document and its method and path to the router at the same time. [`openapi`] splits
//! that router, so what is served and what is documented cannot drift apart.
//!
//! To document a new handler: annotate it with `#[utoipa::path(...)]` (method, path, tag,
//! params, request body, responses, `security(("api_key" = []))`), give it a one-line doc
//! comment (the summary) and a paragraph (the description), and register it in
//! `routes::routes()` with `.routes(routes!(module::handler))`.

use crate::routes;
use riposte_model::AlertId;
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The name of the security scheme of API keys (`Authorization: Bearer rip_…`).
pub const API_KEY_SCHEME: &str = "api_key";

/// The document's fixed parts: info, tags, security schemes and shared schemas. The paths
/// are added by `routes::routes()`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Riposte API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Riposte's HTTP API: alert intake (generic, vendor payloads, push \
            integrations, SECDO-compatible), pull connections, investigations and their \
            timelines. Every route but `/health` needs an API key \
            (`Authorization: Bearer rip_…`, created with `riposte apikey create`); roles are \
            viewer < analyst < admin.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, ValidationErrorBody, FieldProblem)),
    tags(
        (name = "alerts", description = "Alert intake in the generic schema, and the stored alerts."),
        (name = "sources", description = "Alert intake of vendor payloads, pushed by the vendor (`/hooks/{id}`) or posted by a script."),
        (name = "integrations", description = "Push integrations: a URL and secret per sender."),
        (name = "connections", description = "Pull connections to vendor APIs (CrowdStrike, Defender, GuardDuty)."),
        (name = "credentials", description = "SSH credentials (private keys, passwords) SSH scopes log in with; sealed, never read back."),
        (name = "investigations", description = "Investigations, their verdicts and timelines."),
        (name = "secdo", description = "The SECDO-compatible enrichment API."),
        (name = "environments", description = "Environments: AWS, SSH and local-evidence scopes that alerts' targets are resolved against."),
        (name = "rules", description = "Detection rules: which alerts start an investigation, how, and what happens after the verdict. Versioned."),
        (name = "projects", description = "Projects (cases) and imports of named systems into them without an alert."),
        (name = "hunts", description = "Scheduled hunts: systems or environment scopes investigated on a cron schedule by the workers, one project per run, a summary to webhooks."),
        (name = "webhooks", description = "Outbound webhooks (custom JSON, Slack, Microsoft Teams, JIRA): events, templates, retries and the delivery log."),
        (name = "siem-exports", description = "SIEM exports (Splunk HEC, Elasticsearch/OpenSearch bulk): alarms and verdicts pushed in batches, with retries and the delivery log."),
        (name = "system", description = "Health, metrics and this document."),
    ),
)]
pub(crate) struct ApiDoc;

/// Adds the security schemes the operations refer to.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rip_…")
                    .description(Some(
                        "An API key (`riposte apikey create --role viewer|analyst|admin`), \
                         sent as `Authorization: Bearer <key>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "integration_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A push integration's secret (returned when the integration is created \
                         or its secret rotated), sent as `Authorization: Bearer <secret>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "integration_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                riposte_notify::SIGNATURE_HEADER,
                "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"t.body\")>`: proves the body \
                 is intact; refused when more than five minutes off, and accepted once.",
            ))),
        );
    }
}

/// The document, built once from the route table.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    &document().0
}

/// The document as JSON, serialized once.
pub(crate) fn openapi_json() -> &'static str {
    &document().1
}

fn document() -> &'static (utoipa::openapi::OpenApi, String) {
    static DOCUMENT: OnceLock<(utoipa::openapi::OpenApi, String)> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, doc) = routes::routes().split_for_parts();
        // Serializing plain data structures cannot fail; an empty object is a safe fallback.
        let json = doc.to_json().unwrap_or_else(|_| "{}".into());
        (doc, json)
    })
}

/// An error answer: every 4xx and 5xx has this body.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; `ApiError` builds the real body
pub(crate) struct ErrorBody {
    /// What went wrong, and usually how to fix it.
    error: String,
}

/// A 422 answer: the fields that failed validation, each named.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; `ApiError::Invalid` builds the real body
pub(crate) struct ValidationErrorBody {
    /// A summary, e.g. `2 invalid field(s): name, source`.
    error: String,
    /// One entry per invalid field.
    fields: Vec<FieldProblem>,
}

/// One field's validation problem.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_sources::FieldError`
pub(crate) struct FieldProblem {
    /// The field, as a JSON path (e.g. `target.hostname`).
    field: String,
    /// What is wrong with it.
    problem: String,
}

/// What happened to one submitted alert.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::AlertInsert`
pub(crate) enum IntakeOutcomeKind {
    /// Stored as a new alert, and triaged.
    Created,
    /// Already stored (same source and vendor id, or same payload); nothing changed.
    Duplicate,
}

/// The outcome of one submitted alert.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::AlertInsert`
pub(crate) struct IntakeOutcome {
    /// Whether it was new.
    outcome: IntakeOutcomeKind,
    /// The alert's id (the first one's, for a duplicate).
    alert_id: AlertId,
}

/// The outcomes of a payload's alerts, in payload order. Answered with 202 when any alert
/// was new, 200 when all were duplicates.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!` by the intake handlers
pub(crate) struct IntakeOutcomes {
    /// One per alert in the payload.
    alerts: Vec<IntakeOutcome>,
}
