//! Isolate Security Group (`ec2:CreateSecurityGroup`, `ec2:RevokeSecurityGroupEgress`,
//! `ec2:ModifyInstanceAttribute`): a security group with no rules at all, made the
//! instance's only group, so nothing new reaches it or leaves it. Release puts the original
//! groups back and deletes the isolation group (`ec2:DeleteSecurityGroup`).
//!
//! Instances with more than one network interface are refused before anything changes:
//! `ModifyInstanceAttribute` can only swap the groups of a single-interface instance, and
//! isolating each interface would need `ec2:ModifyNetworkInterfaceAttribute` as well.
//! Stop the instance instead, or isolate its interfaces by hand.

use super::{
    Ec2Action, Executed, Failed, Responder, aws_error, describe_instance, dry_run_outcome, refusal,
};
use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, SecurityGroup};
use riposte_model::{ActionChange, ActionError, Ec2Target, ResponseAction};

/// The name of the isolation group of `instance_id` (one per instance and VPC).
pub fn isolation_group_name(instance_id: &str) -> String {
    format!("riposte-isolation-{instance_id}")
}

/// Swaps the instance's security groups for one empty group.
pub struct IsolateSecurityGroup;

#[async_trait]
impl Ec2Action for IsolateSecurityGroup {
    fn kind(&self) -> ResponseAction {
        ResponseAction::IsolateSecurityGroup
    }

