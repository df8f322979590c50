//! Sysmon 3 network connections made or accepted by the chain's processes before the
//! alarm's event (by the process's GUID, else its pid on the same host); loopback peers
//! are left out.

use super::{Finder, Found, MAX_FOUND, short_name};
use crate::chain::index::Index;
use crate::chain::node::Node;
use crate::observe::{self, attr};
use chrono::{DateTime, Utc};
use riposte_model::{Action, LinkKind, OriginKind};

pub(crate) struct Connections;

/// Connections kept per process.
const PER_PROCESS: usize = 3;

impl Finder for Connections {
    fn name(&self) -> &'static str {
        "connections"
    }

    fn find(&self, ix: &Index<'_>, links: &[Node<'_>], until: Option<DateTime<Utc>>) -> Vec<Found> {
        let mut out = Vec::new();
        for (li, node) in links.iter().enumerate() {
            if node.kind != LinkKind::Process || node.linux {
                continue;
            }
            let mut kept = 0;
            for &pos in ix.connections(node.host, node.guid, node.pid) {
                let Some(e) = ix.events.get(pos) else {
                    continue;
                };
                if let (Some(t), Some(until)) = (e.time, until)
                    && t > until
                {
                    break;
                }
                // A pid-only match must fall inside the process's life.
                if node.guid.is_none()
                    && let (Some(t), Some(start)) = (e.time, node.time)
                    && t < start
                {
                    continue;
                }
                let Some(ip) = attr(e, "remote_ip") else {
                    continue;
                };
                if !observe::ip(ip).is_some_and(observe::is_remote) {
                    continue;
                }
                let port = attr(e, "remote_port").unwrap_or("?");
                let who = node.image.map_or("a process", short_name);
                let description = if e.action == Action::NetworkIncoming {
                    format!("{who} accepted a connection from {ip}:{port}")
                } else {
                    format!("{who} connected to {ip}:{port}")
                };
                out.push(Found {
                    kind: OriginKind::NetworkConnection,
                    event: pos,
                    link: li,
                    remote_ip: Some(ip.to_string()),
                    description,
                });
                kept += 1;
                if kept == PER_PROCESS || out.len() == MAX_FOUND {
                    break;
                }
            }
            if out.len() == MAX_FOUND {
                break;
            }
        }
        out
    }
}
