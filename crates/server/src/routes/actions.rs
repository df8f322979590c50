//! `/api/v1/actions`: undoing a response action from the console or a script.

use super::{audit, resource_id};
use crate::openapi::ErrorBody;
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::extract::{Path, State};
use riposte_model::ActionId;
use riposte_store::Role;
use riposte_worker::respond::{ReleaseFailure, release_action};
use serde_json::{Value, json};

/// Release a response action.
///
/// `POST /api/v1/actions/{id}/release` (analyst): lifts an XDR containment through its
/// connection, restores an instance's security groups, deletes the deny-all role policy or
/// starts a stopped instance, and records who released it. 409 when there is nothing to
/// release (a dry run, a failure, already released); 502 with the vendor's answer when the
/// vendor refuses (recorded on the action).
#[utoipa::path(
    post,
    path = "/api/v1/actions/{id}/release",
    tag = "investigations",
    operation_id = "release_action",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The action's id")),
    responses(
        (status = 200, description = "Released, with what was done", body = Object),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below analyst", body = ErrorBody),
        (status = 404, description = "No such action", body = ErrorBody),
        (status = 409, description = "Nothing to release", body = ErrorBody),
        (status = 502, description = "The vendor refused or failed; recorded on the action", body = ErrorBody),
    ),
)]
pub(crate) async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Analyst)?;
    let id: ActionId = resource_id(&id, "action")?;
    let record = state
        .store
        .action_record(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no action {id}")))?;
    let actor = caller.actor();
    let outcome = release_action(
        &state.store,
        Some(&state.master_key),
        &state.outbound,
        &record,
        &actor,
    )
    .await;
    let note = match outcome {
        Ok(note) => note,
        Err(ReleaseFailure::Refused(why)) => return Err(ApiError::Conflict(why)),
        Err(failed @ ReleaseFailure::Failed { .. }) => {
            return Err(ApiError::Upstream(failed.to_string()));
        }
        Err(ReleaseFailure::Store(e)) => return Err(e.into()),
    };
    audit(
        &state.store,
        &actor,
        "response.released",
        &json!({"action_id": id, "investigation_id": record.investigation_id, "note": note}),
    )
    .await?;
    Ok(Json(json!({"id": id, "status": "released", "note": note})))
}
