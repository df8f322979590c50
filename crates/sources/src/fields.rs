//! Field checks shared by the parsers. Each check records a [`FieldError`] and returns
//! `None` instead of stopping, so a parser reports every problem of a payload at once.

pub(crate) mod node;
pub(crate) mod walk;

use crate::{FieldError, SourceError};
use chrono::Datelike;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::net::IpAddr;

/// Longest accepted short string (names, ids, paths), in bytes.
pub(crate) const MAX_STRING_BYTES: usize = 16 * 1024;
/// Longest accepted free text (descriptions, command lines), in bytes.
pub(crate) const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Earliest plausible alert time: 2000-01-01T00:00:00Z, in epoch milliseconds.
const MIN_PLAUSIBLE_MILLIS: i64 = 946_684_800_000;
/// How far ahead of `received_at` an alert time may be (sender clock skew).
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::days(1);

/// Whether a field must be present; `Required` carries the reason shown when it is not
/// (e.g. `mandatory` or `mandatory for OutgoingConnectionEvent`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need<'a> {
    /// Absent, `null` and empty strings are all "not given".
    Optional,
    /// Must be present and non-empty.
    Required(&'a str),
}

/// The problems found so far in one payload.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    /// Records one problem.
    pub(crate) fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// How many problems were recorded.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// `Ok(())` when nothing was recorded.
    pub(crate) fn check(self) -> Result<(), SourceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// The error listing every recorded problem.
    pub(crate) fn into_error(self) -> SourceError {
        SourceError::InvalidFields(self.0)
    }
}

/// "a string", "a number", … for messages about wrong JSON types.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short, escaped, quoted rendering of an input value for error messages.
pub(crate) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 64;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// The value if it is given; records `missing`/`null` for required fields.
pub(crate) fn present<'v>(
    errs: &mut Errors,
    path: &str,
    value: Option<&'v Value>,
    need: Need<'_>,
) -> Option<&'v Value> {
    match (value, need) {
        (Some(Value::Null) | None, Need::Optional) => None,
        (None, Need::Required(why)) => {
            errs.push(path, format!("missing ({why})"));
            None
        }
        (Some(Value::Null), Need::Required(why)) => {
            errs.push(path, format!("is null ({why})"));
            None
        }
        (Some(v), _) => Some(v),
    }
}

/// A trimmed, non-empty string of at most `max` bytes.
fn checked_str(
    errs: &mut Errors,
    path: &str,
    s: &str,
    need: Need<'_>,
    max: usize,
) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        if let Need::Required(why) = need {
            errs.push(path, format!("is empty ({why})"));
        }
        return None;
    }
    if s.len() > max {
        errs.push(path, format!("too long ({} bytes; at most {max})", s.len()));
        return None;
    }
    Some(s.to_string())
}

/// A JSON string field (trimmed) of at most `max` bytes.
pub(crate) fn string(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
    max: usize,
) -> Option<String> {
    match present(errs, path, value, need)? {
        Value::String(s) => checked_str(errs, path, s, need, max),
        other => {
            errs.push(path, format!("must be a string, got {}", json_type(other)));
            None
        }
    }
}

/// A string field that may also be sent as a JSON integer (vendor ids often are).
pub(crate) fn string_or_integer(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
) -> Option<String> {
    match present(errs, path, value, need)? {
        Value::String(s) => checked_str(errs, path, s, need, MAX_STRING_BYTES),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        other => {
            errs.push(
                path,
                format!("must be a string or an integer, got {}", json_type(other)),
            );
            None
        }
    }
}

/// An IPv4 or IPv6 address given as a JSON string.
pub(crate) fn ip(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
) -> Option<IpAddr> {
    let s = string(errs, path, value, need, MAX_STRING_BYTES)?;
    match s.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            errs.push(
                path,
                format!("{} is not an IPv4 or IPv6 address", quote(&s)),
            );
            None
        }
    }
}

/// An integer given as a JSON number, or (when `digits_ok`) as a string of digits.
fn integer(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
    digits_ok: bool,
) -> Option<i128> {
    match present(errs, path, value, need)? {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i.into())
            } else if let Some(u) = n.as_u64() {
                Some(u.into())
            } else {
                errs.push(path, format!("must be an integer, got {n}"));
                None
            }
        }
        Value::String(s) if digits_ok => {
            let t = s.trim();
            if t.is_empty() {
                if let Need::Required(why) = need {
                    errs.push(path, format!("is empty ({why})"));
                }
                return None;
            }
            let digits = t.strip_prefix('-').unwrap_or(t);
            let parsed = (!digits.is_empty() && digits.len() <= 30)
                .then(|| t.parse::<i128>().ok())
                .flatten();
            if parsed.is_none() {
                errs.push(path, format!("{} is not an integer", quote(s)));
            }
            parsed
        }
        other => {
            let expected = if digits_ok {
                "an integer or a string of digits"
            } else {
                "an integer"
            };
            errs.push(
                path,
                format!("must be {expected}, got {}", json_type(other)),
            );
            None
        }
    }
}

