//! Outbound webhooks (Settings › Integrations › Webhooks) and SIEM exports, and the log of
//! every delivery attempt to them.
//!
//! Secrets (the HMAC signing secret, the Authorization credential of a JIRA or SIEM
//! endpoint) are sealed with the master key, bound to the row, and never listed: only
//! `has_secret` / `has_auth` say they exist. A webhook's URL is a secret too (Slack and
//! Teams put theirs in the path): it is sealed, and only its [masked](masked_url) form is
//! stored in clear and listed.

use crate::integrations::random_token;
use crate::{
    MasterKey, Result, Store, StoreError, conflict_on_unique, corrupt, from_ms, masked_url, ms,
};
use chrono::{DateTime, Utc};
use riposte_model::NotificationEvent;
use serde::Serialize;
use sqlx::Row;

/// What a client configures on a webhook (everything but its secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSpec {
    /// A unique name.
    pub name: String,
    /// Where requests go (for JIRA: the site's base URL); stored sealed.
    pub url: String,
    /// The preset (`custom`, `slack`, `teams`, `jira`).
    pub preset: String,
    /// The events sent.
    pub events: Vec<NotificationEvent>,
    /// The payload template; `None` uses the preset's.
    pub template: Option<String>,
    /// Preset settings (JIRA project key and issue type); never secrets.
    pub settings: serde_json::Value,
    /// Attempts per delivery, retries included.
    pub max_attempts: u32,
    /// First wait between attempts, doubled each time.
    pub base_delay_ms: u64,
    /// Disabled webhooks are never sent to.
    pub enabled: bool,
}

/// A stored webhook (never with its secrets, its URL masked).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Webhook {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Where requests go, [masked](masked_url): `https://hooks.slack.com/services/***`. The
    /// URL itself is in [`WebhookSecrets`].
    pub url: String,
    /// The preset.
    pub preset: String,
    /// The events sent.
    pub events: Vec<NotificationEvent>,
    /// The payload template; `None` uses the preset's.
    pub template: Option<String>,
    /// Preset settings.
    pub settings: serde_json::Value,
    /// Whether bodies are signed (an HMAC secret is stored).
    pub has_secret: bool,
    /// Whether an Authorization credential is stored.
    pub has_auth: bool,
    /// Attempts per delivery.
    pub max_attempts: u32,
    /// First wait between attempts, in milliseconds.
    pub base_delay_ms: u64,
    /// Whether it is sent to.
    pub enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What a client configures on a SIEM export (everything but its credential).
#[derive(Debug, Clone, PartialEq)]
pub struct SiemExportSpec {
    /// A unique name.
    pub name: String,
    /// `splunk_hec` or `elasticsearch`.
    pub kind: String,
    /// The collector's base URL.
    pub url: String,
    /// The events exported.
    pub events: Vec<NotificationEvent>,
    /// Kind settings (index, sourcetype, batch size).
    pub settings: serde_json::Value,
    /// Attempts per batch.
    pub max_attempts: u32,
    /// First wait between attempts, in milliseconds.
    pub base_delay_ms: u64,
    /// Whether it is exported to.
    pub enabled: bool,
}

