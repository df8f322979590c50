//! Fake Microsoft Defender for Endpoint API and Entra ID token endpoint on one server:
//! `POST /{tenant}/oauth2/v2.0/token` and `GET /api/alerts`, with Entra's
//! `{error, error_description}` and OData's `{error: {code, message}}` error bodies.
//!
//! `/api/alerts` really filters: it accepts only the OData window the poller sends
//! (`lastUpdateTime ge … and lastUpdateTime lt …`) or no filter, and answers anything else
//! with 400. Evidence is included only with `$expand=evidence`, as in the real API.

use crate::FakeServer;
use crate::oauth::{Admission, Fake, Tenant, Vendor, parse_time};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The scope a client-credentials request must ask for.
pub const SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";

/// A fake Defender tenant. Clones share state, so a test keeps one to turn knobs while the
/// server runs.
pub type FakeDefender = Fake<Mde>;

/// What a Defender tenant adds to the shared OAuth2 tenant: alerts are named by `id`, dated
/// by `lastUpdateTime`; the Entra tenant id, and where `@odata.nextLink` points.
pub struct Mde {
    tenant_id: String,
    next_link_base: Option<String>,
}

impl Vendor for Mde {
    const ID_FIELD: &'static str = "id";
    const UPDATED_FIELD: &'static str = "lastUpdateTime";
}

impl FakeDefender {
    /// A tenant accepting exactly this app registration; tokens live an hour (3599 s).
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        let mde = Mde {
            tenant_id: tenant_id.into(),
            next_link_base: None,
        };
        Fake::with_tenant(Tenant::new(client_id, client_secret, 3599, 10_000, mde))
    }

    /// Serves this fake on a loopback port; its [`FakeServer::url`] is both the login and the
    /// API base URL.
    pub async fn start(&self) -> FakeServer {
        FakeServer::start(self.router()).await
    }

    /// The fake's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/api/alerts", get(alerts))
            .with_state(self.clone())
    }

    /// Makes `@odata.nextLink` point at another base URL (e.g. `http://evil.example`), to
    /// check that a poller refuses to follow it.
    pub fn set_next_link_base(&self, base: Option<&str>) {
        self.lock().vendor.next_link_base = base.map(str::to_string);
    }
}

/// A Defender for Endpoint alert with evidence in the documented `/api/alerts` shape, for
/// alert number `n` updated at `updated`. Host is `mde-host-{n}.contoso.test`, id ends in
/// `_{n}`.
pub fn sample_alert(n: u32, updated: DateTime<Utc>) -> Value {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let first = updated - ChronoDuration::minutes(3);
    json!({
        "id": format!("da{:018}_{n}", u64::from(n) * 7919),
        "incidentId": 1000 + n,
        "investigationId": null,
        "assignedTo": null,
        "severity": "Medium",
        "status": "New",
        "classification": null,
        "determination": null,
        "investigationState": "Queued",
        "detectionSource": "WindowsDefenderAtp",
        "detectorId": "00000000-0000-4000-8000-00000000fa6e",
        "category": "Execution",
        "threatFamilyName": null,
        "title": "Suspicious PowerShell command line",
        "description": "A PowerShell process ran an obfuscated command line.",
        "alertCreationTime": ts(first + ChronoDuration::minutes(1)),
        "firstEventTime": ts(first),
        "lastEventTime": ts(first),
        "lastUpdateTime": ts(updated),
        "resolvedTime": null,
        "machineId": format!("{:040x}", u64::from(n) + 0xabc),
        "computerDnsName": format!("mde-host-{n}.contoso.test"),
        "rbacGroupName": null,
        "aadTenantId": "00000000-0000-4000-8000-0000000c0750",
        "threatName": null,
        "mitreTechniques": ["T1059.001"],
        "relatedUser": { "userName": "alice", "domainName": "CONTOSO" },
        "comments": [],
        "evidence": [
            {
                "entityType": "Process",
                "evidenceCreationTime": ts(first),
                "sha1": format!("{:040x}", u64::from(n) + 0x51),
                "sha256": format!("{:064x}", u64::from(n) + 0x256),
                "fileName": "powershell.exe",
                "filePath": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
                "processId": 4242,
                "processCommandLine": "powershell.exe -w hidden -c \"iex $x\"",
                "processCreationTime": ts(first),
                "detectionStatus": "Detected",
            },
            {
                "entityType": "User",
                "evidenceCreationTime": ts(first),
                "accountName": "alice",
                "domainName": "CONTOSO",
            }
        ],
    })
}

