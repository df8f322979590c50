//! Riposte's HTTP API. Handlers are thin: parse at the edge (`riposte-sources`), store
//! before answering (`riposte-store`), and leave the rest to the durable pipeline
//! (`riposte-worker`). Every route but `/health` needs an API key.
//!
//! The OpenAPI 3.1 document of every route is served at `GET /api/v1/openapi.json` (see
//! [`openapi()`]); it is generated from the same route table as the router.

mod auth;
mod console;
mod error;
mod openapi;
mod routes;

pub use auth::Caller;
pub use error::ApiError;
pub use openapi::{API_KEY_SCHEME, openapi};
pub use routes::parse_event_query;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use riposte_notify::OutboundPolicy;
use riposte_rules::EvidenceRoots;
use riposte_store::{MasterKey, Store};
use riposte_worker::group_commit::IntakeWriter;
use std::sync::OnceLock;

/// Largest request body accepted (alerts are small; anything bigger is refused with 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Seals and opens integration secrets and connection credentials.
    pub master_key: MasterKey,
    /// The server's external base URL (integration URLs are built from it).
    pub public_url: String,
    /// Which non-public addresses outbound calls (vendor APIs) may reach.
    pub outbound: OutboundPolicy,
    /// Folders environments' local scopes may point into (`--evidence-library`).
    pub evidence_roots: EvidenceRoots,
    /// Stores accepted alerts, committing concurrent requests together.
    pub intake: IntakeWriter,
}

impl AppState {
    /// State with the given store and key, for `http://127.0.0.1:8080` and the default
    /// outbound policy.
    pub fn new(store: Store, master_key: MasterKey) -> Self {
        AppState {
            intake: IntakeWriter::new(store.clone()),
            store,
            master_key,
            public_url: "http://127.0.0.1:8080".into(),
            outbound: OutboundPolicy::default(),
            evidence_roots: EvidenceRoots::default(),
        }
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then we render an empty registry.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The API router.
pub fn router(state: AppState) -> Router {
    metrics_handle();
    // Built once per process, from the same route table, before the first request needs it.
    openapi();
    let (router, _) = routes::routes().split_for_parts();
    router
        .merge(console::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
