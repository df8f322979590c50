//! Response actions taken (or rehearsed) on a system: what was asked, what it changed, and
//! how to undo it. One [`ActionRecord`] per attempt, kept even when the attempt failed.

use crate::{Acquisition, ActionId, InvestigationId, ResponseAction, UnknownValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The EC2 instance an action works on, and how to reach its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ec2Target {
    /// The instance (`i-…`).
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// Its account, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The IAM role Riposte assumes in that account (an environment scope's `role_name`);
    /// none means the credentials of the standard AWS chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

impl Ec2Target {
    /// An instance reached with the standard credential chain.
    pub fn new(instance_id: impl Into<String>, region: impl Into<String>) -> Self {
        Ec2Target {
            instance_id: instance_id.into(),
            region: region.into(),
            account_id: None,
            role_name: None,
        }
    }

    /// The target of an investigation acquired from EC2; none for SSH or library targets.
    pub fn from_acquisition(acquisition: &Acquisition) -> Option<Self> {
        match acquisition {
            Acquisition::Ec2 {
                account_id,
                region,
                instance_id,
                role_name,
            } => Some(Ec2Target {
                instance_id: instance_id.clone(),
                region: region.clone(),
                account_id: account_id.clone(),
                role_name: role_name.clone(),
            }),
            _ => None,
        }
    }
}

/// A host managed by an XDR, and the connection that can contain it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct XdrHost {
    /// `crowdstrike` or `defender`.
    pub vendor: String,
    /// The vendor's host id (Falcon device id, Defender machine id).
    pub host_id: String,
    /// The pull connection whose credentials contain it.
    pub connection_id: String,
}

/// The system an action works on: an EC2 instance, or a host through its XDR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
// Untagged: records stored before XDR hosts existed hold a bare `Ec2Target`.
#[serde(untagged)]
pub enum ActionTarget {
    /// An EC2 instance.
    Ec2(Ec2Target),
    /// A host managed by CrowdStrike or Defender.
    Xdr(XdrHost),
}

impl ActionTarget {
    /// The EC2 instance, when the target is one.
    pub fn ec2(&self) -> Option<&Ec2Target> {
        match self {
            ActionTarget::Ec2(t) => Some(t),
            ActionTarget::Xdr(_) => None,
        }
    }

    /// The system's id: the instance id or the vendor's host id.
    pub fn system_id(&self) -> &str {
        match self {
            ActionTarget::Ec2(t) => &t.instance_id,
            ActionTarget::Xdr(h) => &h.host_id,
        }
    }

    /// Where the system is: the instance's region, or the XDR vendor.
    pub fn location(&self) -> &str {
        match self {
            ActionTarget::Ec2(t) => &t.region,
            ActionTarget::Xdr(h) => &h.vendor,
        }
    }

    /// The cloud account, when known.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            ActionTarget::Ec2(t) => t.account_id.as_deref(),
            ActionTarget::Xdr(_) => None,
        }
    }
}

impl From<Ec2Target> for ActionTarget {
    fn from(target: Ec2Target) -> Self {
        ActionTarget::Ec2(target)
    }
}

impl From<XdrHost> for ActionTarget {
    fn from(host: XdrHost) -> Self {
        ActionTarget::Xdr(host)
    }
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Recorded before it runs (a rule-triggered action): a record still pending after a
    /// crash is checked again against the target's real state, never assumed done.
    Pending,
    /// The change is in place (or was already in place: see [`ActionChange`]).
    Succeeded,
    /// AWS refused or the target did not allow it; nothing to release.
    Failed,
    /// A succeeded action that was undone.
    Released,
    /// Rehearsed only: nothing was changed.
    DryRun,
}

impl ActionStatus {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Released => "released",
            ActionStatus::DryRun => "dry_run",
        }
    }
}

impl fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActionStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(ActionStatus::Pending),
            "succeeded" => Ok(ActionStatus::Succeeded),
            "failed" => Ok(ActionStatus::Failed),
            "released" => Ok(ActionStatus::Released),
            "dry_run" => Ok(ActionStatus::DryRun),
            _ => Err(UnknownValue {
                kind: "action status",
                value: s.to_string(),
                expected: "pending, succeeded, failed, released, dry_run",
            }),
        }
    }
}

/// Why an action failed: the AWS error code and message when AWS answered, or Riposte's
/// reason when the target did not allow the action (no role, several network interfaces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionError {
    /// The AWS error code (`UnauthorizedOperation`, `InvalidInstanceID.NotFound`, …);
    /// none when the request never got an AWS answer or Riposte refused it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong, for a person.
    pub message: String,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What an action found and changed: exactly what release needs to put things back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionChange {
    /// Stop Instance.
    StopInstance {
        /// The instance state before the action (`running`, `stopped`, …).
        previous_state: String,
        /// True when Riposte asked EC2 to stop it (false: it was already stopping or stopped).
        stop_requested: bool,
    },
    /// Isolate Role.
    IsolateRole {
        /// The instance profile's ARN.
        instance_profile_arn: String,
        /// The role the deny-all policy goes on.
        role_name: String,
        /// The inline policy's name.
        policy_name: String,
        /// True when Riposte put the policy (false: it was already there).
        policy_added: bool,
    },
    /// Isolate Security Group.
    IsolateSecurityGroup {
        /// The instance's VPC.
        vpc_id: String,
        /// The instance's groups before the action, in order.
        original_group_ids: Vec<String>,
        /// The empty isolation group (none in a dry run, where it is not created).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isolation_group_id: Option<String>,
        /// The isolation group's name.
        isolation_group_name: String,
        /// True when Riposte swapped the groups (false: the instance was already isolated).
        groups_replaced: bool,
    },
    /// Contain Host (through the XDR).
    ContainHost {
        /// `crowdstrike` or `defender`.
        vendor: String,
        /// The vendor's host id.
        host_id: String,
        /// The host's state before, as the vendor names it, when the vendor says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_state: Option<String>,
        /// The vendor's id of the action it started (Defender machine action id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor_action_id: Option<String>,
        /// True when Riposte contained the host (false: it already was contained).
        contained: bool,
    },
}

