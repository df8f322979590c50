//! Investigations: status, verdict and the alerts attached to each.

use crate::{Conn, Result, Store, corrupt, from_ms, ms};
use chrono::Utc;
use riposte_model::{
    AcquisitionSummary, AlertId, Investigation, InvestigationId, InvestigationPlan,
    InvestigationStatus, ProjectId, Target, Verdict, VerdictSummary,
};
use serde::Serialize;
use sqlx::Row;

/// One line of the investigations list.
#[derive(Debug, Clone, Serialize)]
pub struct InvestigationSummary {
    /// Id.
    pub id: InvestigationId,
    /// Title.
    pub title: String,
    /// Status.
    pub status: InvestigationStatus,
    /// Host key.
    pub host: String,
    /// Verdict, when reached.
    pub verdict: Option<Verdict>,
    /// Verdict score, when reached.
    pub score: Option<i64>,
    /// The project it belongs to, if any.
    pub project_id: Option<ProjectId>,
    /// Creation time.
    pub created_at: chrono::DateTime<Utc>,
}

const COLUMNS: &str = "id, title, status, host, target, verdict_detail, error, project_id, plan, acquisition, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow, alert_ids: Vec<AlertId>) -> Result<Investigation> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let target: String = row.try_get("target")?;
    let verdict: Option<String> = row.try_get("verdict_detail")?;
    let project_id: Option<String> = row.try_get("project_id")?;
    let plan: Option<String> = row.try_get("plan")?;
    let acquisition: Option<String> = row.try_get("acquisition")?;
    Ok(Investigation {
        id: id.parse().map_err(|e| corrupt("investigations.id", e))?,
        title: row.try_get("title")?,
        status: status
            .parse()
            .map_err(|e| corrupt("investigations.status", e))?,
        target: serde_json::from_str::<Target>(&target)
            .map_err(|e| corrupt("investigations.target", e))?,
        host: row.try_get("host")?,
        alert_ids,
        verdict: verdict
            .map(|v| serde_json::from_str::<VerdictSummary>(&v))
            .transpose()
            .map_err(|e| corrupt("investigations.verdict_detail", e))?,
        error: row.try_get("error")?,
        project_id: project_id
            .map(|p| {
                p.parse()
                    .map_err(|e| corrupt("investigations.project_id", e))
            })
            .transpose()?,
        plan: plan
            .map(|p| serde_json::from_str::<InvestigationPlan>(&p))
            .transpose()
            .map_err(|e| corrupt("investigations.plan", e))?,
        acquisition: acquisition
            .map(|a| serde_json::from_str::<AcquisitionSummary>(&a))
            .transpose()
            .map_err(|e| corrupt("investigations.acquisition", e))?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

impl Store {
    /// Stores a new investigation and links its alerts. Its plan's target key is what
    /// later alerts on the same system join by.
    pub async fn create_investigation(conn: &mut Conn, inv: &Investigation) -> Result<()> {
        let target = serde_json::to_string(&inv.target).map_err(|e| corrupt("target", e))?;
        let plan = inv
            .plan
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("plan", e))?;
        let rule = inv.plan.as_ref().and_then(|p| p.rule.as_ref());
        let target_key = inv.plan.as_ref().map(|p| p.scope.acquisition.target_key());
        sqlx::query(
            "INSERT INTO investigations (id, title, status, host, target, project_id, rule_id, rule_version, target_key, plan, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(inv.id.to_string())
        .bind(&inv.title)
        .bind(inv.status.as_str())
        .bind(&inv.host)
        .bind(target)
        .bind(inv.project_id.map(|p| p.to_string()))
        .bind(rule.map(|r| r.id.to_string()))
        .bind(rule.map(|r| i64::from(r.version)))
        .bind(target_key)
        .bind(plan)
        .bind(ms(inv.created_at))
        .bind(ms(inv.updated_at))
        .execute(&mut *conn)
        .await?;
        for alert in &inv.alert_ids {
            Self::link_alert(conn, inv.id, *alert).await?;
        }
        Ok(())
    }

    /// Takes the lock row of a target key for the rest of the transaction, so two alerts
    /// on the same system decide "join or start" one after the other, never both "start".
    pub async fn lock_target(conn: &mut Conn, target_key: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO target_locks (target_key, locked_at) VALUES ($1, $2)
             ON CONFLICT (target_key) DO UPDATE SET locked_at = excluded.locked_at",
        )
        .bind(target_key)
        .bind(ms(Utc::now()))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The newest investigation on `target_key` started at or after `since` that has not
    /// failed: the one a new alert on that system joins.
    pub async fn joinable_investigation(
        conn: &mut Conn,
        target_key: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<Option<InvestigationId>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM investigations WHERE target_key = $1 AND created_at >= $2 AND status <> 'failed'
             ORDER BY created_at DESC, id LIMIT 1",
        )
        .bind(target_key)
        .bind(ms(since))
        .fetch_optional(&mut *conn)
        .await?;
        id.map(|i| i.parse().map_err(|e| corrupt("investigations.id", e)))
            .transpose()
    }

    /// Attaches an alert to an investigation (idempotent).
    pub async fn link_alert(conn: &mut Conn, inv: InvestigationId, alert: AlertId) -> Result<()> {
        sqlx::query(
            "INSERT INTO investigation_alerts (investigation_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(inv.to_string())
        .bind(alert.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Moves an investigation to a new status, recording an error message when it failed.
    pub async fn set_investigation_status(
        conn: &mut Conn,
        id: InvestigationId,
        status: InvestigationStatus,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE investigations SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(ms(Utc::now()))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records the verdict and completes the investigation.
    pub async fn set_verdict(
        conn: &mut Conn,
        id: InvestigationId,
        verdict: &VerdictSummary,
    ) -> Result<()> {
        let detail = serde_json::to_string(verdict).map_err(|e| corrupt("verdict", e))?;
        sqlx::query(
            "UPDATE investigations SET verdict = $1, score = $2, verdict_detail = $3, status = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(verdict.verdict.label())
        .bind(i64::from(verdict.score))
        .bind(detail)
        .bind(InvestigationStatus::Complete.as_str())
        .bind(ms(Utc::now()))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records what the acquisition found (layouts, profiles, counts) on the investigation.
    pub async fn set_acquisition(
        conn: &mut Conn,
        id: InvestigationId,
        summary: &AcquisitionSummary,
    ) -> Result<()> {
        let detail = serde_json::to_string(summary).map_err(|e| corrupt("acquisition", e))?;
        sqlx::query("UPDATE investigations SET acquisition = $1, updated_at = $2 WHERE id = $3")
            .bind(detail)
            .bind(ms(Utc::now()))
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// One investigation with its alert ids.
    pub async fn get_investigation(&self, id: InvestigationId) -> Result<Option<Investigation>> {
        let mut conn = self.pool().acquire().await?;
        Self::get_investigation_on(&mut conn, id).await
    }

    /// One investigation, read on a given connection or transaction.
    pub async fn get_investigation_on(
        conn: &mut Conn,
        id: InvestigationId,
    ) -> Result<Option<Investigation>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM investigations WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let alert_ids: Vec<String> = sqlx::query_scalar(
            "SELECT alert_id FROM investigation_alerts WHERE investigation_id = $1 ORDER BY alert_id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        let alert_ids = alert_ids
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e| corrupt("investigation_alerts.alert_id", e))
            })
            .collect::<Result<Vec<_>>>()?;
        decode(&row, alert_ids).map(Some)
    }

    /// The newest investigations first.
    pub async fn list_investigations(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<InvestigationSummary>> {
        let rows = sqlx::query(
            "SELECT id, title, status, host, verdict, score, project_id, created_at FROM investigations
             ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        summaries(&rows)
    }

    /// A project's investigations, oldest first.
    pub async fn project_investigations(
        &self,
        project: ProjectId,
    ) -> Result<Vec<InvestigationSummary>> {
        let rows = sqlx::query(
            "SELECT id, title, status, host, verdict, score, project_id, created_at FROM investigations
             WHERE project_id = $1 ORDER BY created_at, id",
        )
        .bind(project.to_string())
        .fetch_all(self.pool())
        .await?;
        summaries(&rows)
    }
}

fn summaries(rows: &[sqlx::any::AnyRow]) -> Result<Vec<InvestigationSummary>> {
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            let verdict: Option<String> = row.try_get("verdict")?;
            Ok(InvestigationSummary {
                id: id.parse().map_err(|e| corrupt("investigations.id", e))?,
                title: row.try_get("title")?,
                status: status
                    .parse()
                    .map_err(|e| corrupt("investigations.status", e))?,
                host: row.try_get("host")?,
                verdict: verdict
                    .map(|v| v.parse().map_err(|e| corrupt("investigations.verdict", e)))
                    .transpose()?,
                score: row.try_get("score")?,
                project_id: row
                    .try_get::<Option<String>, _>("project_id")?
                    .map(|p| {
                        p.parse()
                            .map_err(|e| corrupt("investigations.project_id", e))
                    })
                    .transpose()?,
                created_at: from_ms(row.try_get("created_at")?),
            })
        })
        .collect()
}
