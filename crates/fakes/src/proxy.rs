//! A fault-injecting HTTP proxy for tests and benchmarks: put it between a client and a
//! real emulator (moto) to add per-request latency, or to answer the first requests of a
//! kind with a canned AWS error (throttling, 5xx) before forwarding the rest unchanged.
//! Every request is recorded, so a test can count what reached the wire.

use crate::FakeServer;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request body forwarded (an EBS block is 512 KiB).
const MAX_BODY: usize = 64 << 20;

/// An AWS-style error answered instead of forwarding.
#[derive(Debug, Clone)]
pub struct CannedFailure {
    /// Only requests whose path contains this are answered (e.g. `/blocks/`).
    pub path_contains: String,
    /// How many matching requests are answered; the following ones are forwarded.
    pub count: usize,
    /// HTTP status.
    pub status: u16,
    /// The error code, sent as `x-amzn-ErrorType` and `__type` (REST-JSON services).
    pub error_type: String,
    /// Extra JSON fields of the error body (e.g. `Reason`).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl CannedFailure {
    /// EBS's documented throttling answer: HTTP 400 `RequestThrottledException`, reason
    /// `ACCOUNT_THROTTLED`.
    pub fn ebs_throttling(path_contains: &str, count: usize) -> Self {
        let mut fields = serde_json::Map::new();
        fields.insert("Reason".into(), "ACCOUNT_THROTTLED".into());
        CannedFailure {
            path_contains: path_contains.into(),
            count,
            status: 400,
            error_type: "RequestThrottledException".into(),
            fields,
        }
    }

    /// EBS's refusal: HTTP 403 `AccessDeniedException` with `reason`
    /// (`UNAUTHORIZED_ACCOUNT` for a missing `ebs:` permission, `DEPENDENCY_ACCESS_DENIED`
    /// when the KMS key refuses), for every matching request.
    pub fn ebs_access_denied(path_contains: &str, reason: &str) -> Self {
        let mut fields = serde_json::Map::new();
        fields.insert("Reason".into(), reason.into());
        CannedFailure {
            path_contains: path_contains.into(),
            count: usize::MAX,
            status: 403,
            error_type: "AccessDeniedException".into(),
            fields,
        }
    }

    /// A server-side failure: `status` (e.g. 503) with `InternalServerException`.
    pub fn server_error(path_contains: &str, count: usize, status: u16) -> Self {
        CannedFailure {
            path_contains: path_contains.into(),
            count,
            status,
            error_type: "InternalServerException".into(),
            fields: serde_json::Map::new(),
        }
    }

    fn response(&self) -> Response {
        let mut body = self.fields.clone();
        body.insert("__type".into(), self.error_type.clone().into());
        body.insert(
            "message".into(),
            format!("injected by the test proxy: {}", self.error_type).into(),
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, serde_json::Value::Object(body).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(&self.error_type) {
            headers.insert("x-amzn-errortype", v);
        }
        response
    }
}

/// What the proxy does to the requests it forwards.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before each request is forwarded or answered.
    pub latency: Duration,
    /// Requests answered with an error instead of being forwarded.
    pub fail_first: Option<CannedFailure>,
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Whether it was answered with the canned failure instead of forwarded.
    pub failed: bool,
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    faults: Faults,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    server: FakeServer,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    /// Proxies every request to `upstream` (e.g. a moto URL) with `faults`.
    pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("build the proxy's HTTP client");
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            faults,
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        FaultProxy {
            server: FakeServer::start(router).await,
            state,
        }
    }

    /// `http://127.0.0.1:port`: the endpoint to give the client.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Requests so far whose method is `method` and whose path contains `path_contains`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.contains(path_contains))
            .count()
    }

    /// The most requests the proxy was handling at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests answered with the canned failure so far.
    pub fn failed(&self) -> usize {
        self.seen().iter().filter(|s| s.failed).count()
    }
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Counted down even when the client hangs up and this future is dropped.
    let _done = InFlight(&state.in_flight);
    answer(&state, request).await
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(state: &ProxyState, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.to_string());
    let fail = {
        let mut seen = state.seen.lock().unwrap_or_else(|e| e.into_inner());
        let fail = state.faults.fail_first.as_ref().is_some_and(|f| {
            path.contains(&f.path_contains)
                && seen
                    .iter()
                    .filter(|s| s.failed && s.path.contains(&f.path_contains))
                    .count()
                    < f.count
        });
        seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            failed: fail,
        });
        fail
    };
    if !state.faults.latency.is_zero() {
        tokio::time::sleep(state.faults.latency).await;
    }
    if fail && let Some(failure) = &state.faults.fail_first {
        return failure.response();
    }
    let headers = forwardable(request.headers());
    let body = match to_bytes(request.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("proxy: body: {e}")).into_response(),
    };
    let upstream = state
        .client
        .request(method, format!("{}{path}", state.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("proxy: upstream: {e}")).into_response();
        }
    };
    let status = upstream.status();
    let headers = forwardable(upstream.headers());
    match upstream.bytes().await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("proxy: upstream body: {e}"),
        )
            .into_response(),
    }
}

/// Headers worth passing on: everything but the hop-by-hop ones and those the HTTP
/// stacks set themselves.
fn forwardable(headers: &HeaderMap) -> HeaderMap {
    const SKIP: &[&str] = &[
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
    ];
    headers
        .iter()
        .filter(|(name, _)| !SKIP.contains(&name.as_str()))
        .map(|(n, v)| (HeaderName::clone(n), v.clone()))
        .collect()
}
