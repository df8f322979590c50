//! Causality chains and root cause: from each alarm's events back through the process
//! ancestry and the logon session to the origin (a logon with its source address, a
//! network connection, a file download), as a list of links.
//!
//! Lookups are built once over all events (`index`); each alarm event is then walked
//! with the `lineage` registry: first to the process that did it, then parent by
//! parent (Sysmon GUID, else pid on the same host before the child and not reused), at
//! most [`MAX_DEPTH`] links and never through the same event twice; then to the logon
//! session of the oldest process that has one (Windows logon id, audit session, the
//! user's open SSH session). The `context` finders add the connections and downloads of
//! the chain's processes. The origin is, in this order: a remote logon, a download, a
//! connection, a local logon, the oldest process. Chains with the same links are one
//! chain listing every alarm that ends on it.

mod context;
pub(crate) mod index;
mod lineage;
mod node;

use crate::observe;
use crate::shorten;
use index::Index;
use lineage::{ANCESTRY, Lineage, SESSIONS};
use node::Node;
use riposte_model::{
    Action, Alarm, CausalityChain, ChainLink, ChainOrigin, Event, LinkKind, LinkRelation,
    OriginKind,
};
use std::collections::{HashMap, HashSet};

/// Most links followed up from an alarm's event.
pub const MAX_DEPTH: usize = 32;
/// Events of one alarm that are walked (an alarm over hundreds of events shares its chains).
pub const MAX_EVENTS_PER_ALARM: usize = 16;
/// Most chains returned.
pub const MAX_CHAINS: usize = 1_000;

/// The causality chains of `alarms` over `events` (the list their `event_refs` index).
/// Alarms are referred to by their position in `alarms`.
pub fn chains(alarms: &[Alarm], events: &[Event]) -> Vec<CausalityChain> {
    let ix = Index::build(events);
    let mut out: Vec<CausalityChain> = Vec::new();
    let mut by_key: HashMap<Vec<Option<usize>>, usize> = HashMap::new();
    for (ai, alarm) in alarms.iter().enumerate() {
        let refs = alarm
            .event_refs
            .iter()
            .filter_map(|&r| usize::try_from(r).ok())
            .filter(|&r| {
                events
                    .get(r)
                    .is_some_and(|e| e.action != Action::UserLogonFailed)
            })
            .take(MAX_EVENTS_PER_ALARM);
        for pos in refs {
            let Some(walked) = walk(&ix, pos) else {
                continue;
            };
            let key: Vec<Option<usize>> = walked.links.iter().map(|n| n.event).collect();
            if let Some(&ci) = by_key.get(&key) {
                let alarms = &mut out[ci].alarms;
                if !alarms.contains(&(ai as u64)) {
                    alarms.push(ai as u64);
                }
                continue;
            }
            if out.len() == MAX_CHAINS {
                continue;
            }
            by_key.insert(key, out.len());
            out.push(build(&ix, walked, ai, alarm));
        }
    }
    out
}

struct Walked<'a> {
    /// Oldest first; the alarm's event last.
    links: Vec<Node<'a>>,
    truncated: bool,
}

/// The links from event `pos` back to its origin, or `None` when there is nothing to
/// tell (a lone event with no process, session or remote peer behind it).
fn walk<'a>(ix: &Index<'a>, pos: usize) -> Option<Walked<'a>> {
    let start = Node::from_event(ix.events.get(pos)?, pos);
    let mut nodes = vec![start];
    let mut seen = HashSet::from([pos]);
    let mut truncated = false;
    while let Some(current) = nodes.last() {
        if current.event.is_none() || current.kind == LinkKind::Logon {
            break;
        }
        let Some(before) = ANCESTRY.iter().find_map(|l| step(*l, ix, current)) else {
            break;
        };
        if before.event.is_some_and(|e| !seen.insert(e)) {
            truncated = true; // a cycle (odd or forged input)
            break;
        }
        if nodes.len() == MAX_DEPTH {
            truncated = true;
            break;
        }
        nodes.push(before);
    }
    let top_is_logon = nodes.last().is_some_and(|n| n.kind == LinkKind::Logon);
    if !top_is_logon
        && let Some(session) = nodes
            .iter()
            .rev()
            .find_map(|n| SESSIONS.iter().find_map(|l| step(*l, ix, n)))
    {
        // A session step may land on what opened the session (a sudo shell) rather than
        // the logon: one more step finds the logon of whoever opened it.
        let opener = (session.kind != LinkKind::Logon)
            .then(|| SESSIONS.iter().find_map(|l| step(*l, ix, &session)))
            .flatten()
            .filter(|n| n.event.is_none_or(|e| seen.insert(e)));
        if session.event.is_none_or(|e| seen.insert(e)) {
            nodes.push(session);
            nodes.extend(opener);
        }
    }
    nodes.reverse();
    let remote_logon = nodes
        .first()
        .is_some_and(|n| n.kind == LinkKind::Logon && is_remote(n));
    if nodes.len() < 2 && !remote_logon && !has_context(ix, &nodes) {
        return None;
    }
    Some(Walked {
        links: nodes,
        truncated,
    })
}

