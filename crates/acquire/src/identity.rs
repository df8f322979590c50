//! Who a collection belongs to: host names and IPs read from the collection itself.
//!
//! Sources, all optional: the folder name; `etc/hostname` (`etc/HOSTNAME` on SUSE);
//! `HOSTNAME=` in RHEL's `etc/sysconfig/network`; the `127.0.1.1` line of `etc/hosts`
//! (where Debian writes the host name); addresses in netplan YAML, RHEL `ifcfg-*`,
//! NetworkManager keyfiles and Debian `etc/network/interfaces`; and the `etc/hosts`
//! lines that describe this host (see [`read`]).

use crate::safe;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Largest identity file read; real ones are a few hundred bytes.
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;
/// Where Debian's installer maps the host's own name in `etc/hosts`.
const DEBIAN_HOSTNAME_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1));

/// The identity a host key alone gives: an IP when it is one, else a name.
pub(crate) fn from_key(key: &str) -> (Vec<String>, Vec<IpAddr>) {
    let mut names = Vec::new();
    let mut ips = Vec::new();
    match key.parse::<IpAddr>() {
        Ok(ip) => push_ip(&mut ips, ip),
        Err(_) => push_name(&mut names, key),
    }
    (names, ips)
}

/// The names (lowercase, first seen first) and IPs of the collection at `root`,
/// stored in a library folder called `key`.
///
/// A non-loopback `etc/hosts` line counts only when its IP is one the configuration
/// gives the host, or one of its names is the host's own: hosts files also list other
/// machines (`10.0.0.9 db01`), and web01 must not answer to db01's alerts.
pub(crate) fn read(key: &str, root: &Path) -> (Vec<String>, Vec<IpAddr>) {
    let text = |rel: &[&str]| safe::read_small(root, rel, MAX_IDENTITY_FILE);
    let (mut names, mut ips) = from_key(key);
    for rel in [&["etc", "hostname"][..], &["etc", "HOSTNAME"]] {
        if let Some(name) = text(rel).as_deref().and_then(parse_hostname) {
            push_name(&mut names, &name);
        }
    }
    if let Some(name) = text(&["etc", "sysconfig", "network"])
        .as_deref()
        .and_then(parse_sysconfig_hostname)
    {
        push_name(&mut names, &name);
    }

    let mut configured = Vec::new();
    for file in safe::files_in(root, &["etc", "netplan"]) {
        if file.ends_with(".yaml") || file.ends_with(".yml") {
            configured.extend(
                text(&["etc", "netplan", &file])
                    .as_deref()
                    .map(parse_netplan)
                    .unwrap_or_default(),
            );
        }
    }
    for file in safe::files_in(root, &["etc", "sysconfig", "network-scripts"]) {
        if file.starts_with("ifcfg-") {
            configured.extend(
                text(&["etc", "sysconfig", "network-scripts", &file])
                    .as_deref()
                    .map(parse_ifcfg)
                    .unwrap_or_default(),
            );
        }
    }
    for file in safe::files_in(root, &["etc", "NetworkManager", "system-connections"]) {
        configured.extend(
            text(&["etc", "NetworkManager", "system-connections", &file])
                .as_deref()
                .map(parse_keyfile)
                .unwrap_or_default(),
        );
    }
    configured.extend(
        text(&["etc", "network", "interfaces"])
            .as_deref()
            .map(parse_interfaces)
            .unwrap_or_default(),
    );
    for file in safe::files_in(root, &["etc", "network", "interfaces.d"]) {
        configured.extend(
            text(&["etc", "network", "interfaces.d", &file])
                .as_deref()
                .map(parse_interfaces)
                .unwrap_or_default(),
        );
    }
    for ip in configured {
        push_ip(&mut ips, ip);
    }

    let hosts = text(&["etc", "hosts"])
        .as_deref()
        .map(parse_hosts)
        .unwrap_or_default();
    for (ip, line_names) in &hosts {
        if *ip == DEBIAN_HOSTNAME_IP {
            line_names.iter().for_each(|n| push_name(&mut names, n));
        }
    }
    let own_names = names.clone();
    for (ip, line_names) in &hosts {
        if !is_host_ip(*ip) {
            continue;
        }
        let mine = ips.contains(ip)
            || line_names
                .iter()
                .any(|n| own_names.iter().any(|own| hostname_matches(own, n)));
        if mine {
            push_ip(&mut ips, *ip);
            line_names.iter().for_each(|n| push_name(&mut names, n));
        }
    }
    (names, ips)
}

/// True when `wanted` names the host called `name`: equal ignoring case and a trailing
/// dot, or a short name equal to the other's first label (`web01` ~ `web01.corp.local`).
pub(crate) fn hostname_matches(wanted: &str, name: &str) -> bool {
    let w = wanted.trim().trim_end_matches('.');
    let n = name.trim().trim_end_matches('.');
    if w.is_empty() || n.is_empty() {
        return false;
    }
    let first_label = |s: &str| s.split('.').next().unwrap_or(s).to_string();
    w.eq_ignore_ascii_case(n)
        || (!w.contains('.') && w.eq_ignore_ascii_case(&first_label(n)))
        || (!n.contains('.') && n.eq_ignore_ascii_case(&first_label(w)))
}

