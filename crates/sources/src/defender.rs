//! Microsoft Defender alerts: the Defender for Endpoint alerts API (`/api/alerts`, with or
//! without `$expand=evidence`) and Microsoft Graph security `alerts_v2`, alone or in a
//! `{"value": [...]}` list.
//!
//! Both shapes share `id`, `title`, `severity`, `category` and `mitreTechniques`; they
//! differ in times and evidence. MDE evidence is `entityType` File/Process/Ip/User (one
//! object instead of an array is accepted, as some collectors emit it); Graph evidence is
//! typed by `@odata.type`. Graph's `unknown` severity maps to Medium (triage, not drop).
//! Defender XDR's streaming `AdvancedHunting-AlertEvidence` rows are accepted, grouped
//! into one alert per `AlertId` (see [`alert_evidence`]); other Advanced Hunting records
//! and Sentinel incidents are refused: they are not alerts about one device.

use crate::fields::walk::{
    at, each_item, file_path, items, object, one_item, push_hash, push_ip, text,
};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};

/// Tag holding the Defender machine id (`machineId` / `mdeDeviceId`).
pub const MACHINE_ID_TAG: &str = "defender.machine_id";

/// Parses Defender for Endpoint and Graph security alerts.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefenderParser;

impl AlertParser for DefenderParser {
    fn source(&self) -> AlertSource {
        AlertSource::Defender
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        if alert_evidence::is_evidence(obj) {
            return alert_evidence::alerts(&[(String::new(), payload)], received_at);
        }
        if let Some(Value::Array(records)) = obj.get("records")
            && records
                .iter()
                .any(|r| r.as_object().is_some_and(alert_evidence::is_evidence))
        {
            let rows: Vec<(String, &Value)> = records
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("records[{i}]"), r))
                .collect();
            return alert_evidence::alerts(&rows, received_at);
        }
        if let Some(list) = obj.get("value") {
            return each_item(list, "value", |errs, path, item| {
                alert(errs, path, item, received_at)
            });
        }
        one_item(|errs| alert(errs, "", payload, received_at))
    }
}

/// One alert at `prefix` (empty at the top level).
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
        Need::Required("expected an alert"),
    )?;
    if let Some(category) = obj.get("category").and_then(Value::as_str)
        && category.starts_with("AdvancedHunting-")
    {
        errs.push(
            at(prefix, "category"),
            format!(
                "{} is an Advanced Hunting streaming record, not an alert; send {} records or alerts from the alerts API",
                quote(category),
                alert_evidence::CATEGORY
            ),
        );
        return None;
    }
    let s = |errs: &mut Errors, name: &str| text(errs, prefix, obj, name, MAX_STRING_BYTES);
    let id = fields::string(
        errs,
        &at(prefix, "id"),
        obj.get("id"),
        Need::Required("mandatory"),
        MAX_STRING_BYTES,
    );
    let title = s(errs, "title");
    let description = text(errs, prefix, obj, "description", MAX_TEXT_BYTES);
    let severity = severity(errs, &at(prefix, "severity"), obj.get("severity"));
    let category = s(errs, "category").filter(|c| c != "null");
    // The observed activity window: MDE `first/lastEventTime`, Graph alerts_v2
    // `first/lastActivityDateTime`. The alert's time is its first activity, else its creation.
    let mut time_of = |names: [&str; 2]| {
        names.into_iter().fold(None, |found, field| {
            let t = fields::rfc3339(errs, &at(prefix, field), obj.get(field), Need::Optional);
            found.or(t)
        })
    };
    let first_seen = time_of(["firstEventTime", "firstActivityDateTime"]);
    let last_seen = time_of(["lastEventTime", "lastActivityDateTime"]);
    let created = time_of(["alertCreationTime", "createdDateTime"]);
    let time = first_seen.or(created);

    let mut target = Target {
        hostname: s(errs, "computerDnsName"),
        ..Target::default()
    };
    let mut machine_id = s(errs, "machineId");
    let mut observables = Observables::default();
    let evidence_path = at(prefix, "evidence");
    for (i, item) in items(errs, &evidence_path, obj.get("evidence"))
        .iter()
        .enumerate()
    {
        let path = format!("{evidence_path}[{i}]");
        if let Some(ev) = object(
            errs,
            &path,
            Some(item),
            Need::Required("expected an evidence object"),
        ) {
            evidence(
                errs,
                &path,
                ev,
                &mut target,
                &mut machine_id,
                &mut observables,
            );
        }
    }
    let user_path = at(prefix, "relatedUser");
    if let Some(user) = object(errs, &user_path, obj.get("relatedUser"), Need::Optional) {
        let name = text(errs, &user_path, user, "userName", MAX_STRING_BYTES);
        let domain = text(errs, &user_path, user, "domainName", MAX_STRING_BYTES);
        observables.username = observables.username.take().or(account(domain, name));
    }
    if let Some(machine) = machine_id {
        target.tags.insert(MACHINE_ID_TAG.into(), machine);
    }
    let techniques: Vec<String> = items(
        errs,
        &at(prefix, "mitreTechniques"),
        obj.get("mitreTechniques"),
    )
    .iter()
    .filter_map(Value::as_str)
    .map(str::to_string)
    .collect();
    if !techniques.is_empty() {
        target
            .tags
            .insert("defender.mitre_techniques".into(), techniques.join(","));
    }
    if target.is_empty() && !target.tags.contains_key(MACHINE_ID_TAG) {
        errs.push(
            at(prefix, "computerDnsName"),
            "missing: the alert names no device (computerDnsName, machineId, device or IP evidence)",
        );
        return None;
    }

    let (Some(id), Some(severity)) = (id, severity) else {
        return None;
    };
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::Defender,
        vendor: "Microsoft".into(),
        product: "Defender".into(),
        vendor_event_id: Some(id),
        title: title.unwrap_or_else(|| "Microsoft Defender alert".into()),
        description: description.unwrap_or_default(),
        severity,
        finding_type: category.unwrap_or_default(),
        time: time.unwrap_or(received_at),
        first_seen,
        last_seen,
        received_at,
        target,
        observables,
        raw: value.clone(),
    })
}