/// A stored SIEM export (never with its credential).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiemExport {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `splunk_hec` or `elasticsearch`.
    pub kind: String,
    /// The collector's base URL.
    pub url: String,
    /// The events exported.
    pub events: Vec<NotificationEvent>,
    /// Kind settings.
    pub settings: serde_json::Value,
    /// Whether a credential is stored.
    pub has_auth: bool,
    /// Attempts per batch.
    pub max_attempts: u32,
    /// First wait between attempts, in milliseconds.
    pub base_delay_ms: u64,
    /// Whether it is exported to.
    pub enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A webhook's secrets, opened: what a delivery needs besides the [`Webhook`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// The URL requests go to.
    pub url: String,
    /// The HMAC signing secret.
    pub secret: Option<String>,
    /// The Authorization credential (JSON).
    pub auth: Option<String>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("url", &masked_url(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What an update does to a stored secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    /// Leave it as it is.
    Keep,
    /// Remove it.
    Clear,
    /// Replace it.
    Set(String),
}

impl SecretChange {
    /// The sealed value to store: `current` kept, cleared, or the new secret sealed.
    fn apply(self, current: Option<String>, seal: impl FnOnce(&[u8]) -> String) -> Option<String> {
        match self {
            SecretChange::Keep => current,
            SecretChange::Clear => None,
            SecretChange::Set(s) => Some(seal(s.as_bytes())),
        }
    }
}

/// What a delivery was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryTarget {
    /// A webhook.
    Webhook,
    /// A SIEM export.
    SiemExport,
}

impl DeliveryTarget {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryTarget::Webhook => "webhook",
            DeliveryTarget::SiemExport => "siem_export",
        }
    }
}

/// One attempt to deliver one event (or batch) to one webhook or export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryAttempt {
    /// Id of the attempt.
    pub id: String,
    /// The webhook or export.
    pub target_id: String,
    /// Shared by the attempts of one delivery.
    pub delivery_id: String,
    /// The event (`processing_with_alarms`, …, or `test`).
    pub event: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Whether the receiver accepted it (2xx).
    pub ok: bool,
    /// Why it failed (connection, refused address, status), when it did.
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
    /// When the attempt finished.
    pub created_at: DateTime<Utc>,
}

fn webhook_context(id: &str, what: &str) -> String {
    format!("webhook:{id}:{what}")
}

fn export_context(id: &str) -> String {
    format!("siem_export:{id}:auth")
}

fn events_json(events: &[NotificationEvent]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| corrupt("webhooks.events", e))
}

