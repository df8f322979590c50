//! A fake of the GuardDuty findings API (REST-JSON), enough for a pull-mode poller:
//! `ListDetectors` (`GET /detector`), `ListFindings` (`POST /detector/{id}/findings`) and
//! `GetFindings` (`POST /detector/{id}/findings/get`), with the wire member names the AWS SDK
//! serialises (`findingCriteria.criterion.updatedAt.greaterThanOrEqual`, `sortCriteria`,
//! `maxResults`, `nextToken`, `findingIds`).
//!
//! It really filters, sorts and paginates by `updatedAt`, so a poller that gets the window or
//! the paging wrong sees the wrong findings. Every request must carry a SigV4 `Authorization`
//! header; the region in its credential scope selects the region's detectors and findings,
//! so one fake serves several regions and a request signed for the wrong region misses.
//! Errors look like the real service's: an HTTP status, an `x-amzn-ErrorType` header and a
//! JSON body with `message` and `__type`.

use crate::FakeServer;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::DateTime;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The service's cap on `maxResults` and on `findingIds` per `GetFindings` call.
const MAX_RESULTS: usize = 50;

/// Request counters, to check how a poller used the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `ListDetectors` calls answered (successfully or not, after authentication).
    pub list_detectors: u64,
    /// `ListFindings` calls answered.
    pub list_findings: u64,
    /// `GetFindings` calls answered.
    pub get_findings: u64,
    /// Requests answered with a throttling error.
    pub throttled: u64,
    /// Requests refused for missing or denied credentials.
    pub refused: u64,
}

/// A stored finding and the keys the fake filters on.
#[derive(Debug, Clone)]
struct Stored {
    region: String,
    detector: String,
    id: String,
    updated_ms: i64,
    json: Value,
}

#[derive(Debug)]
struct Inner {
    detectors: BTreeMap<String, Vec<String>>,
    findings: Vec<Stored>,
    page_size: usize,
    deny: bool,
    throttle: u32,
    counters: Counters,
}

/// The fake GuardDuty service and its knobs; clones share state.
#[derive(Debug, Clone)]
pub struct FakeGuardDuty {
    inner: Arc<Mutex<Inner>>,
}

impl Default for FakeGuardDuty {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeGuardDuty {
    /// An empty service: no detectors, no findings, pages of up to 50 ids.
    pub fn new() -> Self {
        let inner = Inner {
            detectors: BTreeMap::new(),
            findings: Vec::new(),
            page_size: MAX_RESULTS,
            deny: false,
            throttle: 0,
            counters: Counters::default(),
        };
        FakeGuardDuty {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// Serves the fake on an ephemeral loopback port.
    pub async fn start(&self) -> FakeServer {
        FakeServer::start(self.router()).await
    }

    /// The axum router, for callers that serve it themselves.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/detector", get(list_detectors))
            .route("/detector/{detector_id}/findings", post(list_findings))
            .route("/detector/{detector_id}/findings/get", post(get_findings))
            .with_state(self.clone())
    }

    /// Registers a detector in `region` (findings register theirs automatically).
    pub fn add_detector(&self, region: &str, detector_id: &str) {
        let mut s = self.lock();
        let ids = s.detectors.entry(region.to_string()).or_default();
        if !ids.iter().any(|d| d == detector_id) {
            ids.push(detector_id.to_string());
        }
    }

    /// Stores a finding (camelCase, as `GetFindings` returns it) under its `region` and
    /// `service.detectorId`, filtered on its `updatedAt`; `GetFindings` returns it unchanged (unknown fields included).
    ///
    /// # Panics
    /// If the finding lacks `id`, `region`, `service.detectorId` or an RFC 3339 `updatedAt`:
    /// that is a broken test fixture.
    pub fn add_finding(&self, finding: Value) {
        let text = |v: Option<&Value>, what: &str| -> String {
            match v.and_then(Value::as_str) {
                Some(s) => s.to_string(),
                None => panic!("fake GuardDuty finding needs a string {what}: {finding}"),
            }
        };
        let id = text(finding.get("id"), "id");
        let region = text(finding.get("region"), "region");
        let detector = text(finding.pointer("/service/detectorId"), "service.detectorId");
        let updated = text(finding.get("updatedAt"), "updatedAt");
        let updated_ms = match DateTime::parse_from_rfc3339(&updated) {
            Ok(t) => t.timestamp_millis(),
            Err(e) => panic!("fake GuardDuty finding {id}: updatedAt {updated:?}: {e}"),
        };
        self.add_detector(&region, &detector);
        self.lock().findings.push(Stored {
            region,
            detector,
            id,
            updated_ms,
            json: finding,
        });
    }

    /// Caps every `ListFindings` page at `n` ids (the client's `maxResults` still applies).
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.clamp(1, MAX_RESULTS);
    }

