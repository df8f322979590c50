//! Investigations: one case about one target, from alert to verdict.

use crate::{
    AcquisitionSummary, AlertId, InvestigationId, InvestigationPlan, ProjectId, Target,
    UnknownValue, VerdictSummary,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an investigation is in the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvestigationStatus {
    /// Created, waiting for acquisition.
    Pending,
    /// Evidence is being collected.
    Collecting,
    /// Evidence is being parsed into events.
    Processing,
    /// Detections are running.
    Detecting,
    /// Finished with a verdict.
    Complete,
    /// A stage failed for good; `error` says why.
    Failed,
}

impl InvestigationStatus {
    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            InvestigationStatus::Pending => "pending",
            InvestigationStatus::Collecting => "collecting",
            InvestigationStatus::Processing => "processing",
            InvestigationStatus::Detecting => "detecting",
            InvestigationStatus::Complete => "complete",
            InvestigationStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for InvestigationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvestigationStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => InvestigationStatus::Pending,
            "collecting" => InvestigationStatus::Collecting,
            "processing" => InvestigationStatus::Processing,
            "detecting" => InvestigationStatus::Detecting,
            "complete" => InvestigationStatus::Complete,
            "failed" => InvestigationStatus::Failed,
            _ => {
                return Err(UnknownValue {
                    kind: "investigation status",
                    value: s.to_string(),
                    expected: "pending, collecting, processing, detecting, complete, failed",
                });
            }
        })
    }
}

/// A case: the evidence, events, alarms and verdict about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Investigation {
    /// Riposte's id for the investigation.
    pub id: InvestigationId,
    /// Human title (usually the triggering alert's title and the host).
    pub title: String,
    /// Where it is in the flow.
    pub status: InvestigationStatus,
    /// The system investigated.
    pub target: Target,
    /// The host key the evidence was resolved to (e.g. the evidence library folder).
    pub host: String,
    /// The alerts that started or joined it.
    pub alert_ids: Vec<AlertId>,
    /// The verdict, once detection is done.
    pub verdict: Option<VerdictSummary>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The project (case) it belongs to, for imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// How it is carried out (rule version, scope, acquisition, actions), fixed when it
    /// started; `None` for investigations from before rules existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<InvestigationPlan>,
    /// What the acquisition found (layouts, profiles, counts), once evidence is collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition: Option<AcquisitionSummary>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
