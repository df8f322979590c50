//! Detection rules ("Detections › Rules"): which alerts start an investigation, how the
//! target is acquired, and what happens once the verdict is in.

use crate::{AlertSource, EnvironmentId, RuleId, ScopeMatch, Severity, Verdict};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Which alerts a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSource {
    /// Every source.
    Any,
    /// One source.
    Only(AlertSource),
}

impl RuleSource {
    /// True when an alert from `source` is looked at.
    pub fn covers(self, source: AlertSource) -> bool {
        match self {
            RuleSource::Any => true,
            RuleSource::Only(s) => s == source,
        }
    }

    /// `any` or the source's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSource::Any => "any",
            RuleSource::Only(s) => s.as_str(),
        }
    }
}

impl Serialize for RuleSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.eq_ignore_ascii_case("any") {
            return Ok(RuleSource::Any);
        }
        text.parse::<AlertSource>()
            .map(RuleSource::Only)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "unknown source {text:?}; expected any, generic, secdo, guardduty, crowdstrike, defender, sentinelone or wiz"
                ))
            })
    }
}

/// Triage capture or full acquisition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvestigationType {
    /// Collect the artifacts that matter.
    #[default]
    Triage,
    /// Acquire every file and build the filesystem timeline.
    Full,
}

impl InvestigationType {
    /// `triage` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            InvestigationType::Triage => "triage",
            InvestigationType::Full => "full",
        }
    }
}

/// A response action a rule may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// Stop the EC2 instance (`ec2:StopInstances`).
    StopInstance,
    /// Deny-all inline policy on the instance's IAM role.
    IsolateRole,
    /// Swap the instance's security groups for an empty one.
    IsolateSecurityGroup,
    /// Network-contain the host through the XDR it came from (CrowdStrike, Defender).
    ContainHost,
}

/// The kind of system a response action works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// An AWS EC2 instance (an environment's AWS scope).
    Ec2Instance,
    /// A host managed by an XDR (a CrowdStrike or Defender connection).
    XdrHost,
}

impl ResponseAction {
    /// The kind of target the action applies to.
    pub fn target_kind(self) -> TargetKind {
        match self {
            ResponseAction::StopInstance
            | ResponseAction::IsolateRole
            | ResponseAction::IsolateSecurityGroup => TargetKind::Ec2Instance,
            ResponseAction::ContainHost => TargetKind::XdrHost,
        }
    }

    /// The snake_case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseAction::StopInstance => "stop_instance",
            ResponseAction::IsolateRole => "isolate_role",
            ResponseAction::IsolateSecurityGroup => "isolate_security_group",
            ResponseAction::ContainHost => "contain_host",
        }
    }
}

impl std::fmt::Display for ResponseAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ResponseAction {
    type Err = crate::UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stop_instance" => Ok(ResponseAction::StopInstance),
            "isolate_role" => Ok(ResponseAction::IsolateRole),
            "isolate_security_group" => Ok(ResponseAction::IsolateSecurityGroup),
            "contain_host" => Ok(ResponseAction::ContainHost),
            _ => Err(crate::UnknownValue {
                kind: "response action",
                value: s.to_string(),
                expected: "stop_instance, isolate_role, isolate_security_group, contain_host",
            }),
        }
    }
}

/// The verdict that triggers an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionTrigger {
    /// Only "Malicious Activity Identified".
    Malicious,
    /// "Suspicious Activity" or worse.
    Suspicious,
}

impl ActionTrigger {
    /// True when `verdict` reaches this trigger.
    pub fn fires_on(self, verdict: Verdict) -> bool {
        match self {
            ActionTrigger::Malicious => verdict == Verdict::Malicious,
            ActionTrigger::Suspicious => {
                matches!(verdict, Verdict::Malicious | Verdict::Suspicious)
            }
        }
    }
}

/// One response action and the verdict that triggers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleAction {
    /// The action.
    pub action: ResponseAction,
    /// The verdict it waits for.
    pub on: ActionTrigger,
}

/// Events a notification can be sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationEvent {
    /// An alert matched the rule.
    AlertReceived,
    /// The rule started an investigation.
    InvestigationStarted,
    /// Processing finished.
    ProcessingComplete,
    /// Processing finished with alarms.
    ProcessingWithAlarms,
    /// A response action succeeded.
    ResponseActionTaken,
    /// A response action failed.
    ResponseActionFailed,
    /// A scheduled hunt's run is over (sent once per run, with its verdict counts).
    HuntCompleted,
}

/// Which webhook hears about which events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleNotification {
    /// The webhook's name or id (Settings › Integrations › Webhooks). It gets these
    /// events for the rule's investigations, besides the events it subscribes to.
    pub webhook: String,
    /// The events sent to it (at least one).
    pub events: Vec<NotificationEvent>,
}

/// Which alerts of the source the rule takes. Every filter given must pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFilters {
    /// Alerts below this severity are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Finding-type patterns (`*`, `?`, case-insensitive), e.g. `Backdoor:EC2/*`; one must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finding_types: Vec<String>,
    /// Title patterns (`*`, `?`, case-insensitive); one must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub titles: Vec<String>,
    /// Tags the alert's target must carry (`{"env": "prod"}`; value `*` = present).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn default_true() -> bool {
    true
}

fn default_join_window() -> u32 {
    60
}

fn default_priority() -> i32 {
    100
}

