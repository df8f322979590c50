//! Fake CrowdStrike Falcon API: `POST /oauth2/token`, `GET /alerts/queries/alerts/v2` and
//! `POST /alerts/entities/alerts/v2`, with the vendor's response and error envelopes
//! (`{meta, resources, errors}`).
//!
//! The query endpoint really filters: it accepts only the FQL window the poller sends
//! (`updated_timestamp:>='…'+updated_timestamp:<'…'`) or no filter, and answers anything else
//! with 400, so a poller bug shows as a failure instead of as silently wrong results.

use crate::FakeServer;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The customer id on sample alerts.
pub const SAMPLE_CID: &str = "5a1e7c0ffee04b5d9a3c2e1f0d9c8b7a";

/// A fake Falcon tenant. Clones share state, so a test keeps one to turn knobs while the
/// server runs.
#[derive(Clone)]
pub struct FakeCrowdStrike {
    state: Arc<Mutex<CsState>>,
}

struct CsState {
    client_id: String,
    client_secret: String,
    token_lifetime: Duration,
    /// Issued token → when it expires.
    tokens: HashMap<String, Instant>,
    issued: u64,
    rate_limited: u32,
    retry_after_secs: u64,
    max_page_size: usize,
    forbidden: bool,
    alerts: Vec<Value>,
    token_requests: usize,
    api_requests: usize,
}

