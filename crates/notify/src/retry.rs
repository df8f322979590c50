//! Delivery with retries: exponential backoff from a base delay, `Retry-After` honoured,
//! and every attempt reported to a log as it finishes.
//!
//! Retried: transport failures (connection refused, timeout, TLS), 408, 429 and 5xx.
//! Not retried: other 4xx (the request itself is wrong; sending it again cannot help),
//! 3xx (redirects are never followed: a `Location` could point anywhere), refused or
//! invalid URLs, and a `Retry-After` longer than the policy's longest wait.

use crate::NotifyError;
use crate::outbound::{GuardedClient, OutboundRequest, OutboundResponse};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::Duration;

/// How many times to try, and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// Longest single wait (also the longest `Retry-After` honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 2 s doubling, at most 5 minutes per wait.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based) when the receiver names none.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Whether it was accepted.
    pub ok: bool,
    /// Why not, when it was not.
    pub error: Option<String>,
    /// The start of the answer.
    pub excerpt: Option<String>,
    /// When the attempt finished.
    pub at: DateTime<Utc>,
}

/// Where attempts are recorded as they happen (the delivery log).
pub trait AttemptLog: Sync {
    /// Records one attempt; failures to record are the log's to report, not the delivery's.
    fn record(&self, attempt: &AttemptReport) -> impl Future<Output = ()> + Send;
}

/// A log that keeps nothing.
impl AttemptLog for () {
    async fn record(&self, _attempt: &AttemptReport) {}
}

/// Checks an accepted (2xx) answer's body: `Some(reason)` when the receiver reported a
/// failure inside a 2xx (Elasticsearch `_bulk` item errors).
pub type BodyCheck = fn(&OutboundResponse) -> Option<String>;

/// What a whole delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Every attempt, in order.
    pub attempts: Vec<AttemptReport>,
}

impl DeliveryReport {
    /// Whether the last attempt was accepted.
    pub fn ok(&self) -> bool {
        self.attempts.last().is_some_and(|a| a.ok)
    }

    /// The last attempt's error.
    pub fn error(&self) -> Option<&str> {
        self.attempts.last().and_then(|a| a.error.as_deref())
    }
}

/// What to do after an attempt.
enum Next {
    Done,
    Stop,
    RetryAfter(Option<Duration>),
}

fn judge(
    result: &Result<OutboundResponse, NotifyError>,
    check: Option<BodyCheck>,
) -> (Next, Option<String>) {
    match result {
        Ok(r) if (200..300).contains(&r.status) => match check.and_then(|c| c(r)) {
            Some(problem) => (Next::Stop, Some(problem)),
            None => (Next::Done, None),
        },
        Ok(r) if (300..400).contains(&r.status) => (
            Next::Stop,
            Some(format!(
                "HTTP {}: redirects are not followed; configure the final URL",
                r.status
            )),
        ),
        Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => (
            Next::RetryAfter(r.retry_after),
            Some(format!("HTTP {}", r.status)),
        ),
        Ok(r) => (Next::Stop, Some(format!("HTTP {} (not retried)", r.status))),
        Err(e @ NotifyError::Request { .. }) => (Next::RetryAfter(None), Some(chain(e))),
        Err(e) => (Next::Stop, Some(e.to_string())),
    }
}

/// An error with its causes, on one line (the cause says "connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Sends the request `build` makes (again for each attempt: signatures carry a fresh
/// timestamp) until it is accepted, a failure is final, or the attempts run out.
pub async fn deliver(
    client: &GuardedClient,
    policy: &RetryPolicy,
    build: impl Fn() -> OutboundRequest,
    check: Option<BodyCheck>,
    log: &impl AttemptLog,
) -> DeliveryReport {
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = Vec::new();
    for attempt in 1..=max_attempts {
        let result = client.send(&build()).await;
        let (next, mut error) = judge(&result, check);
        let (status, excerpt) = match &result {
            Ok(r) => (Some(r.status), Some(r.excerpt.clone())),
            Err(_) => (None, None),
        };
        let wait = match next {
            Next::RetryAfter(asked) if attempt < max_attempts => {
                let wait = asked.unwrap_or_else(|| policy.backoff(attempt));
                if wait > policy.max_delay {
                    error = error.map(|e| {
                        format!(
                            "{e}; the receiver asked to retry after {}s, longer than the longest wait ({}s): giving up",
                            wait.as_secs(),
                            policy.max_delay.as_secs()
                        )
                    });
                    None
                } else {
                    Some(wait)
                }
            }
            _ => None,
        };
        let report = AttemptReport {
            attempt,
            status,
            ok: matches!(next, Next::Done),
            error,
            excerpt: excerpt.filter(|e| !e.is_empty()),
            at: Utc::now(),
        };
        log.record(&report).await;
        tracing::debug!(attempt, ?status, ok = report.ok, "delivery attempt");
        attempts.push(report);
        match wait {
            Some(wait) => tokio::time::sleep(wait).await,
            None => break,
        }
    }
    DeliveryReport { attempts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        let waits: Vec<u128> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 700, 700]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_millis(700));
    }
}
