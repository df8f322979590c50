//! The generic alert schema of `POST /api/v1/alerts`, for any tool without its own
//! source module. Documented in `GENERIC_ALERT.md` beside this crate's manifest.
//!
//! Strict on types (a port is a JSON integer, an IP a string), lenient on unknown fields
//! (kept in `raw`, so senders can add context without breaking).

use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Vendor and product when the sender does not name them.
const UNKNOWN: &str = "unknown";

/// Parses alerts in Riposte's generic schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenericParser;

impl AlertParser for GenericParser {
    fn source(&self) -> AlertSource {
        AlertSource::Generic
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        let mut errs = Errors::default();
        let req = Need::Required("mandatory");
        let opt = Need::Optional;
        let text = |errs: &mut Errors, name: &str, need, max| {
            fields::string(errs, name, obj.get(name), need, max)
        };

        let title = text(&mut errs, "title", req, MAX_STRING_BYTES);
        let severity = severity(&mut errs, obj.get("severity"));
        let time = fields::rfc3339(&mut errs, "time", obj.get("time"), opt);
        let first_seen = fields::rfc3339(&mut errs, "first_seen", obj.get("first_seen"), opt);
        let last_seen = fields::rfc3339(&mut errs, "last_seen", obj.get("last_seen"), opt);
        let vendor = text(&mut errs, "vendor", opt, MAX_STRING_BYTES);
        let product = text(&mut errs, "product", opt, MAX_STRING_BYTES);
        let event_id = fields::string_or_integer(&mut errs, "event_id", obj.get("event_id"), opt);
        let description = text(&mut errs, "description", opt, MAX_TEXT_BYTES);
        let finding_type = text(&mut errs, "finding_type", opt, MAX_STRING_BYTES);
        let target = target(&mut errs, obj.get("target"));
        let observables = observables(&mut errs, obj.get("observables"));

        if let (Some(first), Some(last)) = (first_seen, last_seen)
            && first > last
        {
            errs.push(
                "first_seen",
                format!(
                    "{} is after last_seen ({})",
                    first.to_rfc3339(),
                    last.to_rfc3339()
                ),
            );
        }
        let (Some(title), Some(severity), Some(target)) = (title, severity, target) else {
            return Err(errs.into_error());
        };
        errs.check()?;

        Ok(vec![Alert {
            id: AlertId::new(),
            source: AlertSource::Generic,
            vendor: vendor.unwrap_or_else(|| UNKNOWN.to_string()),
            product: product.unwrap_or_else(|| UNKNOWN.to_string()),
            vendor_event_id: event_id,
            title,
            description: description.unwrap_or_default(),
            severity,
            finding_type: finding_type.unwrap_or_default(),
            time: time.unwrap_or(received_at),
            first_seen,
            last_seen,
            received_at,
            target,
            observables: observables.unwrap_or_default(),
            raw: payload.clone(),
        }])
    }
}

/// The mandatory `severity`: a Riposte severity name, any case (`info` accepted).
fn severity(errs: &mut Errors, value: Option<&Value>) -> Option<Severity> {
    let name = fields::string(
        errs,
        "severity",
        value,
        Need::Required("mandatory; one of informational, low, medium, high, critical"),
        MAX_STRING_BYTES,
    )?;
    match name.parse() {
        Ok(severity) => Some(severity),
        Err(_) => {
            errs.push(
                "severity",
                format!(
                    "must be one of informational, low, medium, high, critical, got {}",
                    quote(&name)
                ),
            );
            None
        }
    }
}

/// An object field; records a type error for anything else.
fn object<'v>(
    errs: &mut Errors,
    path: &str,
    value: Option<&'v Value>,
    need: Need<'_>,
) -> Option<&'v Map<String, Value>> {
    match fields::present(errs, path, value, need)? {
        Value::Object(map) => Some(map),
        other => {
            errs.push(
                path,
                format!("must be an object, got {}", fields::json_type(other)),
            );
            None
        }
    }
}

/// An optional array field, each item checked by `item` under the path `field[i]`.
fn array<T>(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    mut item: impl FnMut(&mut Errors, &str, &Value) -> Option<T>,
) -> Vec<T> {
    let items = match fields::present(errs, path, value, Need::Optional) {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errs.push(
                path,
                format!("must be an array, got {}", fields::json_type(other)),
            );
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| item(errs, &format!("{path}[{i}]"), v))
        .collect()
}

