//! Linux logs name no session on a command (sudo in auth.log, a history line): the
//! session is the user's last remote logon on the host before the command that had not
//! ended by then (its `session closed` from the same sshd pid, or its `Disconnected`
//! from the same address and port).

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;
use riposte_model::LinkKind;

pub(crate) struct SshSession;

impl Lineage for SshSession {
    fn name(&self) -> &'static str {
        "ssh_session"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        if !node.linux || node.kind == LinkKind::Logon {
            return None;
        }
        let pos = ix.ssh_logon(node.host, node.user?, node.time?)?;
        node_at(ix, pos)
    }
}