    /// From now on, refuses every request as if the access key were unknown
    /// (403 `UnrecognizedClientException`).
    pub fn deny_credentials(&self) {
        self.lock().deny = true;
    }

    /// Answers the next `n` authenticated requests with 429 `ThrottlingException`, a code
    /// the AWS SDK's standard retry strategy retries.
    pub fn throttle_next(&self, n: u32) {
        self.lock().throttle = n;
    }

    /// The request counters so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the fake's state from the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the signature's shape and the knobs; the region of the credential scope.
    fn admit(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let mut s = self.lock();
        let region = match signed_scope(headers) {
            Ok(region) => region,
            Err(refusal) => {
                s.counters.refused += 1;
                return Err(refusal);
            }
        };
        if s.deny {
            s.counters.refused += 1;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
        if s.throttle > 0 {
            s.throttle -= 1;
            s.counters.throttled += 1;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottlingException",
                "Rate exceeded",
            ));
        }
        Ok(region)
    }
}

/// The region of a SigV4 `Authorization` header's credential scope
/// (`AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/guardduty/aws4_request, …`).
fn signed_scope(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let scope = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .and_then(|rest| rest.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .map(|c| c.split('/').collect::<Vec<_>>());
    let has_signature = auth.contains("Signature=") && auth.contains("SignedHeaders=");
    match scope.as_deref() {
        Some([_, _, region, "guardduty", "aws4_request"]) if has_signature => {
            Ok((*region).to_string())
        }
        Some([_, _, _, service, _]) if has_signature => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: 'guardduty', not {service:?}."
            ),
        )),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'.",
        )),
    }
}

/// An AWS REST-JSON error: status, `x-amzn-ErrorType` header, `{"message", "__type"}` body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "message": self.message, "__type": self.code });
        let header = [("x-amzn-ErrorType", self.code)];
        (self.status, header, Json(body)).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

/// `GET /detector`: every detector of the signed region.
async fn list_detectors(
    State(fake): State<FakeGuardDuty>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let region = fake.admit(&headers)?;
    let mut s = fake.lock();
    s.counters.list_detectors += 1;
    let ids = s.detectors.get(&region).cloned().unwrap_or_default();
    Ok(Json(json!({ "detectorIds": ids })))
}

/// Parses a request body, or answers as the service does for malformed JSON.
fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("request body is not JSON: {e}"),
        )
    })
}

/// Refuses a detector that the signed region does not have.
fn check_detector(s: &Inner, region: &str, detector: &str) -> Result<(), ApiError> {
    let known = s
        .detectors
        .get(region)
        .is_some_and(|ids| ids.iter().any(|d| d == detector));
    if known {
        Ok(())
    } else {
        Err(bad_request(
            "The request is rejected because the input detectorId is not owned by the current account.",
        ))
    }
}

