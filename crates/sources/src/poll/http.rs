//! HTTP plumbing shared by the OAuth2 client-credentials vendors: settings checks, a token
//! cache that refreshes before expiry and once more when the API says 401, and backoff on
//! HTTP 429. Secrets and tokens never appear in errors, logs or `Debug` output.

use super::PollError;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use std::fmt;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::debug;

/// How a poller backs off when a vendor answers HTTP 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first 429 before giving up with [`PollError::RateLimited`].
    pub max_retries: u32,
    /// First wait when the vendor names none (`Retry-After`); doubles on each retry.
    pub initial_backoff: Duration,
    /// Longest single wait. A vendor asking for more makes the poll give up at once, so the
    /// scheduler comes back later instead of a worker sleeping.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries, 500 ms doubling, at most 30 s per wait.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Sends the request `build` makes, again after a wait while the answer is HTTP 429.
    /// Any other answer is returned as is.
    pub(crate) async fn send(
        &self,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, PollError> {
        let mut attempt: u32 = 0;
        loop {
            let response = build().send().await.map_err(|e| transport_error(url, e))?;
            if response.status() != StatusCode::TOO_MANY_REQUESTS {
                return Ok(response);
            }
            let backoff = self
                .initial_backoff
                .saturating_mul(2u32.saturating_pow(attempt.min(16)));
            let wait = retry_after(response.headers()).unwrap_or(backoff);
            if attempt >= self.max_retries || wait > self.max_wait {
                debug!(url, attempt, ?wait, "still rate limited; giving up");
                return Err(PollError::RateLimited { retry_after: wait });
            }
            debug!(url, attempt, ?wait, "rate limited; backing off");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The wait a 429 asks for: `Retry-After` in seconds, else CrowdStrike's
/// `X-RateLimit-RetryAfter` (a Unix time).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secs) = header(RETRY_AFTER.as_str()).and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let at = header("x-ratelimit-retryafter").and_then(|v| v.trim().parse::<i64>().ok())?;
    let secs = at.saturating_sub(chrono::Utc::now().timestamp());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Maps a failed send (DNS, connect, TLS, timeout, bad URL) to a poll error.
pub(crate) fn transport_error(url: &str, e: reqwest::Error) -> PollError {
    if e.is_builder() {
        return PollError::Config(format!("cannot build a request for {url}"));
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    // The useful part ("Connection refused", "invalid peer certificate") is deep in the chain.
    let mut reason = kind.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(c) = cause {
        reason.push_str(": ");
        reason.push_str(&c.to_string());
        cause = c.source();
    }
    PollError::Unreachable {
        url: url.to_string(),
        reason: excerpt(&reason, 300),
    }
}

/// At most `max` characters of `text`, control characters turned into spaces.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.trim().chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A window bound as RFC 3339 UTC: whole seconds when exact, else milliseconds. Both bounds of
/// every window are cut the same way, so consecutive windows still meet without a gap.
pub(crate) fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{SecondsFormat, Timelike};
    let format = if t.nanosecond() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    t.to_rfc3339_opts(format, true)
}

/// A credential: shown as `***` by `Debug`, never logged.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub(crate) fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The credential itself, for the one request that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Checks a settings value that must not be empty; the error names `key`.
pub(crate) fn required(key: &str, value: &str) -> Result<(), PollError> {
    if value.trim().is_empty() {
        return Err(PollError::Config(format!("{key} is empty")));
    }
    Ok(())
}

/// Parses a base URL setting. Credentials only travel over HTTPS; plain HTTP is accepted for
/// loopback hosts (test servers, local proxies) only.
pub(crate) fn base_url(key: &str, value: &str) -> Result<Url, PollError> {
    let url = Url::parse(value.trim())
        .map_err(|e| PollError::Config(format!("{key} {value:?} is not a URL: {e}")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(PollError::Config(format!(
                "{key} {value:?} must be an https:// URL"
            )));
        }
    }
    if url.host().is_none() || url.query().is_some() || !url.username().is_empty() {
        return Err(PollError::Config(format!(
            "{key} {value:?} must be a plain base URL like https://host (no query or user)"
        )));
    }
    Ok(url)
}

/// `base` without its trailing slash, ready for `format!("{base}/path")`.
pub(crate) fn trimmed(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_string()
}

/// A DNS resolver for the pollers' requests: the server passes one that refuses
/// non-public addresses, so the addresses a connection uses are the ones checked in the
/// same resolution (a host cannot be re-pointed at an internal address after the check).
pub type Resolver = std::sync::Arc<dyn reqwest::dns::Resolve>;

/// The HTTP client every poller uses: bounded timeouts, no redirects so a bearer token
/// never follows a `Location` to another host, and `resolver` (or the system's) for names.
pub(crate) fn client(resolver: Option<Resolver>) -> Result<Client, PollError> {
    let builder = match resolver {
        Some(r) => Client::builder().dns_resolver(r),
        None => Client::builder(),
    };
    builder
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("riposte/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PollError::Config(format!("cannot set up the HTTP client: {e}")))
}

/// Largest response body read: a page of alerts is far smaller; anything bigger is refused
/// rather than held in memory.
const MAX_BODY_BYTES: usize = 64 << 20;

/// Reads at most `limit` bytes of the body; the flag says whether it was longer.
async fn read_capped(
    mut response: Response,
    url: &str,
    limit: usize,
) -> Result<(Vec<u8>, bool), PollError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, e))?
    {
        let room = limit.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Reads a 2xx response as JSON.
pub(crate) async fn json(response: Response, url: &str) -> Result<Value, PollError> {
    let (body, truncated) = read_capped(response, url, MAX_BODY_BYTES).await?;
    if truncated {
        return Err(PollError::Protocol {
            url: url.to_string(),
            reason: format!("response body is larger than {MAX_BODY_BYTES} bytes"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| PollError::Protocol {
        url: url.to_string(),
        reason: format!("response is not JSON ({e})"),
    })
}

/// A short, single-line account of an error response: the vendor's own message when the
/// body has one of the usual shapes, else the start of the body.
pub(crate) async fn error_detail(response: Response) -> String {
    let status = response.status();
    let body = match read_capped(response, "", 64 << 10).await {
        Ok((body, _)) => body,
        Err(_) => return format!("HTTP {status}, body unreadable"),
    };
    let text = String::from_utf8_lossy(&body);
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| vendor_message(&v));
    match message {
        Some(m) => excerpt(&m, 400),
        None if text.trim().is_empty() => format!("HTTP {status}, empty body"),
        None => excerpt(&text, 200),
    }
}

/// The message in an error body: Entra's `error_description` (first line; the rest is trace
/// ids), CrowdStrike's `errors[].message`, or OData's `error.message`.
fn vendor_message(body: &Value) -> Option<String> {
    if let Some(d) = body.get("error_description").and_then(Value::as_str) {
        return d.lines().next().map(str::to_string);
    }
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect();
        if !messages.is_empty() {
            return Some(messages.join("; "));
        }
    }
    match body.get("error") {
        Some(Value::Object(e)) => e.get("message").and_then(Value::as_str).map(str::to_string),
        Some(Value::String(code)) => Some(code.clone()),
        _ => body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// What to tell the user when a vendor refuses the credentials or a token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthHints {
    /// Appended when the token endpoint refuses the client (wrong id, secret, tenant).
    pub token: &'static str,
    /// Appended when the API refuses a fresh token (missing scope or permission).
    pub api: &'static str,
}

/// Gets, caches and refreshes an OAuth2 client-credentials token, and sends API requests
/// with it.
pub(crate) struct OAuthClient {
    http: Client,
    token_url: String,
    /// The token request's form; holds the client secret.
    form: Vec<(&'static str, Secret)>,
    hints: AuthHints,
    /// Backoff on HTTP 429, for the token endpoint and the API alike.
    pub retry: RetryPolicy,
    cached: Mutex<Option<CachedToken>>,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("token_url", &self.token_url)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A token and when to stop using it.
struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

impl OAuthClient {
    /// A client fetching tokens from `token_url` with `form` (the secret included).
    pub(crate) fn new(
        token_url: String,
        form: Vec<(&'static str, Secret)>,
        hints: AuthHints,
    ) -> Result<OAuthClient, PollError> {
        Ok(OAuthClient {
            http: client(None)?,
            token_url,
            form,
            hints,
            retry: RetryPolicy::default(),
            cached: Mutex::new(None),
        })
    }

    /// The same client resolving host names with `resolver`.
    pub(crate) fn with_resolver(mut self, resolver: Resolver) -> Result<OAuthClient, PollError> {
        self.http = client(Some(resolver))?;
        Ok(self)
    }

    /// A valid token: the cached one, or a new one when it is missing or about to expire.
    async fn token(&self) -> Result<Secret, PollError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let (value, lifetime) = self.fetch_token().await?;
        // Refresh ahead of expiry (clock skew, request time): a minute, or half of a short life.
        let margin = Duration::from_secs(60).min(lifetime / 2);
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(value)
    }

    /// Drops the cached token if it is still `stale` (another request may have renewed it).
    async fn forget(&self, stale: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|t| t.value.0 == stale.0) {
            *cached = None;
        }
    }

    /// Asks the token endpoint for a new token and its lifetime.
    async fn fetch_token(&self) -> Result<(Secret, Duration), PollError> {
        let url = self.token_url.as_str();
        debug!(url, "requesting an OAuth2 access token");
        let form: Vec<(&str, &str)> = self.form.iter().map(|(k, v)| (*k, v.expose())).collect();
        let response = self
            .retry
            .send(url, || self.http.post(url).form(&form))
            .await?;
        let status = response.status();
        if !status.is_success() {
            let detail = error_detail(response).await;
            return Err(match status {
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    PollError::Auth(format!(
                        "the token endpoint {url} refused the client (HTTP {}: {detail}); {}",
                        status.as_u16(),
                        self.hints.token
                    ))
                }
                _ => PollError::Http {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body: detail,
                },
            });
        }
        // Fields are read by hand so no error message ever quotes the token.
        let body = json(response, url).await?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PollError::Protocol {
                url: url.to_string(),
                reason: "token response has no access_token".into(),
            })?;
        // Entra's v1 endpoint sent `expires_in` as a string; accept both.
        let expires_in = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        let lifetime = Duration::from_secs(expires_in.unwrap_or_else(|| {
            debug!(url, "token response has no expires_in; assuming 5 minutes");
            300
        }));
        debug!(url, ?lifetime, "got an access token");
        Ok((Secret::new(token.to_string()), lifetime))
    }

    /// Sends an API request with the bearer token. On 401 the token is dropped and the request
    /// tried once more with a new one; 429 backs off. Returns only 2xx responses.
    pub(crate) async fn send(
        &self,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, PollError> {
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let response = self
                .retry
                .send(url, || build(&self.http).bearer_auth(token.expose()))
                .await?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                debug!(url, "the API refused the cached token; getting a new one");
                self.forget(&token).await;
                refreshed = true;
                continue;
            }
            let detail = error_detail(response).await;
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PollError::Auth(format!(
                    "{url} refused the access token (HTTP {}: {detail}); {}",
                    status.as_u16(),
                    self.hints.api
                )),
                _ => PollError::Http {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body: detail,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "***");
    }

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        assert!(base_url("base_url", "https://api.us-2.crowdstrike.com").is_ok());
        assert!(base_url("base_url", "http://127.0.0.1:8080").is_ok());
        assert!(base_url("base_url", "http://localhost:1").is_ok());
        let e = base_url("base_url", "http://api.crowdstrike.com").unwrap_err();
        assert!(e.to_string().contains("base_url"), "{e}");
        assert!(base_url("base_url", "not a url").is_err());
        assert!(base_url("base_url", "https://u:p@host").is_err());
    }

    #[test]
    fn vendor_messages_come_from_each_vendor_error_shape() {
        let entra = serde_json::json!({"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"});
        assert_eq!(
            vendor_message(&entra).as_deref(),
            Some("AADSTS7000215: Invalid client secret provided.")
        );
        let cs = serde_json::json!({"errors": [{"code": 403, "message": "access denied"}]});
        assert_eq!(vendor_message(&cs).as_deref(), Some("access denied"));
        let odata = serde_json::json!({"error": {"code": "Forbidden", "message": "no role"}});
        assert_eq!(vendor_message(&odata).as_deref(), Some("no role"));
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        assert_eq!(excerpt("a\nb", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
