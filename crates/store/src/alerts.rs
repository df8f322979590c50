//! Accepted alerts, deduplicated by (source, vendor event id) — with vendor and product
//! for sources that receive several vendors.

use crate::{Conn, Result, Store, corrupt, ms};
use riposte_model::{Alert, AlertDecision, AlertId, InvestigationId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashSet;

/// The outcome of storing an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "alert_id", rename_all = "lowercase")]
pub enum AlertInsert {
    /// A new alert was stored with this id.
    Created(AlertId),
    /// The same alert was already stored under this id; only its repeat count and last
    /// arrival time changed.
    Duplicate(AlertId),
}

/// An alert with what Riposte decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    /// The alert.
    #[serde(flatten)]
    pub alert: Alert,
    /// The investigation it started or joined, if any.
    pub investigation_id: Option<InvestigationId>,
    /// Why it did or did not start an investigation.
    pub decision: Option<String>,
    /// Every rule's outcome for it, when rules were evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_detail: Option<AlertDecision>,
}

/// Longest deduplication key stored as it is. Longer ones (a vendor id of kilobytes) are
/// stored as their SHA-256: the key has a unique index, and Postgres refuses an index entry
/// over a few kilobytes.
const MAX_KEY_BYTES: usize = 512;

/// The deduplication key: source and vendor id — with the vendor and product for sources
/// that receive several vendors ([`AlertSource::receives_many_vendors`]: a Palo Alto and a
/// Check Point event may share an id) — or a hash of the payload when the vendor gives no
/// id. A key over [`MAX_KEY_BYTES`] is replaced by its hash.
///
/// [`AlertSource::receives_many_vendors`]: riposte_model::AlertSource::receives_many_vendors
pub fn dedup_key(alert: &Alert) -> String {
    let key = full_key(alert);
    if key.len() <= MAX_KEY_BYTES {
        key
    } else {
        format!(
            "{}:key-sha256:{}",
            alert.source,
            hex::encode(Sha256::digest(key.as_bytes()))
        )
    }
}

fn full_key(alert: &Alert) -> String {
    match &alert.vendor_event_id {
        Some(id) if alert.source.receives_many_vendors() => {
            // JSON keeps the parts apart whatever they contain (a `:` in a product name).
            let parts = serde_json::json!([alert.vendor, alert.product, id]);
            format!("{}:{parts}", alert.source)
        }
        Some(id) => format!("{}:{}", alert.source, id),
        None => {
            let canonical = serde_json::to_vec(&alert.raw).unwrap_or_default();
            format!(
                "{}:sha256:{}",
                alert.source,
                hex::encode(Sha256::digest(&canonical))
            )
        }
    }
}

fn decode(row: &sqlx::any::AnyRow) -> Result<StoredAlert> {
    let body: String = row.try_get("body")?;
    let alert: Alert = serde_json::from_str(&body).map_err(|e| corrupt("alerts.body", e))?;
    let investigation_id: Option<String> = row.try_get("investigation_id")?;
    Ok(StoredAlert {
        alert,
        investigation_id: investigation_id
            .map(|s| s.parse().map_err(|e| corrupt("alerts.investigation_id", e)))
            .transpose()?,
        decision: row.try_get("decision")?,
        decision_detail: row
            .try_get::<Option<String>, _>("decision_detail")?
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| corrupt("alerts.decision_detail", e))?,
    })
}

impl Store {
    /// Stores an alert unless (source, vendor id) is already known.
    pub async fn insert_alert(conn: &mut Conn, alert: &Alert) -> Result<AlertInsert> {
        let mut outcomes = Self::insert_alerts(conn, std::slice::from_ref(alert)).await?;
        outcomes
            .pop()
            .ok_or_else(|| corrupt("alerts", "storing an alert gave no outcome"))
    }

