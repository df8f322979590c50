//! Pull-mode sources. A poller fetches a vendor's raw alerts for a time window, one page at
//! a time; it is transport only. Mapping stays with the source's [`AlertParser`], so a pulled
//! alert and a pushed one become the same [`Alert`](riposte_model::Alert), and a payload the
//! parser refuses is recorded as an ingestion error instead of being dropped.
//!
//! Windows make polling restart-safe: the caller asks for `[since, until)`, stores every page's
//! alerts as they come (duplicates are dropped by the store's dedupe key), and only advances its
//! cursor to `until` once the last page is in. A crash mid-window re-reads the window: no gaps,
//! and no duplicates reach the store.
//!
//! [`AlertParser`]: crate::AlertParser

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use riposte_model::AlertSource;
use std::time::Duration;

pub mod crowdstrike;
pub mod defender;
pub(crate) mod http;

pub use http::{Resolver, RetryPolicy};

/// The half-open time window `[since, until)` of vendor *update* times to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollWindow {
    /// Inclusive lower bound.
    pub since: DateTime<Utc>,
    /// Exclusive upper bound.
    pub until: DateTime<Utc>,
}

/// One page of raw vendor alerts.
#[derive(Debug, Clone, Default)]
pub struct PolledPage {
    /// Each alert exactly as the vendor's API returned it, in the shape the source's
    /// parser accepts.
    pub payloads: Vec<serde_json::Value>,
    /// Opaque token for the next page of the same window; `None` on the last page.
    pub next_page: Option<String>,
}

/// Fetches one vendor's alerts. Implementations handle their own authentication (token
/// caching, refresh on expiry) and back off on rate limiting before giving up.
#[async_trait]
pub trait AlertPoller: Send + Sync + std::fmt::Debug {
    /// The source whose parser reads this poller's payloads.
    fn source(&self) -> AlertSource;

    /// Proves the credentials and the endpoint work (authenticate, then one cheap read).
    async fn test(&self) -> Result<(), PollError>;

    /// One page of alerts updated within `window`; `page` is the previous page's
    /// [`PolledPage::next_page`], `None` for the first page.
    async fn fetch(&self, window: &PollWindow, page: Option<&str>)
    -> Result<PolledPage, PollError>;
}

/// Why a poll (or a connection test) failed. Messages say what to check next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The vendor refused the credentials or the token lacks a permission.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Still rate limited after backing off.
    #[error("rate limited by the vendor API; retry after {retry_after:?}")]
    RateLimited {
        /// How long the vendor asked us to wait last.
        retry_after: Duration,
    },
    /// The endpoint cannot be reached (DNS, connection, TLS, timeout).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// The vendor answered with an unexpected HTTP status.
    #[error("{url} answered HTTP {status}: {body}")]
    Http {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body, for the error message.
        body: String,
    },
    /// The response does not have the documented shape.
    #[error("unexpected response from {url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The connection's settings are unusable (bad URL, missing field).
    #[error("invalid connection settings: {0}")]
    Config(String),
}

impl PollError {
    /// Whether trying again later may succeed (rate limits, outages), as opposed to
    /// errors that need a person to fix settings or credentials.
    pub fn is_transient(&self) -> bool {
        match self {
            PollError::RateLimited { .. } | PollError::Unreachable { .. } => true,
            PollError::Http { status, .. } => *status >= 500,
            PollError::Auth(_) | PollError::Protocol { .. } | PollError::Config(_) => false,
        }
    }
}
