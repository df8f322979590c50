//! Outbound notifications. Today: JSON webhooks, HMAC-signed, that refuse to reach
//! loopback, private, link-local or metadata addresses unless an allowlist says so
//! (a webhook URL is user input; without the guard it is a server-side request forgery
//! primitive against the cloud metadata service and internal systems).

mod guard;
mod signature;
mod webhook;

pub use guard::{OutboundPolicy, is_public};
pub use signature::{SignatureError, VerifiedSignature, verify};
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
        "webhook url `{url}` resolves to {ip}, a non-public address; add it to the outbound allowlist (--outbound-allow {ip}/32) if this is intended"
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
}
