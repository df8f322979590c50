//! SentinelOne detections from the management API v2.1: threats (`/threats`), STAR /
//! cloud-detection alerts (`/cloud-detection/alerts`) and custom-rule alert activities
//! (`/activities`, `activityType` 3608), alone or in a `{"data": [...]}` list.
//!
//! Threat severity follows `threatInfo.confidenceLevel` (malicious → High, suspicious →
//! Medium), else an explicit `severity`, else Medium. Alert severities come from the rule
//! (`ruleInfo.severity`, or `E_MEDIUM`-style names in activities).

use crate::fields::walk::{at, each_item, object, one_item, push_hash, push_ip, text};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};

/// The activity type of a STAR custom-rule alert.
const CUSTOM_RULE_ALERT_ACTIVITY: u64 = 3608;

/// Parses SentinelOne threats, alerts and alert activities.
#[derive(Debug, Clone, Copy, Default)]
pub struct SentinelOneParser;

impl AlertParser for SentinelOneParser {
    fn source(&self) -> AlertSource {
        AlertSource::SentinelOne
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        if let Some(list @ Value::Array(_)) = obj.get("data") {
            return each_item(list, "data", |errs, path, item| {
                alert(errs, path, item, received_at)
            });
        }
        one_item(|errs| alert(errs, "", payload, received_at))
    }
}

/// What one shape contributes; the rest of [`Alert`] is filled alike.
#[derive(Default)]
struct Mapped {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    severity: Option<Severity>,
    finding_type: Option<String>,
    time: Option<DateTime<Utc>>,
    first_seen: Option<DateTime<Utc>>,
    target: Target,
    observables: Observables,
}

/// One threat, alert or activity at `prefix`.
fn alert(
    errs: &mut Errors,
    prefix: &str,
    value: &Value,
    received_at: DateTime<Utc>,
) -> Option<Alert> {
    let obj = object(
        errs,
        prefix,
        Some(value),
        Need::Required("expected a threat or alert"),
    )?;
    let before = errs.len();
    let m = if obj.contains_key("threatInfo") {
        threat(errs, prefix, obj)
    } else if obj.contains_key("alertInfo") {
        cloud_alert(errs, prefix, obj)
    } else if obj.contains_key("activityType") {
        activity(errs, prefix, obj, received_at)?
    } else {
        errs.push(
            if prefix.is_empty() { "$" } else { prefix },
            "not a SentinelOne threat (threatInfo), alert (alertInfo) or activity (activityType)",
        );
        return None;
    };
    if m.target.is_empty() {
        errs.push(
            at(prefix, "agentRealtimeInfo"),
            "missing: the detection names no agent host or IP",
        );
    }
    let (Some(id), Some(severity)) = (m.id, m.severity) else {
        return None;
    };
    if errs.len() > before {
        return None;
    }
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::SentinelOne,
        vendor: "SentinelOne".into(),
        product: "Singularity".into(),
        vendor_event_id: Some(id),
        title: m.title.unwrap_or_else(|| "SentinelOne detection".into()),
        description: m.description.unwrap_or_default(),
        severity,
        finding_type: m.finding_type.unwrap_or_default(),
        time: m.time.unwrap_or(received_at),
        first_seen: m.first_seen,
        // No shape states a last observation: `updatedAt` moves with mitigation and
        // analyst actions.
        last_seen: None,
        received_at,
        target: m.target,
        observables: m.observables,
        raw: value.clone(),
    })
}

/// A severity name such as `High`, `critical` or `E_MEDIUM`.
fn severity_name(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
) -> Option<Severity> {
    let name = fields::string(errs, path, value, need, 64)?;
    let bare = name.strip_prefix("E_").unwrap_or(&name);
    match bare.parse() {
        Ok(s) => Some(s),
        Err(_) => {
            errs.push(
                path,
                format!(
                    "unknown severity {}; expected Low, Medium, High or Critical",
                    quote(&name)
                ),
            );
            None
        }
    }
}

/// A required object member, or an empty map after recording the problem.
fn member<'v>(
    errs: &mut Errors,
    prefix: &str,
    obj: &'v Map<String, Value>,
    name: &str,
    need: Need<'_>,
) -> Option<&'v Map<String, Value>> {
    object(errs, &at(prefix, name), obj.get(name), need)
}

