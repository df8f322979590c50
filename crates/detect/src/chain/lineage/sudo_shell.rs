//! A command run as a user who never logged on (root's history) came from a shell another
//! user opened with sudo (`sudo -i`, `sudo su`, `sudo bash`): the sudo line of that shell,
//! the last one before the command — or, for a history line without a time, the only one
//! on the host. The sudo line's own user then leads to their logon.

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;
use riposte_model::LinkKind;

pub(crate) struct SudoShell;

impl Lineage for SudoShell {
    fn name(&self) -> &'static str {
        "sudo_shell"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        if !node.linux || node.kind == LinkKind::Logon {
            return None;
        }
        let pos = ix.sudo_shell(node.host, node.user?, node.time)?;
        if node.event == Some(pos) {
            return None;
        }
        node_at(ix, pos)
    }
}
