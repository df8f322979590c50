//! JSON webhooks, signed with HMAC-SHA256 and pinned to the address the guard checked.

use crate::outbound::{GuardedClient, OutboundRequest, redact_url};
use crate::{NotifyError, OutboundPolicy};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::SocketAddr;

/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` when a secret is set.
pub const SIGNATURE_HEADER: &str = "X-Riposte-Signature";

/// The result of a delivered webhook.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// HTTP status returned by the receiver.
    pub status: u16,
    /// The address the request went to.
    pub addr: SocketAddr,
}

/// Sends webhooks under an outbound policy.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: GuardedClient,
}

/// The signature header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

impl WebhookSender {
    /// A sender with a 15-second timeout.
    pub fn new(policy: OutboundPolicy) -> Self {
        WebhookSender {
            client: GuardedClient::new(policy),
        }
    }

    /// Posts `body` as JSON to `url`. Every address the host resolves to must pass the
    /// policy, and the request is pinned to the checked address (no DNS rebinding); redirects
    /// are not followed.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        secret: Option<&str>,
    ) -> Result<Delivery, NotifyError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut request = OutboundRequest::post(url, "application/json", bytes);
        if let Some(secret) = secret {
            let signature = sign(secret, chrono::Utc::now().timestamp(), &request.body);
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let response = self.client.send(&request).await?;
        let shown = redact_url(url);
        if !(200..300).contains(&response.status) {
            return Err(NotifyError::Status {
                url: shown,
                status: response.status,
            });
        }
        tracing::info!(url = %shown, status = response.status, "webhook delivered");
        Ok(Delivery {
            status: response.status,
            addr: response.addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, http::HeaderMap, routing::post};
    use std::sync::{Arc, Mutex};

    async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, String)>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((headers, body));
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/hook"), got)
    }

    #[tokio::test]
    async fn loopback_receiver_is_refused_by_default_and_reached_when_allowlisted() {
        let (url, got) = receiver().await;
        let body = serde_json::json!({"text": "hi"});
        let err = WebhookSender::new(OutboundPolicy::default())
            .post_json(&url, &body, None)
            .await
            .unwrap_err();
        assert!(matches!(err, NotifyError::Blocked { .. }), "{err}");
        assert!(
            got.lock().unwrap().is_empty(),
            "nothing may be sent to a refused address"
        );

        let allowed = OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        let d = WebhookSender::new(allowed)
            .post_json(&url, &body, Some("s3cret"))
            .await
            .unwrap();
        assert_eq!(d.status, 200);
        let got = got.lock().unwrap();
        let (headers, text) = &got[0];
        assert_eq!(text, r#"{"text":"hi"}"#);
        let sig = headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap();
        let t: i64 = sig
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(
            sig,
            sign("s3cret", t, text.as_bytes()),
            "signature verifies over t.body"
        );
    }

    #[tokio::test]
    async fn bad_urls_are_explained() {
        let s = WebhookSender::new(OutboundPolicy::default());
        let body = serde_json::json!({});
        for url in ["not a url", "ftp://example.com/x", "file:///etc/passwd"] {
            assert!(
                matches!(
                    s.post_json(url, &body, None).await.unwrap_err(),
                    NotifyError::InvalidUrl { .. }
                ),
                "{url}"
            );
        }
        let err = s
            .post_json("http://169.254.169.254/latest/meta-data/", &body, None)
            .await
            .unwrap_err();
        assert!(matches!(err, NotifyError::Blocked { .. }));
        assert!(err.to_string().contains("--outbound-allow"));
    }
}
