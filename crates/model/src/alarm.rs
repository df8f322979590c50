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
    /// Stored ids (`seq`) of the supporting events in the investigation: artifacts are
    /// numbered by original path, then events in the order their parser read them.
    #[serde(default)]
    pub event_refs: Vec<u64>,
    /// The rule that fired, when the detector runs rules (Sigma rule id, YARA rule, IOC value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// The collected files that triggered it (YARA and IOC matches on files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<AlarmFile>,
    /// A hunting-tier finding (a Sigma rule tagged `detection.threat-hunting`): shown, but
    /// counted toward the verdict only as the verdict policy's hunting rule allows.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hunting: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A collected file behind an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlarmFile {
    /// The file's path on the investigated system.
    pub path: String,
    /// Its SHA-256, lowercase hex, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What matched in it (YARA strings with offsets, the indicator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}