impl FakeCrowdStrike {
    /// A tenant accepting exactly this API client; tokens live 30 minutes (1799 s, as Falcon).
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        FakeCrowdStrike {
            state: Arc::new(Mutex::new(CsState {
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                token_lifetime: Duration::from_secs(1799),
                tokens: HashMap::new(),
                issued: 0,
                rate_limited: 0,
                retry_after_secs: 0,
                max_page_size: usize::MAX,
                forbidden: false,
                alerts: Vec::new(),
                token_requests: 0,
                api_requests: 0,
            })),
        }
    }

    /// Serves this fake on a loopback port; use [`FakeServer::url`] as the poller's base URL.
    pub async fn start(&self) -> FakeServer {
        FakeServer::start(self.router()).await
    }

    /// The fake's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/oauth2/token", post(token))
            .route("/alerts/queries/alerts/v2", get(query))
            .route("/alerts/entities/alerts/v2", post(entities))
            .with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, CsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lifetime of tokens issued from now on (also their `expires_in`); expired tokens get 401.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = Duration::from_secs(secs);
    }

    /// Invalidates every token issued so far, as a revoked API client would.
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

    /// Caps how many ids one query returns, whatever `limit` asks for.
    pub fn set_max_page_size(&self, n: usize) {
        self.lock().max_page_size = n.max(1);
    }

    /// Makes the Alerts API answer 403, as for an API client without the *Alerts: Read* scope.
    pub fn set_api_forbidden(&self, forbidden: bool) {
        self.lock().forbidden = forbidden;
    }

    /// Adds an alert entity; it needs a `composite_id` and an RFC 3339 `updated_timestamp`.
    ///
    /// # Panics
    /// When either is missing: that is a bug in the test.
    pub fn add_alert(&self, alert: Value) {
        assert!(composite_id(&alert).is_some(), "alert needs a composite_id");
        assert!(
            updated(&alert).is_some(),
            "alert needs an updated_timestamp"
        );
        self.lock().alerts.push(alert);
    }

    /// Replaces the alert with the same `composite_id` (e.g. a later `updated_timestamp`);
    /// `false` when there is none.
    pub fn update_alert(&self, alert: Value) -> bool {
        assert!(
            updated(&alert).is_some(),
            "alert needs an updated_timestamp"
        );
        let mut state = self.lock();
        let id = composite_id(&alert).map(str::to_string);
        match state
            .alerts
            .iter_mut()
            .find(|a| composite_id(a).map(str::to_string) == id)
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

/// An Alerts API v2 endpoint-detection entity in the documented shape, for alert number `n`
/// updated at `updated`. Host is `cs-host-{n}`, composite id ends in `:{n}`.
pub fn sample_alert(n: u32, updated: DateTime<Utc>) -> Value {
    let agent = format!("{n:032x}");
    let created = updated - ChronoDuration::minutes(5);
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    json!({
        "composite_id": format!("{SAMPLE_CID}:ind:{agent}:{n}"),
        "id": format!("ind:{agent}:{n}"),
        "aggregate_id": format!("aggind:{agent}:{n}"),
        "cid": SAMPLE_CID,
        "agent_id": agent,
        "type": "ldt",
        "product": "epp",
        "platform": "Windows",
        "name": "SuspiciousPowerShellEncoded",
        "display_name": "Encoded PowerShell command line",
        "description": "A process launched PowerShell with a base64-encoded command.",
        "tactic": "Execution",
        "tactic_id": "TA0002",
        "technique": "PowerShell",
        "technique_id": "T1059.001",
        "severity": 70,
        "severity_name": "High",
        "confidence": 80,
        "status": "new",
        "timestamp": ts(created),
        "created_timestamp": ts(created),
        "updated_timestamp": ts(updated),
        "device": {
            "device_id": agent,
            "hostname": format!("cs-host-{n}"),
            "local_ip": format!("10.20.{}.{}", n / 250 % 250, n % 250 + 1),
            "platform_name": "Windows",
            "os_version": "Windows 11",
        },
        "filename": "powershell.exe",
        "filepath": "\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "cmdline": "powershell.exe -NoProfile -EncodedCommand SQBFAFgA",
        "sha256": format!("{:064x}", u64::from(n) + 0xfeed),
        "md5": format!("{:032x}", u64::from(n) + 0xbeef),
        "user_name": "alice",
    })
}

fn composite_id(alert: &Value) -> Option<&str> {
    alert.get("composite_id").and_then(Value::as_str)
}

fn updated(alert: &Value) -> Option<DateTime<Utc>> {
    let t = alert.get("updated_timestamp").and_then(Value::as_str)?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The `{meta, resources, errors}` envelope.
fn envelope(status: StatusCode, resources: Value, message: Option<&str>) -> Response {
    let errors = match message {
        Some(m) => json!([{ "code": status.as_u16(), "message": m }]),
        None => json!([]),
    };
    let body = json!({
        "meta": { "query_time": 0.004, "powered_by": "fake-falcon", "trace_id": "00000000-fake" },
        "resources": resources,
        "errors": errors,
    });
    (status, axum::Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    envelope(StatusCode::BAD_REQUEST, json!([]), Some(message))
}

async fn token(
    State(fake): State<FakeCrowdStrike>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = fake.lock();
    state.token_requests += 1;
    let (Some(id), Some(secret)) = (form.get("client_id"), form.get("client_secret")) else {
        return bad_request("client_id and client_secret are required");
    };
    if *id != state.client_id || *secret != state.client_secret {
        return envelope(
            StatusCode::FORBIDDEN,
            json!([]),
            Some("Failed to issue access token - Not Authorized"),
        );
    }
    state.issued += 1;
    let token = format!("fake-falcon-token-{}", state.issued);
    let lifetime = state.token_lifetime;
    state
        .tokens
        .insert(token.clone(), Instant::now() + lifetime);
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    });
    // Falcon answers 201 Created.
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// Counts the request, then applies rate limiting and the bearer token check; `Some` is the
/// refusal to send.
fn admit(state: &mut CsState, headers: &HeaderMap) -> Option<Response> {
    state.api_requests += 1;
    if state.rate_limited > 0 {
        state.rate_limited -= 1;
        let mut response = envelope(
            StatusCode::TOO_MANY_REQUESTS,
            json!([]),
            Some("API rate limit exceeded."),
        );
        let h = response.headers_mut();
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from(state.retry_after_secs),
        );
        h.insert("x-ratelimit-limit", HeaderValue::from(6000u32));
        h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
        return Some(response);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let now = Instant::now();
    match token.and_then(|t| state.tokens.get(t)) {
        Some(expires) if now < *expires && state.forbidden => Some(envelope(
            StatusCode::FORBIDDEN,
            json!([]),
            Some("access denied, authorization failed"),
        )),
        Some(expires) if now < *expires => None,
        _ => Some(envelope(
            StatusCode::UNAUTHORIZED,
            json!([]),
            Some("access denied, invalid bearer token"),
        )),
    }
}

/// Parses the one FQL form the poller may send.
fn window(filter: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (a, b) = filter.split_once('+')?;
    let since = a
        .strip_prefix("updated_timestamp:>='")?
        .strip_suffix('\'')?;
    let until = b.strip_prefix("updated_timestamp:<'")?.strip_suffix('\'')?;
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    Some((parse(since)?, parse(until)?))
}

async fn query(
    State(fake): State<FakeCrowdStrike>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut state = fake.lock();
    if let Some(response) = admit(&mut state, &headers) {
        return response;
    }
    const KNOWN: [&str; 5] = ["filter", "sort", "limit", "offset", "include_hidden"];
    if let Some(unknown) = params.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return bad_request(&format!("unknown query parameter {unknown}"));
    }
    let range = match params.get("filter") {
        None => None,
        Some(f) => match window(f) {
            Some(w) => Some(w),
            None => return bad_request(&format!("unsupported FQL filter: {f}")),
        },
    };
    match params.get("sort").map(String::as_str) {
        None | Some("updated_timestamp.asc") => {}
        Some(other) => return bad_request(&format!("unsupported sort: {other}")),
    }
    let number = |key: &str, default: usize| match params.get(key) {
        None => Some(default),
        Some(v) => v.parse::<usize>().ok(),
    };
    let (Some(limit), Some(offset)) = (number("limit", 100), number("offset", 0)) else {
        return bad_request("limit and offset must be non-negative integers");
    };
    if !(1..=10_000).contains(&limit) || offset + limit > 10_000 {
        return bad_request("limit must be 1–10000 and offset + limit at most 10000");
    }
    let mut matching: Vec<(DateTime<Utc>, &str)> = state
        .alerts
        .iter()
        .filter_map(|a| Some((updated(a)?, composite_id(a)?)))
        .filter(|(t, _)| range.is_none_or(|(since, until)| since <= *t && *t < until))
        .collect();
    matching.sort();
    let total = matching.len();
    let ids: Vec<&str> = matching
        .iter()
        .skip(offset)
        .take(limit.min(state.max_page_size))
        .map(|(_, id)| *id)
        .collect();
    let body = json!({
        "meta": {
            "query_time": 0.004,
            "pagination": { "offset": offset, "limit": limit, "total": total },
            "powered_by": "fake-falcon",
            "trace_id": "00000000-fake",
        },
        "resources": ids,
        "errors": [],
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn entities(
    State(fake): State<FakeCrowdStrike>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut state = fake.lock();
    if let Some(response) = admit(&mut state, &headers) {
        return response;
    }
    let ids: Option<Vec<String>> = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("composite_ids")?.clone()).ok());
    let Some(ids) = ids.filter(|ids| (1..=1000).contains(&ids.len())) else {
        return bad_request("body must be {\"composite_ids\": [1–1000 ids]}");
    };
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|id| {
            state
                .alerts
                .iter()
                .find(|a| composite_id(a) == Some(id.as_str()))
                .cloned()
        })
        .collect();
    envelope(StatusCode::OK, Value::Array(found), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pollers_fql_window_is_understood() {
        assert!(
            window("updated_timestamp:>='2024-05-01T10:00:00Z'+updated_timestamp:<'2024-05-01T10:05:00.500Z'")
                .is_some()
        );
        for bad in [
            "updated_timestamp:>'2024-05-01T10:00:00Z'+updated_timestamp:<'2024-05-01T10:05:00Z'",
            "updated_timestamp:>='2024-05-01T10:00:00Z'",
            "created_timestamp:>='2024-05-01T10:00:00Z'+updated_timestamp:<'2024-05-01T10:05:00Z'",
            "updated_timestamp:>='yesterday'+updated_timestamp:<'2024-05-01T10:05:00Z'",
        ] {
            assert!(window(bad).is_none(), "{bad}");
        }
    }
}
