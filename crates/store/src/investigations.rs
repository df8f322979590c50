//! Investigations: status, verdict and the alerts attached to each.

use crate::{Conn, Result, Store, corrupt, from_ms, ms};
use chrono::Utc;
use riposte_model::{
    AlertId, Investigation, InvestigationId, InvestigationStatus, Target, Verdict, VerdictSummary,
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
    /// Creation time.
    pub created_at: chrono::DateTime<Utc>,
}

const COLUMNS: &str =
    "id, title, status, host, target, verdict_detail, error, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow, alert_ids: Vec<AlertId>) -> Result<Investigation> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let target: String = row.try_get("target")?;
    let verdict: Option<String> = row.try_get("verdict_detail")?;
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
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

impl Store {
    /// Stores a new investigation and links its alerts.
    pub async fn create_investigation(conn: &mut Conn, inv: &Investigation) -> Result<()> {
        let target = serde_json::to_string(&inv.target).map_err(|e| corrupt("target", e))?;
        sqlx::query(
            "INSERT INTO investigations (id, title, status, host, target, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(inv.id.to_string())
        .bind(&inv.title)
        .bind(inv.status.as_str())
        .bind(&inv.host)
        .bind(target)
        .bind(ms(inv.created_at))
        .bind(ms(inv.updated_at))
        .execute(&mut *conn)
        .await?;
        for alert in &inv.alert_ids {
            Self::link_alert(conn, inv.id, *alert).await?;
        }
        Ok(())
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
            "SELECT id, title, status, host, verdict, score, created_at FROM investigations
             ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
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
                    created_at: from_ms(row.try_get("created_at")?),
                })
            })
            .collect()
    }
}