/// The mandatory `target` object; it must name the system somehow.
fn target(errs: &mut Errors, value: Option<&Value>) -> Option<Target> {
    let obj = object(errs, "target", value, Need::Required("mandatory"))?;
    let text = |errs: &mut Errors, name: &str| {
        fields::string(
            errs,
            &format!("target.{name}"),
            obj.get(name),
            Need::Optional,
            MAX_STRING_BYTES,
        )
    };
    let before = errs.len();
    let hostname = text(errs, "hostname");
    let instance_id = text(errs, "instance_id");
    let ips = array(errs, "target.ips", obj.get("ips"), |errs, path, v| {
        fields::ip(
            errs,
            path,
            Some(v),
            Need::Required("expected an IP address"),
        )
    });
    let identity_errors = errs.len() > before;
    let account_id = text(errs, "account_id");
    let region = text(errs, "region");
    let cloud_provider = text(errs, "cloud_provider").map(|p| p.to_ascii_lowercase());
    let tags = tags(errs, obj.get("tags"));

    let target = Target {
        instance_id,
        hostname,
        ips,
        account_id,
        region,
        cloud_provider,
        tags,
    };
    if target.is_empty() {
        if !identity_errors {
            errs.push(
                "target",
                "must name the system: give at least one of hostname, instance_id or ips",
            );
        }
        return None;
    }
    Some(target)
}

/// `target.tags`: an object of string values.
fn tags(errs: &mut Errors, value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(obj) = object(errs, "target.tags", value, Need::Optional) else {
        return BTreeMap::new();
    };
    // Sorted, so errors come in the same order whatever map type serde_json was built with.
    let mut entries: Vec<_> = obj.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .into_iter()
        .filter_map(|(key, v)| {
            let plain = !key.is_empty()
                && key.len() <= 64
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            let path = if plain {
                format!("target.tags.{key}")
            } else {
                format!("target.tags[{}]", quote(key))
            };
            let need = Need::Required("tag values must be strings");
            Some((
                key.clone(),
                fields::string(errs, &path, Some(v), need, MAX_STRING_BYTES)?,
            ))
        })
        .collect()
}

/// The optional `observables` object.
fn observables(errs: &mut Errors, value: Option<&Value>) -> Option<Observables> {
    let obj = object(errs, "observables", value, Need::Optional)?;
    let opt = Need::Optional;
    let path = |name: &str| format!("observables.{name}");
    let text = |errs: &mut Errors, name: &str, max| {
        fields::string(errs, &path(name), obj.get(name), opt, max)
    };
    Some(Observables {
        source_ip: fields::ip(errs, &path("source_ip"), obj.get("source_ip"), opt),
        source_port: fields::port(
            errs,
            &path("source_port"),
            obj.get("source_port"),
            opt,
            false,
        ),
        destination_ip: fields::ip(
            errs,
            &path("destination_ip"),
            obj.get("destination_ip"),
            opt,
        ),
        destination_port: fields::port(
            errs,
            &path("destination_port"),
            obj.get("destination_port"),
            opt,
            false,
        ),
        file_path: text(errs, "file_path", MAX_STRING_BYTES),
        file_hashes: array(
            errs,
            &path("file_hashes"),
            obj.get("file_hashes"),
            file_hash,
        ),
        command_line: text(errs, "command_line", MAX_TEXT_BYTES),
        username: text(errs, "username", MAX_STRING_BYTES),
    })
}

/// One file hash: MD5, SHA-1 or SHA-256 in hex, stored lowercase.
fn file_hash(errs: &mut Errors, path: &str, value: &Value) -> Option<String> {
    let hash = fields::string(
        errs,
        path,
        Some(value),
        Need::Required("expected a hex digest"),
        MAX_STRING_BYTES,
    )?;
    let hex = hash.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && matches!(hash.len(), 32 | 40 | 64) {
        Some(hash.to_ascii_lowercase())
    } else {
        errs.push(
            path,
            format!(
                "{} is not an MD5, SHA-1 or SHA-256 hex digest (32, 40 or 64 hex digits)",
                quote(&hash)
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests;
