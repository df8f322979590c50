//! Rule-triggered response actions: which system an action works on, how each kind of
//! target is acted on (EC2 instances through `riposte-aws`, XDR hosts through the rule's
//! CrowdStrike or Defender connection), and what a retried stage does with the records an
//! earlier attempt left.

use crate::Worker;
use crate::connections::build_containment;
use riposte_model::{
    ActionChange, ActionError, ActionRecord, ActionStatus, ActionTarget, Ec2Target, Environment,
    Investigation, ResponseAction, Scope, Target, TargetKind, XdrHost,
};
use riposte_rules::{Resolution, resolve_target};
use riposte_sources::defender::MACHINE_ID_TAG;
use riposte_sources::poll::PollError;

/// The target tag holding a CrowdStrike Falcon device id.
pub const CROWDSTRIKE_DEVICE_TAG: &str = "crowdstrike.device_id";

/// What a (possibly retried) stage does about one allowed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No record yet: record it pending, then run it.
    Run(ResponseAction),
    /// A pending record (an attempt was interrupted): run it again. The actions are
    /// idempotent against the target's real state, so this never stacks a change.
    Recheck(ActionRecord),
    /// Already succeeded, failed or rehearsed: never run again (failures are not retried
    /// blindly); only its notification may still be owed.
    Done(ActionRecord),
}

/// The steps for `allowed` actions (in order, each once) given the records `actor` (the
/// rule) already left on the investigation.
pub fn steps(allowed: &[ResponseAction], existing: &[ActionRecord], actor: &str) -> Vec<Step> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for &action in allowed {
        if seen.contains(&action) {
            continue;
        }
        seen.push(action);
        let previous = existing
            .iter()
            .filter(|r| r.action == action && r.requested_by == actor)
            // Newest first: a pending record wins over nothing, a final one over a pending one.
            .max_by_key(|r| (r.status != ActionStatus::Pending, r.created_at));
        out.push(match previous {
            None => Step::Run(action),
            Some(r) if r.status == ActionStatus::Pending => Step::Recheck(r.clone()),
            Some(r) => Step::Done(r.clone()),
        });
    }
    out
}

/// The system `action` works on for `inv`, or why there is none.
pub async fn target_for(
    w: &Worker,
    inv: &Investigation,
    action: ResponseAction,
) -> Result<ActionTarget, String> {
    match action.target_kind() {
        TargetKind::Ec2Instance => ec2_target(w, inv).await.map(ActionTarget::Ec2),
        TargetKind::XdrHost => xdr_host(w, inv).await.map(ActionTarget::Xdr),
    }
}

/// The instance: the investigation's EC2 acquisition (with its scope's role), else the
/// instance the alert named as an AWS scope of the rule's environment covers it (an
/// investigation over other evidence of that instance, e.g. a local collection).
async fn ec2_target(w: &Worker, inv: &Investigation) -> Result<Ec2Target, String> {
    let Some(plan) = &inv.plan else {
        return Err("the investigation has no plan (it predates rules)".into());
    };
    if let Some(target) = Ec2Target::from_acquisition(&plan.scope.acquisition) {
        return Ok(target);
    }
    let environment = w
        .store
        .get_environment(plan.scope.environment_id)
        .await
        .map_err(|e| format!("cannot read environment {}: {e}", plan.scope.environment))?
        .ok_or_else(|| format!("environment {} no longer exists", plan.scope.environment))?;
    ec2_in_aws_scopes(&inv.target, &environment)
}

/// The alert's instance as the first AWS scope of `environment` that covers it (its
/// account, region, tags) resolves it, with that scope's role.
pub fn ec2_in_aws_scopes(target: &Target, environment: &Environment) -> Result<Ec2Target, String> {
    let aws_only = Environment {
        scopes: environment
            .scopes
            .iter()
            .filter(|s| matches!(s, Scope::Aws(_)))
            .cloned()
            .collect(),
        ..environment.clone()
    };
    if aws_only.scopes.is_empty() {
        return Err(format!(
            "no EC2 instance to act on: environment {} has no AWS scope",
            environment.name
        ));
    }
    match resolve_target(target, &[&aws_only]) {
        Resolution::Covered(scope) => Ec2Target::from_acquisition(&scope.acquisition)
            .ok_or_else(|| "an AWS scope resolved to something other than an instance".into()),
        Resolution::NotCovered(reasons) => {
            Err(format!("no EC2 instance to act on: {}", reasons.join("; ")))
        }
    }
}

