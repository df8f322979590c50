//! Ways of finding what came before a chain node, one per file, registered here.
//!
//! [`ANCESTRY`] walks from an event to the process that did it and from a process to its
//! parent; [`SESSIONS`] finds the logon a chain ran in. In each list the first lineage
//! that answers wins, so the surest evidence comes first (a Sysmon GUID is unique, a pid
//! is reused; a logon id names its session, a user's last SSH logon is a guess by time).

use super::index::Index;
use super::node::Node;

mod audit_session;
mod process_guid;
mod process_id;
mod ssh_session;
mod sudo_shell;
mod unlogged;
mod windows_logon;

/// One kind of evidence of what came before a node.
pub(crate) trait Lineage: Sync {
    /// Short stable name, for tracing.
    fn name(&self) -> &'static str;
    /// The node just before `node`: for a process its parent, for another event the
    /// process that did it, for a session lineage the logon.
    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>>;
}

/// Process ancestry, surest first.
pub(crate) static ANCESTRY: &[&dyn Lineage] = &[
    &process_guid::ProcessGuid,
    &process_id::ProcessId,
    &unlogged::Unlogged,
];

/// Logon sessions, surest first.
pub(crate) static SESSIONS: &[&dyn Lineage] = &[
    &windows_logon::WindowsLogon,
    &audit_session::AuditSession,
    &ssh_session::SshSession,
    &sudo_shell::SudoShell,
];

/// The node of event `pos`, when it exists.
pub(crate) fn node_at<'a>(ix: &Index<'a>, pos: usize) -> Option<Node<'a>> {
    ix.events.get(pos).map(|e| Node::from_event(e, pos))
}
