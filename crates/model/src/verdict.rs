//! The verdict an investigation reaches.

use crate::UnknownValue;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The answer to "was this system compromised?".
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Verdict {
    /// Nothing in the evidence supports the alert.
    #[serde(rename = "No Evidence Found")]
    NoEvidence,
    /// Findings worth an analyst's look, not conclusive.
    #[serde(rename = "Suspicious Activity")]
    Suspicious,
    /// Findings that show a compromise.
    #[serde(rename = "Malicious Activity Identified")]
    Malicious,
}

impl Verdict {
    /// The label shown to analysts.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::NoEvidence => "No Evidence Found",
            Verdict::Suspicious => "Suspicious Activity",
            Verdict::Malicious => "Malicious Activity Identified",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Verdict {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "No Evidence Found" | "none" => Ok(Verdict::NoEvidence),
            "Suspicious Activity" | "suspicious" => Ok(Verdict::Suspicious),
            "Malicious Activity Identified" | "malicious" => Ok(Verdict::Malicious),
            _ => Err(UnknownValue {
                kind: "verdict",
                value: s.to_string(),
                expected: "No Evidence Found, Suspicious Activity, Malicious Activity Identified",
            }),
        }
    }
}

/// A verdict with the score it came from and the reasons behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerdictSummary {
    /// The verdict.
    pub verdict: Verdict,
    /// The score the verdict policy computed from the alarms.
    pub score: u32,
    /// Why: one line per alarm (or rule of the policy) that contributed.
    pub reasons: Vec<String>,
    /// True when the verdict could not rest on the evidence: nothing collected was an
    /// artifact any parser reads, so "No Evidence Found" does not mean a clean host.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// What limits the verdict (e.g. `no parsable evidence collected from web01: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl VerdictSummary {
    /// The verdict as analysts read it: its label, qualified when it is inconclusive
    /// (`No Evidence Found (inconclusive)`).
    pub fn display_label(&self) -> String {
        if self.inconclusive {
            format!("{} (inconclusive)", self.verdict.label())
        } else {
            self.verdict.label().to_string()
        }
    }
}