/// The XDR host: the rule's connection and the vendor's host id the alert carries.
async fn xdr_host(w: &Worker, inv: &Investigation) -> Result<XdrHost, String> {
    let Some(connection_id) = inv.plan.as_ref().and_then(|p| p.connection_id.clone()) else {
        return Err(
            "contain_host needs the rule's XDR connection (`connection_id`); the rule names none"
                .into(),
        );
    };
    let connection = w
        .store
        .get_connection(&connection_id)
        .await
        .map_err(|e| format!("cannot read connection {connection_id}: {e}"))?
        .ok_or_else(|| format!("connection {connection_id} no longer exists"))?;
    let tag = match connection.vendor.as_str() {
        "crowdstrike" => CROWDSTRIKE_DEVICE_TAG,
        "defender" => MACHINE_ID_TAG,
        other => {
            return Err(format!(
                "connection {} is a {other} connection; only crowdstrike and defender connections contain hosts",
                connection.name
            ));
        }
    };
    let host_id = inv
        .target
        .tags
        .get(tag)
        .cloned()
        .ok_or_else(|| format!("the alert names no {} host id (`{tag}`)", connection.vendor))?;
    Ok(XdrHost {
        vendor: connection.vendor,
        host_id,
        connection_id,
    })
}

/// Runs `record`'s action on its target (a rehearsal when `record.dry_run`) and returns
/// the record completed with the result. Never fails: a failure is a `failed` record.
pub async fn execute(w: &Worker, mut record: ActionRecord) -> ActionRecord {
    let outcome = match &record.target {
        ActionTarget::Ec2(target) => {
            let done = riposte_aws::respond::execute(record.action, target, record.dry_run).await;
            record.status = done.status;
            record.summary = done.summary;
            record.change = done.change;
            record.error = done.error;
            return record;
        }
        ActionTarget::Xdr(host) => contain(w, host, record.dry_run, record.investigation_id).await,
    };
    match outcome {
        Ok((summary, change)) => {
            record.status = if record.dry_run {
                ActionStatus::DryRun
            } else {
                ActionStatus::Succeeded
            };
            record.summary = summary;
            record.change = Some(change);
            record.error = None;
        }
        Err(error) => {
            tracing::warn!(action = %record.action, host = %record.target.system_id(), %error, "response action failed");
            record.change = None;
            record.fail(error);
        }
    }
    record
}

/// Contains `host` through its connection; in a dry run, checks the connection can be
/// used and says what it would do.
async fn contain(
    w: &Worker,
    host: &XdrHost,
    dry_run: bool,
    investigation: Option<riposte_model::InvestigationId>,
) -> Result<(String, ActionChange), ActionError> {
    let refusal = |message: String| ActionError {
        code: None,
        message,
    };
    let connection = w
        .store
        .get_connection(&host.connection_id)
        .await
        .map_err(|e| refusal(format!("cannot read the connection: {e}")))?
        .ok_or_else(|| {
            refusal(format!(
                "connection {} no longer exists",
                host.connection_id
            ))
        })?;
    let secret = w
        .store
        .connection_secret(&w.config.master_key, &host.connection_id)
        .await
        .map_err(|e| refusal(format!("cannot open the connection's credential: {e}")))?;
    let client = build_containment(
        &connection.vendor,
        &connection.settings,
        secret,
        &w.config.outbound,
    )
    .await
    .map_err(vendor_error)?;
    if dry_run {
        let summary = format!(
            "dry run: would contain {} host {} through connection {}",
            host.vendor, host.host_id, connection.name
        );
        return Ok((
            summary,
            ActionChange::ContainHost {
                vendor: host.vendor.clone(),
                host_id: host.host_id.clone(),
                previous_state: None,
                vendor_action_id: None,
                contained: false,
            },
        ));
    }
    let comment = match investigation {
        Some(id) => format!("Riposte: contained by a detection rule (investigation {id})"),
        None => "Riposte: contained by a detection rule".to_string(),
    };
    let done = client
        .contain(&host.host_id, &comment)
        .await
        .map_err(vendor_error)?;
    let summary = if done.changed {
        format!(
            "contained {} host {} (was {})",
            host.vendor,
            host.host_id,
            done.previous_state.as_deref().unwrap_or("unknown")
        )
    } else {
        format!(
            "{} host {} was already contained ({}); nothing changed",
            host.vendor,
            host.host_id,
            done.previous_state.as_deref().unwrap_or("unknown")
        )
    };
    Ok((
        summary,
        ActionChange::ContainHost {
            vendor: done.vendor,
            host_id: done.host_id,
            previous_state: done.previous_state,
            vendor_action_id: done.vendor_action_id,
            contained: done.changed,
        },
    ))
}

