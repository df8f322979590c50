//! Response actions on EC2 instances: stop the instance, isolate its IAM role, isolate it
//! in an empty security group. Each one records what it found and changed (an
//! [`ActionRecord`]) so it can be released later, runs as a rehearsal when asked (dry run),
//! and does not stack when run twice.
//!
//! Adding an action is one file implementing [`Ec2Action`] plus one line in [`ACTIONS`].
//!
//! Failures are recorded with the AWS error code and message and never retried by Riposte
//! (the SDK's standard retry of throttling and transient network errors still applies);
//! a failed record has nothing to release.

mod isolate_role;
mod isolate_security_group;
mod stop_instance;

pub use isolate_role::{ISOLATION_POLICY_NAME, IsolateRole, deny_all_policy};
pub use isolate_security_group::{IsolateSecurityGroup, isolation_group_name};
pub use stop_instance::StopInstance;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Instance;
use riposte_model::{
    ActionChange, ActionError, ActionRecord, ActionStatus, Ec2Target, ResponseAction,
};

/// Every AWS response action, in one place.
pub static ACTIONS: &[&dyn Ec2Action] = &[&StopInstance, &IsolateRole, &IsolateSecurityGroup];

/// The implementation of `action`, if it is an AWS action.
pub fn action_for(action: ResponseAction) -> Option<&'static dyn Ec2Action> {
    ACTIONS.iter().copied().find(|a| a.kind() == action)
}

/// What an action did (or would do in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// One line for the record.
    pub summary: String,
    /// What it found and changed.
    pub change: ActionChange,
}

/// Why an action failed, and what it had already changed when it did (for a person to
/// clean up: release only undoes succeeded actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The AWS error or Riposte's reason.
    pub error: ActionError,
    /// What was found or changed before the failure, if anything.
    pub change: Option<ActionChange>,
}

impl From<ActionError> for Failed {
    fn from(error: ActionError) -> Self {
        Failed {
            error,
            change: None,
        }
    }
}

/// One response action on an EC2 instance.
#[async_trait]
pub trait Ec2Action: Send + Sync {
    /// Which action this is.
    fn kind(&self) -> ResponseAction;

    /// Applies the action to `target`, or in a dry run checks it would be allowed and says
    /// what it would change, changing nothing. Applying it to a target already in the
    /// resulting state changes nothing and says so.
    async fn execute(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        dry_run: bool,
    ) -> Result<Executed, Failed>;

    /// Undoes what `change` says the action changed; returns what it did.
    async fn release(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        change: &ActionChange,
    ) -> Result<String, ActionError>;
}

/// Why a record cannot be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Dry runs, failures and released actions changed nothing that is still in place.
    #[error("action {id} is {status}: only a succeeded action can be released")]
    NotReleasable {
        /// The record.
        id: riposte_model::ActionId,
        /// Its status.
        status: ActionStatus,
    },
    /// The record does not say what changed (a hand-edited database).
    #[error("action {0} has no recorded change to undo")]
    NoRecordedChange(riposte_model::ActionId),
    /// Not an AWS action.
    #[error("{0} is not an AWS response action")]
    NotAnAwsAction(ResponseAction),
    /// AWS refused the undo.
    #[error("release failed: {0}")]
    Aws(ActionError),
}

/// The AWS clients response actions use, for one target's region and account.
#[derive(Debug, Clone)]
pub struct Responder {
    /// EC2.
    pub(crate) ec2: aws_sdk_ec2::Client,
    /// IAM.
    pub(crate) iam: aws_sdk_iam::Client,
}

