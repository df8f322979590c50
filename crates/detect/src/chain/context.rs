//! What the chain's processes did before the alarm's event that may be its origin: one
//! finder per file, registered in [`FINDERS`].

use super::index::Index;
use super::node::Node;
use chrono::{DateTime, Utc};
use riposte_model::OriginKind;

mod connections;
mod downloads;

/// A candidate origin found beside a link.
pub(crate) struct Found {
    pub kind: OriginKind,
    pub event: usize,
    /// The link it concerns: the process that connected, the one that used the file.
    pub link: usize,
    pub remote_ip: Option<String>,
    pub description: String,
}

/// One kind of activity that can start a chain.
pub(crate) trait Finder: Sync {
    /// Short stable name, for tracing.
    fn name(&self) -> &'static str;
    /// Candidates among `links` (oldest first), before `until` (the alarm's event).
    fn find(&self, ix: &Index<'_>, links: &[Node<'_>], until: Option<DateTime<Utc>>) -> Vec<Found>;
}

/// Every finder; their results are kept in this order.
pub(crate) static FINDERS: &[&dyn Finder] = &[&downloads::Downloads, &connections::Connections];

/// Most candidates kept per finder and chain.
pub(crate) const MAX_FOUND: usize = 8;

/// The last component of a path, for descriptions.
pub(crate) fn short_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}