fn decode_events(text: &str, what: &'static str) -> Result<Vec<NotificationEvent>> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn decode_settings(text: &str, what: &'static str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn count(row: &sqlx::any::AnyRow, column: &str) -> Result<i64> {
    Ok(row.try_get(column)?)
}

const WEBHOOK_COLUMNS: &str = "id, name, url, preset, events, template, settings, secret_sealed, auth_sealed, max_attempts, base_delay_ms, enabled, created_at, updated_at";

fn decode_webhook(row: &sqlx::any::AnyRow) -> Result<Webhook> {
    let events: String = row.try_get("events")?;
    let settings: String = row.try_get("settings")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        preset: row.try_get("preset")?,
        events: decode_events(&events, "webhooks.events")?,
        template: row.try_get("template")?,
        settings: decode_settings(&settings, "webhooks.settings")?,
        has_secret: row.try_get::<Option<String>, _>("secret_sealed")?.is_some(),
        has_auth: row.try_get::<Option<String>, _>("auth_sealed")?.is_some(),
        max_attempts: u32::try_from(count(row, "max_attempts")?).unwrap_or(1),
        base_delay_ms: u64::try_from(count(row, "base_delay_ms")?).unwrap_or(0),
        enabled: count(row, "enabled")? != 0,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

const EXPORT_COLUMNS: &str = "id, name, kind, url, events, settings, auth_sealed, max_attempts, base_delay_ms, enabled, created_at, updated_at";

fn decode_export(row: &sqlx::any::AnyRow) -> Result<SiemExport> {
    let events: String = row.try_get("events")?;
    let settings: String = row.try_get("settings")?;
    Ok(SiemExport {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        url: row.try_get("url")?,
        events: decode_events(&events, "siem_exports.events")?,
        settings: decode_settings(&settings, "siem_exports.settings")?,
        has_auth: row.try_get::<Option<String>, _>("auth_sealed")?.is_some(),
        max_attempts: u32::try_from(count(row, "max_attempts")?).unwrap_or(1),
        base_delay_ms: u64::try_from(count(row, "base_delay_ms")?).unwrap_or(0),
        enabled: count(row, "enabled")? != 0,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn name_taken(what: &'static str, name: &str) -> impl FnOnce() -> String {
    let name = name.to_string();
    move || format!("a {what} named `{name}` exists")
}

fn open(key: &MasterKey, context: &str, sealed: Option<String>) -> Result<Option<String>> {
    sealed
        .map(|s| key.open_string(context, &s).map_err(StoreError::Sealed))
        .transpose()
}

impl Store {
    /// Stores a new webhook with its URL and secrets sealed by `key`.
    pub async fn create_webhook(
        &self,
        key: &MasterKey,
        spec: &WebhookSpec,
        secret: Option<&str>,
        auth: Option<&str>,
    ) -> Result<Webhook> {
        let id = random_token(16);
        let now = ms(Utc::now());
        sqlx::query(
            "INSERT INTO webhooks (id, name, url, url_sealed, preset, events, template, settings, secret_sealed, auth_sealed, max_attempts, base_delay_ms, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(&id)
        .bind(&spec.name)
        .bind(masked_url(&spec.url))
        .bind(key.seal(&webhook_context(&id, "url"), spec.url.as_bytes()))
        .bind(&spec.preset)
        .bind(events_json(&spec.events)?)
        .bind(spec.template.as_deref())
        .bind(spec.settings.to_string())
        .bind(secret.map(|s| key.seal(&webhook_context(&id, "secret"), s.as_bytes())))
        .bind(auth.map(|s| key.seal(&webhook_context(&id, "auth"), s.as_bytes())))
        .bind(i64::from(spec.max_attempts))
        .bind(i64::try_from(spec.base_delay_ms).unwrap_or(i64::MAX))
        .bind(i64::from(spec.enabled))
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken("webhook", &spec.name)))?;
        self.get_webhook(&id)
            .await?
            .ok_or_else(|| corrupt("webhooks", "the inserted row is gone"))
    }

    /// Replaces a webhook's configuration, its URL sealed anew; each secret is kept, cleared
    /// or replaced. `None` when there is no such webhook.
    pub async fn update_webhook(
        &self,
        key: &MasterKey,
        id: &str,
        spec: &WebhookSpec,
        secret: SecretChange,
        auth: SecretChange,
    ) -> Result<Option<Webhook>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT secret_sealed, auth_sealed FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secret_sealed = secret.apply(row.try_get("secret_sealed")?, |s| {
            key.seal(&webhook_context(id, "secret"), s)
        });
        let auth_sealed = auth.apply(row.try_get("auth_sealed")?, |s| {
            key.seal(&webhook_context(id, "auth"), s)
        });
        sqlx::query(
            "UPDATE webhooks SET name = $1, url = $2, url_sealed = $3, preset = $4, events = $5, template = $6,
             settings = $7, secret_sealed = $8, auth_sealed = $9, max_attempts = $10, base_delay_ms = $11,
             enabled = $12, updated_at = $13
             WHERE id = $14",
        )
        .bind(&spec.name)
        .bind(masked_url(&spec.url))
        .bind(key.seal(&webhook_context(id, "url"), spec.url.as_bytes()))
        .bind(&spec.preset)
        .bind(events_json(&spec.events)?)
        .bind(spec.template.as_deref())
        .bind(spec.settings.to_string())
        .bind(secret_sealed)
        .bind(auth_sealed)
        .bind(i64::from(spec.max_attempts))
        .bind(i64::try_from(spec.base_delay_ms).unwrap_or(i64::MAX))
        .bind(i64::from(spec.enabled))
        .bind(ms(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, name_taken("webhook", &spec.name)))?;
        tx.commit().await?;
        self.get_webhook(id).await
    }

    /// One webhook.
    pub async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode_webhook).transpose()
    }

    /// Every webhook, by name.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_webhook).collect()
    }

    /// A webhook's URL, HMAC secret and Authorization credential, opened; `None` when there
    /// is no such webhook.
    pub async fn webhook_secrets(
        &self,
        key: &MasterKey,
        id: &str,
    ) -> Result<Option<WebhookSecrets>> {
        let row = sqlx::query(
            "SELECT url, url_sealed, secret_sealed, auth_sealed FROM webhooks WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        // A row an older version stored has its URL in clear until it is sealed at start.
        let url = match open(key, &webhook_context(id, "url"), row.try_get("url_sealed")?)? {
            Some(url) => url,
            None => row.try_get("url")?,
        };
        let secret = open(
            key,
            &webhook_context(id, "secret"),
            row.try_get("secret_sealed")?,
        )?;
        let auth = open(
            key,
            &webhook_context(id, "auth"),
            row.try_get("auth_sealed")?,
        )?;
        Ok(Some(WebhookSecrets { url, secret, auth }))
    }

    /// Seals the URLs of webhooks stored in clear by a version before URLs were sealed,
    /// leaving their masked form; run when a server or worker starts with its master key.
    /// Returns how many were sealed. Concurrent runs seal each row once.
    pub async fn seal_webhook_urls(&self, key: &MasterKey) -> Result<usize> {
        let rows = sqlx::query("SELECT id, url FROM webhooks WHERE url_sealed IS NULL")
            .fetch_all(self.pool())
            .await?;
        let mut sealed = 0;
        for row in rows {
            let id: String = row.try_get("id")?;
            let url: String = row.try_get("url")?;
            let done = sqlx::query(
                "UPDATE webhooks SET url = $1, url_sealed = $2 WHERE id = $3 AND url_sealed IS NULL",
            )
            .bind(masked_url(&url))
            .bind(key.seal(&webhook_context(&id, "url"), url.as_bytes()))
            .bind(&id)
            .execute(self.pool())
            .await?;
            sealed += usize::try_from(done.rows_affected()).unwrap_or(0);
        }
        Ok(sealed)
    }

    /// Deletes a webhook and its delivery log. False when there was none.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool> {
        self.delete_target("webhooks", DeliveryTarget::Webhook, id)
            .await
    }

    /// Stores a new SIEM export with its credential sealed by `key`.
    pub async fn create_siem_export(
        &self,
        key: &MasterKey,
        spec: &SiemExportSpec,
        auth: Option<&str>,
    ) -> Result<SiemExport> {
        let id = random_token(16);
        let now = ms(Utc::now());
        sqlx::query(
            "INSERT INTO siem_exports (id, name, kind, url, events, settings, auth_sealed, max_attempts, base_delay_ms, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&id)
        .bind(&spec.name)
        .bind(&spec.kind)
        .bind(&spec.url)
        .bind(events_json(&spec.events)?)
        .bind(spec.settings.to_string())
        .bind(auth.map(|s| key.seal(&export_context(&id), s.as_bytes())))
        .bind(i64::from(spec.max_attempts))
        .bind(i64::try_from(spec.base_delay_ms).unwrap_or(i64::MAX))
        .bind(i64::from(spec.enabled))
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| conflict_on_unique(e, name_taken("SIEM export", &spec.name)))?;
        self.get_siem_export(&id)
            .await?
            .ok_or_else(|| corrupt("siem_exports", "the inserted row is gone"))
    }

    /// Replaces a SIEM export's configuration; its credential is kept, cleared or replaced.
    /// `None` when there is no such export.
    pub async fn update_siem_export(
        &self,
        key: &MasterKey,
        id: &str,
        spec: &SiemExportSpec,
        auth: SecretChange,
    ) -> Result<Option<SiemExport>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT auth_sealed FROM siem_exports WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let auth_sealed = auth.apply(row.try_get("auth_sealed")?, |s| {
            key.seal(&export_context(id), s)
        });
        sqlx::query(
            "UPDATE siem_exports SET name = $1, kind = $2, url = $3, events = $4, settings = $5, auth_sealed = $6,
             max_attempts = $7, base_delay_ms = $8, enabled = $9, updated_at = $10 WHERE id = $11",
        )
        .bind(&spec.name)
        .bind(&spec.kind)
        .bind(&spec.url)
        .bind(events_json(&spec.events)?)
        .bind(spec.settings.to_string())
        .bind(auth_sealed)
        .bind(i64::from(spec.max_attempts))
        .bind(i64::try_from(spec.base_delay_ms).unwrap_or(i64::MAX))
        .bind(i64::from(spec.enabled))
        .bind(ms(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, name_taken("SIEM export", &spec.name)))?;
        tx.commit().await?;
        self.get_siem_export(id).await
    }

    /// One SIEM export.
    pub async fn get_siem_export(&self, id: &str) -> Result<Option<SiemExport>> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM siem_exports WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode_export).transpose()
    }

    /// Every SIEM export, by name.
    pub async fn list_siem_exports(&self) -> Result<Vec<SiemExport>> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM siem_exports ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_export).collect()
    }

    /// A SIEM export's credential, opened; `None` when there is no such export.
    pub async fn siem_export_auth(
        &self,
        key: &MasterKey,
        id: &str,
    ) -> Result<Option<Option<String>>> {
        let row = sqlx::query("SELECT auth_sealed FROM siem_exports WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(open(
            key,
            &export_context(id),
            row.try_get("auth_sealed")?,
        )?))
    }

    /// Deletes a SIEM export and its delivery log. False when there was none.
    pub async fn delete_siem_export(&self, id: &str) -> Result<bool> {
        self.delete_target("siem_exports", DeliveryTarget::SiemExport, id)
            .await
    }

    async fn delete_target(
        &self,
        table: &'static str,
        kind: DeliveryTarget,
        id: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM deliveries WHERE target_kind = $1 AND target_id = $2")
            .bind(kind.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends one attempt to the delivery log.
    pub async fn record_delivery(
        &self,
        kind: DeliveryTarget,
        attempt: &DeliveryAttempt,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO deliveries (id, target_kind, target_id, delivery_id, event, attempt, status_code, ok, error, response_excerpt, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&attempt.id)
        .bind(kind.as_str())
        .bind(&attempt.target_id)
        .bind(&attempt.delivery_id)
        .bind(&attempt.event)
        .bind(i64::from(attempt.attempt))
        .bind(attempt.status_code.map(i64::from))
        .bind(i64::from(attempt.ok))
        .bind(attempt.error.as_deref())
        .bind(attempt.response_excerpt.as_deref())
        .bind(ms(attempt.created_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` attempts to one webhook or export, newest first.
    pub async fn list_deliveries(
        &self,
        kind: DeliveryTarget,
        target_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT id, target_id, delivery_id, event, attempt, status_code, ok, error, response_excerpt, created_at
             FROM deliveries WHERE target_kind = $1 AND target_id = $2
             ORDER BY created_at DESC, attempt DESC, id DESC LIMIT $3",
        )
        .bind(kind.as_str())
        .bind(target_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryAttempt {
                    id: row.try_get("id")?,
                    target_id: row.try_get("target_id")?,
                    delivery_id: row.try_get("delivery_id")?,
                    event: row.try_get("event")?,
                    attempt: u32::try_from(count(row, "attempt")?).unwrap_or(0),
                    status_code: row
                        .try_get::<Option<i64>, _>("status_code")?
                        .and_then(|s| u16::try_from(s).ok()),
                    ok: count(row, "ok")? != 0,
                    error: row.try_get("error")?,
                    response_excerpt: row.try_get("response_excerpt")?,
                    created_at: from_ms(row.try_get("created_at")?),
                })
            })
            .collect()
    }
}

/// A new random id for a delivery or an attempt.
pub fn delivery_id() -> String {
    random_token(12)
}
