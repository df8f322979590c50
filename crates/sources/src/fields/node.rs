//! Walking nested vendor JSON while recording errors with full JSON paths.
//!
//! GuardDuty names the same field `instanceId` in EventBridge events and `InstanceId` in
//! the GetFindings API, so every lookup takes the camelCase name and also accepts the
//! PascalCase one; errors name the key actually sent.

use super::{self as fields, Errors, MAX_STRING_BYTES, Need, quote};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Longest accepted list (findings, tags, network interfaces, …).
pub(crate) const MAX_ITEMS: usize = 1_000;

/// A JSON object and the path that leads to it (`""` for the payload itself).
#[derive(Debug, Clone)]
pub(crate) struct Node<'v> {
    /// The object.
    pub(crate) obj: &'v Map<String, Value>,
    /// Its JSON path, e.g. `detail.resource`.
    pub(crate) path: String,
}

/// `instanceId` → `InstanceId`.
fn pascal(camel: &str) -> String {
    let mut chars = camel.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `prefix.key`, or `key` at the top level.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl<'v> Node<'v> {
    /// The node for a top-level object.
    pub(crate) fn root(obj: &'v Map<String, Value>, path: impl Into<String>) -> Self {
        Node {
            obj,
            path: path.into(),
        }
    }

    /// The path and value of a field, looked up as `camel` then as PascalCase.
    pub(crate) fn get(&self, camel: &str) -> (String, Option<&'v Value>) {
        if let Some(v) = self.obj.get(camel) {
            return (join(&self.path, camel), Some(v));
        }
        let upper = pascal(camel);
        match self.obj.get(&upper) {
            Some(v) => (join(&self.path, &upper), Some(v)),
            None => (join(&self.path, camel), None),
        }
    }

    /// Whether the field is present and not null.
    pub(crate) fn has(&self, camel: &str) -> bool {
        !matches!(self.get(camel).1, None | Some(Value::Null))
    }

    /// A string field.
    pub(crate) fn string(&self, errs: &mut Errors, camel: &str, need: Need<'_>) -> Option<String> {
        let (path, value) = self.get(camel);
        fields::string(errs, &path, value, need, MAX_STRING_BYTES)
    }

    /// A string field that may hold free text up to `max` bytes.
    pub(crate) fn text(&self, errs: &mut Errors, camel: &str, max: usize) -> Option<String> {
        let (path, value) = self.get(camel);
        fields::string(errs, &path, value, Need::Optional, max)
    }

    /// An RFC 3339 timestamp field.
    pub(crate) fn time(
        &self,
        errs: &mut Errors,
        camel: &str,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let (path, value) = self.get(camel);
        fields::rfc3339(errs, &path, value, Need::Optional)
    }

    /// An optional IP address field.
    pub(crate) fn ip(&self, errs: &mut Errors, camel: &str) -> Option<IpAddr> {
        let (path, value) = self.get(camel);
        fields::ip(errs, &path, value, Need::Optional)
    }

    /// An optional port field (a JSON integer).
    pub(crate) fn port(&self, errs: &mut Errors, camel: &str) -> Option<u16> {
        let (path, value) = self.get(camel);
        fields::port(errs, &path, value, Need::Optional, false)
    }

    /// An object field; records a type error (or a missing one when required).
    pub(crate) fn child(&self, errs: &mut Errors, camel: &str, need: Need<'_>) -> Option<Self> {
        let (path, value) = self.get(camel);
        match fields::present(errs, &path, value, need)? {
            Value::Object(obj) => Some(Node { obj, path }),
            other => {
                let problem = format!("must be an object, got {}", fields::json_type(other));
                errs.push(path, problem);
                None
            }
        }
    }

    /// The items of an optional array field with their paths; records a type error.
    pub(crate) fn list(&self, errs: &mut Errors, camel: &str) -> Vec<(String, &'v Value)> {
        let (path, value) = self.get(camel);
        match fields::present(errs, &path, value, Need::Optional) {
            None => Vec::new(),
            Some(Value::Array(items)) if items.len() > MAX_ITEMS => {
                errs.push(
                    path,
                    format!("has {} items; at most {MAX_ITEMS}", items.len()),
                );
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
            Some(other) => {
                let problem = format!("must be an array, got {}", fields::json_type(other));
                errs.push(path, problem);
                Vec::new()
            }
        }
    }

    /// The objects of an optional array field; non-objects are recorded as errors.
    pub(crate) fn children(&self, errs: &mut Errors, camel: &str) -> Vec<Self> {
        self.list(errs, camel)
            .into_iter()
            .filter_map(|(path, v)| match v {
                Value::Object(obj) => Some(Node { obj, path }),
                Value::Null => None,
                other => {
                    let problem = format!("must be an object, got {}", fields::json_type(other));
                    errs.push(path, problem);
                    None
                }
            })
            .collect()
    }

    /// The first object of an optional array field.
    pub(crate) fn first(&self, errs: &mut Errors, camel: &str) -> Option<Self> {
        self.children(errs, camel).into_iter().next()
    }

    /// Resource tags given either as `[{"key": k, "value": v}, …]` (AWS) or as an object
    /// of strings (Wiz). Values may be empty; keys may not.
    pub(crate) fn tags(&self, errs: &mut Errors, camel: &str) -> BTreeMap<String, String> {
        let (path, value) = self.get(camel);
        let mut tags = BTreeMap::new();
        let value_of = |errs: &mut Errors, path: &str, v: Option<&Value>| match v {
            None | Some(Value::Null) => Some(String::new()),
            Some(Value::String(s)) if s.len() <= MAX_STRING_BYTES => Some(s.trim().to_string()),
            other => fields::string(
                errs,
                path,
                other,
                Need::Required("tag value"),
                MAX_STRING_BYTES,
            ),
        };
        match value {
            Some(Value::Object(map)) => {
                if map.len() > MAX_ITEMS {
                    errs.push(path, format!("has {} tags; at most {MAX_ITEMS}", map.len()));
                    return tags;
                }
                for (k, v) in map {
                    let item = format!("{path}[{}]", quote(k));
                    if let Some(v) = value_of(errs, &item, Some(v)) {
                        tags.insert(k.clone(), v);
                    }
                }
            }
            _ => {
                for tag in self.children(errs, camel) {
                    let key = tag.string(errs, "key", Need::Required("tag key"));
                    let (vpath, v) = tag.get("value");
                    let v = value_of(errs, &vpath, v);
                    if let (Some(k), Some(v)) = (key, v) {
                        tags.insert(k, v);
                    }
                }
            }
        }
        tags
    }
}
