//! Outbound notifications: webhooks (custom JSON, Slack, Microsoft Teams, JIRA) with
//! payload templates, HMAC signatures, retries and a delivery log, and SIEM exports (Splunk
//! HEC, Elasticsearch/OpenSearch `_bulk`).
//!
//! Every request goes through one [`GuardedClient`], which refuses loopback, private,
//! link-local and metadata addresses unless an allowlist says so, after DNS resolution, and
//! never follows redirects (a webhook URL is user input; without the guard it is a
//! server-side request forgery primitive against the cloud metadata service and internal
//! systems).
//!
//! The pipeline calls [`Dispatcher::dispatch`] with an event and what it knows
//! ([`NotificationContext`]); the dispatcher does the rest.

mod credential;
mod dispatch;
mod guard;
mod outbound;
pub mod presets;
mod retry;
pub mod siem;
mod signature;
pub mod template;
mod webhook;

pub use credential::Credential;
pub use dispatch::{DELIVERY_HEADER, Dispatcher, EVENT_HEADER, TargetOutcome, preview};
pub use guard::{OutboundPolicy, allow_hint, embedded_ipv4, is_public, normalize};
pub use outbound::{
    EXCERPT_CHARS, GuardedClient, OutboundRequest, OutboundResponse, parse_retry_after, redact_url,
};
pub use retry::{AttemptLog, AttemptReport, BodyCheck, DeliveryReport, RetryPolicy, deliver};
pub use signature::{SignatureError, VerifiedSignature, verify};
pub use template::{AlarmSummary, NotificationContext, Occasion, TemplateError};
pub use webhook::{Delivery, SIGNATURE_HEADER, WebhookSender, sign};

/// What can go wrong sending a notification.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The URL cannot be used.
    #[error("webhook url `{url}` is invalid: {reason}")]
    InvalidUrl {
        /// The URL (without credentials).
        url: String,
        /// Why.
        reason: String,
    },
    /// The URL resolves to an address the outbound policy refuses.
    #[error(
        "webhook url `{url}` resolves to {ip}, a non-public address; add it to the outbound allowlist (--outbound-allow {}) if this is intended",
        guard::allow_hint(*ip)
    )]
    Blocked {
        /// The URL.
        url: String,
        /// The refused address.
        ip: std::net::IpAddr,
    },
    /// The request failed (connection, timeout, TLS).
    #[error("webhook request to `{url}` failed: {source}")]
    Request {
        /// The URL.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The receiver answered with a non-2xx status.
    #[error("webhook `{url}` answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Webhooks, exports or the delivery log could not be read or written.
    #[error("{0}")]
    Store(#[from] riposte_store::StoreError),
}