    /// Stores many alerts in one statement (plus one per duplicate), with exactly the
    /// outcomes storing them one by one in this order would give: an alert whose key is
    /// already stored, or repeats an earlier alert of the same call, is a duplicate of the
    /// stored one (its repeat count and last arrival time change).
    pub async fn insert_alerts(conn: &mut Conn, alerts: &[Alert]) -> Result<Vec<AlertInsert>> {
        /// Alerts per statement (9 parameters each: well under every backend's limit).
        const CHUNK: usize = 200;
        const COLUMNS: usize = 9;
        let mut outcomes = Vec::with_capacity(alerts.len());
        for chunk in alerts.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO alerts (id, source, dedup_key, vendor_event_id, severity, title, time_ms, received_at, body)
                 VALUES {} ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                crate::values_placeholders(chunk.len(), COLUMNS)
            );
            let mut keys = Vec::with_capacity(chunk.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for alert in chunk {
                let body = serde_json::to_string(alert).map_err(|e| corrupt("alert", e))?;
                let key = dedup_key(alert);
                query = query
                    .bind(alert.id.to_string())
                    .bind(alert.source.as_str())
                    .bind(key.clone())
                    .bind(alert.vendor_event_id.clone())
                    .bind(alert.severity.as_str())
                    .bind(alert.title.clone())
                    .bind(ms(alert.time))
                    .bind(ms(alert.received_at))
                    .bind(body);
                keys.push(key);
            }
            let created: HashSet<String> = query
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>("id"))
                .collect::<std::result::Result<_, _>>()?;
            for (alert, key) in chunk.iter().zip(&keys) {
                if created.contains(&alert.id.to_string()) {
                    outcomes.push(AlertInsert::Created(alert.id));
                } else {
                    outcomes.push(Self::count_repeat(conn, alert, key).await?);
                }
            }
        }
        Ok(outcomes)
    }

    /// Counts another arrival of an alert already stored under `key`.
    async fn count_repeat(conn: &mut Conn, alert: &Alert, key: &str) -> Result<AlertInsert> {
        let existing: String = sqlx::query_scalar(
            "UPDATE alerts SET seen_count = seen_count + 1, last_received_at = $1 WHERE dedup_key = $2 RETURNING id",
        )
        .bind(ms(alert.received_at))
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
        Ok(AlertInsert::Duplicate(
            existing.parse().map_err(|e| corrupt("alerts.id", e))?,
        ))
    }

    /// Records the triage decision for an alert (and the investigation it belongs to, if
    /// any), with every rule's outcome when rules were evaluated.
    pub async fn set_alert_decision(
        conn: &mut Conn,
        alert: AlertId,
        investigation: Option<InvestigationId>,
        decision: &str,
        detail: Option<&AlertDecision>,
    ) -> Result<()> {
        let detail = detail
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("decision", e))?;
        sqlx::query(
            "UPDATE alerts SET investigation_id = $1, decision = $2, decision_detail = $3 WHERE id = $4",
        )
            .bind(investigation.map(|i| i.to_string()))
            .bind(decision)
            .bind(detail)
            .bind(alert.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Records the decisions of many alerts that started no investigation, in one
    /// statement per few hundred: (alert, summary, every rule's outcome).
    pub async fn set_alert_decisions(
        conn: &mut Conn,
        decisions: &[(AlertId, &str, &AlertDecision)],
    ) -> Result<()> {
        const CHUNK: usize = 300;
        for chunk in decisions.chunks(CHUNK) {
            let sql = format!(
                "UPDATE alerts SET investigation_id = NULL, decision = v.column2, decision_detail = v.column3
                 FROM (VALUES {}) AS v WHERE alerts.id = v.column1",
                crate::values_placeholders(chunk.len(), 3)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (alert, summary, detail) in chunk {
                let detail = serde_json::to_string(detail).map_err(|e| corrupt("decision", e))?;
                query = query
                    .bind(alert.to_string())
                    .bind(summary.to_string())
                    .bind(detail);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Many alerts by id (those that exist, in no particular order).
    pub async fn get_alerts(&self, ids: &[AlertId]) -> Result<Vec<StoredAlert>> {
        let mut alerts = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT body, investigation_id, decision, decision_detail FROM alerts WHERE id IN ({})",
                crate::id_list(chunk.len(), 1)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                alerts.push(decode(&row)?);
            }
        }
        Ok(alerts)
    }

    /// One alert by id.
    pub async fn get_alert(&self, id: AlertId) -> Result<Option<StoredAlert>> {
        let row = sqlx::query(
            "SELECT body, investigation_id, decision, decision_detail FROM alerts WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The newest alerts first.
    pub async fn list_alerts(&self, limit: i64, offset: i64) -> Result<Vec<StoredAlert>> {
        let rows = sqlx::query(
            "SELECT body, investigation_id, decision, decision_detail FROM alerts ORDER BY received_at DESC, id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// How many alerts are stored.
    pub async fn count_alerts(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM alerts")
            .fetch_one(self.pool())
            .await?)
    }
}
