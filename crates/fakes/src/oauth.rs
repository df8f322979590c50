//! What the token-protected fakes (Falcon, Defender) share: one OAuth2 client-credentials
//! client, the bearer tokens issued to it, the knobs that break the API (expiry, revocation,
//! 429s, page caps), request counters, and the tenant's alerts.
//!
//! Everything a poller sees on the wire (token endpoint, error bodies, filters, paging) stays
//! in the vendor's module; this one only keeps the state behind it.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What a vendor adds to the shared tenant: its own knobs (the implementing type's fields),
/// and the alert fields that name and date an alert.
pub trait Vendor {
    /// The string field holding an alert's unique id.
    const ID_FIELD: &'static str;
    /// The RFC 3339 field holding when an alert was last updated.
    const UPDATED_FIELD: &'static str;
}

/// A fake vendor tenant. Clones share state, so a test keeps one to turn knobs while the
/// server runs.
pub struct Fake<V> {
    state: Arc<Mutex<Tenant<V>>>,
}

impl<V> Clone for Fake<V> {
    fn clone(&self) -> Self {
        Fake {
            state: Arc::clone(&self.state),
        }
    }
}

impl<V: Vendor> Fake<V> {
    pub(crate) fn with_tenant(tenant: Tenant<V>) -> Self {
        Fake {
            state: Arc::new(Mutex::new(tenant)),
        }
    }

    /// The state; a test that panicked while holding it must not wedge the server.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Tenant<V>> {
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

    /// Caps how many alerts one page returns, whatever the request asks for (`limit`, `$top`).
    pub fn set_max_page_size(&self, n: usize) {
        self.lock().max_page_size = n.max(1);
    }

    /// Adds an alert; it needs a string [`Vendor::ID_FIELD`] and an RFC 3339
    /// [`Vendor::UPDATED_FIELD`].
    ///
    /// # Panics
    /// When either is missing: that is a bug in the test.
    pub fn add_alert(&self, alert: Value) {
        assert!(id::<V>(&alert).is_some(), "alert needs {}", V::ID_FIELD);
        assert!(
            updated::<V>(&alert).is_some(),
            "alert needs {}",
            V::UPDATED_FIELD
        );
        self.lock().alerts.push(alert);
    }

    /// Replaces the alert with the same id (e.g. with a later update time); `false` when there
    /// is none.
    pub fn update_alert(&self, alert: Value) -> bool {
        assert!(
            updated::<V>(&alert).is_some(),
            "alert needs {}",
            V::UPDATED_FIELD
        );
        let mut state = self.lock();
        let new_id = id::<V>(&alert).map(str::to_string);
        match state
            .alerts
            .iter_mut()
            .find(|a| id::<V>(a).map(str::to_string) == new_id)
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

    /// API requests received, including those answered 401 or 429.
    pub fn api_requests(&self) -> usize {
        self.lock().api_requests
    }
}

/// One OAuth2 client and its alerts, plus the vendor's own knobs in `vendor`.
pub(crate) struct Tenant<V> {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    token_lifetime: Duration,
    /// Issued token → when it expires.
    tokens: HashMap<String, Instant>,
    issued: u64,
    rate_limited: u32,
    retry_after_secs: u64,
    pub(crate) max_page_size: usize,
    alerts: Vec<Value>,
    token_requests: usize,
    api_requests: usize,
    pub(crate) vendor: V,
}

/// Whether an API request may proceed, before any vendor-specific check.
pub(crate) enum Admission {
    /// A valid bearer token and no rate limiting.
    Admitted,
    /// Refused by [`Fake::rate_limit_next`]; the vendor answers 429 with this `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// No `Bearer` token, or one that is unknown, revoked or expired.
    Unauthorized,
}

impl<V: Vendor> Tenant<V> {
    /// A tenant accepting exactly this client, with no tokens and no alerts yet.
    pub(crate) fn new(
        client_id: &str,
        client_secret: &str,
        token_lifetime_secs: u64,
        max_page_size: usize,
        vendor: V,
    ) -> Self {
        Tenant {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_lifetime: Duration::from_secs(token_lifetime_secs),
            tokens: HashMap::new(),
            issued: 0,
            rate_limited: 0,
            retry_after_secs: 0,
            max_page_size,
            alerts: Vec::new(),
            token_requests: 0,
            api_requests: 0,
            vendor,
        }
    }

    /// Counts a token request; call it first, whatever the answer will be.
    pub(crate) fn count_token_request(&mut self) {
        self.token_requests += 1;
    }

    /// Issues a new token `{prefix}-{n}`; returns it and its lifetime (for `expires_in`).
    pub(crate) fn issue_token(&mut self, prefix: &str) -> (String, Duration) {
        self.issued += 1;
        let token = format!("{prefix}-{}", self.issued);
        let lifetime = self.token_lifetime;
        self.tokens.insert(token.clone(), Instant::now() + lifetime);
        (token, lifetime)
    }

    /// Counts an API request, then applies rate limiting and the bearer token check.
    pub(crate) fn admit(&mut self, headers: &HeaderMap) -> Admission {
        self.api_requests += 1;
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return Admission::RateLimited {
                retry_after_secs: self.retry_after_secs,
            };
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token.and_then(|t| self.tokens.get(t)) {
            Some(expires) if Instant::now() < *expires => Admission::Admitted,
            _ => Admission::Unauthorized,
        }
    }

    /// Alerts updated within `[since, until)` (all of them for `None`), oldest update first,
    /// ties by id.
    pub(crate) fn alerts_updated_within(
        &self,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Vec<&Value> {
        let mut matching: Vec<(DateTime<Utc>, &str, &Value)> = self
            .alerts
            .iter()
            .filter_map(|a| Some((updated::<V>(a)?, id::<V>(a)?, a)))
            .filter(|(t, _, _)| range.is_none_or(|(since, until)| since <= *t && *t < until))
            .collect();
        matching.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        matching.into_iter().map(|(_, _, a)| a).collect()
    }

    /// The alert with this id.
    pub(crate) fn alert(&self, alert_id: &str) -> Option<&Value> {
        self.alerts.iter().find(|a| id::<V>(a) == Some(alert_id))
    }
}

/// An alert's [`Vendor::ID_FIELD`].
pub(crate) fn id<V: Vendor>(alert: &Value) -> Option<&str> {
    alert.get(V::ID_FIELD).and_then(Value::as_str)
}

/// An alert's [`Vendor::UPDATED_FIELD`].
fn updated<V: Vendor>(alert: &Value) -> Option<DateTime<Utc>> {
    parse_time(alert.get(V::UPDATED_FIELD).and_then(Value::as_str)?)
}

/// An RFC 3339 time, in UTC.
pub(crate) fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