/// Addresses that can identify a machine (not loopback, unspecified or multicast).
fn is_host_ip(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast())
}

fn push_ip(ips: &mut Vec<IpAddr>, ip: IpAddr) {
    let ip = ip.to_canonical();
    if is_host_ip(ip) && !ips.contains(&ip) {
        ips.push(ip);
    }
}

fn push_name(names: &mut Vec<String>, name: &str) {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if is_hostname(&name) && name.parse::<IpAddr>().is_err() && !names.contains(&name) {
        names.push(name);
    }
}

/// Plausible host name: letters, digits, `-`, `_`, `.`; at most 253 bytes; not `localhost`.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !s.eq_ignore_ascii_case("localhost")
        && !s.starts_with("localhost.")
}

/// The line without a `#` comment.
fn uncomment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// An address with an optional `/prefix`, quotes and a trailing `:` removed.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
    let addr = s.split('/').next().unwrap_or(s).trim();
    addr.parse()
        .ok()
        .or_else(|| addr.strip_suffix(':')?.parse().ok())
}

/// `etc/hostname`: the first non-comment word.
pub(crate) fn parse_hostname(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| uncomment(l).split_whitespace().next())
        .map(str::to_string)
}

/// RHEL `etc/sysconfig/network`: `HOSTNAME=web01`.
pub(crate) fn parse_sysconfig_hostname(text: &str) -> Option<String> {
    shell_vars(text)
        .find(|(k, _)| *k == "HOSTNAME")
        .map(|(_, v)| v.to_string())
}

/// `KEY=value` pairs of a shell-style file, quotes removed.
fn shell_vars(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|l| {
        let (k, v) = uncomment(l).trim().split_once('=')?;
        Some((k.trim(), v.trim().trim_matches(|c| c == '"' || c == '\'')))
    })
}

/// `etc/hosts`: each line's IP and names.
pub(crate) fn parse_hosts(text: &str) -> Vec<(IpAddr, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let mut words = uncomment(l).split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            Some((ip.to_canonical(), words.map(str::to_string).collect()))
        })
        .collect()
}

/// RHEL `ifcfg-*`: `IPADDR=`, `IPADDR0=`…, `IPV6ADDR=` and `IPV6ADDR_SECONDARIES=`.
pub(crate) fn parse_ifcfg(text: &str) -> Vec<IpAddr> {
    shell_vars(text)
        .filter(|(k, _)| {
            k.strip_prefix("IPADDR")
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                || *k == "IPV6ADDR"
                || *k == "IPV6ADDR_SECONDARIES"
        })
        .flat_map(|(_, v)| {
            v.split_whitespace()
                .filter_map(parse_addr)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// NetworkManager keyfiles: `address1=10.0.0.5/24,10.0.0.1`.
pub(crate) fn parse_keyfile(text: &str) -> Vec<IpAddr> {
    shell_vars(text)
        .filter(|(k, _)| {
            k.strip_prefix("address")
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|(_, v)| parse_addr(v.split([',', ';']).next().unwrap_or(v)))
        .collect()
}

/// Debian `etc/network/interfaces`: `address 10.0.0.5` or `address 10.0.0.5/24`.
pub(crate) fn parse_interfaces(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = uncomment(l).split_whitespace();
            (words.next()? == "address")
                .then(|| words.next().and_then(parse_addr))
                .flatten()
        })
        .collect()
}

/// Netplan YAML, line by line: the items of every `addresses:` key (inline `[a, b]` or a
/// block list) except those under `nameservers:`, which are DNS servers, not the host.
pub(crate) fn parse_netplan(text: &str) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    // (indent, key) of the mapping keys enclosing the current line.
    let mut parents: Vec<(usize, &str)> = Vec::new();
    // Indent of the `addresses:` key whose block list is being read.
    let mut list_at: Option<usize> = None;
    for line in text.lines() {
        let line = uncomment(line).trim_end();
        let body = line.trim_start();
        if body.is_empty() {
            continue;
        }
        let mut indent = line.len() - body.len();
        if let Some(at) = list_at {
            if let Some(item) = body.strip_prefix('-').filter(|_| indent >= at) {
                ips.extend(parse_addr(item));
                continue;
            }
            list_at = None;
        }
        let mut body = body;
        if let Some(rest) = body.strip_prefix("- ") {
            indent += 2;
            body = rest.trim_start();
        }
        while parents.last().is_some_and(|(i, _)| *i >= indent) {
            parents.pop();
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        let dns = parents.last().is_some_and(|(_, k)| *k == "nameservers");
        if key == "addresses" && !dns {
            match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                Some(items) => ips.extend(items.split(',').filter_map(parse_addr)),
                None if value.is_empty() => list_at = Some(indent),
                None => {}
            }
        }
        parents.push((indent, key));
    }
    ips
}

#[cfg(test)]
mod tests;
