//! "For this alert's target, which environment and scope covers it, and how do we acquire
//! it?" Environments are tried in the order given, their scopes in order; the first scope
//! that covers the target wins. When none does, every scope's reason is kept.
//!
//! Local scopes read the library folder (host names and IPs of each collection), so call
//! this from a blocking context.

use crate::PatternSet;
use crate::matcher::missing_tag;
use riposte_acquire::EvidenceLibrary;
use riposte_model::{
    Accounts, Acquisition, AwsScope, Environment, LocalScope, Scope, ScopeMatch, SshScope, Target,
};
use std::net::IpAddr;

/// At most this many scopes' reasons are listed when nothing covers a target; the rest
/// are counted. With the per-reason bound below, a resolution's text is bounded whatever
/// the number of environments and scopes or the size of the target.
pub const MAX_REASONS: usize = 20;

/// A target's value as shown in a reason: at most this many characters, so a reason
/// never repeats a huge input.
const MAX_SHOWN: usize = 120;

/// One scope's reason: at most this many characters.
const MAX_REASON: usize = 1000;

/// `text`, cut to `max` characters with an ellipsis.
fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A target's value, cut to [`MAX_SHOWN`] characters.
fn clip(text: &str) -> String {
    clip_to(text, MAX_SHOWN)
}

/// The outcome of resolving a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The first scope that covers the target.
    Covered(ScopeMatch),
    /// Nothing covers it; one line per scope tried (at most [`MAX_REASONS`], then one
    /// line counting the others).
    NotCovered(Vec<String>),
}

/// Evidence libraries already listed, by folder: resolving many targets (a batch of
/// alerts) lists each library once instead of once per target. A host added meanwhile is
/// seen by the next batch.
#[derive(Debug, Default)]
pub struct LibraryListings(
    std::cell::RefCell<std::collections::HashMap<std::path::PathBuf, Listing>>,
);

/// A library and its hosts, or why it could not be listed.
type Listing = Result<(EvidenceLibrary, Vec<riposte_acquire::LibraryHost>), String>;

/// Resolves `target` against `environments`, in order.
pub fn resolve_target(target: &Target, environments: &[&Environment]) -> Resolution {
    resolve_target_with(target, environments, &LibraryListings::default())
}

