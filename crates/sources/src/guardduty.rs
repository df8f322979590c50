//! AWS GuardDuty findings, pushed in any of the shapes AWS delivers them in:
//!
//! - a finding object as the GetFindings API returns it (PascalCase keys, `Id`, `Type`…)
//!   or as EventBridge carries it (camelCase keys, `id`, `type`…);
//! - an EventBridge event (`"detail-type": "GuardDuty Finding"`, finding in `detail`);
//! - a list, `{"findings": [...]}` or `{"Findings": [...]}`: one alert per finding;
//! - an SNS notification whose `Message` string is one of the above (typically the
//!   EventBridge event, when a rule targets an SNS topic).
//!
//! A single-finding payload is kept whole in `raw` (envelope included); a list keeps
//! each finding in its own alert. A list with one bad finding is refused as a whole,
//! naming every problem, so the sender can fix and resend it in one go.

mod resource;

use crate::fields::node::{Node, join};
use crate::fields::{self, Errors, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Severity, Target};
use serde_json::{Map, Value};

/// Vendor name on GuardDuty alerts.
const VENDOR: &str = "Amazon Web Services";
/// Product name on GuardDuty alerts.
const PRODUCT: &str = "GuardDuty";
/// The EventBridge `detail-type` of GuardDuty findings.
const DETAIL_TYPE: &str = "GuardDuty Finding";
/// SNS caps a message at 256 KiB; anything larger is not from SNS.
const MAX_SNS_MESSAGE_BYTES: usize = 256 * 1024;

/// Parses GuardDuty findings (raw, EventBridge, lists and SNS notifications).
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardDutyParser;

impl AlertParser for GuardDutyParser {
    fn source(&self) -> AlertSource {
        AlertSource::GuardDuty
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        let mut errs = Errors::default();
        let root = Node::root(obj, "");
        let alerts = if root.get("findings").1.is_some() {
            findings(&mut errs, &root, received_at)
        } else if is_sns(obj) {
            sns(&mut errs, &root, received_at, payload)
                .into_iter()
                .collect()
        } else {
            single(&mut errs, &root, received_at, payload)
                .into_iter()
                .collect()
        };
        errs.check()?;
        Ok(alerts)
    }
}

/// An SNS notification: it carries `Message` plus `TopicArn` or `"Type": "Notification"`.
fn is_sns(obj: &Map<String, Value>) -> bool {
    obj.contains_key("Message")
        && (obj.contains_key("TopicArn")
            || obj.get("Type").and_then(Value::as_str) == Some("Notification"))
}

/// `{"findings": [...]}`: one alert per finding, each keeping its own finding as `raw`.
fn findings(errs: &mut Errors, root: &Node<'_>, received_at: DateTime<Utc>) -> Vec<Alert> {
    let (path, value) = root.get("findings");
    if !matches!(value, Some(Value::Array(_))) {
        let got = value.map_or("nothing", fields::json_type);
        errs.push(path, format!("must be an array of findings, got {got}"));
        return Vec::new();
    }
    root.list(errs, "findings")
        .into_iter()
        .filter_map(|(path, v)| match v {
            Value::Object(obj) => finding(errs, &Node::root(obj, path), None, received_at, v),
            other => {
                let got = fields::json_type(other);
                errs.push(path, format!("must be a finding object, got {got}"));
                None
            }
        })
        .collect()
}

/// An EventBridge event or a bare finding; `raw` is the whole payload as received.
fn single(
    errs: &mut Errors,
    node: &Node<'_>,
    received_at: DateTime<Utc>,
    raw: &Value,
) -> Option<Alert> {
    let eventbridge = node.obj.contains_key("detail-type") || node.obj.contains_key("detail");
    if !eventbridge {
        return finding(errs, node, None, received_at, raw);
    }
    let dt_path = join(&node.path, "detail-type");
    let why = format!("mandatory in an EventBridge event; {DETAIL_TYPE:?} expected");
    let detail_type = fields::string(
        errs,
        &dt_path,
        node.obj.get("detail-type"),
        Need::Required(&why),
        fields::MAX_STRING_BYTES,
    );
    if let Some(dt) = &detail_type
        && dt != DETAIL_TYPE
    {
        let problem = format!(
            "{} is not a GuardDuty finding event; expected {DETAIL_TYPE:?}",
            quote(dt)
        );
        errs.push(dt_path, problem);
    }
    let time = node.time(errs, "time");
    let detail = node.child(errs, "detail", Need::Required("the GuardDuty finding"))?;
    if detail_type.as_deref() != Some(DETAIL_TYPE) {
        return None;
    }
    finding(errs, &detail, time, received_at, raw)
}