impl ActionChange {
    /// True when the action changed something that release has to undo.
    pub fn changed_anything(&self) -> bool {
        match self {
            ActionChange::StopInstance { stop_requested, .. } => *stop_requested,
            ActionChange::IsolateRole { policy_added, .. } => *policy_added,
            ActionChange::IsolateSecurityGroup {
                groups_replaced, ..
            } => *groups_replaced,
            ActionChange::ContainHost { contained, .. } => *contained,
        }
    }
}

/// One response action: asked for, rehearsed, done, failed or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionRecord {
    /// The record's id (what `riposte respond release` takes).
    pub id: ActionId,
    /// The investigation that triggered it; none for a manual action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_id: Option<InvestigationId>,
    /// The action.
    pub action: ResponseAction,
    /// The system it works on.
    pub target: ActionTarget,
    /// Rehearsal only (the EC2 DryRun flag, or the mutating call skipped).
    pub dry_run: bool,
    /// Where it stands.
    pub status: ActionStatus,
    /// One line saying what happened (or would happen).
    pub summary: String,
    /// What it found and changed; none when it failed before looking at the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ActionChange>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ActionError>,
    /// Who asked: an API key name, `worker:<id>`, `cli:<user>`, `rule:<name>`.
    pub requested_by: String,
    /// When it ran.
    pub created_at: DateTime<Utc>,
    /// When it was released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// Who released it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
    /// What the release did, or why the last release attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_note: Option<String>,
}

impl ActionRecord {
    /// A new record of `action` on `target`, stamped now, not yet tied to an investigation.
    pub fn new(action: ResponseAction, target: impl Into<ActionTarget>, dry_run: bool) -> Self {
        ActionRecord {
            id: ActionId::new(),
            investigation_id: None,
            action,
            target: target.into(),
            dry_run,
            status: if dry_run {
                ActionStatus::DryRun
            } else {
                ActionStatus::Succeeded
            },
            summary: String::new(),
            change: None,
            error: None,
            requested_by: "system".to_string(),
            // Whole milliseconds: what the database keeps, so a stored record reads back equal.
            created_at: DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
                .unwrap_or_else(Utc::now),
            released_at: None,
            released_by: None,
            release_note: None,
        }
    }

    /// The same record, tied to the investigation that triggered it.
    pub fn for_investigation(mut self, investigation: InvestigationId) -> Self {
        self.investigation_id = Some(investigation);
        self
    }

    /// The same record, saying who asked for it.
    pub fn requested_by(mut self, actor: impl Into<String>) -> Self {
        self.requested_by = actor.into();
        self
    }

    /// Marks the record failed with `error`.
    pub fn fail(&mut self, error: ActionError) {
        self.summary = format!("{} failed: {error}", self.action.as_str());
        self.status = ActionStatus::Failed;
        self.error = Some(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_unknown_names_are_refused() {
        for status in [
            ActionStatus::Pending,
            ActionStatus::Succeeded,
            ActionStatus::Failed,
            ActionStatus::Released,
            ActionStatus::DryRun,
        ] {
            assert_eq!(status.as_str().parse::<ActionStatus>(), Ok(status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
        }
        assert!("done".parse::<ActionStatus>().is_err());
    }

    #[test]
    fn only_changes_that_took_effect_need_a_release() {
        let already_stopped = ActionChange::StopInstance {
            previous_state: "stopped".into(),
            stop_requested: false,
        };
        assert!(!already_stopped.changed_anything());
        let stopped = ActionChange::StopInstance {
            previous_state: "running".into(),
            stop_requested: true,
        };
        assert!(stopped.changed_anything());
    }

    #[test]
    fn an_ec2_acquisition_gives_the_target_with_its_role() {
        let acquisition = Acquisition::Ec2 {
            account_id: Some("111122223333".into()),
            region: "eu-west-1".into(),
            instance_id: "i-0abc".into(),
            role_name: Some("RiposteResponder".into()),
        };
        let target = Ec2Target::from_acquisition(&acquisition).unwrap();
        assert_eq!(target.instance_id, "i-0abc");
        assert_eq!(target.role_name.as_deref(), Some("RiposteResponder"));
        let ssh = Acquisition::Ssh {
            address: "10.0.0.1".into(),
            port: 22,
            user: None,
            credential: "k".into(),
            known_hosts: Vec::new(),
            trust_on_first_use: false,
            sudo: false,
        };
        assert_eq!(Ec2Target::from_acquisition(&ssh), None);
    }

    #[test]
    fn targets_stored_as_bare_ec2_targets_still_read_and_xdr_hosts_round_trip() {
        let stored = serde_json::json!({"instance_id": "i-0abc", "region": "eu-west-1"});
        let target: ActionTarget = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(
            target,
            ActionTarget::Ec2(Ec2Target::new("i-0abc", "eu-west-1"))
        );
        assert_eq!(serde_json::to_value(&target).unwrap(), stored);
        let host = ActionTarget::Xdr(XdrHost {
            vendor: "crowdstrike".into(),
            host_id: "4d8a".into(),
            connection_id: "c1".into(),
        });
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(serde_json::from_value::<ActionTarget>(json).unwrap(), host);
        assert_eq!((host.system_id(), host.location()), ("4d8a", "crowdstrike"));
        assert!(host.ec2().is_none());
    }
}