/// A vendor error as a record error: the HTTP status as the code when the vendor answered.
fn vendor_error(e: PollError) -> ActionError {
    let code = match &e {
        PollError::Http { status, .. } => Some(format!("HTTP {status}")),
        _ => None,
    };
    ActionError {
        code,
        message: e.to_string(),
    }
}

/// Releases a host containment a rule recorded (`contain_host` with a CrowdStrike or
/// Defender target), through the record's connection: lifts the containment when Riposte
/// made it; a host that was already contained before is left as it was. Returns the note
/// to record.
pub async fn release_containment(
    store: &riposte_store::Store,
    master_key: &riposte_store::MasterKey,
    outbound: &riposte_notify::OutboundPolicy,
    record: &ActionRecord,
) -> Result<String, ActionError> {
    let refusal = |message: String| ActionError {
        code: None,
        message,
    };
    if record.status != ActionStatus::Succeeded {
        return Err(refusal(format!(
            "action {} is {}: only a succeeded action can be released",
            record.id, record.status
        )));
    }
    let ActionTarget::Xdr(host) = &record.target else {
        return Err(refusal(format!(
            "action {} is not a host containment",
            record.id
        )));
    };
    let Some(ActionChange::ContainHost {
        vendor,
        host_id,
        previous_state,
        vendor_action_id,
        contained,
    }) = &record.change
    else {
        return Err(refusal(format!(
            "action {} has no recorded containment to undo",
            record.id
        )));
    };
    let connection = store
        .get_connection(&host.connection_id)
        .await
        .map_err(|e| refusal(format!("cannot read the connection: {e}")))?
        .ok_or_else(|| {
            refusal(format!(
                "connection {} no longer exists: recreate it (same id) or lift the containment in the {} console",
                host.connection_id, host.vendor
            ))
        })?;
    let secret = store
        .connection_secret(master_key, &host.connection_id)
        .await
        .map_err(|e| refusal(format!("cannot open the connection's credential: {e}")))?;
    let client = build_containment(&connection.vendor, &connection.settings, secret, outbound)
        .await
        .map_err(vendor_error)?;
    let contained_record = riposte_sources::contain::ContainmentRecord {
        vendor: vendor.clone(),
        host_id: host_id.clone(),
        action: riposte_sources::contain::ContainmentAction::Contain,
        changed: *contained,
        previous_state: previous_state.clone(),
        vendor_action_id: vendor_action_id.clone(),
        comment: String::new(),
        at: record.created_at,
    };
    let comment = format!("Riposte: release of action {}", record.id);
    let done = client
        .release(&contained_record, &comment)
        .await
        .map_err(vendor_error)?;
    Ok(if done.changed {
        format!("lifted the containment of {vendor} host {host_id}")
    } else {
        format!("{vendor} host {host_id} was contained before Riposte acted; left contained")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: ResponseAction, actor: &str, status: ActionStatus) -> ActionRecord {
        let mut r = ActionRecord::new(action, Ec2Target::new("i-0abc", "eu-west-1"), false)
            .requested_by(actor);
        r.status = status;
        r
    }

    #[test]
    fn a_retried_stage_reruns_nothing_final_and_rechecks_what_was_pending() {
        use ResponseAction::*;
        let actor = "rule:gd";
        let done = record(StopInstance, actor, ActionStatus::Succeeded);
        let failed = record(IsolateRole, actor, ActionStatus::Failed);
        let pending = record(IsolateSecurityGroup, actor, ActionStatus::Pending);
        // Another rule's (or a person's) record of the same action is not this rule's.
        let manual = record(ContainHost, "cli:alice", ActionStatus::Succeeded);
        let existing = vec![done.clone(), failed.clone(), pending.clone(), manual];
        let allowed = [
            StopInstance,
            IsolateRole,
            IsolateSecurityGroup,
            ContainHost,
            StopInstance,
        ];
        assert_eq!(
            steps(&allowed, &existing, actor),
            vec![
                Step::Done(done),
                Step::Done(failed),
                Step::Recheck(pending),
                Step::Run(ContainHost),
            ]
        );
    }

    #[test]
    fn a_final_record_wins_over_a_pending_one_of_the_same_action() {
        let actor = "rule:gd";
        let pending = record(ResponseAction::StopInstance, actor, ActionStatus::Pending);
        let mut failed = record(ResponseAction::StopInstance, actor, ActionStatus::Failed);
        failed.created_at = pending.created_at - chrono::Duration::seconds(5);
        let got = steps(
            &[ResponseAction::StopInstance],
            &[pending, failed.clone()],
            actor,
        );
        assert_eq!(got, vec![Step::Done(failed)]);
    }

    #[test]
    fn the_instance_comes_from_the_alert_as_an_aws_scope_covers_it() {
        let environment: Environment = serde_json::from_value(serde_json::json!({
            "id": riposte_model::EnvironmentId::new(), "name": "prod",
            "scopes": [
                {"kind": "local", "folder": "/srv/library"},
                {"kind": "aws", "accounts": ["303697492861"], "regions": ["ca-central-1"], "role_name": "RiposteResponder"},
            ],
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        }))
        .unwrap();
        let alert = |account: &str| Target {
            instance_id: Some("i-0123456789abcdef0".into()),
            region: Some("ca-central-1".into()),
            account_id: Some(account.into()),
            cloud_provider: Some("aws".into()),
            ..Default::default()
        };
        let got = ec2_in_aws_scopes(&alert("303697492861"), &environment).unwrap();
        assert_eq!(
            got,
            Ec2Target {
                instance_id: "i-0123456789abcdef0".into(),
                region: "ca-central-1".into(),
                account_id: Some("303697492861".into()),
                role_name: Some("RiposteResponder".into()),
            }
        );
        let err = ec2_in_aws_scopes(&alert("111122223333"), &environment).unwrap_err();
        assert!(err.contains("account 111122223333 is not one of"), "{err}");
        let local_only = Environment {
            scopes: environment.scopes[..1].to_vec(),
            ..environment
        };
        let err = ec2_in_aws_scopes(&alert("303697492861"), &local_only).unwrap_err();
        assert!(err.contains("has no AWS scope"), "{err}");
    }
}

/// Why a release did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseFailure {
    /// Nothing to release (a dry run, a failure, already released, not an action Riposte
    /// can undo), or someone released it meanwhile: nothing was called.
    #[error("{0}")]
    Refused(String),
    /// The vendor refused or failed; recorded on the action.
    #[error("releasing {action} on {system} failed: {error}")]
    Failed {
        /// The action.
        action: riposte_model::ResponseAction,
        /// The instance or XDR host.
        system: String,
        /// The vendor's answer.
        error: ActionError,
    },
    /// The store failed.
    #[error("{0}")]
    Store(#[from] riposte_store::StoreError),
}

/// Undoes a recorded action — lifts an XDR containment through its connection, restores an
/// instance's security groups, deletes the deny-all role policy, starts a stopped
/// instance — and records who did and what it did (or the vendor's failure).
pub async fn release_action(
    store: &riposte_store::Store,
    master_key: Option<&riposte_store::MasterKey>,
    outbound: &riposte_notify::OutboundPolicy,
    record: &ActionRecord,
    actor: &str,
) -> Result<String, ReleaseFailure> {
    if record.status != ActionStatus::Succeeded {
        return Err(ReleaseFailure::Refused(format!(
            "action {} is {}: only a succeeded action can be released",
            record.id, record.status
        )));
    }
    let outcome = if matches!(record.target, ActionTarget::Xdr(_)) {
        let Some(master_key) = master_key else {
            return Err(ReleaseFailure::Refused(
                "lifting a containment needs the server's master key (it opens the connection's credential)".into(),
            ));
        };
        release_containment(store, master_key, outbound, record).await
    } else {
        match riposte_aws::respond::release(record).await {
            Ok(note) => Ok(note),
            Err(riposte_aws::respond::ReleaseError::Aws(error)) => Err(error),
            Err(other) => return Err(ReleaseFailure::Refused(other.to_string())),
        }
    };
    match outcome {
        Ok(note) => {
            if !store.mark_action_released(record.id, actor, &note).await? {
                return Err(ReleaseFailure::Refused(format!(
                    "action {} was released meanwhile by someone else",
                    record.id
                )));
            }
            Ok(note)
        }
        Err(error) => {
            store
                .note_release_failure(record.id, &format!("release failed: {error}"))
                .await?;
            Err(ReleaseFailure::Failed {
                action: record.action,
                system: record.target.system_id().to_string(),
                error,
            })
        }
    }
}
