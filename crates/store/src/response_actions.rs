//! Response actions: every stop, isolation, containment or dry run with what it changed, so
//! it can be listed per investigation and released later. A rule-triggered action is stored
//! `pending` before it runs and completed with its result afterwards.
//!
//! The `instance_id` and `region` columns hold, for an XDR host, the vendor's host id and
//! the vendor's name (`target` has the whole target either way).

use crate::{Result, Store, corrupt, from_ms, ms};
use riposte_model::{
    ActionChange, ActionError, ActionId, ActionRecord, ActionStatus, ActionTarget, InvestigationId,
};
use sqlx::Row;

const COLUMNS: &str = "id, investigation_id, action, target, dry_run, status, summary, previous_state, \
     error_code, error_message, requested_by, created_at, released_at, released_by, release_note";

fn decode(row: &sqlx::any::AnyRow) -> Result<ActionRecord> {
    let id: String = row.try_get("id")?;
    let investigation: Option<String> = row.try_get("investigation_id")?;
    let action: String = row.try_get("action")?;
    let target: String = row.try_get("target")?;
    let status: String = row.try_get("status")?;
    let previous_state: Option<String> = row.try_get("previous_state")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let error_message: Option<String> = row.try_get("error_message")?;
    let released_at: Option<i64> = row.try_get("released_at")?;
    let dry_run: i64 = row.try_get("dry_run")?;
    Ok(ActionRecord {
        id: id.parse().map_err(|e| corrupt("response_actions.id", e))?,
        investigation_id: investigation
            .map(|i| i.parse::<InvestigationId>())
            .transpose()
            .map_err(|e| corrupt("response_actions.investigation_id", e))?,
        action: action
            .parse()
            .map_err(|e| corrupt("response_actions.action", e))?,
        target: serde_json::from_str::<ActionTarget>(&target)
            .map_err(|e| corrupt("response_actions.target", e))?,
        dry_run: dry_run != 0,
        status: status
            .parse()
            .map_err(|e| corrupt("response_actions.status", e))?,
        summary: row.try_get("summary")?,
        change: previous_state
            .map(|json| serde_json::from_str::<ActionChange>(&json))
            .transpose()
            .map_err(|e| corrupt("response_actions.previous_state", e))?,
        error: error_message.map(|message| ActionError {
            code: error_code,
            message,
        }),
        requested_by: row.try_get("requested_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        released_at: released_at.map(from_ms),
        released_by: row.try_get("released_by")?,
        release_note: row.try_get("release_note")?,
    })
}

fn audit_name(record: &ActionRecord) -> &'static str {
    match record.status {
        ActionStatus::Pending => "response.requested",
        ActionStatus::Succeeded => "response.taken",
        ActionStatus::Failed => "response.failed",
        ActionStatus::DryRun => "response.dry_run",
        ActionStatus::Released => "response.released",
    }
}

/// What the audit trail says about an action: what, on which system, with what result.
fn audit_detail(record: &ActionRecord) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "action_id": record.id,
        "action": record.action,
        "status": record.status,
        "dry_run": record.dry_run,
        "summary": record.summary,
    });
    match &record.target {
        ActionTarget::Ec2(t) => {
            detail["instance_id"] = t.instance_id.clone().into();
            detail["region"] = t.region.clone().into();
        }
        ActionTarget::Xdr(h) => {
            detail["vendor"] = h.vendor.clone().into();
            detail["host_id"] = h.host_id.clone().into();
            detail["connection_id"] = h.connection_id.clone().into();
        }
    }
    if let Some(error) = &record.error {
        detail["error"] = serde_json::json!(error);
    }
    detail
}

