//! Matching an alert's target to a host of the library.
//!
//! Keys are tried in order: instance id (equal to the folder name or a host name), host
//! name (case-insensitive, short name against FQDN both ways, exact matches preferred),
//! then IP. The first key that matches exactly one host wins. When a key matches several
//! hosts, the later keys narrow them down; if they cannot, the target is ambiguous and
//! nothing is picked: investigating the wrong host is worse than investigating none.

use crate::LibraryHost;
use crate::identity::hostname_matches;
use riposte_model::Target;
use serde::Serialize;
use std::net::IpAddr;
use std::path::Path;

/// How many host keys a "not found" reason lists.
const MAX_LISTED_HOSTS: usize = 20;

/// The outcome of resolving a target against the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Resolution {
    /// One host matched.
    Found {
        /// The host.
        host: LibraryHost,
        /// What matched, e.g. `hostname web01` or `ip 10.0.0.5`.
        matched_on: String,
    },
    /// No host, or more than one, matched.
    NotFound {
        /// What was tried and which hosts exist, for the analyst.
        reason: String,
    },
}

/// One identifying key of the target and the hosts it matches, with how.
struct Key {
    matches: Vec<(usize, String)>,
}

/// Resolves `target` among `hosts` (the library at `root`).
pub(crate) fn resolve_in(root: &Path, mut hosts: Vec<LibraryHost>, target: &Target) -> Resolution {
    let wanted = describe(target);
    if wanted.is_empty() {
        return Resolution::NotFound {
            reason: "the target names no instance id, hostname or IP to look for".to_string(),
        };
    }
    let keys = keys(&hosts, target);
    for (i, key) in keys.iter().enumerate() {
        if key.matches.is_empty() {
            continue;
        }
        let mut candidates = key.matches.clone();
        for later in &keys[i + 1..] {
            if candidates.len() == 1 {
                break;
            }
            let narrowed: Vec<(usize, String)> = candidates
                .iter()
                .filter_map(|(h, on)| {
                    let (_, later_on) = later.matches.iter().find(|(l, _)| l == h)?;
                    Some((*h, format!("{on} and {later_on}")))
                })
                .collect();
            if !narrowed.is_empty() {
                candidates = narrowed;
            }
        }
        if let [(index, matched_on)] = candidates.as_slice() {
            let host = hosts.swap_remove(*index);
            return Resolution::Found {
                host,
                matched_on: matched_on.clone(),
            };
        }
        let names: Vec<&str> = candidates
            .iter()
            .map(|(h, _)| hosts[*h].key.as_str())
            .collect();
        return Resolution::NotFound {
            reason: format!(
                "{wanted} is ambiguous in {}: it matches hosts {}; give a more specific target",
                root.display(),
                names.join(", ")
            ),
        };
    }
    Resolution::NotFound {
        reason: format!(
            "no host in {} matches {wanted}; {}",
            root.display(),
            known(&hosts)
        ),
    }
}

/// The target's keys, in resolution order, with the hosts each matches.
fn keys(hosts: &[LibraryHost], target: &Target) -> Vec<Key> {
    let mut keys = Vec::new();
    if let Some(id) = given(&target.instance_id) {
        let matches = hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.key.eq_ignore_ascii_case(id) || h.names.iter().any(|n| n.eq_ignore_ascii_case(id))
            })
            .map(|(i, _)| (i, format!("instance id {id}")))
            .collect();
        keys.push(Key { matches });
    }
    if let Some(wanted) = given(&target.hostname) {
        let find = |exact: bool| -> Vec<(usize, String)> {
            hosts
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    let name = h.names.iter().find(|n| {
                        if exact {
                            same_name(wanted, n)
                        } else {
                            hostname_matches(wanted, n)
                        }
                    })?;
                    let on = if same_name(wanted, name) {
                        format!("hostname {wanted}")
                    } else {
                        format!("hostname {wanted} (as {name})")
                    };
                    Some((i, on))
                })
                .collect()
        };
        let exact = find(true);
        keys.push(Key {
            matches: if exact.is_empty() { find(false) } else { exact },
        });
    }
    let ips = target_ips(target);
    if !ips.is_empty() {
        let matches = hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let ip = ips.iter().find(|ip| h.ips.contains(ip))?;
                Some((i, format!("ip {ip}")))
            })
            .collect();
        keys.push(Key { matches });
    }
    keys
}

/// The target's IPs, plus its hostname when that is really an address.
fn target_ips(target: &Target) -> Vec<IpAddr> {
    let from_name = given(&target.hostname).and_then(|h| h.parse::<IpAddr>().ok());
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in target.ips.iter().copied().chain(from_name) {
        let ip = ip.to_canonical();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// "instance id 'i-1', hostname 'web01', ips [10.0.0.5]", or empty when nothing is given.
fn describe(target: &Target) -> String {
    let mut parts = Vec::new();
    if let Some(id) = given(&target.instance_id) {
        parts.push(format!("instance id '{id}'"));
    }
    if let Some(h) = given(&target.hostname) {
        parts.push(format!("hostname '{h}'"));
    }
    if !target.ips.is_empty() {
        let ips: Vec<String> = target.ips.iter().map(IpAddr::to_string).collect();
        parts.push(format!("ips [{}]", ips.join(", ")));
    }
    parts.join(", ")
}

/// "known hosts: a, b" (capped), or a note that the library is empty.
fn known(hosts: &[LibraryHost]) -> String {
    if hosts.is_empty() {
        return "the library has no host folders".to_string();
    }
    let list: Vec<&str> = hosts
        .iter()
        .take(MAX_LISTED_HOSTS)
        .map(|h| h.key.as_str())
        .collect();
    let more = hosts.len().saturating_sub(MAX_LISTED_HOSTS);
    let extra = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("known hosts: {}{extra}", list.join(", "))
}

#[cfg(test)]
mod tests;
