//! CrowdStrike Falcon detections: the Alerts API v2 entity (`GET /alerts/entities/alerts/v2`,
//! alone or in its `{"resources": [...]}` response), and the Event Streams detection
//! summaries (`DetectionSummaryEvent`, `EppDetectionSummaryEvent`,
//! `IdpDetectionSummaryEvent`, `MobileDetectionSummaryEvent`, `XdrDetectionSummaryEvent`)
//! and automated leads (`AutomatedLeadSummaryEvent`, accepted as leads of at most Medium
//! severity). Other stream events (`FirewallMatchEvent`, audit events) are not alerts and
//! are refused with the list of accepted types.
//!
//! Severity names win over numbers. Numbers are 0–100 in the Alerts API and in
//! `Epp*`/`Mobile*` stream events, 1–5 in the legacy `DetectionSummaryEvent`. A detection
//! that names no host, cloud account or IP (identity-only events) is refused: Riposte
//! triages systems. Helpers shared with the other XDR parsers live here too.

mod lead;
mod stream;
mod xdr;

use crate::fields::walk::{at, each_item, file_path, object, one_item, push_hash, push_ip, text};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};

/// Parses CrowdStrike Falcon alerts and stream detection events.
#[derive(Debug, Clone, Copy, Default)]
pub struct CrowdStrikeParser;

impl AlertParser for CrowdStrikeParser {
    fn source(&self) -> AlertSource {
        AlertSource::CrowdStrike
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        if let Some(list) = obj.get("resources") {
            return each_item(list, "resources", |errs, path, item| {
                api_alert(errs, path, item, received_at)
            });
        }
        let is_stream_event = obj.contains_key("metadata") && obj.contains_key("event");
        one_item(|errs| {
            if is_stream_event {
                stream::event(errs, obj, received_at)
            } else {
                api_alert(errs, "", payload, received_at)
            }
        })
    }
}

/// One Alerts API v2 entity at `prefix` (empty at the top level).
fn api_alert(
    errs: &mut Errors,
    prefix: &str,
    value: &Value,
    received_at: DateTime<Utc>,
) -> Option<Alert> {
    let obj = object(
        errs,
        prefix,
        Some(value),
        Need::Required("expected an alert"),
    )?;
    let s = |errs: &mut Errors, name: &str| text(errs, prefix, obj, name, MAX_STRING_BYTES);
    let composite = s(errs, "composite_id");
    let id = fields::string(
        errs,
        &at(prefix, "id"),
        obj.get("id"),
        if composite.is_some() {
            Need::Optional
        } else {
            Need::Required("mandatory unless composite_id is given")
        },
        MAX_STRING_BYTES,
    );
    let name = s(errs, "name");
    let title = s(errs, "display_name").or_else(|| name.clone());
    let description = text(errs, prefix, obj, "description", MAX_TEXT_BYTES);
    let severity = severity(
        errs,
        prefix,
        obj,
        "severity_name",
        "severity",
        Scale::Percent,
    );
    let time = fields::rfc3339(
        errs,
        &at(prefix, "timestamp"),
        obj.get("timestamp"),
        Need::Optional,
    )
    .or(fields::rfc3339(
        errs,
        &at(prefix, "created_timestamp"),
        obj.get("created_timestamp"),
        Need::Optional,
    ));

    // The first and last occurrence of the behaviour (set on aggregated alerts such as
    // cloud IOAs). `created_/updated_timestamp` are Falcon's bookkeeping: `updated` moves
    // when an analyst changes the status, so it says nothing about the activity.
    let [first_seen, last_seen] = ["first_timestamp", "last_timestamp"]
        .map(|f| fields::rfc3339(errs, &at(prefix, f), obj.get(f), Need::Optional));

    let device_path = at(prefix, "device");
    let device = object(errs, &device_path, obj.get("device"), Need::Optional);
    let d = |errs: &mut Errors, name: &str| {
        device.and_then(|dev| text(errs, &device_path, dev, name, MAX_STRING_BYTES))
    };
    let mut target = Target {
        hostname: d(errs, "hostname").or_else(|| s(errs, "source_endpoint_host_name")),
        instance_id: d(errs, "instance_id"),
        account_id: d(errs, "service_provider_account_id").or_else(|| s(errs, "cloud_account_id")),
        region: d(errs, "zone_group").or_else(|| s(errs, "cloud_region")),
        cloud_provider: d(errs, "service_provider")
            .or_else(|| s(errs, "cloud_provider"))
            .map(|p| p.to_ascii_lowercase()),
        ..Target::default()
    };
    for (container, path, field) in [
        (device, device_path.as_str(), "local_ip"),
        (device, device_path.as_str(), "external_ip"),
        (Some(obj), prefix, "source_endpoint_ip_address"),
    ] {
        if let Some(c) = container {
            push_ip(errs, &mut target.ips, &at(path, field), c.get(field));
        }
    }
    for (tag, field) in [("device_id", "device_id"), ("platform", "platform_name")] {
        if let Some(v) = d(errs, field) {
            target.tags.insert(format!("crowdstrike.{tag}"), v);
        }
    }
    if let Some(resource) = s(errs, "resource_id") {
        target
            .tags
            .insert("crowdstrike.resource_id".into(), resource);
    }
    require_target(errs, &device_path, &target);

    let mut observables = Observables {
        // The Alerts API `filepath` is already the full path (its `filename` may differ).
        file_path: s(errs, "filepath").or_else(|| s(errs, "filename")),
        command_line: text(errs, prefix, obj, "cmdline", MAX_TEXT_BYTES),
        username: s(errs, "user_name"),
        ..Observables::default()
    };
    for field in ["sha256", "md5"] {
        push_hash(
            errs,
            &mut observables.file_hashes,
            &at(prefix, field),
            obj.get(field),
        );
    }
    let finding_type = name.or_else(|| s(errs, "technique")).unwrap_or_default();

    let (Some(event_id), Some(severity)) = (composite.or(id), severity) else {
        return None;
    };
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::CrowdStrike,
        vendor: VENDOR.into(),
        product: "Falcon".into(),
        vendor_event_id: Some(event_id),
        title: title.unwrap_or_else(|| "CrowdStrike Falcon alert".into()),
        description: description.unwrap_or_default(),
        severity,
        finding_type,
        time: time.unwrap_or(received_at),
        first_seen,
        last_seen,
        received_at,
        target,
        observables,
        raw: value.clone(),
    })
}

