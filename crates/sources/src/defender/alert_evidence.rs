//! Defender XDR streaming records of the `AdvancedHunting-AlertEvidence` table (Event Hub
//! or storage export): one row per entity of an alert (the machine, a process, a file, an
//! IP, a user), alone or in a `{"records": [...]}` batch.
//!
//! Rows of one `AlertId` in a payload become one alert: the device from whichever row
//! names it (`DeviceName`/`DeviceId`, or the `host` object inside `AdditionalFields`),
//! the most severe `Severity`, every hash, the first command line and file. The `AlertId`
//! is the alert's vendor id, so rows of the same alert sent later are duplicates of it.
//! Other Advanced Hunting tables in a batch (`AlertInfo`, device tables) are not alerts and
//! are left out; a payload with no evidence row at all is refused.

use super::{MACHINE_ID_TAG, account, severity};
use crate::SourceError;
use crate::fields::walk::{at, file_path, object, push_hash, push_ip, text};
use crate::fields::{self, Errors, MAX_STRING_BYTES, MAX_TEXT_BYTES, Need, quote};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::{Map, Value};

/// The streaming category of alert evidence rows.
pub(super) const CATEGORY: &str = "AdvancedHunting-AlertEvidence";

/// Largest `AdditionalFields` document read for the host (bytes).
const MAX_ADDITIONAL_FIELDS: usize = 256 * 1024;

/// Whether a record is an alert evidence row.
pub(super) fn is_evidence(record: &Map<String, Value>) -> bool {
    record.get("category").and_then(Value::as_str) == Some(CATEGORY)
}

/// The alerts of evidence rows: `records` are the rows with their paths (`records[3]`,
/// or empty for a lone row).
pub(super) fn alerts(
    records: &[(String, &Value)],
    received_at: DateTime<Utc>,
) -> Result<Vec<Alert>, SourceError> {
    let mut errs = Errors::default();
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for (path, value) in records {
        let Some(record) = object(&mut errs, path, Some(value), Need::Required("a record")) else {
            continue;
        };
        if !is_evidence(record) {
            continue;
        }
        let Some(row) = row(&mut errs, path, record) else {
            continue;
        };
        match groups.iter_mut().find(|(id, _)| *id == row.alert_id) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((row.alert_id.clone(), vec![row])),
        }
    }
    let alerts: Vec<Alert> = groups
        .into_iter()
        .filter_map(|(_, rows)| merge(&mut errs, rows, received_at))
        .collect();
    errs.check()?;
    Ok(alerts)
}

/// One evidence row, read.
struct Row {
    path: String,
    alert_id: String,
    time: Option<DateTime<Utc>>,
    title: Option<String>,
    severity: Severity,
    categories: Vec<String>,
    techniques: Vec<String>,
    service: Option<String>,
    target: Target,
    observables: Observables,
    raw: Value,
}

