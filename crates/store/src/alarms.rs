//! Alarms raised on investigations, and per-artifact parse reports.

use crate::{Conn, Result, Store, corrupt};
use riposte_model::{Alarm, InvestigationId};
use serde::Serialize;
use sqlx::Row;

/// How parsing one evidence item went.
#[derive(Debug, Clone, Serialize)]
pub struct ParseReport {
    /// The evidence item.
    pub evidence_id: String,
    /// The parser used.
    pub parser: String,
    /// Events produced.
    pub events: i64,
    /// Records that could not be parsed.
    pub errors: i64,
    /// The first error, to show the analyst what went wrong.
    pub first_error: Option<String>,
    /// Time spent parsing, in milliseconds.
    pub duration_ms: i64,
}

impl Store {
    /// Replaces an investigation's alarms (detection is retried as a whole).
    pub async fn replace_alarms(
        conn: &mut Conn,
        inv: InvestigationId,
        alarms: &[Alarm],
    ) -> Result<()> {
        sqlx::query("DELETE FROM alarms WHERE investigation_id = $1")
            .bind(inv.to_string())
            .execute(&mut *conn)
            .await?;
        for (seq, alarm) in alarms.iter().enumerate() {
            let body = serde_json::to_string(alarm).map_err(|e| corrupt("alarm", e))?;
            sqlx::query(
                "INSERT INTO alarms (investigation_id, seq, detector, severity, title, body) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(inv.to_string())
            .bind(seq as i64)
            .bind(&alarm.detector)
            .bind(alarm.severity.as_str())
            .bind(&alarm.title)
            .bind(body)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The alarms of an investigation, in the order they were raised.
    pub async fn list_alarms(&self, inv: InvestigationId) -> Result<Vec<Alarm>> {
        let rows = sqlx::query("SELECT body FROM alarms WHERE investigation_id = $1 ORDER BY seq")
            .bind(inv.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                serde_json::from_str(&body).map_err(|e| corrupt("alarms.body", e))
            })
            .collect()
    }

    /// Records (or replaces) the parse report of one evidence item.
    pub async fn put_parse_report(
        conn: &mut Conn,
        inv: InvestigationId,
        report: &ParseReport,
    ) -> Result<()> {
        sqlx::query("DELETE FROM parse_reports WHERE investigation_id = $1 AND evidence_id = $2")
            .bind(inv.to_string())
            .bind(&report.evidence_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO parse_reports (investigation_id, evidence_id, parser, events, errors, first_error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(inv.to_string())
        .bind(&report.evidence_id)
        .bind(&report.parser)
        .bind(report.events)
        .bind(report.errors)
        .bind(report.first_error.clone())
        .bind(report.duration_ms)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The parse reports of an investigation.
    pub async fn parse_reports(&self, inv: InvestigationId) -> Result<Vec<ParseReport>> {
        let rows = sqlx::query(
            "SELECT evidence_id, parser, events, errors, first_error, duration_ms FROM parse_reports WHERE investigation_id = $1 ORDER BY evidence_id",
        )
        .bind(inv.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ParseReport {
                    evidence_id: r.try_get("evidence_id")?,
                    parser: r.try_get("parser")?,
                    events: r.try_get("events")?,
                    errors: r.try_get("errors")?,
                    first_error: r.try_get("first_error")?,
                    duration_ms: r.try_get("duration_ms")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Saves an investigation's story (replacing the previous one: detection is retried as
    /// a whole).
    pub async fn put_story(
        conn: &mut Conn,
        inv: InvestigationId,
        story: &riposte_model::InvestigationStory,
    ) -> Result<()> {
        let body = serde_json::to_string(story).map_err(|e| corrupt("story", e))?;
        sqlx::query("DELETE FROM investigation_stories WHERE investigation_id = $1")
            .bind(inv.to_string())
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO investigation_stories (investigation_id, body, updated_at) VALUES ($1, $2, $3)",
        )
        .bind(inv.to_string())
        .bind(body)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The story of an investigation, once detection has run.
    pub async fn get_story(
        &self,
        inv: InvestigationId,
    ) -> Result<Option<riposte_model::InvestigationStory>> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM investigation_stories WHERE investigation_id = $1",
        )
        .bind(inv.to_string())
        .fetch_optional(self.pool())
        .await?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| corrupt("investigation_stories.body", e)))
            .transpose()
    }
}