/// An Entra ID token error (`{error, error_description, error_codes}`).
fn entra_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description}\r\nTrace ID: 00000000-fake\r\nCorrelation ID: 00000000-fake\r\nTimestamp: 2024-01-01 00:00:00Z"
        ),
        "error_codes": [code],
        "trace_id": "00000000-fake",
        "correlation_id": "00000000-fake",
    });
    (status, axum::Json(body)).into_response()
}

/// An OData API error (`{error: {code, message}}`).
fn odata_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "error": { "code": code, "message": message, "target": "00000000-fake" } });
    (status, axum::Json(body)).into_response()
}

async fn token(
    State(fake): State<FakeDefender>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = fake.lock();
    state.count_token_request();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if tenant != state.vendor.tenant_id {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    if field("grant_type") != "client_credentials" {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != state.client_id {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                field("client_id")
            ),
        );
    }
    if field("client_secret") != state.client_secret {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                state.client_id
            ),
        );
    }
    if field("scope") != SCOPE {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        );
    }
    let (token, lifetime) = state.issue_token("fake-entra-token");
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Counts the request, then applies rate limiting and the bearer token check; `Some` is the
/// refusal to send.
fn admit(state: &mut Tenant<Mde>, headers: &HeaderMap) -> Option<Response> {
    match state.admit(headers) {
        Admission::RateLimited { retry_after_secs } => {
            let mut response = odata_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "API calls quota exceeded! Maximum allowed 100 per Minute.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Some(response)
        }
        Admission::Admitted => None,
        Admission::Unauthorized => Some(odata_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        )),
    }
}

/// Parses the one OData filter form the poller may send.
fn window(filter: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match filter.split(' ').collect::<Vec<_>>().as_slice() {
        [
            "lastUpdateTime",
            "ge",
            since,
            "and",
            "lastUpdateTime",
            "lt",
            until,
        ] => Some((parse_time(since)?, parse_time(until)?)),
        _ => None,
    }
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn alerts(
    State(fake): State<FakeDefender>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut state = fake.lock();
    if let Some(response) = admit(&mut state, &headers) {
        return response;
    }
    const KNOWN: [&str; 4] = ["$filter", "$expand", "$top", "$skip"];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &format!("unsupported query option {unknown}"),
        );
    }
    let range = match params.get("$filter") {
        None => None,
        Some(f) => match window(f) {
            Some(w) => Some(w),
            None => {
                return odata_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    &format!("unsupported $filter: {f}"),
                );
            }
        },
    };
    let expand = match params.get("$expand").map(String::as_str) {
        None => false,
        Some("evidence") => true,
        Some(other) => {
            return odata_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("cannot expand {other}"),
            );
        }
    };
    let number = |key: &str, default: usize| match params.get(key) {
        None => Some(default),
        Some(v) => v.parse::<usize>().ok(),
    };
    let (Some(top), Some(skip)) = (number("$top", 10_000), number("$skip", 0)) else {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "$top and $skip must be non-negative integers",
        );
    };
    if !(1..=10_000).contains(&top) {
        return odata_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "$top must be 1–10000",
        );
    }
    let matching = state.alerts_updated_within(range);
    let page = top.min(state.max_page_size);
    let value: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(page)
        .map(|a| {
            let mut a = (*a).clone();
            if !expand && let Some(obj) = a.as_object_mut() {
                obj.remove("evidence");
            }
            a
        })
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = state
        .vendor
        .next_link_base
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    let mut body = json!({
        "@odata.context": format!("{base}/api/$metadata#Alerts"),
        "value": value,
    });
    if skip + page < matching.len() {
        let mut query: Vec<String> = Vec::new();
        if let Some(f) = params.get("$filter") {
            query.push(format!("$filter={}", encode(f)));
        }
        if expand {
            query.push("$expand=evidence".into());
        }
        query.push(format!("$top={top}"));
        query.push(format!("$skip={}", skip + page));
        body["@odata.nextLink"] = json!(format!("{base}/api/alerts?{}", query.join("&")));
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pollers_odata_window_is_understood() {
        assert!(window("lastUpdateTime ge 2024-05-01T10:00:00Z and lastUpdateTime lt 2024-05-01T10:05:00.250Z").is_some());
        for bad in [
            "lastUpdateTime gt 2024-05-01T10:00:00Z and lastUpdateTime lt 2024-05-01T10:05:00Z",
            "lastUpdateTime ge 2024-05-01T10:00:00Z",
            "alertCreationTime ge 2024-05-01T10:00:00Z and lastUpdateTime lt 2024-05-01T10:05:00Z",
            "lastUpdateTime ge '2024-05-01T10:00:00Z' and lastUpdateTime lt 2024-05-01T10:05:00Z",
        ] {
            assert!(window(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("a b:$"), "a%20b%3A%24");
    }
}
