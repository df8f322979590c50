//! The parent as its child's event names it (`ParentImage`, `ParentProcessName`, the
//! parent pid) when its own creation is not in the logs: the chain's last process.

use super::Lineage;
use crate::chain::index::Index;
use crate::chain::node::Node;

pub(crate) struct Unlogged;

impl Lineage for Unlogged {
    fn name(&self) -> &'static str {
        "unlogged_parent"
    }

    fn before<'a>(&self, _: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        node.unlogged_parent()
    }
}
