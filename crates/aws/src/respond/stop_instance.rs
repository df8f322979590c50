//! Stop Instance (`ec2:StopInstances`): the instance stops; its disks and memory-less state
//! stay for acquisition. Release starts it again (`ec2:StartInstances`), but only if it was
//! running when Riposte stopped it.

use super::{
    Ec2Action, Executed, Failed, Responder, aws_error, describe_instance, dry_run_outcome, refusal,
    state_name,
};
use async_trait::async_trait;
use aws_sdk_ec2::client::Waiters;
use riposte_model::{ActionChange, ActionError, Ec2Target, ResponseAction};
use std::time::Duration;

/// How long release waits for a stopping instance to reach `stopped` before starting it.
const STOPPED_WAIT: Duration = Duration::from_secs(600);

/// Stops the instance.
pub struct StopInstance;

#[async_trait]
impl Ec2Action for StopInstance {
    fn kind(&self) -> ResponseAction {
        ResponseAction::StopInstance
    }

    async fn execute(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        dry_run: bool,
    ) -> Result<Executed, Failed> {
        let id = &target.instance_id;
        let instance = describe_instance(clients, id).await?;
        let previous_state = state_name(&instance);
        let change = |stop_requested| ActionChange::StopInstance {
            previous_state: previous_state.clone(),
            stop_requested,
        };
        match previous_state.as_str() {
            "stopping" | "stopped" => {
                return Ok(Executed {
                    summary: format!("{id} is already {previous_state}; nothing changed"),
                    change: change(false),
                });
            }
            "pending" | "running" => {}
            other => {
                return Err(Failed {
                    error: refusal(format!("{id} is {other}; it cannot be stopped")),
                    change: Some(change(false)),
                });
            }
        }
        let result = clients
            .ec2
            .stop_instances()
            .instance_ids(id)
            .dry_run(dry_run)
            .send()
            .await;
        if dry_run {
            dry_run_outcome("StopInstances", result)?;
            return Ok(Executed {
                summary: format!(
                    "dry run: would stop {id} ({previous_state}); StopInstances is allowed"
                ),
                change: change(true),
            });
        }
        let out = result.map_err(|e| Failed {
            error: aws_error("StopInstances", e),
            change: Some(change(false)),
        })?;
        let now = out
            .stopping_instances()
            .iter()
            .find_map(|s| s.current_state().and_then(|c| c.name()))
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| "stopping".to_string());
        Ok(Executed {
            summary: format!("stopped {id} (was {previous_state}, now {now})"),
            change: change(true),
        })
    }

    async fn release(
        &self,
        clients: &Responder,
        target: &Ec2Target,
        change: &ActionChange,
    ) -> Result<String, ActionError> {
        let id = &target.instance_id;
        let ActionChange::StopInstance { previous_state, .. } = change else {
            return Err(refusal("the record's change is not a stop"));
        };
        let instance = describe_instance(clients, id).await?;
        match state_name(&instance).as_str() {
            "pending" | "running" => {
                return Ok(format!("{id} is already running again; nothing changed"));
            }
            "stopping" => {
                clients
                    .ec2
                    .wait_until_instance_stopped()
                    .instance_ids(id)
                    .wait(STOPPED_WAIT)
                    .await
                    .map_err(|e| refusal(format!("{id} did not reach stopped: {e}")))?;
            }
            "stopped" => {}
            other => return Err(refusal(format!("{id} is {other}; it cannot be started"))),
        }
        clients
            .ec2
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| aws_error("StartInstances", e))?;
        Ok(format!("started {id} again (it was {previous_state})"))
    }
}