/// An SNS notification whose `Message` is a JSON event or finding.
fn sns(
    errs: &mut Errors,
    root: &Node<'_>,
    received_at: DateTime<Utc>,
    raw: &Value,
) -> Option<Alert> {
    let (path, value) = root.get("Message");
    let text = match fields::present(errs, &path, value, Need::Required("the SNS message"))? {
        Value::String(s) if s.len() > MAX_SNS_MESSAGE_BYTES => {
            let problem = format!("too long ({} bytes; SNS allows 256 KiB)", s.len());
            errs.push(path, problem);
            return None;
        }
        Value::String(s) => s,
        other => {
            let problem = format!(
                "must be a string holding the JSON event, got {}",
                fields::json_type(other)
            );
            errs.push(path, problem);
            return None;
        }
    };
    let inner: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            errs.push(path, format!("is not JSON ({e})"));
            return None;
        }
    };
    let Value::Object(obj) = &inner else {
        let got = fields::json_type(&inner);
        errs.push(path, format!("must hold a JSON object, got {got}"));
        return None;
    };
    single(errs, &Node::root(obj, path), received_at, raw)
}

/// One finding, PascalCase or camelCase. `fallback_time` is the EventBridge `time`.
fn finding(
    errs: &mut Errors,
    f: &Node<'_>,
    fallback_time: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
    raw: &Value,
) -> Option<Alert> {
    let req = Need::Required("mandatory");
    let opt = Need::Optional;
    let id = f.string(errs, "id", req);
    let finding_type = f.string(errs, "type", req);
    let severity = severity(errs, f);
    let title = f.string(errs, "title", opt);
    let description = f.text(errs, "description", MAX_TEXT_BYTES);
    let updated = f.time(errs, "updatedAt");
    let created = f.time(errs, "createdAt");
    let time = updated.or(created).or(fallback_time);
    if time.is_none() && !f.has("updatedAt") && !f.has("createdAt") {
        errs.push(
            join(&f.path, "updatedAt"),
            "missing (mandatory: give updatedAt or createdAt)",
        );
    }
    let mut target = Target {
        account_id: f.string(errs, "accountId", opt),
        region: f.string(errs, "region", opt),
        cloud_provider: Some("aws".to_string()),
        ..Target::default()
    };
    let mut username = None;
    if let Some(r) = f.child(errs, "resource", opt) {
        resource::describe(errs, &r, &mut target);
        username = resource::username(errs, &r);
    }
    let (mut observables, first_seen, last_seen) = match f.child(errs, "service", opt) {
        Some(service) => (
            resource::observables(errs, &service),
            service.time(errs, "eventFirstSeen"),
            service.time(errs, "eventLastSeen"),
        ),
        None => Default::default(),
    };
    observables.username = username;

    let (id, finding_type, severity, time) = (id?, finding_type?, severity?, time?);
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::GuardDuty,
        vendor: VENDOR.to_string(),
        product: PRODUCT.to_string(),
        vendor_event_id: Some(id),
        title: title.unwrap_or_else(|| finding_type.clone()),
        description: description.unwrap_or_default(),
        severity,
        finding_type,
        time,
        first_seen,
        last_seen,
        received_at,
        target,
        observables,
        raw: raw.clone(),
    })
}

/// The mandatory numeric `severity`, on GuardDuty's 1.0–10.0 scale.
fn severity(errs: &mut Errors, f: &Node<'_>) -> Option<Severity> {
    let (path, value) = f.get("severity");
    let why = "mandatory; a number from 1.0 to 10.0";
    match fields::present(errs, &path, value, Need::Required(why))? {
        Value::Number(n) => {
            let level = n.as_f64().and_then(level);
            if level.is_none() {
                errs.push(path, format!("{n} is outside GuardDuty's 1.0–10.0 scale"));
            }
            level
        }
        other => {
            let got = fields::json_type(other);
            errs.push(
                path,
                format!("must be a number from 1.0 to 10.0, got {got}"),
            );
            None
        }
    }
}

/// GuardDuty's bands: 1.0–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0 and up critical.
fn level(score: f64) -> Option<Severity> {
    match score {
        s if !(1.0..=10.0).contains(&s) => None,
        s if s < 4.0 => Some(Severity::Low),
        s if s < 7.0 => Some(Severity::Medium),
        s if s < 9.0 => Some(Severity::High),
        _ => Some(Severity::Critical),
    }
}

#[cfg(test)]
mod tests;