/// The mandatory severity, any case; Graph's `unknown` counts as Medium.
fn severity(errs: &mut Errors, path: &str, value: Option<&Value>) -> Option<Severity> {
    let name = fields::string(errs, path, value, Need::Required("mandatory"), 64)?;
    match name.to_ascii_lowercase().as_str() {
        "unknown" | "unknownfuturevalue" => Some(Severity::Medium),
        other => match other.parse() {
            Ok(s) => Some(s),
            Err(_) => {
                errs.push(
                    path,
                    format!(
                        "unknown severity {}; expected Informational, Low, Medium or High",
                        quote(&name)
                    ),
                );
                None
            }
        },
    }
}

/// `DOMAIN\name`, or the bare name.
fn account(domain: Option<String>, name: Option<String>) -> Option<String> {
    match (domain, name) {
        (Some(d), Some(n)) => Some(format!("{d}\\{n}")),
        (_, n) => n,
    }
}

/// Folds one evidence entity (MDE or Graph shape) into the target and observables.
fn evidence(
    errs: &mut Errors,
    path: &str,
    ev: &Map<String, Value>,
    target: &mut Target,
    machine_id: &mut Option<String>,
    obs: &mut Observables,
) {
    let s = |errs: &mut Errors, name: &str| text(errs, path, ev, name, MAX_STRING_BYTES);
    let kind = s(errs, "entityType")
        .or_else(|| s(errs, "@odata.type"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = kind
        .trim_start_matches("#microsoft.graph.security.")
        .trim_end_matches("evidence");
    match kind {
        "device" | "machine" => {
            target.hostname = target.hostname.take().or_else(|| s(errs, "deviceDnsName"));
            let ips_path = at(path, "ipInterfaces");
            for (i, ip) in items(errs, &ips_path, ev.get("ipInterfaces"))
                .iter()
                .enumerate()
            {
                push_ip(errs, &mut target.ips, &format!("{ips_path}[{i}]"), Some(ip));
            }
        }
        "ip" => push_ip(
            errs,
            &mut target.ips,
            &at(path, "ipAddress"),
            ev.get("ipAddress"),
        ),
        "user" => {
            let acct_path = at(path, "userAccount");
            let user = match object(errs, &acct_path, ev.get("userAccount"), Need::Optional) {
                Some(a) => account(
                    text(errs, &acct_path, a, "domainName", MAX_STRING_BYTES),
                    text(errs, &acct_path, a, "accountName", MAX_STRING_BYTES),
                ),
                None => account(s(errs, "domainName"), s(errs, "accountName")),
            };
            obs.username = obs.username.take().or(user);
        }
        "file" | "process" => {
            let details_field = if kind == "file" {
                "fileDetails"
            } else {
                "imageFile"
            };
            let details_path = at(path, details_field);
            let (fpath, fobj) =
                match object(errs, &details_path, ev.get(details_field), Need::Optional) {
                    Some(d) => (details_path, d),
                    None => (path.to_string(), ev),
                };
            let dir = text(errs, &fpath, fobj, "filePath", MAX_STRING_BYTES);
            let name = text(errs, &fpath, fobj, "fileName", MAX_STRING_BYTES);
            let full = file_path(dir, name);
            obs.file_path = obs.file_path.take().or(full);
            for field in ["sha256", "sha1"] {
                push_hash(
                    errs,
                    &mut obs.file_hashes,
                    &at(&fpath, field),
                    fobj.get(field),
                );
            }
            let cmd = text(errs, path, ev, "processCommandLine", MAX_TEXT_BYTES);
            obs.command_line = obs.command_line.take().or(cmd);
        }
        _ => {}
    }
    if machine_id.is_none() {
        *machine_id = s(errs, "mdeDeviceId");
    }
}

mod alert_evidence;

#[cfg(test)]
mod tests;
