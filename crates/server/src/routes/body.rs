//! Where every request body is parsed, and the limits every body is held to.
//!
//! A body is at most [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES) (413 beyond), valid JSON
//! without duplicate keys (400), nested at most 128 deep (400), and then held to its
//! route's [`Limits`]: every string, list and map has a bound — the field's own when the
//! table names it, the table's default otherwise — and no string or key holds a NUL
//! character (Postgres cannot store one). A body past a bound is refused with 422 naming
//! the field (`scopes[3].cidrs`) before any handler sees it, so the work a single request
//! can cause is bounded by these tables. The tables live in [`super::limits`], and the
//! README's "Limits" section lists them.

use crate::ApiError;
use riposte_sources::FieldError;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A bound on one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// A string of at most this many bytes.
    Bytes(usize),
    /// A string of at most this many characters.
    Chars(usize),
    /// A list or map of at most this many items (entries).
    Items(usize),
}

/// What one kind of request body may hold.
#[derive(Debug)]
pub(crate) struct Limits {
    /// The bodies these limits are for, as the README names them.
    pub(crate) name: &'static str,
    /// Bounds of named fields. A path names object keys separated by `.`, `[]` for any
    /// item of a list and `*` for any key of a map: `scopes[].tags.*`.
    pub(crate) fields: &'static [(&'static str, Bound)],
    /// Every other string and map key, in bytes.
    pub(crate) string_bytes: usize,
    /// Every other list or map, in items.
    pub(crate) items: usize,
    /// When set, the only top-level keys accepted (for bodies read field by field; typed
    /// bodies refuse unknown keys through their types).
    pub(crate) keys: Option<&'static [&'static str]>,
}

/// At most this many problems are reported for one body.
const MAX_PROBLEMS: usize = 20;

/// Parses `bytes` as JSON, refusing duplicate keys (serde_json alone keeps the last one).
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Holds `value` to `limits`: 422 naming every field past its bound (at most
/// [`MAX_PROBLEMS`]).
pub(crate) fn check(value: &Value, limits: &Limits) -> Result<(), ApiError> {
    let mut walk = Walk {
        limits,
        patterns: limits
            .fields
            .iter()
            .map(|(path, bound)| (tokens(path), *bound))
            .collect(),
        tokens: Vec::new(),
        problems: Vec::new(),
    };
    if let (Some(known), Value::Object(map)) = (limits.keys, value) {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                walk.problem(
                    &display_key("", key),
                    format!("unknown field; expected one of {}", known.join(", ")),
                );
            }
        }
    }
    walk.value(value, String::new());
    if walk.problems.is_empty() {
        Ok(())
    } else {
        tracing::info!(
            body = limits.name,
            fields = walk.problems.len(),
            "request body refused: past its limits"
        );
        Err(ApiError::Invalid(walk.problems))
    }
}

/// A path pattern as tokens: keys, `[]` and `*`.
fn tokens(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let key = part.trim_end_matches("[]");
        out.push(key.to_string());
        for _ in 0..(part.len() - key.len()) / 2 {
            out.push("[]".to_string());
        }
    }
    out
}