fn step<'a>(lineage: &dyn Lineage, ix: &Index<'a>, node: &Node<'a>) -> Option<Node<'a>> {
    let before = lineage.before(ix, node)?;
    tracing::trace!(
        lineage = lineage.name(),
        from = ?node.event,
        to = ?before.event,
        "causality step"
    );
    Some(before)
}

fn is_remote(n: &Node<'_>) -> bool {
    n.remote_ip
        .and_then(observe::ip)
        .is_some_and(observe::is_remote)
}

fn has_context(ix: &Index<'_>, nodes: &[Node<'_>]) -> bool {
    let until = nodes.last().and_then(|n| n.time);
    context::FINDERS
        .iter()
        .any(|f| !f.find(ix, nodes, until).is_empty())
}

fn build(ix: &Index<'_>, walked: Walked<'_>, ai: usize, alarm: &Alarm) -> CausalityChain {
    let Walked { links, truncated } = walked;
    let until = links.last().and_then(|n| n.time);
    let context: Vec<ChainOrigin> = context::FINDERS
        .iter()
        .flat_map(|f| {
            let found = f.find(ix, &links, until);
            tracing::trace!(finder = f.name(), found = found.len(), "chain context");
            found
        })
        .map(|found| {
            let e = ix.events.get(found.event);
            ChainOrigin {
                kind: found.kind,
                event: Some(found.event as u64),
                time: e.and_then(|e| e.time),
                remote_ip: found.remote_ip,
                user: links
                    .get(found.link)
                    .and_then(|n| n.user)
                    .map(str::to_string),
                logon_type: None,
                link: Some(found.link as u64),
                description: found.description,
            }
        })
        .collect();
    let host = links.last().map_or("", |n| n.host).to_string();
    let chain_links: Vec<ChainLink> = links
        .iter()
        .enumerate()
        .map(|(i, n)| link(n, links.get(i + 1)))
        .collect();
    let origin = origin(&links, &chain_links, &context);
    let summary = summary(&origin, &chain_links, alarm);
    CausalityChain {
        alarms: vec![ai as u64],
        host,
        origin,
        links: chain_links,
        context,
        summary,
        truncated,
    }
}

fn link(n: &Node<'_>, next: Option<&Node<'_>>) -> ChainLink {
    let relation = next.map(|next| match (n.kind, next.kind) {
        (LinkKind::Logon, _) => LinkRelation::LogonSession,
        (_, LinkKind::Process) => LinkRelation::ParentOf,
        _ => LinkRelation::Performed,
    });
    ChainLink {
        event: n.event.map(|e| e as u64),
        time: n.time,
        kind: n.kind,
        relation,
        process: n.image.map(str::to_string),
        command: n.cmd.map(str::to_string),
        pid: n.pid.map(|p| p.to_string()),
        user: n.user.map(str::to_string),
        host: n.host.to_string(),
        remote_ip: n.remote_ip.map(str::to_string),
        description: describe(n),
    }
}

/// One line for a node: the logon, the command, or the event's message.
fn describe(n: &Node<'_>) -> String {
    match n.kind {
        LinkKind::Logon => logon_phrase(n),
        LinkKind::Process => {
            let name = n.image.map(context::short_name);
            let what = match (n.message, n.cmd, name) {
                (Some(sudo_line), Some(_), _) => shorten(sudo_line, 80),
                (_, Some(cmd), _) => shorten(cmd.trim(), 80),
                (_, None, Some(name)) => name.to_string(),
                (_, None, None) => "a process".to_string(),
            };
            match (n.event, n.pid) {
                (None, Some(pid)) => format!("{what} (pid {pid}; its start is not in the logs)"),
                (None, None) => format!("{what} (its start is not in the logs)"),
                _ => what,
            }
        }
        LinkKind::Event => shorten(n.message.unwrap_or("event"), 80),
    }
}

