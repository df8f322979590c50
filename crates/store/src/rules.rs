//! Detection rules. The current definition lives in `rules`; every version ever saved is
//! kept in `rule_versions`, so an investigation can always show the rule it started with.

use crate::{Conn, Result, Store, conflict_on_unique, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::{DetectionRule, RuleId, RuleSpec};
use serde::Serialize;
use sqlx::Row;

/// One saved version of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleVersion {
    /// The version number, from 1.
    pub version: u32,
    /// The definition at that version.
    pub spec: RuleSpec,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// Who saved it.
    pub created_by: String,
}

const COLUMNS: &str = "id, enabled, version, body, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<DetectionRule> {
    let id: String = row.try_get("id")?;
    let body: String = row.try_get("body")?;
    let enabled: i64 = row.try_get("enabled")?;
    let version: i64 = row.try_get("version")?;
    Ok(DetectionRule {
        id: id.parse().map_err(|e| corrupt("rules.id", e))?,
        version: u32::try_from(version).map_err(|e| corrupt("rules.version", e))?,
        enabled: enabled != 0,
        spec: serde_json::from_str(&body).map_err(|e| corrupt("rules.body", e))?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn name_taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a rule named {name:?} already exists")
}

async fn record_version(
    conn: &mut Conn,
    id: RuleId,
    version: i64,
    body: &str,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO rule_versions (rule_id, version, body, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(version)
    .bind(body)
    .bind(ms(Utc::now()))
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Stores a new rule at version 1; [`crate::StoreError::Conflict`] if the name is taken.
    pub async fn create_rule(
        &self,
        spec: &RuleSpec,
        enabled: bool,
        actor: &str,
    ) -> Result<DetectionRule> {
        let id = RuleId::new();
        let body = serde_json::to_string(spec).map_err(|e| corrupt("rule", e))?;
        let now = ms(Utc::now());
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO rules (id, name, enabled, version, body, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(&spec.name)
        .bind(i64::from(enabled))
        .bind(&body)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        record_version(&mut tx, id, 1, &body, actor).await?;
        tx.commit().await?;
        Ok(DetectionRule {
            id,
            version: 1,
            enabled,
            spec: spec.clone(),
            created_at: from_ms(now),
            updated_at: from_ms(now),
        })
    }

    /// Saves a new version of a rule's definition; `None` when the rule does not exist.
    /// Investigations already started keep the version they recorded.
    pub async fn update_rule(
        &self,
        id: RuleId,
        spec: &RuleSpec,
        actor: &str,
    ) -> Result<Option<DetectionRule>> {
        let body = serde_json::to_string(spec).map_err(|e| corrupt("rule", e))?;
        let mut tx = self.begin().await?;
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE rules SET name = $1, body = $2, version = version + 1, updated_at = $3 WHERE id = $4 RETURNING version",
        )
        .bind(&spec.name)
        .bind(&body)
        .bind(ms(Utc::now()))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, name_taken(&spec.name)))?;
        let Some(version) = version else {
            return Ok(None);
        };
        record_version(&mut tx, id, version, &body, actor).await?;
        tx.commit().await?;
        self.get_rule(id).await
    }

    /// Enables or disables a rule (not a new version); `None` when it does not exist.
    pub async fn set_rule_enabled(
        &self,
        id: RuleId,
        enabled: bool,
    ) -> Result<Option<DetectionRule>> {
        sqlx::query("UPDATE rules SET enabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(ms(Utc::now()))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        self.get_rule(id).await
    }

    /// One rule, at its current version.
    pub async fn get_rule(&self, id: RuleId) -> Result<Option<DetectionRule>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM rules WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Every rule, by name.
    pub async fn list_rules(&self) -> Result<Vec<DetectionRule>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM rules ORDER BY name"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Every saved version of a rule, oldest first (kept after the rule is deleted).
    pub async fn rule_versions(&self, id: RuleId) -> Result<Vec<RuleVersion>> {
        let rows = sqlx::query(
            "SELECT version, body, created_at, created_by FROM rule_versions WHERE rule_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get("version")?;
                let body: String = row.try_get("body")?;
                Ok(RuleVersion {
                    version: u32::try_from(version)
                        .map_err(|e| corrupt("rule_versions.version", e))?,
                    spec: serde_json::from_str(&body)
                        .map_err(|e| corrupt("rule_versions.body", e))?,
                    created_at: from_ms(row.try_get("created_at")?),
                    created_by: row.try_get("created_by")?,
                })
            })
            .collect()
    }

    /// Deletes a rule (its versions stay); `false` when it did not exist.
    pub async fn delete_rule(&self, id: RuleId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM rules WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
