//! Parent by process id (4688 `ProcessId`, Sysmon `ParentProcessId`, auditd `ppid`, the
//! actor's pid of other events): the creation of that pid on the same host, the last
//! before the child started and not exited since, so a reused pid is not taken for it.

use super::{Lineage, node_at};
use crate::chain::index::Index;
use crate::chain::node::Node;

pub(crate) struct ProcessId;

impl Lineage for ProcessId {
    fn name(&self) -> &'static str {
        "process_id"
    }

    fn before<'a>(&self, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
        let pid = node.parent.pid?;
        let pos = ix.process_by_pid(node.host, pid, node.time)?;
        (Some(pos) != node.event)
            .then(|| node_at(ix, pos))
            .flatten()
    }
}
