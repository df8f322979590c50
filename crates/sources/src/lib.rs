//! Alert sources: each vendor's pushed payload becomes Riposte's one [`Alert`] model.
//!
//! Every source is one module implementing [`AlertParser`] and one line in the registry
//! ([`parser`]). Parsers validate at the edge and report every problem of a payload at
//! once, naming the field, so a sender can fix its integration in one round trip.

#![warn(missing_docs)]

pub mod contain;
pub mod crowdstrike;
pub mod defender;
mod fields;
pub mod generic;
pub mod guardduty;
pub mod poll;
pub mod secdo;
pub mod sentinelone;
pub mod wiz;

use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertSource};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use secdo::secdo_api_key;

/// Turns the payloads one alert source pushes into normalized alerts.
pub trait AlertParser: Send + Sync {
    /// The source this parser handles.
    fn source(&self) -> AlertSource;

    /// Parses one pushed payload into alerts. `received_at` = now (injected for tests).
    fn parse(
        &self,
        payload: &serde_json::Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError>;
}

/// Every registered parser: adding a source is one module plus one line here.
static PARSERS: &[&dyn AlertParser] = &[
    &generic::GenericParser,
    &secdo::SecdoParser,
    &crowdstrike::CrowdStrikeParser,
    &defender::DefenderParser,
    &sentinelone::SentinelOneParser,
    &guardduty::GuardDutyParser,
    &wiz::WizParser,
];

/// The parser for `source`, or `None` when that source has no parser yet.
pub fn parser(source: AlertSource) -> Option<&'static dyn AlertParser> {
    PARSERS.iter().copied().find(|p| p.source() == source)
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The payload is not a JSON object (an array, a string, `null`, …).
    #[error("alert payload must be a JSON object")]
    NotAnObject,
    /// One or more fields are missing or invalid; every problem found is listed.
    #[error("alert payload has {} invalid field(s): {}", .0.len(), FieldErrors(.0))]
    InvalidFields(Vec<FieldError>),
}

impl SourceError {
    /// The field problems, empty for [`SourceError::NotAnObject`].
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            SourceError::NotAnObject => &[],
            SourceError::InvalidFields(errors) => errors,
        }
    }
}

/// One problem with one field of a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `destination_ip` or `target.ips[1]`.
    pub field: String,
    /// What is wrong, e.g. `missing (mandatory for OutgoingConnectionEvent)`.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Displays a list of field errors separated by `; `.
struct FieldErrors<'a>(&'a [FieldError]);

impl fmt::Display for FieldErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_has_exactly_its_own_parser() {
        use AlertSource::*;
        for source in [
            Generic,
            Secdo,
            GuardDuty,
            CrowdStrike,
            Defender,
            SentinelOne,
            Wiz,
        ] {
            assert_eq!(parser(source).map(|p| p.source()), Some(source), "{source}");
        }
    }

    #[test]
    fn invalid_fields_error_lists_every_problem() {
        let e = SourceError::InvalidFields(vec![
            FieldError {
                field: "a".into(),
                problem: "missing".into(),
            },
            FieldError {
                field: "b".into(),
                problem: "bad".into(),
            },
        ]);
        assert_eq!(
            e.to_string(),
            "alert payload has 2 invalid field(s): a: missing; b: bad"
        );
        assert_eq!(e.field_errors().len(), 2);
        assert!(SourceError::NotAnObject.field_errors().is_empty());
    }
}