/// The `updatedAt` bounds of `findingCriteria`, as a predicate on epoch milliseconds.
fn updated_filter(body: &Value) -> Result<impl Fn(i64) -> bool + use<>, ApiError> {
    let mut bounds: Vec<(String, i64)> = Vec::new();
    if let Some(criterion) = body.pointer("/findingCriteria/criterion") {
        let Some(criterion) = criterion.as_object() else {
            return Err(bad_request("findingCriteria.criterion must be an object"));
        };
        for (field, condition) in criterion {
            if field != "updatedAt" {
                return Err(bad_request(format!(
                    "the fake supports only the updatedAt criterion, not {field:?}"
                )));
            }
            let Some(condition) = condition.as_object() else {
                return Err(bad_request("a criterion condition must be an object"));
            };
            for (op, value) in condition {
                let Some(ms) = value.as_i64() else {
                    return Err(bad_request(format!(
                        "updatedAt.{op} must be epoch milliseconds, got {value}"
                    )));
                };
                bounds.push((op.clone(), ms));
            }
        }
    }
    for (op, _) in &bounds {
        let known = [
            "gt",
            "gte",
            "lt",
            "lte",
            "greaterThan",
            "greaterThanOrEqual",
            "lessThan",
            "lessThanOrEqual",
        ];
        if !known.contains(&op.as_str()) {
            return Err(bad_request(format!(
                "the fake supports only range conditions on updatedAt, not {op:?}"
            )));
        }
    }
    Ok(move |t: i64| {
        bounds.iter().all(|(op, b)| match op.as_str() {
            "gt" | "greaterThan" => t > *b,
            "gte" | "greaterThanOrEqual" => t >= *b,
            "lt" | "lessThan" => t < *b,
            _ => t <= *b,
        })
    })
}

/// `POST /detector/{id}/findings`: filtered, sorted, paginated finding ids.
async fn list_findings(
    State(fake): State<FakeGuardDuty>,
    Path(detector): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let region = fake.admit(&headers)?;
    let mut s = fake.lock();
    s.counters.list_findings += 1;
    check_detector(&s, &region, &detector)?;
    let body = body_json(&body)?;
    let keep = updated_filter(&body)?;
    let max = match body.get("maxResults") {
        None => MAX_RESULTS,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=50) => n as usize,
            _ => return Err(bad_request("maxResults must be between 1 and 50")),
        },
    };
    let mut hits: Vec<&Stored> = s
        .findings
        .iter()
        .filter(|f| f.region == region && f.detector == detector && keep(f.updated_ms))
        .collect();
    if let Some(sort) = body.get("sortCriteria") {
        match sort.get("attributeName").and_then(Value::as_str) {
            Some("updatedAt") => {
                hits.sort_by(|a, b| (a.updated_ms, &a.id).cmp(&(b.updated_ms, &b.id)))
            }
            Some("id") => hits.sort_by(|a, b| a.id.cmp(&b.id)),
            other => {
                return Err(bad_request(format!("the fake cannot sort by {other:?}")));
            }
        }
        if sort.get("orderBy").and_then(Value::as_str) == Some("DESC") {
            hits.reverse();
        }
    }
    let offset = match body.get("nextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => match token.strip_prefix("fake-").and_then(|o| o.parse().ok()) {
            Some(o) => o,
            None => return Err(bad_request("The nextToken is invalid.")),
        },
    };
    let end = hits.len().min(offset + max.min(s.page_size));
    let ids: Vec<&str> = hits
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    // The real service answers an empty token on the last page.
    let next = if end < hits.len() {
        format!("fake-{end}")
    } else {
        String::new()
    };
    Ok(Json(json!({ "findingIds": ids, "nextToken": next })))
}

/// `POST /detector/{id}/findings/get`: the stored findings for up to 50 ids; unknown ids
/// are left out, as the service does for archived-and-deleted findings.
async fn get_findings(
    State(fake): State<FakeGuardDuty>,
    Path(detector): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let region = fake.admit(&headers)?;
    let mut s = fake.lock();
    s.counters.get_findings += 1;
    check_detector(&s, &region, &detector)?;
    let body = body_json(&body)?;
    let Some(ids) = body.get("findingIds").and_then(Value::as_array) else {
        return Err(bad_request("findingIds is required"));
    };
    if ids.is_empty() || ids.len() > MAX_RESULTS {
        return Err(bad_request("findingIds must hold 1 to 50 ids"));
    }
    let findings: Vec<&Value> = s
        .findings
        .iter()
        .filter(|f| f.region == region && f.detector == detector)
        .filter(|f| ids.iter().any(|id| id.as_str() == Some(f.id.as_str())))
        .map(|f| &f.json)
        .collect();
    Ok(Json(json!({ "findings": findings })))
}