/// What a client sends to create or replace a rule. Every change makes a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name, 1 to 100 characters.
    pub name: String,
    /// Free text for the team.
    #[serde(default)]
    pub description: String,
    /// The alert source the rule looks at, or `any`.
    #[schema(value_type = String, example = "guardduty")]
    pub source: RuleSource,
    /// For CrowdStrike and Defender: only alerts pulled by this connection (and the
    /// connection used to contain the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The environment the target must be in; required for cloud sources (GuardDuty,
    /// Wiz). Without one, every environment is searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<EnvironmentId>,
    /// Alert filters.
    #[serde(default)]
    pub filters: RuleFilters,
    /// Triage capture or full acquisition.
    #[serde(default)]
    pub investigation_type: InvestigationType,
    /// Keep the EBS snapshots Riposte makes of an EC2 instance after the acquisition
    /// (default: deleted once read, whether it succeeded or not).
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain_snapshots: bool,
    /// Keep the alert with the evidence, for correlation.
    #[serde(default = "default_true")]
    pub attach_alert_context: bool,
    /// Response actions and the verdicts that trigger them.
    #[serde(default)]
    pub actions: Vec<RuleAction>,
    /// Notifications.
    #[serde(default)]
    pub notifications: Vec<RuleNotification>,
    /// Alerts on the same target within this many minutes join the open investigation.
    #[serde(default = "default_join_window")]
    pub join_window_minutes: u32,
    /// Rules are tried lowest priority first (ties by name); the first that matches and
    /// resolves the target decides.
    #[serde(default = "default_priority")]
    pub priority: i32,
}

/// A stored rule: its current definition, version and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetectionRule {
    /// Stable id.
    pub id: RuleId,
    /// Version of the definition, from 1; each edit adds one.
    pub version: u32,
    /// Disabled rules never fire.
    pub enabled: bool,
    /// The definition.
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change (of the definition or the enabled state).
    pub updated_at: DateTime<Utc>,
}

/// A rule version, as recorded on the investigations it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleRef {
    /// The rule.
    pub id: RuleId,
    /// Its name at that version.
    pub name: String,
    /// The version.
    pub version: u32,
}

/// What one rule said about one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleEvaluation {
    /// The rule version evaluated.
    pub rule: RuleRef,
    /// `matched`, `applied`, `not_matched`, `disabled`, `not_resolved` or `invalid`.
    pub outcome: RuleOutcome,
    /// Why, in words.
    pub reason: String,
}

/// The outcome of evaluating one rule against one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    /// The rule matched and decided what happened to the alert.
    Applied,
    /// The rule matched, but an earlier rule already decided.
    Matched,
    /// A filter did not pass.
    NotMatched,
    /// The rule is disabled.
    Disabled,
    /// The rule matched but no scope of its environment covers the target.
    NotResolved,
    /// The rule cannot be compiled (its patterns together exceed the matcher's limits):
    /// it was skipped, and the other rules were evaluated without it.
    Invalid,
}

impl RuleOutcome {
    /// The snake_case name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleOutcome::Applied => "applied",
            RuleOutcome::Matched => "matched",
            RuleOutcome::NotMatched => "not_matched",
            RuleOutcome::Disabled => "disabled",
            RuleOutcome::NotResolved => "not_resolved",
            RuleOutcome::Invalid => "invalid",
        }
    }
}

/// How an investigation is to be carried out: fixed when it starts, whatever later
/// happens to the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvestigationPlan {
    /// The rule version that started it (none for imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleRef>,
    /// Where the target was found and how it is acquired.
    pub scope: ScopeMatch,
    /// Triage or full.
    pub investigation_type: InvestigationType,
    /// Keep the EBS snapshots made for the acquisition (from the rule or import).
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain_snapshots: bool,
    /// Whether the alert is kept with the evidence.
    pub attach_alert_context: bool,
    /// Response actions, from the rule version.
    #[serde(default)]
    pub actions: Vec<RuleAction>,
    /// Notifications, from the rule version.
    #[serde(default)]
    pub notifications: Vec<RuleNotification>,
    /// For XDR rules: the connection that can contain the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// Detections added for this investigation (a hunt's IOC feeds and YARA rules).
    #[serde(default, skip_serializing_if = "crate::ExtraDetections::is_empty")]
    pub detections: crate::ExtraDetections,
}

/// Why an alert did or did not start (or join) an investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertDecision {
    /// One line for the analyst.
    pub summary: String,
    /// Every rule's verdict on the alert, in evaluation order.
    pub evaluations: Vec<RuleEvaluation>,
    /// True when the alert joined an investigation already open on the same target.
    #[serde(default)]
    pub joined: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_spec_defaults_and_unknown_sources() {
        let spec: RuleSpec = serde_json::from_value(serde_json::json!({
            "name": "gd", "source": "GuardDuty"
        }))
        .unwrap();
        assert_eq!(spec.source, RuleSource::Only(AlertSource::GuardDuty));
        assert_eq!(spec.investigation_type, InvestigationType::Triage);
        assert!(spec.attach_alert_context);
        assert_eq!(spec.join_window_minutes, 60);
        let err = serde_json::from_value::<RuleSpec>(
            serde_json::json!({"name": "x", "source": "splunk"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("splunk"), "{err}");
        let any: RuleSpec =
            serde_json::from_value(serde_json::json!({"name": "x", "source": "any"})).unwrap();
        assert!(any.source.covers(AlertSource::Wiz));
    }

    #[test]
    fn triggers_fire_on_their_verdict_or_worse() {
        assert!(ActionTrigger::Suspicious.fires_on(Verdict::Malicious));
        assert!(ActionTrigger::Suspicious.fires_on(Verdict::Suspicious));
        assert!(!ActionTrigger::Malicious.fires_on(Verdict::Suspicious));
        assert!(!ActionTrigger::Suspicious.fires_on(Verdict::NoEvidence));
    }

    #[test]
    fn outcome_names_match_their_json() {
        for o in [
            RuleOutcome::Applied,
            RuleOutcome::Matched,
            RuleOutcome::NotMatched,
            RuleOutcome::Disabled,
            RuleOutcome::NotResolved,
            RuleOutcome::Invalid,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
