//! Fake vendor APIs for tests: small axum servers on loopback that implement the documented
//! token and alert endpoints of the vendors Riposte polls, with knobs for the failure modes a
//! poller must survive (expired tokens, 429 rate limiting, pagination, late updates);
//! [`moto`], a private real AWS emulator (EC2, IAM, STS, EBS direct) per test; and
//! [`proxy`], a fault-injecting proxy (latency, canned throttling and 5xx) to put in
//! front of it.
//!
//! Test-only: nothing in the product depends on this crate.

pub mod crowdstrike;
pub mod defender;
pub mod guardduty;
pub mod moto;
pub mod oauth;
pub mod proxy;

use std::net::SocketAddr;

/// A running fake server; it stops when dropped.
pub struct FakeServer {
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Serves `router` on an ephemeral loopback port.
    pub async fn start(router: axum::Router) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake server");
        let addr = listener.local_addr().expect("fake server address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeServer { addr, task }
    }

    /// `http://127.0.0.1:port`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
