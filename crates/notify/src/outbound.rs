//! The one way notifications leave the process: every request's host is resolved, every
//! address it resolves to must pass the [`OutboundPolicy`], the connection is pinned to the
//! checked address (no DNS rebinding between check and connect), and redirects are never
//! followed (a 3xx could point at the metadata service).

use crate::{NotifyError, OutboundPolicy};
use std::net::SocketAddr;
use std::time::Duration;

/// Largest part of a response kept for the delivery log.
pub const EXCERPT_CHARS: usize = 512;

/// A request to send: method, URL, headers and body.
#[derive(Clone)]
pub struct OutboundRequest {
    /// `POST` for every sender today.
    pub method: reqwest::Method,
    /// The full URL.
    pub url: String,
    /// Headers, credentials included (never logged).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL and headers carry credentials and signatures: the URL is masked, only
        // the headers' names are shown.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl OutboundRequest {
    /// A `POST` of `body` with `content_type`.
    pub fn post(url: impl Into<String>, content_type: &str, body: Vec<u8>) -> Self {
        OutboundRequest {
            method: reqwest::Method::POST,
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// HTTP status.
    pub status: u16,
    /// The wait a `Retry-After` header asks for, if any.
    pub retry_after: Option<Duration>,
    /// The start of the body, single line.
    pub excerpt: String,
    /// The address the request went to.
    pub addr: SocketAddr,
}

/// Sends requests under an outbound policy.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    policy: OutboundPolicy,
    timeout: Duration,
}

/// `url` [masked](riposte_store::masked_url), safe to log and store: incoming-webhook URLs
/// (Slack, Teams) carry their secret in the path, others in the query or user info.
pub(crate) fn redact(url: &reqwest::Url) -> String {
    riposte_store::masked_url(url.as_str())
}

/// A URL's text [masked](riposte_store::masked_url): scheme, host, port and at most a
/// route word of the path.
pub fn redact_url(url: &str) -> String {
    riposte_store::masked_url(url)
}

impl GuardedClient {
    /// A client with a 15-second timeout per request.
    pub fn new(policy: OutboundPolicy) -> Self {
        GuardedClient {
            policy,
            timeout: Duration::from_secs(15),
        }
    }

    /// Replaces the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Checks `url` (scheme, host, every resolved address) without sending anything; returns
    /// the parsed URL, the host and the address to pin.
    pub async fn check(
        &self,
        url: &str,
    ) -> Result<(reqwest::Url, String, SocketAddr), NotifyError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| NotifyError::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })?;
        let shown = redact(&parsed);
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidUrl {
                url: shown,
                reason: "only http and https are supported".into(),
            });
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| NotifyError::InvalidUrl {
                url: shown.clone(),
                reason: "no host".into(),
            })?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| NotifyError::InvalidUrl {
                url: shown.clone(),
                reason: format!("cannot resolve host: {e}"),
            })?
            .collect();
        let Some(first) = addrs.first().copied() else {
            return Err(NotifyError::InvalidUrl {
                url: shown,
                reason: "host resolves to no address".into(),
            });
        };
        if let Some(bad) = addrs.iter().find(|a| !self.policy.permits(a.ip())) {
            return Err(NotifyError::Blocked {
                url: shown,
                ip: bad.ip(),
            });
        }
        Ok((parsed, host, first))
    }

    /// Sends `request` once. Any HTTP answer (2xx or not) is `Ok`; refused URLs and
    /// transport failures are errors.
    pub async fn send(&self, request: &OutboundRequest) -> Result<OutboundResponse, NotifyError> {
        let (url, host, addr) = self.check(&request.url).await?;
        let shown = redact(&url);
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .user_agent(concat!("riposte/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| NotifyError::Request {
                url: shown.clone(),
                source,
            })?;
        let mut builder = client.request(request.method.clone(), url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(|source| NotifyError::Request {
                url: shown.clone(),
                source: source.without_url(),
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let excerpt = read_excerpt(response).await;
        tracing::debug!(url = %shown, status, "outbound request answered");
        Ok(OutboundResponse {
            status,
            retry_after,
            excerpt,
            addr,
        })
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = at
        .timestamp()
        .saturating_sub(chrono::Utc::now().timestamp());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// The first [`EXCERPT_CHARS`] characters of the body, control characters as spaces; the
/// rest of the body is not read.
async fn read_excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    let limit = EXCERPT_CHARS * 4;
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&bytes)
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = parse_retry_after(&soon).unwrap();
        assert!((28..=30).contains(&wait.as_secs()), "{wait:?}");
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(
            redact_url("https://user:pw@hooks.example.com/services/T0/B0?token=abc"),
            "https://hooks.example.com/services/***"
        );
        let request = OutboundRequest::post(
            "https://hooks.example.com/services/T0/B0/s3cret",
            "application/json",
            vec![],
        )
        .header("authorization", "Bearer tok");
        let debug = format!("{request:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("tok"),
            "{debug}"
        );
        assert_eq!(redact_url("::"), "<invalid url>");
    }
}
