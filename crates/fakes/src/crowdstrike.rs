//! Fake CrowdStrike Falcon API: `POST /oauth2/token`, `GET /alerts/queries/alerts/v2` and
//! `POST /alerts/entities/alerts/v2`, with the vendor's response and error envelopes
//! (`{meta, resources, errors}`).
//!
//! The query endpoint really filters: it accepts only the FQL window the poller sends
//! (`updated_timestamp:>='…'+updated_timestamp:<'…'`) or no filter, and answers anything else
//! with 400, so a poller bug shows as a failure instead of as silently wrong results.

use crate::FakeServer;
use crate::oauth::{self, Admission, Fake, Tenant, Vendor};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The customer id on sample alerts.
pub const SAMPLE_CID: &str = "5a1e7c0ffee04b5d9a3c2e1f0d9c8b7a";

/// A fake Falcon tenant. Clones share state, so a test keeps one to turn knobs while the
/// server runs.
pub type FakeCrowdStrike = Fake<Falcon>;

/// What a Falcon tenant adds to the shared OAuth2 tenant: alerts are named by
/// `composite_id`, dated by `updated_timestamp`, and the API client may lack its scope.
pub struct Falcon {
    forbidden: bool,
}

impl Vendor for Falcon {
    const ID_FIELD: &'static str = "composite_id";
    const UPDATED_FIELD: &'static str = "updated_timestamp";
}

impl FakeCrowdStrike {
    /// A tenant accepting exactly this API client; tokens live 30 minutes (1799 s, as Falcon).
    pub fn new(client_id: &str, client_secret: &str) -> Self {
        let falcon = Falcon { forbidden: false };
        Fake::with_tenant(Tenant::new(
            client_id,
            client_secret,
            1799,
            usize::MAX,
            falcon,
        ))
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

    /// Makes the Alerts API answer 403, as for an API client without the *Alerts: Read* scope.
    pub fn set_api_forbidden(&self, forbidden: bool) {
        self.lock().vendor.forbidden = forbidden;
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
    state.count_token_request();
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
    let (token, lifetime) = state.issue_token("fake-falcon-token");
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    });
    // Falcon answers 201 Created.
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// Counts the request, then applies rate limiting, the bearer token check and the scope
/// switch; `Some` is the refusal to send.
fn admit(state: &mut Tenant<Falcon>, headers: &HeaderMap) -> Option<Response> {
    match state.admit(headers) {
        Admission::RateLimited { retry_after_secs } => {
            let mut response = envelope(
                StatusCode::TOO_MANY_REQUESTS,
                json!([]),
                Some("API rate limit exceeded."),
            );
            let h = response.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            h.insert("x-ratelimit-limit", HeaderValue::from(6000u32));
            h.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
            Some(response)
        }
        Admission::Admitted if state.vendor.forbidden => Some(envelope(
            StatusCode::FORBIDDEN,
            json!([]),
            Some("access denied, authorization failed"),
        )),
        Admission::Admitted => None,
        Admission::Unauthorized => Some(envelope(
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
    Some((oauth::parse_time(since)?, oauth::parse_time(until)?))
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
    let matching = state.alerts_updated_within(range);
    let total = matching.len();
    let ids: Vec<&str> = matching
        .iter()
        .skip(offset)
        .take(limit.min(state.max_page_size))
        .filter_map(|a| oauth::id::<Falcon>(a))
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
        .filter_map(|id| state.alert(id).cloned())
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
