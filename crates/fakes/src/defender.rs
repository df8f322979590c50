//! Fake Microsoft Defender for Endpoint API and Entra ID token endpoint on one server:
//! `POST /{tenant}/oauth2/v2.0/token` and `GET /api/alerts`, with Entra's
//! `{error, error_description}` and OData's `{error: {code, message}}` error bodies.
//!
//! `/api/alerts` really filters: it accepts only the OData window the poller sends
//! (`lastUpdateTime ge … and lastUpdateTime lt …`) or no filter, and answers anything else
//! with 400. Evidence is included only with `$expand=evidence`, as in the real API.

use crate::FakeServer;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The scope a client-credentials request must ask for.
pub const SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";

/// A fake Defender tenant. Clones share state, so a test keeps one to turn knobs while the
/// server runs.
#[derive(Clone)]
pub struct FakeDefender {
    state: Arc<Mutex<MdeState>>,
}

struct MdeState {
    tenant_id: String,
    client_id: String,
    client_secret: String,
    token_lifetime: Duration,
    /// Issued token → when it expires.
    tokens: HashMap<String, Instant>,
    issued: u64,
    rate_limited: u32,
    retry_after_secs: u64,
    max_page_size: usize,
    next_link_base: Option<String>,
    alerts: Vec<Value>,
    token_requests: usize,
    api_requests: usize,
}

impl FakeDefender {
    /// A tenant accepting exactly this app registration; tokens live an hour (3599 s).
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        FakeDefender {
            state: Arc::new(Mutex::new(MdeState {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                token_lifetime: Duration::from_secs(3599),
                tokens: HashMap::new(),
                issued: 0,
                rate_limited: 0,
                retry_after_secs: 0,
                max_page_size: 10_000,
                next_link_base: None,
                alerts: Vec::new(),
                token_requests: 0,
                api_requests: 0,
            })),
        }
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

    fn lock(&self) -> MutexGuard<'_, MdeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lifetime of tokens issued from now on (also their `expires_in`); expired tokens get 401.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = Duration::from_secs(secs);
    }

    /// Invalidates every token issued so far.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The next `n` API requests (not token requests) answer 429.
    pub fn rate_limit_next(&self, n: u32) {
        self.lock().rate_limited = n;
    }

    /// The `Retry-After` seconds sent with 429 answers (default 0).
    pub fn set_retry_after(&self, secs: u64) {
        self.lock().retry_after_secs = secs;
    }

    /// Caps the page size, whatever `$top` asks for.
    pub fn set_max_page_size(&self, n: usize) {
        self.lock().max_page_size = n.max(1);
    }

    /// Makes `@odata.nextLink` point at another base URL (e.g. `http://evil.example`), to
    /// check that a poller refuses to follow it.
    pub fn set_next_link_base(&self, base: Option<&str>) {
        self.lock().next_link_base = base.map(str::to_string);
    }

    /// Adds an alert; it needs an `id` and an RFC 3339 `lastUpdateTime`.
    ///
    /// # Panics
    /// When either is missing: that is a bug in the test.
    pub fn add_alert(&self, alert: Value) {
        assert!(alert_id(&alert).is_some(), "alert needs an id");
        assert!(updated(&alert).is_some(), "alert needs a lastUpdateTime");
        self.lock().alerts.push(alert);
    }

    /// Replaces the alert with the same `id`; `false` when there is none.
    pub fn update_alert(&self, alert: Value) -> bool {
        assert!(updated(&alert).is_some(), "alert needs a lastUpdateTime");
        let id = alert_id(&alert).map(str::to_string);
        let mut state = self.lock();
        match state
            .alerts
            .iter_mut()
            .find(|a| alert_id(a).map(str::to_string) == id)
        {
            Some(slot) => {
                *slot = alert;
                true
            }
            None => false,
        }
    }

    /// Token requests received, successful or not.
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// Alerts API requests received, including those answered 401 or 429.
    pub fn api_requests(&self) -> usize {
        self.lock().api_requests
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

fn alert_id(alert: &Value) -> Option<&str> {
    alert.get("id").and_then(Value::as_str)
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn updated(alert: &Value) -> Option<DateTime<Utc>> {
    parse_time(alert.get("lastUpdateTime").and_then(Value::as_str)?)
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
    state.token_requests += 1;
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if tenant != state.tenant_id {
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
    state.issued += 1;
    let token = format!("fake-entra-token-{}", state.issued);
    let lifetime = state.token_lifetime;
    state
        .tokens
        .insert(token.clone(), Instant::now() + lifetime);
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
fn admit(state: &mut MdeState, headers: &HeaderMap) -> Option<Response> {
    state.api_requests += 1;
    if state.rate_limited > 0 {
        state.rate_limited -= 1;
        let mut response = odata_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "API calls quota exceeded! Maximum allowed 100 per Minute.",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(state.retry_after_secs),
        );
        return Some(response);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| state.tokens.get(t)) {
        Some(expires) if Instant::now() < *expires => None,
        _ => Some(odata_error(
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
    let mut matching: Vec<(DateTime<Utc>, &Value)> = state
        .alerts
        .iter()
        .filter_map(|a| Some((updated(a)?, a)))
        .filter(|(t, _)| range.is_none_or(|(since, until)| since <= *t && *t < until))
        .collect();
    matching.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| alert_id(a.1).cmp(&alert_id(b.1)))
    });
    let page = top.min(state.max_page_size);
    let value: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(page)
        .map(|(_, a)| {
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