/// "RDP logon (type 10) from 10.0.0.5 as bob", "SSH logon from 1.2.3.4 as alice".
fn logon_phrase(n: &Node<'_>) -> String {
    let kind = match n.logon_type {
        Some(t) => format!("{} logon (type {t})", logon_type_name(t)),
        None if n.linux => match n.event {
            Some(_) if n.audit_ses.is_some() => "Audited logon".to_string(),
            _ => "SSH logon".to_string(),
        },
        None => "Logon".to_string(),
    };
    let mut s = kind;
    if let Some(ip) = n.remote_ip {
        s.push_str(&format!(" from {ip}"));
    }
    if let Some(user) = n.user {
        s.push_str(&format!(" as {user}"));
    }
    s
}

fn logon_type_name(t: &str) -> &'static str {
    match t {
        "2" => "Interactive",
        "3" => "Network",
        "4" => "Batch",
        "5" => "Service",
        "7" => "Unlock",
        "8" => "Network cleartext",
        "9" => "New credentials",
        "10" => "RDP",
        "11" => "Cached interactive",
        "12" => "Cached RDP",
        "13" => "Cached unlock",
        _ => "Windows",
    }
}

/// A remote logon, a download, a connection, a local logon, the oldest process: the
/// first there is.
fn origin(nodes: &[Node<'_>], links: &[ChainLink], context: &[ChainOrigin]) -> ChainOrigin {
    let logon = nodes
        .first()
        .filter(|n| n.kind == LinkKind::Logon)
        .map(|n| ChainOrigin {
            kind: OriginKind::Logon,
            event: n.event.map(|e| e as u64),
            time: n.time,
            remote_ip: n.remote_ip.map(str::to_string),
            user: n.user.map(str::to_string),
            logon_type: n.logon_type.map(str::to_string),
            link: Some(0),
            description: logon_phrase(n),
        });
    let remote = nodes.first().is_some_and(is_remote);
    let of_kind = |kind| context.iter().find(|c| c.kind == kind).cloned();
    match logon {
        Some(l) if remote => l,
        l => of_kind(OriginKind::FileDownload)
            .or_else(|| of_kind(OriginKind::NetworkConnection))
            .or(l)
            .unwrap_or_else(|| {
                let top = links.first();
                ChainOrigin {
                    kind: OriginKind::Process,
                    event: top.and_then(|l| l.event),
                    time: top.and_then(|l| l.time),
                    remote_ip: None,
                    user: top.and_then(|l| l.user.clone()),
                    logon_type: None,
                    link: Some(0),
                    description: top.map_or_else(String::new, |l| l.description.clone()),
                }
            }),
    }
}

/// The origin, then the links after it, then the alarm: "SSH logon from 1.2.3.4 as bob →
/// sudo bash → … (alarm: …)".
fn summary(origin: &ChainOrigin, links: &[ChainLink], alarm: &Alarm) -> String {
    let start = origin.link.map_or(0, |l| l as usize);
    // A download is told before the process that used the file; a logon, a connection or
    // the oldest process is that link itself.
    let from = if origin.kind == OriginKind::FileDownload {
        start
    } else {
        start + 1
    };
    let mut parts = vec![origin.description.clone()];
    parts.extend(links.iter().skip(from).map(|l| l.description.clone()));
    format!("{} (alarm: {})", parts.join(" → "), alarm.title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_have_unique_names() {
        let mut names: Vec<&str> = ANCESTRY
            .iter()
            .chain(SESSIONS)
            .map(|l| l.name())
            .chain(context::FINDERS.iter().map(|f| f.name()))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn no_events_no_chains() {
        let alarm = Alarm {
            detector: "d".into(),
            title: "t".into(),
            description: String::new(),
            severity: riposte_model::Severity::High,
            mitre: Vec::new(),
            event_refs: vec![0, 7, u64::MAX],
            rule_id: None,
            files: Vec::new(),
            hunting: false,
        };
        assert!(chains(&[alarm], &[]).is_empty());
    }
}
