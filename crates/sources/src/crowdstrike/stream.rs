//! Falcon Event Streams detection summaries: `{"metadata": {"eventType": …}, "event": {…}}`.

use super::{
    Scale, VENDOR, at, file_path, object, push_hash, push_ip, require_target, severity, text,
};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Target};
use serde_json::{Map, Value};

/// Stream event types that describe one detection (or, for automated leads, one lead).
const SUPPORTED: [&str; 6] = [
    "DetectionSummaryEvent",
    "EppDetectionSummaryEvent",
    "IdpDetectionSummaryEvent",
    "MobileDetectionSummaryEvent",
    super::xdr::EVENT_TYPE,
    super::lead::EVENT_TYPE,
];

/// Epoch values above this are milliseconds, below it seconds (year 5138 in seconds).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// One stream event. Its `DetectId`/`CompositeId` is optional: OverWatch detections
/// carry neither.
pub(super) fn event(
    errs: &mut Errors,
    obj: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Option<Alert> {
    let meta = object(
        errs,
        "metadata",
        obj.get("metadata"),
        Need::Required("mandatory"),
    );
    let event_type = meta.and_then(|m| {
        fields::string(
            errs,
            "metadata.eventType",
            m.get("eventType"),
            Need::Required("mandatory"),
            MAX_STRING_BYTES,
        )
    });
    if let Some(t) = &event_type
        && !SUPPORTED.contains(&t.as_str())
    {
        errs.push(
            "metadata.eventType",
            format!(
                "unsupported event type {}; expected one of {}",
                quote(t),
                SUPPORTED.join(", ")
            ),
        );
        return None;
    }
    let ev = object(errs, "event", obj.get("event"), Need::Required("mandatory"))?;
    let event_type = event_type?;
    if event_type == super::xdr::EVENT_TYPE || event_type == super::lead::EVENT_TYPE {
        let created = meta.and_then(|m| {
            fields::epoch_millis(
                errs,
                "metadata.eventCreationTime",
                m.get("eventCreationTime"),
                Need::Optional,
                received_at,
            )
        });
        return if event_type == super::xdr::EVENT_TYPE {
            super::xdr::detection(errs, ev, created, obj, received_at)
        } else {
            super::lead::lead(errs, ev, created, obj, received_at)
        };
    }
    let s = |errs: &mut Errors, name: &str| text(errs, "event", ev, name, MAX_STRING_BYTES);

    let vendor_event_id = s(errs, "CompositeId").or_else(|| s(errs, "DetectId"));
    let scale = if event_type == "DetectionSummaryEvent" || small_severity(ev) {
        Scale::OneToFive
    } else {
        Scale::Percent
    };
    let severity = severity(errs, "event", ev, "SeverityName", "Severity", scale);
    let title = s(errs, "DetectName").or_else(|| s(errs, "Name"));
    let description = text(errs, "event", ev, "DetectDescription", MAX_TEXT_BYTES)
        .or_else(|| text(errs, "event", ev, "Description", MAX_TEXT_BYTES));
    let finding_type = match (s(errs, "Tactic"), s(errs, "Technique")) {
        (Some(tactic), Some(technique)) => format!("{tactic}: {technique}"),
        (a, b) => a.or(b).unwrap_or_else(|| event_type.clone()),
    };
    let time = time(errs, ev, "ProcessStartTime", received_at).or_else(|| {
        meta.and_then(|m| {
            fields::epoch_millis(
                errs,
                "metadata.eventCreationTime",
                m.get("eventCreationTime"),
                Need::Optional,
                received_at,
            )
        })
    });

    let mut target = Target {
        hostname: s(errs, "ComputerName").or_else(|| s(errs, "Hostname")),
        ..Target::default()
    };
    for field in ["LocalIP", "ExternalIP"] {
        push_ip(errs, &mut target.ips, &at("event", field), ev.get(field));
    }
    if let Some(id) = s(errs, "SensorId").or_else(|| s(errs, "AgentId")) {
        target.tags.insert("crowdstrike.device_id".into(), id);
    }
    require_target(errs, "event", &target);

    let mut observables = Observables {
        file_path: file_path(s(errs, "FilePath"), s(errs, "FileName")),
        command_line: text(errs, "event", ev, "CommandLine", MAX_TEXT_BYTES),
        username: s(errs, "UserName"),
        ..Observables::default()
    };
    for field in ["SHA256String", "SHA1String", "MD5String"] {
        push_hash(
            errs,
            &mut observables.file_hashes,
            &at("event", field),
            ev.get(field),
        );
    }

    let severity = severity?;
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::CrowdStrike,
        vendor: VENDOR.into(),
        product: "Falcon".into(),
        vendor_event_id,
        title: title.unwrap_or_else(|| format!("CrowdStrike {event_type}")),
        description: description.unwrap_or_default(),
        severity,
        finding_type,
        time: time.unwrap_or(received_at),
        // Detection summaries carry process start/end and the event's creation time, no
        // first/last observation of the detected activity.
        first_seen: None,
        last_seen: None,
        received_at,
        target,
        observables,
        raw: Value::Object(obj.clone()),
    })
}

/// Whether a numeric `Severity` is on the legacy 1–5 scale (some `Idp*` events use it).
fn small_severity(ev: &Map<String, Value>) -> bool {
    ev.get("Severity")
        .and_then(Value::as_u64)
        .is_some_and(|n| (1..=5).contains(&n))
}

/// An epoch time given in seconds or milliseconds (Falcon mixes both).
fn time(
    errs: &mut Errors,
    ev: &Map<String, Value>,
    name: &str,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let path = at("event", name);
    let millis = match fields::present(errs, &path, ev.get(name), Need::Optional)? {
        Value::Number(n) => match n.as_i64() {
            Some(0) => return None,
            Some(v) if v.abs() < MILLIS_THRESHOLD => v.checked_mul(1000),
            Some(v) => Some(v),
            None => None,
        },
        _ => None,
    };
    let Some(millis) = millis else {
        errs.push(path, "must be an epoch time in seconds or milliseconds");
        return None;
    };
    fields::epoch_millis(
        errs,
        &path,
        Some(&Value::from(millis)),
        Need::Optional,
        received_at,
    )
}