/// Agent host name, IPs and tags from `agentRealtimeInfo` / `agentDetectionInfo`.
fn agent(errs: &mut Errors, prefix: &str, obj: &Map<String, Value>) -> Target {
    let mut target = Target::default();
    let realtime_path = at(prefix, "agentRealtimeInfo");
    if let Some(info) = member(errs, prefix, obj, "agentRealtimeInfo", Need::Optional) {
        target.hostname = text(
            errs,
            &realtime_path,
            info,
            "agentComputerName",
            MAX_STRING_BYTES,
        )
        .or_else(|| text(errs, &realtime_path, info, "name", MAX_STRING_BYTES));
    }
    let path = at(prefix, "agentDetectionInfo");
    if let Some(info) = member(errs, prefix, obj, "agentDetectionInfo", Need::Optional) {
        if target.hostname.is_none() {
            target.hostname = text(errs, &path, info, "name", MAX_STRING_BYTES);
        }
        for field in ["agentIpV4", "externalIp"] {
            push_ip(errs, &mut target.ips, &at(&path, field), info.get(field));
        }
        for (tag, field) in [
            ("site", "siteName"),
            ("agent_uuid", "agentUuid"),
            ("agent_uuid", "uuid"),
            ("os", "agentOsName"),
            ("os", "osName"),
        ] {
            if let Some(v) = text(errs, &path, info, field, MAX_STRING_BYTES) {
                target.tags.entry(format!("sentinelone.{tag}")).or_insert(v);
            }
        }
    }
    target
}

/// File path, hashes, command line and user of a process or file section.
fn process(
    errs: &mut Errors,
    path: &str,
    p: &Map<String, Value>,
    fields: [&str; 6],
) -> Observables {
    let [file, sha256, sha1, md5, cmd, user] = fields;
    let mut obs = Observables {
        file_path: text(errs, path, p, file, MAX_STRING_BYTES),
        command_line: text(errs, path, p, cmd, MAX_TEXT_BYTES),
        username: text(errs, path, p, user, MAX_STRING_BYTES),
        ..Observables::default()
    };
    for field in [sha256, sha1, md5] {
        push_hash(errs, &mut obs.file_hashes, &at(path, field), p.get(field));
    }
    obs
}

/// A `/threats` item.
fn threat(errs: &mut Errors, prefix: &str, obj: &Map<String, Value>) -> Mapped {
    let ti_path = at(prefix, "threatInfo");
    let ti = member(errs, prefix, obj, "threatInfo", Need::Required("mandatory"));
    let id = fields::string_or_integer(errs, &at(prefix, "id"), obj.get("id"), Need::Optional)
        .or_else(|| {
            ti.and_then(|t| {
                fields::string_or_integer(
                    errs,
                    &at(&ti_path, "threatId"),
                    t.get("threatId"),
                    Need::Optional,
                )
            })
        });
    if id.is_none() {
        errs.push(
            at(prefix, "id"),
            "missing (mandatory; or give threatInfo.threatId)",
        );
    }
    let mut m = Mapped {
        id,
        target: agent(errs, prefix, obj),
        ..Mapped::default()
    };
    let Some(ti) = ti else {
        return m;
    };
    let s = |errs: &mut Errors, name: &str| text(errs, &ti_path, ti, name, MAX_STRING_BYTES);
    let name = s(errs, "threatName");
    m.finding_type = s(errs, "classification");
    m.title = match (&m.finding_type, name) {
        (Some(class), Some(name)) => Some(format!("{class}: {name}")),
        (class, name) => name.or(class.clone()),
    };
    m.severity = match s(errs, "confidenceLevel")
        .map(|c| c.to_ascii_lowercase())
        .as_deref()
    {
        Some("malicious") => Some(Severity::High),
        Some("suspicious") => Some(Severity::Medium),
        _ => severity_name(
            errs,
            &at(&ti_path, "severity"),
            ti.get("severity"),
            Need::Optional,
        )
        .or_else(|| {
            severity_name(
                errs,
                &at(prefix, "severity"),
                obj.get("severity"),
                Need::Optional,
            )
        })
        .or(Some(Severity::Medium)),
    };
    for field in ["identifiedAt", "createdAt"] {
        let t = fields::rfc3339(errs, &at(&ti_path, field), ti.get(field), Need::Optional);
        if field == "identifiedAt" {
            // When the agent identified the threat: its first observation.
            m.first_seen = t;
        }
        m.time = m.time.or(t);
    }
    m.observables = process(
        errs,
        &ti_path,
        ti,
        [
            "filePath",
            "sha256",
            "sha1",
            "md5",
            "maliciousProcessArguments",
            "processUser",
        ],
    );
    m
}