/// [`resolve_target`], reusing the library listings of earlier resolutions.
pub fn resolve_target_with(
    target: &Target,
    environments: &[&Environment],
    listings: &LibraryListings,
) -> Resolution {
    let mut reasons = Vec::new();
    let mut unlisted = 0usize;
    let mut push = |reason: String| {
        if reasons.len() < MAX_REASONS {
            reasons.push(reason);
        } else {
            unlisted += 1;
        }
    };
    if environments.is_empty() {
        push("no environment is defined: create one with POST /api/v1/environments".into());
    }
    for env in environments {
        if env.scopes.is_empty() {
            push(format!("environment {}: it has no scopes", env.name));
        }
        for (index, scope) in env.scopes.iter().enumerate() {
            let outcome = match scope {
                Scope::Aws(aws) => aws_covers(target, aws),
                Scope::Ssh(ssh) => ssh_covers(target, ssh),
                Scope::Local(local) => local_covers(target, local, listings),
            };
            match outcome {
                Ok((acquisition, matched_on)) => {
                    return Resolution::Covered(ScopeMatch {
                        environment_id: env.id,
                        environment: env.name.clone(),
                        scope_index: index,
                        acquisition,
                        matched_on,
                    });
                }
                Err(why) => push(format!(
                    "environment {}, scope {} ({}): {}",
                    env.name,
                    index + 1,
                    scope.kind(),
                    clip_to(&why, MAX_REASON)
                )),
            }
        }
    }
    if unlisted > 0 {
        reasons.push(format!(
            "… and {unlisted} more scope(s) that do not cover it"
        ));
    }
    Resolution::NotCovered(reasons)
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// True for `i-` followed by 8 or 17 hex digits (the EC2 instance id formats).
fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn aws_covers(target: &Target, scope: &AwsScope) -> Result<(Acquisition, String), String> {
    let Some(instance_id) = given(&target.instance_id) else {
        return Err("the alert names no EC2 instance id".into());
    };
    if !is_instance_id(instance_id) {
        return Err(format!("{:?} is not an EC2 instance id", clip(instance_id)));
    }
    if let Some(provider) = given(&target.cloud_provider)
        && !provider.eq_ignore_ascii_case("aws")
    {
        return Err(format!("the target is in {}, not AWS", clip(provider)));
    }
    let account = given(&target.account_id);
    if let Accounts::Listed(ids) = &scope.accounts {
        match account {
            None => {
                return Err(format!(
                    "the alert names no AWS account; the scope covers only {}",
                    ids.join(", ")
                ));
            }
            Some(a) if !ids.iter().any(|id| id == a) => {
                return Err(format!(
                    "account {} is not one of {}",
                    clip(a),
                    ids.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    let Some(region) = given(&target.region) else {
        return Err("the alert names no AWS region".into());
    };
    if !scope.regions.is_empty() && !scope.regions.iter().any(|r| r.eq_ignore_ascii_case(region)) {
        return Err(format!(
            "region {} is not one of {}",
            clip(region),
            scope.regions.join(", ")
        ));
    }
    missing_tag(target, &scope.tags)?;
    let matched_on = format!(
        "instance {instance_id} in account {}, region {region}",
        account.unwrap_or("(unknown)")
    );
    Ok((
        Acquisition::Ec2 {
            account_id: account.map(str::to_string),
            region: region.to_string(),
            instance_id: instance_id.to_string(),
            role_name: scope.role_name.clone(),
        },
        matched_on,
    ))
}

fn ssh_covers(target: &Target, scope: &SshScope) -> Result<(Acquisition, String), String> {
    let acquisition = |address: String| Acquisition::Ssh {
        address,
        port: scope.port,
        user: scope.user.clone(),
        credential: scope.credential.clone(),
        known_hosts: scope.known_hosts.clone(),
        trust_on_first_use: scope.trust_on_first_use,
        sudo: scope.sudo,
    };
    let from_name = given(&target.hostname).and_then(|h| h.parse::<IpAddr>().ok());
    for ip in target.ips.iter().copied().chain(from_name) {
        let ip = ip.to_canonical();
        if let Some(net) = scope.cidrs.iter().find(|net| net.contains(&ip)) {
            return Ok((acquisition(ip.to_string()), format!("ip {ip} in {net}")));
        }
    }
    if let Some(host) = given(&target.hostname).filter(|h| h.parse::<IpAddr>().is_err()) {
        let host = host.trim_end_matches('.');
        if !scope.hostname_patterns.is_empty() {
            let patterns = PatternSet::new(&scope.hostname_patterns)
                .map_err(|e| format!("invalid hostname patterns: {e}"))?;
            if let Some(p) = patterns.first_match(host) {
                return Ok((
                    acquisition(host.to_string()),
                    format!("hostname {host} ({p})"),
                ));
            }
        }
    }
    let mut tried = Vec::new();
    if !target.ips.is_empty() {
        let ips: Vec<String> = target.ips.iter().map(IpAddr::to_string).collect();
        tried.push(format!(
            "ips {} are outside the scope's networks",
            clip(&ips.join(", "))
        ));
    }
    match given(&target.hostname) {
        Some(h) => tried.push(format!("hostname {} matches no hostname pattern", clip(h))),
        None if target.ips.is_empty() => tried.push("the alert names no IP or hostname".into()),
        None => {}
    }
    Err(tried.join("; "))
}

fn local_covers(
    target: &Target,
    scope: &LocalScope,
    listings: &LibraryListings,
) -> Result<(Acquisition, String), String> {
    let mut listings = listings.0.borrow_mut();
    let listed = listings
        .entry(std::path::PathBuf::from(&scope.folder))
        .or_insert_with(|| {
            let library = EvidenceLibrary::open(&scope.folder).map_err(|e| e.to_string())?;
            let hosts = library.hosts().map_err(|e| e.to_string())?;
            Ok((library, hosts))
        });
    let (library, hosts) = listed.as_ref().map_err(Clone::clone)?;
    match library.resolve_among(hosts.clone(), target) {
        riposte_acquire::Resolution::Found { host, matched_on } => Ok((
            Acquisition::Library {
                folder: scope.folder.clone(),
                host: host.key.clone(),
                host_root: host.root.display().to_string(),
            },
            format!("evidence library host {} ({matched_on})", host.key),
        )),
        riposte_acquire::Resolution::NotFound { reason } => Err(reason),
    }
}

#[cfg(test)]
mod tests;
