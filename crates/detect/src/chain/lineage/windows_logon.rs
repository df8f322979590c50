//! The Windows logon session of a process (Sysmon `LogonId`, 4688 `TargetLogonId` or
//! `SubjectLogonId`, other Security events' `SubjectLogonId`): the 4624 whose
//! `TargetLogonId` (or `TargetLinkedLogonId`, for an elevated token) it is.

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;

pub(crate) struct WindowsLogon;

impl Lineage for WindowsLogon {
    fn name(&self) -> &'static str {
        "windows_logon"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        let pos = ix.windows_logon(node.host, node.logon_id?, node.time)?;
        node_at(ix, pos)
    }
}