/// `prefix.key`, or `key` at the top.
fn display_key(prefix: &str, key: &str) -> String {
    let key = if key.len() > 64 {
        format!("{}…", key.chars().take(64).collect::<String>())
    } else {
        key.to_string()
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

struct Walk<'a> {
    limits: &'a Limits,
    patterns: Vec<(Vec<String>, Bound)>,
    /// The current path as tokens (keys and `[]`).
    tokens: Vec<String>,
    problems: Vec<FieldError>,
}

impl Walk<'_> {
    fn problem(&mut self, at: &str, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(FieldError {
                field: if at.is_empty() {
                    "body".into()
                } else {
                    at.into()
                },
                problem,
            });
        }
    }

    /// The bound the table gives the current path, if any.
    fn bound(&self) -> Option<Bound> {
        self.patterns.iter().find_map(|(pattern, bound)| {
            let fits = pattern.len() == self.tokens.len()
                && pattern
                    .iter()
                    .zip(&self.tokens)
                    .all(|(p, t)| p == t || (p == "*" && t != "[]"));
            fits.then_some(*bound)
        })
    }

    fn string(&mut self, text: &str, at: &str, bound: Option<Bound>) {
        if text.contains('\0') {
            self.problem(at, "must not contain NUL characters (\\u0000)".into());
        }
        match bound {
            Some(Bound::Chars(max)) if text.chars().nth(max).is_some() => {
                self.problem(at, format!("at most {max} characters"));
            }
            Some(Bound::Bytes(max)) if text.len() > max => {
                self.problem(at, format!("at most {max} bytes"));
            }
            None if text.len() > self.limits.string_bytes => {
                let max = self.limits.string_bytes;
                self.problem(at, format!("at most {max} bytes"));
            }
            _ => {}
        }
    }

    fn count(&mut self, n: usize, at: &str, bound: Option<Bound>) {
        let max = match bound {
            Some(Bound::Items(max)) => max,
            _ => self.limits.items,
        };
        if n > max {
            self.problem(at, format!("at most {max} items"));
        }
    }

    fn value(&mut self, value: &Value, at: String) {
        if self.problems.len() >= MAX_PROBLEMS {
            return;
        }
        let bound = self.bound();
        match value {
            Value::String(s) => self.string(s, &at, bound),
            Value::Array(items) => {
                self.count(items.len(), &at, bound);
                self.tokens.push("[]".into());
                for (i, item) in items.iter().enumerate() {
                    self.value(item, format!("{at}[{i}]"));
                }
                self.tokens.pop();
            }
            Value::Object(map) => {
                self.count(map.len(), &at, bound);
                for (key, item) in map {
                    let item_at = display_key(&at, key);
                    self.string(key, &item_at, Some(Bound::Bytes(self.limits.string_bytes)));
                    self.tokens.push(key.clone());
                    self.value(item, item_at);
                    self.tokens.pop();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// A `serde_json::Value` that refuses duplicate object keys.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let item = map.next_value_seed(StrictValue)?;
            object.insert(key, item);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEST: Limits = Limits {
        name: "test",
        fields: &[
            ("scopes", Bound::Items(2)),
            ("scopes[].cidrs", Bound::Items(1)),
            ("scopes[].tags.*", Bound::Chars(3)),
            ("hostname", Bound::Bytes(5)),
        ],
        string_bytes: 10,
        items: 5,
        keys: None,
    };

    fn fields(r: Result<(), ApiError>) -> Vec<String> {
        match r {
            Ok(()) => vec![],
            Err(ApiError::Invalid(f)) => f.into_iter().map(|f| f.field).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_anywhere() {
        assert!(parse_strict(br#"{"a": 1, "b": {"c": 1}}"#).is_ok());
        for dup in [r#"{"a": 1, "a": 2}"#, r#"{"x": [{"s": 1, "s": 1}]}"#] {
            let Err(ApiError::BadRequest(m)) = parse_strict(dup.as_bytes()) else {
                panic!("{dup} accepted")
            };
            assert!(m.contains("duplicate key"), "{m}");
        }
        assert!(parse_strict(b"{} x").is_err());
    }

    #[test]
    fn bounds_name_the_full_path() {
        let ok = json!({"hostname": "h", "scopes": [{"cidrs": ["a"], "tags": {"k": "abc"}}]});
        assert!(fields(check(&ok, &TEST)).is_empty());
        let bad = json!({
            "hostname": "hhhhhh",
            "scopes": [{"cidrs": ["a", "b"], "tags": {"k": "abcd"}}, {}, {}],
            "other": "01234567890",
            "list": [1, 2, 3, 4, 5, 6],
            "nul": "a\u{0}b",
        });
        assert_eq!(
            fields(check(&bad, &TEST)),
            [
                "hostname",
                "scopes",
                "scopes[0].cidrs",
                "scopes[0].tags.k",
                "other",
                "list",
                "nul"
            ]
        );
    }

    #[test]
    fn unknown_top_level_keys_are_refused_when_listed() {
        let limits = Limits {
            keys: Some(&["name", "secret"]),
            ..TEST
        };
        assert_eq!(
            fields(check(&json!({"name": "x", "secert": "s"}), &limits)),
            ["secert"]
        );
    }
}
