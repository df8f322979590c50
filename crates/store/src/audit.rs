//! The audit trail and chain of custody: every state change, who made it, when.

use crate::{Conn, Result, Store, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::InvestigationId;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

/// One recorded change.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who or what (an API key name, `worker:<id>`, `system`).
    pub actor: String,
    /// What happened (`alert.accepted`, `evidence.collected`, `verdict.reached`, …).
    pub action: String,
    /// Details (JSON text).
    pub detail: String,
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// The investigation it concerns, if any.
    pub investigation: Option<InvestigationId>,
    /// Who or what made the change.
    pub actor: &'a str,
    /// What happened (`alert.accepted`, …).
    pub action: &'a str,
    /// Details.
    pub detail: serde_json::Value,
}

fn entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        at: from_ms(r.try_get("at")?),
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        detail: r.try_get("detail")?,
    })
}

impl Store {
    /// Appends an audit entry.
    pub async fn audit(
        conn: &mut Conn,
        investigation: Option<InvestigationId>,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        Self::audit_many(
            conn,
            &[NewAuditEntry {
                investigation,
                actor,
                action,
                detail: detail.clone(),
            }],
        )
        .await
    }

    /// Appends many entries, in one statement per few hundred; they read in the order
    /// given.
    pub async fn audit_many(conn: &mut Conn, entries: &[NewAuditEntry<'_>]) -> Result<()> {
        const CHUNK: usize = 300;
        const COLUMNS: usize = 6;
        let at = ms(Utc::now());
        for chunk in entries.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO audit_log (id, investigation_id, at, actor, action, detail) VALUES {}",
                crate::values_placeholders(chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for entry in chunk {
                query = query
                    .bind(sortable_id())
                    .bind(entry.investigation.map(|i| i.to_string()))
                    .bind(at)
                    .bind(entry.actor.to_string())
                    .bind(entry.action.to_string())
                    .bind(entry.detail.to_string());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The audit trail of an investigation, oldest first.
    pub async fn audit_trail(&self, investigation: InvestigationId) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, detail FROM audit_log WHERE investigation_id = $1 ORDER BY id",
        )
        .bind(investigation.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry).collect()
    }

    /// The entries of one action (`alert.rule_skipped`, …), oldest first.
    pub async fn audit_entries(&self, action: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, detail FROM audit_log WHERE action = $1 ORDER BY id",
        )
        .bind(action)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry).collect()
    }
}

/// An id that sorts by creation time (nanoseconds, then randomness), so the trail reads in order.
fn sortable_id() -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("{nanos:020}-{}", uuid::Uuid::new_v4().simple())
}