impl Responder {
    /// Clients from an already loaded configuration (region, credentials, endpoints).
    pub fn from_config(config: &SdkConfig) -> Self {
        Responder {
            ec2: aws_sdk_ec2::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    /// Clients for `target`: the standard AWS chain in the target's region, then the
    /// target's role assumed in its account when it names one (an environment scope's
    /// `role_name`). Endpoints follow `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_EC2` / `_IAM`.
    pub async fn for_target(target: &Ec2Target) -> Result<Self, ActionError> {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            .load()
            .await;
        let Some(role_name) = &target.role_name else {
            return Ok(Self::from_config(&base));
        };
        let Some(account) = &target.account_id else {
            return Err(ActionError {
                code: None,
                message: format!(
                    "the target names role {role_name} but no account id to assume it in"
                ),
            });
        };
        let role_arn = format!(
            "arn:{}:iam::{account}:role/{role_name}",
            partition(&target.region)
        );
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("riposte-respond")
            .configure(&base)
            .build()
            .await;
        let assumed = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            .credentials_provider(provider)
            .load()
            .await;
        Ok(Self::from_config(&assumed))
    }

    /// Runs `action` on `target` (a rehearsal when `dry_run`) and records what happened.
    /// Never fails: a failure is a record with status `failed` and the AWS error.
    pub async fn execute(
        &self,
        action: ResponseAction,
        target: &Ec2Target,
        dry_run: bool,
    ) -> ActionRecord {
        let mut record = ActionRecord::new(action, target.clone(), dry_run);
        let Some(implementation) = action_for(action) else {
            record.fail(ActionError {
                code: None,
                message: format!(
                    "{action} is not an AWS action; it goes through the XDR connection"
                ),
            });
            return record;
        };
        match implementation.execute(self, target, dry_run).await {
            Ok(done) => {
                tracing::info!(%action, instance = %target.instance_id, dry_run, summary = %done.summary, "response action");
                record.summary = done.summary;
                record.change = Some(done.change);
            }
            Err(failed) => {
                tracing::warn!(%action, instance = %target.instance_id, dry_run, error = %failed.error, "response action failed");
                record.fail(failed.error);
                record.change = failed.change;
            }
        }
        record
    }

    /// Undoes a succeeded action; returns what was done (which may be nothing, when the
    /// action had found the target already in that state).
    pub async fn release(&self, record: &ActionRecord) -> Result<String, ReleaseError> {
        if record.status != ActionStatus::Succeeded {
            return Err(ReleaseError::NotReleasable {
                id: record.id,
                status: record.status,
            });
        }
        let implementation =
            action_for(record.action).ok_or(ReleaseError::NotAnAwsAction(record.action))?;
        let target = record
            .target
            .ec2()
            .ok_or(ReleaseError::NotAnAwsAction(record.action))?;
        let change = record
            .change
            .as_ref()
            .ok_or(ReleaseError::NoRecordedChange(record.id))?;
        if !change.changed_anything() {
            return Ok(format!(
                "nothing to undo: {} found {} already in that state",
                record.action, target.instance_id
            ));
        }
        let note = implementation
            .release(self, target, change)
            .await
            .map_err(ReleaseError::Aws)?;
        tracing::info!(action = %record.action, id = %record.id, %note, "response action released");
        Ok(note)
    }
}

/// Runs `action` on `target` with clients for the target (see [`Responder::for_target`]):
/// what the worker calls once a verdict reaches a rule's trigger. Never fails; a failure
/// is a `failed` record.
pub async fn execute(action: ResponseAction, target: &Ec2Target, dry_run: bool) -> ActionRecord {
    match Responder::for_target(target).await {
        Ok(responder) => responder.execute(action, target, dry_run).await,
        Err(error) => {
            let mut record = ActionRecord::new(action, target.clone(), dry_run);
            record.fail(error);
            record
        }
    }
}

/// Releases a succeeded action with clients for its target.
pub async fn release(record: &ActionRecord) -> Result<String, ReleaseError> {
    let target = record
        .target
        .ec2()
        .ok_or(ReleaseError::NotAnAwsAction(record.action))?;
    let responder = Responder::for_target(target)
        .await
        .map_err(ReleaseError::Aws)?;
    responder.release(record).await
}

/// The ARN partition of a region.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// An SDK error as a record error: the AWS code and message when AWS answered, the HTTP
/// status when the answer could not be read, the transport error otherwise. `operation`
/// names the API call that failed.
pub(crate) fn aws_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match (err.message(), err.raw_response()) {
        (Some(message), _) => format!("{operation}: {message}"),
        (None, Some(response)) => format!(
            "{operation}: HTTP {} with an error body the SDK could not read ({})",
            response.status().as_u16(),
            DisplayErrorContext(&err)
        ),
        (None, None) => format!("{operation}: {}", DisplayErrorContext(&err)),
    };
    ActionError { code, message }
}

/// The outcome of a call made with the EC2 DryRun flag: `DryRunOperation` means it would
/// have been allowed; any other error (e.g. `UnauthorizedOperation`) is the failure.
pub(crate) fn dry_run_outcome<T, E>(
    operation: &str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<(), ActionError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("DryRunOperation") => Ok(()),
        Err(err) => Err(aws_error(operation, err)),
    }
}

/// A Riposte-side refusal (no AWS code).
pub(crate) fn refusal(message: impl Into<String>) -> ActionError {
    ActionError {
        code: None,
        message: message.into(),
    }
}

/// The instance as EC2 describes it now.
pub(crate) async fn describe_instance(
    clients: &Responder,
    instance_id: &str,
) -> Result<Instance, ActionError> {
    let out = clients
        .ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeInstances", e))?;
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id))
        .cloned()
        .ok_or_else(|| {
            refusal(format!(
                "DescribeInstances did not return instance {instance_id}"
            ))
        })
}

/// The instance's state name (`running`, `stopped`, …).
pub(crate) fn state_name(instance: &Instance) -> String {
    instance
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aws_action_is_registered_once_and_contain_host_is_not() {
        for action in [
            ResponseAction::StopInstance,
            ResponseAction::IsolateRole,
            ResponseAction::IsolateSecurityGroup,
        ] {
            assert_eq!(action_for(action).map(|a| a.kind()), Some(action));
            assert_eq!(ACTIONS.iter().filter(|a| a.kind() == action).count(), 1);
        }
        assert!(action_for(ResponseAction::ContainHost).is_none());
    }

    #[test]
    fn role_arns_use_the_region_partition() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
