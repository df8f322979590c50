//! Sysmon's `ProcessGuid` / `ParentProcessGuid`: unique per process and boot, so the
//! parent (or the actor of a Sysmon event) is found without guessing.

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;

pub(crate) struct ProcessGuid;

impl Lineage for ProcessGuid {
    fn name(&self) -> &'static str {
        "process_guid"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        let guid = node.parent.guid?;
        let pos = ix.process_by_guid(node.host, guid)?;
        (Some(pos) != node.event)
            .then(|| node_at(ix, pos))
            .flatten()
    }
}
