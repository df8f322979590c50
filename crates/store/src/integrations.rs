//! Push integrations: each sender gets its own URL (`/hooks/{id}`) and secret. The secret
//! is sealed with the master key (it must be recoverable to verify HMAC signatures), and
//! HMAC signatures accepted within the replay window are remembered so a captured request
//! cannot be sent again.

use crate::{Conn, MasterKey, Result, SealError, Store, StoreError, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::AlertSource;
use serde::Serialize;
use sqlx::Row;

/// A push integration as listed (never with its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    /// Random id; the last segment of the integration's URL.
    pub id: String,
    /// A name to recognise it by (unique).
    pub name: String,
    /// Which parser reads its payloads.
    pub source: AlertSource,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When a request last authenticated with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

fn context(id: &str) -> String {
    format!("integration:{id}")
}

fn decode(row: &sqlx::any::AnyRow) -> Result<Integration> {
    let source: String = row.try_get("source")?;
    Ok(Integration {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        source: source
            .parse()
            .map_err(|e| corrupt("integrations.source", e))?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}

impl Store {
    /// Creates an integration with a new random secret; returns it and the secret (shown once).
    pub async fn create_integration(
        &self,
        key: &MasterKey,
        name: &str,
        source: AlertSource,
    ) -> Result<(Integration, String)> {
        let id = random_token(16);
        let secret = random_token(32);
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO integrations (id, name, source, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(source.as_str())
        .bind(key.seal(&context(&id), secret.as_bytes()))
        .bind(ms(now))
        .execute(self.pool())
        .await?;
        let integration = Integration {
            id,
            name: name.to_string(),
            source,
            created_at: from_ms(ms(now)),
            last_used_at: None,
        };
        Ok((integration, secret))
    }

    /// Replaces an integration's secret; the old one stops working at once.
    pub async fn rotate_integration_secret(
        &self,
        key: &MasterKey,
        id: &str,
    ) -> Result<Option<String>> {
        let secret = random_token(32);
        let done = sqlx::query("UPDATE integrations SET secret_sealed = $1 WHERE id = $2")
            .bind(key.seal(&context(id), secret.as_bytes()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok((done.rows_affected() == 1).then_some(secret))
    }

    /// All integrations, oldest first.
    pub async fn list_integrations(&self) -> Result<Vec<Integration>> {
        let rows = sqlx::query(
            "SELECT id, name, source, created_at, last_used_at FROM integrations ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// One integration and its secret, for authenticating a request.
    pub async fn integration_with_secret(
        &self,
        key: &MasterKey,
        id: &str,
    ) -> Result<Option<(Integration, String)>> {
        let row = sqlx::query(
            "SELECT id, name, source, created_at, last_used_at, secret_sealed FROM integrations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = row.try_get("secret_sealed")?;
        let secret = key
            .open_string(&context(id), &sealed)
            .map_err(StoreError::Sealed)?;
        Ok(Some((decode(&row)?, secret)))
    }

    /// Deletes an integration; its URL stops working. False when there was none.
    pub async fn delete_integration(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_replays WHERE integration_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a request authenticated with the integration.
    pub async fn touch_integration(conn: &mut Conn, id: &str) -> Result<()> {
        sqlx::query("UPDATE integrations SET last_used_at = $1 WHERE id = $2")
            .bind(ms(Utc::now()))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Remembers an accepted signature until `expires_at`. False when it was already
    /// seen: the request is a replay. Expired entries are purged on the way.
    pub async fn remember_signature(
        conn: &mut Conn,
        integration: &str,
        signature: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM webhook_replays WHERE expires_at < $1")
            .bind(ms(Utc::now()))
            .execute(&mut *conn)
            .await?;
        let done = sqlx::query(
            "INSERT INTO webhook_replays (integration_id, signature, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (integration_id, signature) DO NOTHING",
        )
        .bind(integration)
        .bind(signature)
        .bind(ms(expires_at))
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random number generator");
    hex::encode(buf)
}

impl From<SealError> for StoreError {
    fn from(e: SealError) -> Self {
        StoreError::Sealed(e)
    }
}
