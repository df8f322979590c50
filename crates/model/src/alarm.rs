//! Alarms: what detections found.

use crate::Severity;
use serde::{Deserialize, Serialize};

/// A MITRE ATT&CK technique, with its tactic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MitreTechnique {
    /// Tactic name, e.g. `credential-access`.
    pub tactic: String,
    /// Technique id, e.g. `T1110.001`.
    pub technique: String,
}

/// A detection's finding over the events or files of an investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alarm {
    /// The detector that raised it (e.g. `ssh_bruteforce_success`).
    pub detector: String,
    /// One-line title.
    pub title: String,
    /// What was found and why it matters.
    pub description: String,
    /// How bad it is.
    pub severity: Severity,
    /// ATT&CK techniques the detector maps to.
    #[serde(default)]
    pub mitre: Vec<MitreTechnique>,
    /// Positions (0-based) of the supporting events in the investigation's event list.
    #[serde(default)]
    pub event_refs: Vec<u64>,
}
