//! Falcon XDR detections on the Event Streams: `XdrDetectionSummaryEvent`.
//!
//! A flat event whose lists are comma-separated strings: `HostNames`, `SensorIds`,
//! `IPv4Addresses` (also spelled `IPV4Addresses`), `Users`, `SHA256Hashes`, `MD5Hashes`,
//! `Tactics`, `Techniques`. `Severity` is 0–100; `StartTimeEpoch` comes in seconds,
//! milliseconds or nanoseconds depending on the connector. The first host names the
//! target; every host and sensor id is kept in the target's tags.

use super::{Scale, VENDOR, at, push_hash, push_ip, require_target, severity, text};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Target};
use serde_json::{Map, Value};

/// The stream event type this file parses.
pub(super) const EVENT_TYPE: &str = "XdrDetectionSummaryEvent";

/// One `XdrDetectionSummaryEvent` (`ev` is its `event` object).
pub(super) fn detection(
    errs: &mut Errors,
    ev: &Map<String, Value>,
    created: Option<DateTime<Utc>>,
    raw: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Option<Alert> {
    let s = |errs: &mut Errors, name: &str| text(errs, "event", ev, name, MAX_STRING_BYTES);
    let vendor_event_id = s(errs, "CompositeId").or_else(|| s(errs, "DetectId"));
    if vendor_event_id.is_none() {
        errs.push(
            "event.DetectId",
            "mandatory: an XDR detection is identified by its DetectId (or CompositeId)",
        );
    }
    let severity = severity(
        errs,
        "event",
        ev,
        "SeverityName",
        "Severity",
        Scale::Percent,
    );
    let title = s(errs, "Name");
    let description = text(errs, "event", ev, "Description", MAX_TEXT_BYTES);
    let finding_type = match (s(errs, "Tactics"), s(errs, "Techniques")) {
        (Some(tactics), Some(techniques)) => format!("{tactics}: {techniques}"),
        (a, b) => a.or(b).unwrap_or_else(|| EVENT_TYPE.to_string()),
    };
    let time = any_epoch(errs, ev, "StartTimeEpoch", received_at).or(created);
    let last_seen = any_epoch(errs, ev, "EndTimeEpoch", received_at);

    let hosts = list(errs, ev, "HostNames");
    let sensors = list(errs, ev, "SensorIds");
    let mut target = Target {
        hostname: hosts.first().cloned(),
        ..Target::default()
    };
    for field in [
        "IPv4Addresses",
        "IPV4Addresses",
        "IPv6Addresses",
        "IPV6Addresses",
    ] {
        push_ip(errs, &mut target.ips, &at("event", field), ev.get(field));
    }
    if let Some(first) = sensors.first() {
        target
            .tags
            .insert("crowdstrike.device_id".into(), first.clone());
    }
    if hosts.len() > 1 {
        target
            .tags
            .insert("crowdstrike.hostnames".into(), hosts.join(","));
    }
    if sensors.len() > 1 {
        target
            .tags
            .insert("crowdstrike.device_ids".into(), sensors.join(","));
    }
    require_target(errs, "event", &target);

    let mut observables = Observables {
        username: list(errs, ev, "Users").into_iter().next(),
        ..Observables::default()
    };
    for field in ["SHA256Hashes", "MD5Hashes"] {
        let path = at("event", field);
        for hash in list(errs, ev, field) {
            push_hash(
                errs,
                &mut observables.file_hashes,
                &path,
                Some(&Value::from(hash)),
            );
        }
    }

    let severity = severity?;
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::CrowdStrike,
        vendor: VENDOR.into(),
        product: "Falcon XDR".into(),
        vendor_event_id,
        title: title.unwrap_or_else(|| "CrowdStrike XDR detection".into()),
        description: description.unwrap_or_default(),
        severity,
        finding_type,
        time: time.unwrap_or(received_at),
        first_seen: time,
        last_seen,
        received_at,
        target,
        observables,
        raw: Value::Object(raw.clone()),
    })
}

/// A comma-separated list field, trimmed, without empty parts.
fn list(errs: &mut Errors, ev: &Map<String, Value>, name: &str) -> Vec<String> {
    text(errs, "event", ev, name, MAX_TEXT_BYTES)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// An epoch time in seconds, milliseconds, microseconds or nanoseconds, told apart by
/// magnitude (a 2001–2286 time has 10, 13, 16 or 19 digits).
fn any_epoch(
    errs: &mut Errors,
    ev: &Map<String, Value>,
    name: &str,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let path = at("event", name);
    let value = fields::present(errs, &path, ev.get(name), Need::Optional)?;
    let Some(n) = value.as_i64().filter(|n| *n > 0) else {
        errs.push(path, "must be a positive epoch time");
        return None;
    };
    const NANOS: i64 = 100_000_000_000_000_000; // 1e17: 1973 in nanoseconds
    const MICROS: i64 = NANOS / 1_000;
    const MILLIS: i64 = MICROS / 1_000;
    let millis = match n {
        n if n >= NANOS => n / 1_000_000,
        n if n >= MICROS => n / 1_000,
        n if n >= MILLIS => n,
        n => n.saturating_mul(1000),
    };
    fields::epoch_millis(
        errs,
        &path,
        Some(&Value::from(millis)),
        Need::Optional,
        received_at,
    )
}