    async fn execute(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        dry_run: bool,
    ) -> Result<Executed, Failed> {
        let id = &target.instance_id;
        let instance = describe_instance(clients, id).await?;
        let Some(vpc_id) = instance.vpc_id().map(str::to_string) else {
            return Err(refusal(format!("{id} is not in a VPC")).into());
        };
        let interfaces = instance.network_interfaces().len();
        if interfaces > 1 {
            return Err(refusal(format!(
                "{id} has {interfaces} network interfaces; only single-interface instances are isolated \
                 by security group (stop the instance, or isolate its interfaces by hand)"
            ))
            .into());
        }
        let original: Vec<(String, String)> = instance
            .security_groups()
            .iter()
            .filter_map(|g| {
                Some((
                    g.group_id()?.to_string(),
                    g.group_name().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        let name = isolation_group_name(id);
        let original_group_ids: Vec<String> = original.iter().map(|(gid, _)| gid.clone()).collect();
        let change = |isolation_group_id: Option<String>, groups_replaced| {
            ActionChange::IsolateSecurityGroup {
                vpc_id: vpc_id.clone(),
                original_group_ids: original_group_ids.clone(),
                isolation_group_id,
                isolation_group_name: name.clone(),
                groups_replaced,
            }
        };
        if let [(only_id, only_name)] = original.as_slice()
            && *only_name == name
        {
            return Ok(Executed {
                summary: format!("{id} is already isolated in {only_id}; nothing changed"),
                change: change(Some(only_id.clone()), false),
            });
        }

        if dry_run {
            dry_run_outcome(
                "CreateSecurityGroup",
                clients
                    .ec2
                    .create_security_group()
                    .group_name(&name)
                    .description(description(id))
                    .vpc_id(&vpc_id)
                    .dry_run(true)
                    .send()
                    .await,
            )?;
            dry_run_outcome(
                "ModifyInstanceAttribute",
                clients
                    .ec2
                    .modify_instance_attribute()
                    .instance_id(id)
                    .set_groups(Some(original_group_ids.clone()))
                    .dry_run(true)
                    .send()
                    .await,
            )?;
            return Ok(Executed {
                summary: format!(
                    "dry run: would create empty group {name} in {vpc_id} and make it the only group of {id} \
                     (now {}); CreateSecurityGroup and ModifyInstanceAttribute are allowed",
                    original_group_ids.join(", ")
                ),
                change: change(None, true),
            });
        }

        let group = isolation_group(clients, id, &name, &vpc_id).await?;
        let group_id = group.group_id().unwrap_or_default().to_string();
        let failed = |error: ActionError| Failed {
            error,
            change: Some(change(Some(group_id.clone()), false)),
        };
        if !group.ip_permissions().is_empty() {
            return Err(failed(refusal(format!(
                "the existing isolation group {group_id} has inbound rules someone added; remove them or delete the group"
            ))));
        }
        if !group.ip_permissions_egress().is_empty() {
            clients
                .ec2
                .revoke_security_group_egress()
                .group_id(&group_id)
                .set_ip_permissions(Some(group.ip_permissions_egress().to_vec()))
                .send()
                .await
                .map_err(|e| failed(aws_error("RevokeSecurityGroupEgress", e)))?;
        }
        clients
            .ec2
            .modify_instance_attribute()
            .instance_id(id)
            .groups(&group_id)
            .send()
            .await
            .map_err(|e| failed(aws_error("ModifyInstanceAttribute", e)))?;
        Ok(Executed {
            summary: format!(
                "isolated {id} in empty group {group_id} (was {})",
                original_group_ids.join(", ")
            ),
            change: change(Some(group_id), true),
        })
    }

    async fn release(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        change: &ActionChange,
    ) -> Result<String, ActionError> {
        let id = &target.instance_id;
        let ActionChange::IsolateSecurityGroup {
            original_group_ids,
            isolation_group_id: Some(group_id),
            ..
        } = change
        else {
            return Err(refusal(
                "the record's change is not a security group isolation",
            ));
        };
        let instance = describe_instance(clients, id).await?;
        let current: Vec<&str> = instance
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect();
        let mut note = if current == [group_id.as_str()] {
            clients
                .ec2
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(original_group_ids.clone()))
                .send()
                .await
                .map_err(|e| aws_error("ModifyInstanceAttribute", e))?;
            format!("restored groups {} on {id}", original_group_ids.join(", "))
        } else {
            format!(
                "{id}'s groups changed since isolation (now {}); left as they are",
                current.join(", ")
            )
        };
        match clients
            .ec2
            .delete_security_group()
            .group_id(group_id)
            .send()
            .await
        {
            Ok(_) => note.push_str(&format!("; deleted isolation group {group_id}")),
            Err(e) => {
                let error = aws_error("DeleteSecurityGroup", e);
                note.push_str(&format!("; kept isolation group {group_id} ({error})"));
            }
        }
        Ok(note)
    }
}

/// The isolation group's description. Without spaces: the moto emulator the tests run on
/// fails the request signature of SDK-encoded spaces when it enforces IAM (AWS does not).
fn description(instance_id: &str) -> String {
    format!("Riposte-isolation-of-{instance_id}-no-inbound-or-outbound-rules")
}

/// The isolation group: created now, or the one a previous run left (same name and VPC).
async fn isolation_group(
    clients: &Responder,
    instance_id: &str,
    name: &str,
    vpc_id: &str,
) -> Result<SecurityGroup, Failed> {
    let created = clients
        .ec2
        .create_security_group()
        .group_name(name)
        .description(description(instance_id))
        .vpc_id(vpc_id)
        .send()
        .await;
    let filter = match created {
        Ok(out) => {
            let group_id = out
                .group_id()
                .ok_or_else(|| refusal("CreateSecurityGroup returned no group id"))?;
            Filter::builder().name("group-id").values(group_id).build()
        }
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
            Filter::builder().name("group-name").values(name).build()
        }
        Err(e) => return Err(aws_error("CreateSecurityGroup", e).into()),
    };
    let groups = clients
        .ec2
        .describe_security_groups()
        .filters(filter)
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeSecurityGroups", e))?;
    groups.security_groups().first().cloned().ok_or_else(|| {
        refusal(format!(
            "security group {name} in {vpc_id} not found after creating it"
        ))
        .into()
    })
}
