//! Helpers for vendor payloads that nest alerts in lists and objects: walk them while
//! recording each problem under its full JSON path.

use super::{self as fields, Errors, MAX_STRING_BYTES, Need, quote};
use crate::SourceError;
use riposte_model::Alert;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// A full path from a directory-or-path and a file name, without repeating the name.
pub(crate) fn file_path(path: Option<String>, name: Option<String>) -> Option<String> {
    match (path, name) {
        (Some(p), Some(n)) if !p.to_ascii_lowercase().ends_with(&n.to_ascii_lowercase()) => {
            let sep = if p.contains('\\') { '\\' } else { '/' };
            Some(format!("{}{sep}{n}", p.trim_end_matches(sep)))
        }
        (Some(p), _) => Some(p),
        (None, n) => n,
    }
}

/// `prefix.name`, or `name` at the top level.
pub(crate) fn at(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// An optional string field `name` of `obj`, reported under `prefix.name`.
pub(crate) fn text(
    errs: &mut Errors,
    prefix: &str,
    obj: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Option<String> {
    fields::string(errs, &at(prefix, name), obj.get(name), Need::Optional, max)
}

/// An object field; records a type error for anything else.
pub(crate) fn object<'v>(
    errs: &mut Errors,
    path: &str,
    value: Option<&'v Value>,
    need: Need<'_>,
) -> Option<&'v Map<String, Value>> {
    match fields::present(errs, path, value, need)? {
        Value::Object(map) => Some(map),
        other => {
            let path = if path.is_empty() { "$" } else { path };
            errs.push(
                path,
                format!("must be an object, got {}", fields::json_type(other)),
            );
            None
        }
    }
}

/// The items of an optional array field (a lone object counts as one item).
pub(crate) fn items<'v>(errs: &mut Errors, path: &str, value: Option<&'v Value>) -> &'v [Value] {
    match fields::present(errs, path, value, Need::Optional) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(v @ Value::Object(_)) => std::slice::from_ref(v),
        Some(other) => {
            errs.push(
                path,
                format!("must be an array, got {}", fields::json_type(other)),
            );
            &[]
        }
    }
}

/// Parses every item of a list wrapper (`resources`, `value`, `data`); refuses the whole
/// payload, listing every item's problems, when any item is invalid.
pub(crate) fn each_item(
    list: &Value,
    name: &str,
    mut parse: impl FnMut(&mut Errors, &str, &Value) -> Option<Alert>,
) -> Result<Vec<Alert>, SourceError> {
    let mut errs = Errors::default();
    let Value::Array(list) = list else {
        errs.push(
            name,
            format!("must be an array, got {}", fields::json_type(list)),
        );
        return Err(errs.into_error());
    };
    let alerts: Vec<Alert> = list
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse(&mut errs, &format!("{name}[{i}]"), item))
        .collect();
    errs.check()?;
    Ok(alerts)
}

/// The payload itself as one alert: refused, with every problem, unless parsing it
/// recorded none.
pub(crate) fn one_item(
    parse: impl FnOnce(&mut Errors) -> Option<Alert>,
) -> Result<Vec<Alert>, SourceError> {
    let mut errs = Errors::default();
    match parse(&mut errs) {
        Some(alert) if errs.len() == 0 => Ok(vec![alert]),
        _ => Err(errs.into_error()),
    }
}

/// Adds an IP (or comma-separated IPs) given as a string, once.
pub(crate) fn push_ip(errs: &mut Errors, ips: &mut Vec<IpAddr>, path: &str, value: Option<&Value>) {
    let Some(list) = fields::string(errs, path, value, Need::Optional, MAX_STRING_BYTES) else {
        return;
    };
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) => errs.push(
                path,
                format!("{} is not an IPv4 or IPv6 address", quote(part)),
            ),
        }
    }
}

/// Adds a file hash (MD5, SHA-1 or SHA-256 hex, stored lowercase), once.
pub(crate) fn push_hash(
    errs: &mut Errors,
    hashes: &mut Vec<String>,
    path: &str,
    value: Option<&Value>,
) {
    let Some(hash) = fields::string(errs, path, value, Need::Optional, MAX_STRING_BYTES) else {
        return;
    };
    let hex = hash.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && matches!(hash.len(), 32 | 40 | 64) {
        let hash = hash.to_ascii_lowercase();
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    } else {
        errs.push(
            path,
            format!(
                "{} is not an MD5, SHA-1 or SHA-256 hex digest",
                quote(&hash)
            ),
        );
    }
}
