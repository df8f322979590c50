//! MISP event JSON: an event export (`{"Event": …}`, a `response` list or an array of
//! them) with its `Attribute`s and the attributes of its `Object`s.
//!
//! Types read: `md5`, `sha1`, `sha256`, `filename`, `filename|md5`, `filename|sha1`,
//! `filename|sha256` (two indicators), `ip-src`, `ip-dst`, `ip-src|port`, `ip-dst|port`,
//! `domain`, `hostname`, `hostname|port`, `domain|ip` (two), `url`. Other types and, by
//! default, attributes whose `to_ids` is false are reported as rejected. The event's
//! `threat_level_id` gives the severity (1 high, 2 medium, 3 low, 4 none); the attribute's
//! `comment` (else the event's `info`) the description.

use super::{Import, IocError, IocImporter, IocKind, malformed};
use riposte_model::Severity;
use serde_json::Value;

/// Reads MISP events.
#[derive(Debug, Clone, Copy)]
pub struct MispImporter {
    /// Import only attributes flagged `to_ids` (for detection), as MISP intends.
    pub only_to_ids: bool,
}

impl MispImporter {
    /// Honours `to_ids`.
    pub const DEFAULT: Self = MispImporter { only_to_ids: true };
}

impl Default for MispImporter {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl IocImporter for MispImporter {
    fn name(&self) -> &'static str {
        "misp"
    }

    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError> {
        let doc: Value = serde_json::from_slice(data)
            .map_err(|e| malformed("misp", source, format!("not JSON: {e}")))?;
        let events: Vec<&Value> = match &doc {
            Value::Array(items) => items.iter().collect(),
            Value::Object(o) => match o.get("response") {
                Some(Value::Array(items)) => items.iter().collect(),
                _ => vec![&doc],
            },
            _ => return Err(malformed("misp", source, "not a MISP event")),
        };
        let mut import = Import::default();
        for (n, wrapper) in events.into_iter().enumerate() {
            let event = wrapper.get("Event").unwrap_or(wrapper);
            if !event.is_object()
                || (event.get("Attribute").is_none()
                    && event.get("Object").is_none()
                    && event.get("info").is_none())
            {
                return Err(malformed(
                    "misp",
                    source,
                    format!("event {n}: no Event object"),
                ));
            }
            self.event(event, source, &mut import);
        }
        Ok(import)
    }
}

impl MispImporter {
    fn event(&self, event: &Value, source: &str, import: &mut Import) {
        let info = event.get("info").and_then(Value::as_str).unwrap_or("");
        let id = event
            .get("uuid")
            .or(event.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let severity = match number(event.get("threat_level_id")) {
            Some(1) => Some(Severity::High),
            Some(2) => Some(Severity::Medium),
            Some(3) => Some(Severity::Low),
            _ => None,
        };
        let event_source = format!("{source} (MISP event {id})");
        let context = Context {
            info,
            source: &event_source,
            severity,
        };
        for (i, attribute) in list(event, "Attribute").iter().enumerate() {
            self.attribute(attribute, &format!("Attribute[{i}]"), &context, import);
        }
        for (o, object) in list(event, "Object").iter().enumerate() {
            for (i, attribute) in list(object, "Attribute").iter().enumerate() {
                let place = format!("Object[{o}].Attribute[{i}]");
                self.attribute(attribute, &place, &context, import);
            }
        }
    }

    fn attribute(&self, attribute: &Value, place: &str, cx: &Context<'_>, import: &mut Import) {
        let text = |key: &str| attribute.get(key).and_then(Value::as_str).unwrap_or("");
        let place = match text("uuid") {
            "" => place.to_string(),
            uuid => format!("{place} {uuid}"),
        };
        let (kind, value) = (text("type"), text("value"));
        if self.only_to_ids && !truthy(attribute.get("to_ids")) {
            import.reject(
                place,
                format!("`{kind}` not for detection (to_ids is false)"),
            );
            return;
        }
        let description = match text("comment") {
            "" => cx.info,
            comment => comment,
        };
        let mut add = |kind: IocKind, value: &str| {
            import.add(&place, kind, value, cx.source, description, cx.severity)
        };
        let (first, second) = value.split_once('|').unwrap_or((value, ""));
        match kind {
            "md5" => add(IocKind::Md5, value),
            "sha1" => add(IocKind::Sha1, value),
            "sha256" => add(IocKind::Sha256, value),
            "filename" => add(file_kind(value), value),
            "filename|md5" | "filename|sha1" | "filename|sha256" => {
                add(file_kind(first), first);
                let hash = match kind {
                    "filename|md5" => IocKind::Md5,
                    "filename|sha1" => IocKind::Sha1,
                    _ => IocKind::Sha256,
                };
                add(hash, second);
            }
            "ip-src" | "ip-dst" => add(IocKind::Ip, value),
            "ip-src|port" | "ip-dst|port" => add(IocKind::Ip, first),
            "domain" | "hostname" => add(IocKind::Domain, value),
            "hostname|port" => add(IocKind::Domain, first),
            "domain|ip" => {
                add(IocKind::Domain, first);
                add(IocKind::Ip, second);
            }
            "url" => add(IocKind::Url, value),
            other => import.reject(place, format!("unsupported MISP type `{other}`")),
        }
    }
}

struct Context<'a> {
    info: &'a str,
    source: &'a str,
    severity: Option<Severity>,
}

fn file_kind(value: &str) -> IocKind {
    if value.contains(['/', '\\']) {
        IocKind::FilePath
    } else {
        IocKind::FileName
    }
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// MISP writes numbers and booleans as JSON values or strings depending on the version.
fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true" | "True"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}