/// The vendor name on every CrowdStrike alert.
const VENDOR: &str = "CrowdStrike";

/// How a vendor's numeric severity is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// 0–100: <20 informational, <40 low, <60 medium, <80 high, else critical.
    Percent,
    /// 1–5: informational … critical.
    OneToFive,
}

/// Severity from a name field (any case, `INFO` accepted) or else a number field.
fn severity(
    errs: &mut Errors,
    prefix: &str,
    obj: &Map<String, Value>,
    name_field: &str,
    number_field: &str,
    scale: Scale,
) -> Option<Severity> {
    let name_path = at(prefix, name_field);
    if let Some(name) = fields::string(errs, &name_path, obj.get(name_field), Need::Optional, 64) {
        match name.parse() {
            Ok(s) => return Some(s),
            Err(_) => errs.push(
                name_path,
                format!(
                    "unknown severity {}; expected Informational, Low, Medium, High or Critical",
                    quote(&name)
                ),
            ),
        }
    }
    let path = at(prefix, number_field);
    let why = format!("mandatory unless {name_field} is given");
    match fields::present(errs, &path, obj.get(number_field), Need::Required(&why))? {
        Value::Number(n) => match (n.as_u64(), scale) {
            (Some(n @ 0..=100), Scale::Percent) => Some(percent_severity(n)),
            (Some(n @ 1..=5), Scale::OneToFive) => usize::try_from(n - 1)
                .ok()
                .and_then(|i| Severity::ALL.get(i).copied()),
            _ => {
                let range = if scale == Scale::Percent {
                    "0–100"
                } else {
                    "1–5"
                };
                errs.push(path, format!("{n} is not a severity ({range})"));
                None
            }
        },
        other => {
            errs.push(
                path,
                format!("must be a number, got {}", fields::json_type(other)),
            );
            None
        }
    }
}

/// A 0–100 severity: <20 informational, <40 low, <60 medium, <80 high, else critical.
fn percent_severity(n: u64) -> Severity {
    match n {
        0..20 => Severity::Informational,
        20..40 => Severity::Low,
        40..60 => Severity::Medium,
        60..80 => Severity::High,
        _ => Severity::Critical,
    }
}

/// Refuses a target that names no host, IP, instance or cloud account.
fn require_target(errs: &mut Errors, path: &str, target: &Target) {
    if target.is_empty() && target.account_id.is_none() {
        errs.push(
            if path.is_empty() { "device" } else { path },
            "names no host, IP, instance or cloud account; identity-only detections are not supported",
        );
    }
}

#[cfg(test)]
mod tests;