fn row(errs: &mut Errors, path: &str, record: &Map<String, Value>) -> Option<Row> {
    let props_path = at(path, "properties");
    let props = object(
        errs,
        &props_path,
        record.get("properties"),
        Need::Required("the evidence row"),
    )?;
    let s = |errs: &mut Errors, name: &str| text(errs, &props_path, props, name, MAX_STRING_BYTES);
    let alert_id = fields::string(
        errs,
        &at(&props_path, "AlertId"),
        props.get("AlertId"),
        Need::Required("mandatory: rows are grouped into alerts by it"),
        MAX_STRING_BYTES,
    );
    let severity = severity(errs, &at(&props_path, "Severity"), props.get("Severity"));
    let time = fields::rfc3339(
        errs,
        &at(&props_path, "Timestamp"),
        props.get("Timestamp"),
        Need::Optional,
    );
    let mut target = Target {
        hostname: s(errs, "DeviceName"),
        ..Target::default()
    };
    if let Some(device) = s(errs, "DeviceId") {
        target.tags.insert(MACHINE_ID_TAG.into(), device);
    }
    push_ip(
        errs,
        &mut target.ips,
        &at(&props_path, "LocalIP"),
        props.get("LocalIP"),
    );
    if let Some(extra) = text(errs, &props_path, props, "AdditionalFields", MAX_TEXT_BYTES)
        && extra.len() <= MAX_ADDITIONAL_FIELDS
        && let Ok(extra) = serde_json::from_str::<Value>(&extra)
        && let Some(host) = find_host(&extra, 0)
    {
        let name = |k: &str| {
            host.get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        if target.hostname.is_none() {
            target.hostname = match (name("HostName"), name("DnsDomain"), name("NetBiosName")) {
                (Some(h), Some(d), _) if !h.contains('.') => Some(format!("{h}.{d}")),
                (Some(h), _, _) => Some(h.to_string()),
                (None, _, n) => n.map(str::to_string),
            };
        }
        if let Some(machine) = name("MachineId") {
            target
                .tags
                .entry(MACHINE_ID_TAG.into())
                .or_insert_with(|| machine.to_string());
        }
    }
    let mut observables = Observables {
        file_path: file_path(s(errs, "FolderPath"), s(errs, "FileName")),
        command_line: text(
            errs,
            &props_path,
            props,
            "ProcessCommandLine",
            MAX_TEXT_BYTES,
        ),
        username: account(s(errs, "AccountDomain"), s(errs, "AccountName"))
            .or_else(|| s(errs, "AccountUpn")),
        ..Observables::default()
    };
    for field in ["SHA256", "SHA1"] {
        push_hash(
            errs,
            &mut observables.file_hashes,
            &at(&props_path, field),
            props.get(field),
        );
    }
    if let Some(ip) = s(errs, "RemoteIP") {
        match ip.parse() {
            Ok(ip) => observables.destination_ip = Some(ip),
            Err(_) => errs.push(
                at(&props_path, "RemoteIP"),
                format!("{} is not an IPv4 or IPv6 address", quote(&ip)),
            ),
        }
    }
    Some(Row {
        path: path.to_string(),
        alert_id: alert_id?,
        time,
        title: s(errs, "Title"),
        severity: severity?,
        categories: json_list(s(errs, "Categories")),
        techniques: json_list(s(errs, "AttackTechniques")),
        service: s(errs, "ServiceSource"),
        target,
        observables,
        raw: Value::Object(record.clone()),
    })
}

/// One alert from the rows of one `AlertId`.
fn merge(errs: &mut Errors, rows: Vec<Row>, received_at: DateTime<Utc>) -> Option<Alert> {
    let first = rows.first()?;
    let (path, alert_id) = (first.path.clone(), first.alert_id.clone());
    let mut target = Target::default();
    let mut observables = Observables::default();
    let mut severity = Severity::Informational;
    let (mut title, mut time, mut service) = (None, None, None);
    let (mut categories, mut techniques) = (Vec::new(), Vec::new());
    let mut raw = Vec::with_capacity(rows.len());
    for row in rows {
        severity = severity.max(row.severity);
        title = title.or(row.title);
        service = service.or(row.service);
        time = match (time, row.time) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
        target.hostname = target.hostname.or(row.target.hostname);
        for ip in row.target.ips {
            if !target.ips.contains(&ip) {
                target.ips.push(ip);
            }
        }
        for (k, v) in row.target.tags {
            target.tags.entry(k).or_insert(v);
        }
        let o = row.observables;
        observables.file_path = observables.file_path.or(o.file_path);
        observables.command_line = observables.command_line.or(o.command_line);
        observables.username = observables.username.or(o.username);
        observables.destination_ip = observables.destination_ip.or(o.destination_ip);
        for hash in o.file_hashes {
            if !observables.file_hashes.contains(&hash) {
                observables.file_hashes.push(hash);
            }
        }
        for c in row.categories {
            if !categories.contains(&c) {
                categories.push(c);
            }
        }
        for t in row.techniques {
            if !techniques.contains(&t) {
                techniques.push(t);
            }
        }
        raw.push(row.raw);
    }
    if target.is_empty() {
        errs.push(
            at(&path, "properties.DeviceName"),
            format!(
                "alert {} names no device (DeviceName, DeviceId or a host in AdditionalFields) in any of its evidence rows; send its Machine row too",
                quote(&alert_id)
            ),
        );
        return None;
    }
    let finding_type = match (categories.is_empty(), techniques.is_empty()) {
        (false, false) => format!("{}: {}", categories.join(", "), techniques.join(", ")),
        (false, true) => categories.join(", "),
        (true, false) => techniques.join(", "),
        (true, true) => CATEGORY.to_string(),
    };
    Some(Alert {
        id: AlertId::new(),
        source: AlertSource::Defender,
        vendor: "Microsoft".into(),
        product: service.unwrap_or_else(|| "Defender XDR".into()),
        vendor_event_id: Some(alert_id),
        title: title.unwrap_or_else(|| "Microsoft Defender alert".into()),
        description: String::new(),
        severity,
        finding_type,
        time: time.unwrap_or(received_at),
        first_seen: time,
        last_seen: None,
        received_at,
        target,
        observables,
        raw: if raw.len() == 1 {
            raw.remove(0)
        } else {
            Value::Array(raw)
        },
    })
}

/// The first object typed `host` in `AdditionalFields` (entities nest hosts in processes'
/// image files, accounts, …; repeats are `{"$ref": …}`), looked for at most 8 levels deep.
fn find_host(value: &Value, depth: usize) -> Option<&Map<String, Value>> {
    if depth > 8 {
        return None;
    }
    match value {
        Value::Object(map) => {
            if map.get("Type").and_then(Value::as_str) == Some("host")
                && (map.contains_key("HostName") || map.contains_key("NetBiosName"))
            {
                return Some(map);
            }
            map.values().find_map(|v| find_host(v, depth + 1))
        }
        Value::Array(items) => items.iter().find_map(|v| find_host(v, depth + 1)),
        _ => None,
    }
}

/// A JSON array of strings given as a string (`"[\"Discovery\"]"`), or a plain string.
fn json_list(value: Option<String>) -> Vec<String> {
    let Some(value) = value.filter(|v| !v.trim().is_empty() && v != "[]") else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<String>>(&value) {
        Ok(list) => list.into_iter().filter(|s| !s.is_empty()).collect(),
        Err(_) => vec![value],
    }
}