impl Store {
    /// Stores a new action record, with an entry in the audit trail.
    pub async fn insert_action_record(&self, record: &ActionRecord) -> Result<()> {
        let target =
            serde_json::to_string(&record.target).map_err(|e| corrupt("action target", e))?;
        let change = record
            .change
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("action change", e))?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO response_actions (id, investigation_id, action, instance_id, region, account_id, target, \
             dry_run, status, summary, previous_state, error_code, error_message, requested_by, created_at, \
             released_at, released_by, release_note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(record.id.to_string())
        .bind(record.investigation_id.map(|i| i.to_string()))
        .bind(record.action.as_str())
        .bind(record.target.system_id())
        .bind(record.target.location())
        .bind(record.target.account_id().map(str::to_string))
        .bind(target)
        .bind(i64::from(record.dry_run))
        .bind(record.status.as_str())
        .bind(&record.summary)
        .bind(change)
        .bind(record.error.as_ref().and_then(|e| e.code.clone()))
        .bind(record.error.as_ref().map(|e| e.message.clone()))
        .bind(&record.requested_by)
        .bind(ms(record.created_at))
        .bind(record.released_at.map(ms))
        .bind(record.released_by.clone())
        .bind(record.release_note.clone())
        .execute(&mut *tx)
        .await?;
        let detail = audit_detail(record);
        Store::audit(
            &mut tx,
            record.investigation_id,
            &record.requested_by,
            audit_name(record),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Completes a `pending` record with its result (status, summary, change, error), with
    /// an entry in the audit trail. False when the record is not pending (completed
    /// meanwhile by another worker, or never stored).
    pub async fn complete_action_record(&self, record: &ActionRecord) -> Result<bool> {
        let change = record
            .change
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("action change", e))?;
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE response_actions SET status = $1, summary = $2, previous_state = $3, error_code = $4, \
             error_message = $5, dry_run = $6 WHERE id = $7 AND status = $8",
        )
        .bind(record.status.as_str())
        .bind(&record.summary)
        .bind(change)
        .bind(record.error.as_ref().and_then(|e| e.code.clone()))
        .bind(record.error.as_ref().map(|e| e.message.clone()))
        .bind(i64::from(record.dry_run))
        .bind(record.id.to_string())
        .bind(ActionStatus::Pending.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            Store::audit(
                &mut tx,
                record.investigation_id,
                &record.requested_by,
                audit_name(record),
                &audit_detail(record),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// One action record.
    pub async fn action_record(&self, id: ActionId) -> Result<Option<ActionRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM response_actions WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Action records, newest first: all of them, or one investigation's.
    pub async fn list_action_records(
        &self,
        investigation: Option<InvestigationId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ActionRecord>> {
        let rows = match investigation {
            Some(investigation) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM response_actions WHERE investigation_id = $1 \
                     ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
                )))
                .bind(investigation.to_string())
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM response_actions ORDER BY created_at DESC, id LIMIT $1 OFFSET $2"
                )))
                .bind(limit)
                .bind(offset)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(decode).collect()
    }

    /// Marks a succeeded action released by `actor`, with what the release did. False when
    /// the record is not (or no longer) a succeeded action, e.g. released concurrently.
    pub async fn mark_action_released(
        &self,
        id: ActionId,
        actor: &str,
        note: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE response_actions SET status = $1, released_at = $2, released_by = $3, release_note = $4 \
             WHERE id = $5 AND status = $6",
        )
        .bind(ActionStatus::Released.as_str())
        .bind(ms(chrono::Utc::now()))
        .bind(actor)
        .bind(note)
        .bind(id.to_string())
        .bind(ActionStatus::Succeeded.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            let investigation: Option<String> =
                sqlx::query_scalar("SELECT investigation_id FROM response_actions WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
            let investigation = investigation
                .map(|i| i.parse::<InvestigationId>())
                .transpose()
                .map_err(|e| corrupt("response_actions.investigation_id", e))?;
            let detail = serde_json::json!({ "action_id": id, "note": note });
            Store::audit(&mut tx, investigation, actor, "response.released", &detail).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Keeps why a release attempt failed on a record that stays in place (still succeeded).
    pub async fn note_release_failure(&self, id: ActionId, note: &str) -> Result<()> {
        sqlx::query("UPDATE response_actions SET release_note = $1 WHERE id = $2")
            .bind(note)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
