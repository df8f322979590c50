//! Host containment through the XDR that manages the host (the "Contain host" response
//! action): CrowdStrike Falcon network containment and Defender for Endpoint machine
//! isolation. Each vendor is one module implementing [`HostContainment`], speaking the same
//! OAuth2 client-credentials auth as its poller.
//!
//! Every call returns a [`ContainmentRecord`] saying what changed, so a later release undoes
//! exactly that: a host that was already contained before Riposte acted is not released by
//! Riposte.

pub mod crowdstrike;
pub mod defender;

use crate::poll::PollError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Contain or release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainmentAction {
    /// Cut the host off the network (the XDR's own channel stays up).
    Contain,
    /// Undo a containment.
    Release,
}

/// What a containment call did, kept on the investigation so it can be released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainmentRecord {
    /// `crowdstrike` or `defender`.
    pub vendor: String,
    /// The vendor's host id (Falcon device id, Defender machine id).
    pub host_id: String,
    /// What was asked.
    pub action: ContainmentAction,
    /// Whether Riposte changed the host's state (false: it already was in that state).
    pub changed: bool,
    /// The host's state before, as the vendor names it, when the vendor says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<String>,
    /// The vendor's id of the action it started (Defender machine action id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_action_id: Option<String>,
    /// The comment recorded with the action at the vendor.
    pub comment: String,
    /// When the call returned.
    pub at: DateTime<Utc>,
}

/// Contains and releases hosts through one XDR tenant.
#[async_trait]
pub trait HostContainment: Send + Sync + std::fmt::Debug {
    /// `crowdstrike` or `defender`.
    fn vendor(&self) -> &'static str;

    /// Contains the host `host_id`, recording `comment` with the vendor.
    async fn contain(&self, host_id: &str, comment: &str) -> Result<ContainmentRecord, PollError>;

    /// Undoes `contained` (a record [`contain`](Self::contain) returned). When that call
    /// changed nothing, nothing is released and the record says so.
    async fn release(
        &self,
        contained: &ContainmentRecord,
        comment: &str,
    ) -> Result<ContainmentRecord, PollError>;
}

/// Checks a vendor host id before it goes into a URL or body: letters, digits and `-`.
pub(crate) fn host_id(id: &str) -> Result<&str, PollError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(PollError::Config(format!(
            "host id {id:?} is not a vendor host id (letters, digits and -)"
        )));
    }
    Ok(id)
}

/// The record of a release that had nothing to undo.
pub(crate) fn nothing_to_release(
    contained: &ContainmentRecord,
    comment: &str,
) -> ContainmentRecord {
    ContainmentRecord {
        vendor: contained.vendor.clone(),
        host_id: contained.host_id.clone(),
        action: ContainmentAction::Release,
        changed: false,
        previous_state: contained.previous_state.clone(),
        vendor_action_id: None,
        comment: comment.to_string(),
        at: Utc::now(),
    }
}

/// Refuses to release a record of another vendor or of a release.
pub(crate) fn releasable(vendor: &str, contained: &ContainmentRecord) -> Result<(), PollError> {
    if contained.vendor != vendor || contained.action != ContainmentAction::Contain {
        return Err(PollError::Config(format!(
            "cannot release a {} {:?} record with the {vendor} client",
            contained.vendor, contained.action
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_cannot_smuggle_paths_or_queries() {
        assert!(host_id("1234567890abcdef1234567890abcdef").is_ok());
        for bad in ["", "../machines", "a?b=c", "a/b", "a b", &"a".repeat(129)] {
            assert!(host_id(bad).is_err(), "{bad}");
        }
    }
}
