//! From an alert to an investigation: detection rules decide which alerts start one, and
//! environments say where the alert's target is and how to acquire it.
//!
//! - [`RuleSet`] compiles the rules once (patterns into one matcher per rule) and
//!   evaluates an alert against all of them, with the reason for every outcome; a rule
//!   that cannot be compiled is skipped, never taking the others down.
//! - [`resolve_target`] finds the first scope of the given environments that covers a
//!   target, or explains why none does.
//! - [`validate_environment`] and [`validate_rule`] check definitions before they are
//!   stored, naming the field at fault.

#![warn(missing_docs)]

mod matcher;
mod pattern;
mod resolve;
mod validate;

pub use matcher::{AlertOrigin, RuleMatch, RuleSet};
pub use pattern::{MAX_PATTERN_BYTES, PatternError, PatternSet};
pub use resolve::{LibraryListings, Resolution, resolve_target, resolve_target_with};
pub use validate::{ConnectionInfo, EvidenceRoots, validate_environment, validate_rule};

/// One problem with a submitted definition: the field (a path such as
/// `scopes[0].regions[1]`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldProblem {
    /// Path of the field at fault.
    pub field: String,
    /// What is wrong, and what would be accepted.
    pub problem: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