/// A `/cloud-detection/alerts` item.
fn cloud_alert(errs: &mut Errors, prefix: &str, obj: &Map<String, Value>) -> Mapped {
    let info_path = at(prefix, "alertInfo");
    let rule_path = at(prefix, "ruleInfo");
    let req = Need::Required("mandatory");
    let mut m = Mapped {
        target: agent(errs, prefix, obj),
        ..Mapped::default()
    };
    if let Some(info) = member(errs, prefix, obj, "alertInfo", req) {
        m.id =
            fields::string_or_integer(errs, &at(&info_path, "alertId"), info.get("alertId"), req);
        m.time = fields::rfc3339(
            errs,
            &at(&info_path, "createdAt"),
            info.get("createdAt"),
            Need::Optional,
        );
        m.finding_type = text(errs, &info_path, info, "eventType", MAX_STRING_BYTES);
        push_ip(
            errs,
            &mut m.target.ips,
            &at(&info_path, "srcMachineIp"),
            info.get("srcMachineIp"),
        );
    }
    if let Some(rule) = member(errs, prefix, obj, "ruleInfo", req) {
        m.severity = severity_name(errs, &at(&rule_path, "severity"), rule.get("severity"), req);
        m.title = text(errs, &rule_path, rule, "name", MAX_STRING_BYTES);
        m.description = text(errs, &rule_path, rule, "description", MAX_TEXT_BYTES);
    }
    let proc_path = at(prefix, "sourceProcessInfo");
    if let Some(p) = member(errs, prefix, obj, "sourceProcessInfo", Need::Optional) {
        m.observables = process(
            errs,
            &proc_path,
            p,
            [
                "filePath",
                "fileHashSha256",
                "fileHashSha1",
                "fileHashMd5",
                "commandline",
                "user",
            ],
        );
    }
    m
}

/// An `/activities` item; only custom-rule alerts (type 3608) are detections.
fn activity(
    errs: &mut Errors,
    prefix: &str,
    obj: &Map<String, Value>,
    received_at: DateTime<Utc>,
) -> Option<Mapped> {
    let type_path = at(prefix, "activityType");
    match obj.get("activityType").and_then(Value::as_u64) {
        Some(CUSTOM_RULE_ALERT_ACTIVITY) => {}
        _ => {
            errs.push(type_path, format!("unsupported activity; only {CUSTOM_RULE_ALERT_ACTIVITY} (custom rule alert) is a detection"));
            return None;
        }
    }
    let req = Need::Required("mandatory");
    let data_path = at(prefix, "data");
    let mut m = Mapped {
        id: fields::string_or_integer(errs, &at(prefix, "id"), obj.get("id"), req),
        time: fields::rfc3339(
            errs,
            &at(prefix, "createdAt"),
            obj.get("createdAt"),
            Need::Optional,
        ),
        description: text(errs, prefix, obj, "primaryDescription", MAX_TEXT_BYTES),
        ..Mapped::default()
    };
    let data = member(errs, prefix, obj, "data", req)?;
    let s = |errs: &mut Errors, name: &str| text(errs, &data_path, data, name, MAX_STRING_BYTES);
    // When the rule matched, in epoch milliseconds.
    m.first_seen = fields::epoch_millis(
        errs,
        &at(&data_path, "detectedat"),
        data.get("detectedat"),
        Need::Optional,
        received_at,
    );
    m.severity = severity_name(errs, &at(&data_path, "severity"), data.get("severity"), req);
    m.title = s(errs, "rulename");
    m.finding_type = s(errs, "dveventtype");
    m.target.hostname = s(errs, "origagentname");
    for (tag, field) in [
        ("site", "siteName"),
        ("agent_uuid", "origagentuuid"),
        ("os", "origagentosname"),
    ] {
        if let Some(v) = s(errs, field) {
            m.target.tags.insert(format!("sentinelone.{tag}"), v);
        }
    }
    m.observables = process(
        errs,
        &data_path,
        data,
        [
            "sourceprocessfilepath",
            "sourceprocesssha256",
            "sourceprocesssha1",
            "sourceprocessmd5",
            "sourceprocesscommandline",
            "sourceprocessusername",
        ],
    );
    Some(m)
}

#[cfg(test)]
mod tests;
