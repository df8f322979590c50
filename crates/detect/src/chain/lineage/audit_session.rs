//! auditd's session id (`ses`): the USER_LOGIN that opened it.

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;
use riposte_model::LinkKind;

pub(crate) struct AuditSession;

impl Lineage for AuditSession {
    fn name(&self) -> &'static str {
        "audit_session"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        if node.kind == LinkKind::Logon {
            return None;
        }
        let pos = ix.audit_logon(node.host, node.audit_ses?, node.time)?;
        node_at(ix, pos)
    }
}
