//! Isolate Role (`iam:GetInstanceProfile`, `iam:PutRolePolicy`): a deny-all inline policy
//! on the role of the instance's profile. An explicit deny wins over every allow, and IAM
//! evaluates it on every request, so credentials already handed to the instance stop
//! working too. Release deletes the policy (`iam:DeleteRolePolicy`).

use super::{Ec2Action, Executed, Failed, Responder, aws_error, describe_instance, refusal};
use async_trait::async_trait;
use riposte_model::{ActionChange, ActionError, Ec2Target, ResponseAction};

/// The name of the inline policy Riposte puts on an isolated role.
pub const ISOLATION_POLICY_NAME: &str = "riposte-isolation-deny-all";

/// The deny-all policy document.
pub fn deny_all_policy() -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "RiposteIsolation",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*"
        }]
    })
}

/// Puts a deny-all inline policy on the instance profile's role.
pub struct IsolateRole;

#[async_trait]
impl Ec2Action for IsolateRole {
    fn kind(&self) -> ResponseAction {
        ResponseAction::IsolateRole
    }

    async fn execute(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        dry_run: bool,
    ) -> Result<Executed, Failed> {
        let id = &target.instance_id;
        let instance = describe_instance(clients, id).await?;
        let Some(profile_arn) = instance
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_string)
        else {
            return Err(refusal(format!(
                "{id} has no instance profile: there is no role to isolate"
            ))
            .into());
        };
        // arn:aws:iam::ACCOUNT:instance-profile/optional/path/NAME
        let profile_name = profile_arn.rsplit('/').next().unwrap_or_default();
        if profile_name.is_empty() || !profile_arn.contains(":instance-profile/") {
            return Err(refusal(format!("unexpected instance profile ARN {profile_arn:?}")).into());
        }
        let profile = clients
            .iam
            .get_instance_profile()
            .instance_profile_name(profile_name)
            .send()
            .await
            .map_err(|e| aws_error("GetInstanceProfile", e))?;
        let role_name = profile
            .instance_profile()
            .and_then(|p| p.roles().first())
            .map(|r| r.role_name().to_string())
            .ok_or_else(|| refusal(format!("instance profile {profile_name} has no role")))?;
        let change = |policy_added| ActionChange::IsolateRole {
            instance_profile_arn: profile_arn.clone(),
            role_name: role_name.clone(),
            policy_name: ISOLATION_POLICY_NAME.to_string(),
            policy_added,
        };

        match clients
            .iam
            .get_role_policy()
            .role_name(&role_name)
            .policy_name(ISOLATION_POLICY_NAME)
            .send()
            .await
        {
            Ok(_) => {
                return Ok(Executed {
                    summary: format!(
                        "role {role_name} of {id} already has {ISOLATION_POLICY_NAME}; nothing changed"
                    ),
                    change: change(false),
                });
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => return Err(aws_error("GetRolePolicy", e).into()),
        }

        if dry_run {
            // IAM has no DryRun flag: the mutating call is skipped.
            return Ok(Executed {
                summary: format!(
                    "dry run: would put deny-all policy {ISOLATION_POLICY_NAME} on role {role_name} of {id}"
                ),
                change: change(true),
            });
        }
        clients
            .iam
            .put_role_policy()
            .role_name(&role_name)
            .policy_name(ISOLATION_POLICY_NAME)
            .policy_document(deny_all_policy().to_string())
            .send()
            .await
            .map_err(|e| Failed {
                error: aws_error("PutRolePolicy", e),
                change: Some(change(false)),
            })?;
        Ok(Executed {
            summary: format!(
                "put deny-all policy {ISOLATION_POLICY_NAME} on role {role_name} of {id}"
            ),
            change: change(true),
        })
    }

    async fn release(
        &self,
        clients: &Responder,
        _target: &Ec2Target,
        change: &ActionChange,
    ) -> Result<String, ActionError> {
        let ActionChange::IsolateRole {
            role_name,
            policy_name,
            ..
        } = change
        else {
            return Err(refusal("the record's change is not a role isolation"));
        };
        match clients
            .iam
            .delete_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(_) => Ok(format!("deleted {policy_name} from role {role_name}")),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(format!(
                    "{policy_name} was already gone from role {role_name}"
                ))
            }
            Err(e) => Err(aws_error("DeleteRolePolicy", e)),
        }
    }
}