/// A TCP/UDP port (0–65535); `digits_ok` also accepts it as a string of digits.
pub(crate) fn port(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
    digits_ok: bool,
) -> Option<u16> {
    let n = integer(errs, path, value, need, digits_ok)?;
    match u16::try_from(n) {
        Ok(p) => Some(p),
        Err(_) => {
            errs.push(path, format!("port {n} is out of range (0–65535)"));
            None
        }
    }
}

/// A UTC epoch timestamp in milliseconds (number or string of digits), checked to lie
/// between 2000-01-01 and one day after `received_at`.
pub(crate) fn epoch_millis(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let n = integer(errs, path, value, need, true)?;
    let max = (received_at + MAX_CLOCK_SKEW).timestamp_millis();
    let plausible = |ms: i128| (i128::from(MIN_PLAUSIBLE_MILLIS)..=i128::from(max)).contains(&ms);
    if plausible(n) {
        let ms = i64::try_from(n).ok()?;
        return DateTime::from_timestamp_millis(ms);
    }
    let problem = if plausible(n.saturating_mul(1000)) {
        format!("{n} looks like epoch seconds; expected epoch milliseconds")
    } else if plausible(n / 1000) && n > 0 {
        format!("{n} looks like epoch microseconds; expected epoch milliseconds")
    } else {
        format!(
            "{n} is out of the plausible range for epoch milliseconds \
             (2000-01-01 to one day after receipt)"
        )
    };
    errs.push(path, problem);
    None
}

/// The years an alert's timestamps may fall in: `0000-01-01` or `9999-12-31` is a
/// sender's placeholder or bug, never the time of activity.
pub(crate) const TIME_RANGE_YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

/// An RFC 3339 timestamp given as a JSON string, within [`TIME_RANGE_YEARS`].
pub(crate) fn rfc3339(
    errs: &mut Errors,
    path: &str,
    value: Option<&Value>,
    need: Need<'_>,
) -> Option<DateTime<Utc>> {
    let s = string(errs, path, value, need, MAX_STRING_BYTES)?;
    match DateTime::parse_from_rfc3339(&s) {
        Ok(t) if !(TIME_RANGE_YEARS.contains(&t.with_timezone(&Utc).year())) => {
            errs.push(
                path,
                format!(
                    "{} is outside the years {} to {} an alert can be about",
                    quote(&s),
                    TIME_RANGE_YEARS.start(),
                    TIME_RANGE_YEARS.end()
                ),
            );
            None
        }
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(e) => {
            errs.push(
                path,
                format!(
                    "{} is not an RFC 3339 timestamp such as 2024-05-01T12:00:00Z ({e})",
                    quote(&s)
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(errs: Errors) -> Vec<String> {
        errs.0.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn quote_truncates_long_values_on_char_boundaries() {
        let long = "é".repeat(100);
        let q = quote(&long);
        assert!(q.ends_with('…'));
        assert_eq!(q.chars().filter(|c| *c == 'é').count(), 64);
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn optional_null_and_empty_are_not_given() {
        let mut errs = Errors::default();
        assert_eq!(
            string(&mut errs, "x", Some(&Value::Null), Need::Optional, 10),
            None
        );
        assert_eq!(
            string(&mut errs, "x", Some(&json!("  ")), Need::Optional, 10),
            None
        );
        assert_eq!(errs.len(), 0);
    }

    #[test]
    fn integers_reject_fractions_and_junk() {
        let mut errs = Errors::default();
        let req = Need::Required("mandatory");
        assert_eq!(port(&mut errs, "p", Some(&json!(80.5)), req, true), None);
        assert_eq!(port(&mut errs, "p", Some(&json!("8o")), req, true), None);
        assert_eq!(port(&mut errs, "p", Some(&json!("-1")), req, true), None);
        assert_eq!(port(&mut errs, "p", Some(&json!("80")), req, false), None);
        assert_eq!(
            port(&mut errs, "p", Some(&json!(" 443 ")), req, true),
            Some(443)
        );
        assert_eq!(
            problems(errs),
            [
                "p: must be an integer, got 80.5",
                "p: \"8o\" is not an integer",
                "p: port -1 is out of range (0–65535)",
                "p: must be an integer, got a string",
            ]
        );
    }
}
