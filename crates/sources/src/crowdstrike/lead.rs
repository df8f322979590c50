//! Falcon automated leads on the Event Streams: `AutomatedLeadSummaryEvent`.
//!
//! A lead is CrowdStrike's correlation of indicators on a host that were *not* each
//! judged a detection (`ThreatgraphIndicators[]`, with the host's `HostId`/`Hostname`).
//! Riposte accepts it as a lead worth triage, never above Medium: its severity is that
//! of its most severe indicator (0–100) capped at Medium, or Low when no indicator has
//! one. Its `Score` is CrowdStrike's confidence, not a severity, and is kept in the raw
//! payload.

use super::{VENDOR, at, object, percent_severity, require_target, text};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};

/// The stream event type this file parses.
pub(super) const EVENT_TYPE: &str = "AutomatedLeadSummaryEvent";

/// The most a lead can be: it is a correlation of indicators, none a detection.
const LEAD_CEILING: Severity = Severity::Medium;

/// Indicators read from one lead (the rest are counted in the description).
const MAX_INDICATORS: usize = 100;

/// One `AutomatedLeadSummaryEvent` (`ev` is its `event` object).
pub(super) fn lead(
    errs: &mut Errors,
    ev: &Map<String, Value>,
    created: Option<DateTime<Utc>>,
    raw: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Option<Alert> {
    let s = |errs: &mut Errors, name: &str| text(errs, "event", ev, name, MAX_STRING_BYTES);
    let vendor_event_id = s(errs, "CompositeId").or_else(|| s(errs, "LeadId"));
    if vendor_event_id.is_none() {
        errs.push(
            "event.LeadId",
            "mandatory: a lead is identified by its LeadId (or CompositeId)",
        );
    }
    let name = s(errs, "Name");
    let link = s(errs, "FalconHostLink");
    let indicators = match ev.get("ThreatgraphIndicators") {
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => {
            errs.push(
                "event.ThreatgraphIndicators",
                format!("must be an array, got {}", fields::json_type(other)),
            );
            &[]
        }
        None => {
            errs.push(
                "event.ThreatgraphIndicators",
                "mandatory: the lead's indicators name its host",
            );
            &[]
        }
    };
    let mut target = Target::default();
    let mut severity = Severity::Low;
    let mut lines = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, item) in indicators.iter().take(MAX_INDICATORS).enumerate() {
        let prefix = format!("event.ThreatgraphIndicators[{i}]");
        let Some(indicator) = object(errs, &prefix, Some(item), Need::Optional) else {
            continue;
        };
        let field =
            |errs: &mut Errors, name: &str| text(errs, &prefix, indicator, name, MAX_TEXT_BYTES);
        let hostname = field(errs, "Hostname");
        let host_id = field(errs, "HostId");
        if target.hostname.is_none() && target.tags.is_empty() {
            target.hostname = hostname;
            if let Some(id) = host_id {
                target.tags.insert("crowdstrike.device_id".into(), id);
            }
        }
        if let Some(level) = indicator_severity(errs, &prefix, indicator) {
            severity = severity.max(level.min(LEAD_CEILING));
        }
        let display = field(errs, "DisplayName");
        let description = field(errs, "Description");
        if let Some(display) = &display
            && !names.contains(display)
        {
            names.push(display.clone());
        }
        match (display, description) {
            (Some(d), Some(text)) => lines.push(format!("{d}: {text}")),
            (a, b) => lines.extend(a.or(b)),
        }
    }
    if indicators.len() > MAX_INDICATORS {
        lines.push(format!(
            "… and {} more indicators",
            indicators.len() - MAX_INDICATORS
        ));
    }
    require_target(errs, "event.ThreatgraphIndicators", &target);
    let techniques = mitre(ev);
    let finding_type = if techniques.is_empty() {
        EVENT_TYPE.to_string()
    } else {
        techniques.join(", ")
    };
    if let Some(link) = &link {
        lines.push(format!("Falcon: {link}"));
    }
    let time = seconds(errs, ev, "SignalStartTimestamp", received_at).or(created);
    let last_seen = seconds(errs, ev, "SignalEndTimestamp", received_at);
    let title = match (&name, names.is_empty()) {
        (_, false) => format!("Automated lead: {}", names.join(", ")),
        (Some(name), true) => format!("Automated lead: {name}"),
        (None, true) => "CrowdStrike automated lead".to_string(),
    };
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::CrowdStrike,
        vendor: VENDOR.into(),
        product: "Falcon automated leads".into(),
        vendor_event_id,
        title,
        description: lines.join("\n"),
        severity,
        finding_type,
        time: time.unwrap_or(received_at),
        first_seen: time,
        last_seen,
        received_at,
        target,
        observables: Observables::default(),
        raw: Value::Object(raw.clone()),
    })
}

/// An indicator's optional 0–100 `Severity`.
fn indicator_severity(
    errs: &mut Errors,
    prefix: &str,
    indicator: &Map<String, Value>,
) -> Option<Severity> {
    let path = at(prefix, "Severity");
    match fields::present(errs, &path, indicator.get("Severity"), Need::Optional)? {
        Value::Number(n) => match n.as_u64() {
            Some(n @ 0..=100) => Some(percent_severity(n)),
            _ => {
                errs.push(path, format!("{n} is not a severity (0–100)"));
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

/// `MitreAttack[]` as `Tactic: Technique (T1234)`, once each; partial entries skipped.
fn mitre(ev: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(items)) = ev.get("MitreAttack") else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for item in items.iter().take(MAX_INDICATORS) {
        let get = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let line = match (get("Tactic"), get("Technique"), get("TechniqueID")) {
            (Some(t), Some(n), Some(id)) => format!("{t}: {n} ({id})"),
            (Some(t), Some(n), None) => format!("{t}: {n}"),
            (None, Some(n), Some(id)) => format!("{n} ({id})"),
            _ => continue,
        };
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// An epoch-seconds field.
fn seconds(
    errs: &mut Errors,
    ev: &Map<String, Value>,
    name: &str,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let path = at("event", name);
    let value = fields::present(errs, &path, ev.get(name), Need::Optional)?;
    let Some(secs) = value.as_i64().filter(|n| *n > 0) else {
        errs.push(path, "must be a positive epoch time in seconds");
        return None;
    };
    fields::epoch_millis(
        errs,
        &path,
        Some(&Value::from(secs.saturating_mul(1000))),
        Need::Optional,
        received_at,
    )
}
