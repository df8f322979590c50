//! SSH credentials, sealed with the master key (only their name, kind and user are ever
//! listed), and the host keys Riposte trusted on first use.

use crate::{MasterKey, Result, Store, StoreError, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use riposte_model::SshSecret;
use serde::Serialize;
use sqlx::Row;

/// A stored SSH credential, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct SshCredentialInfo {
    /// Its name, referenced by SSH scopes.
    pub name: String,
    /// `private_key` or `password`.
    pub kind: String,
    /// The login user when a scope names none.
    pub username: Option<String>,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

fn context(name: &str) -> String {
    format!("ssh_credential:{name}")
}

fn decode(row: &sqlx::any::AnyRow) -> Result<SshCredentialInfo> {
    Ok(SshCredentialInfo {
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        username: row.try_get("username")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

impl Store {
    /// Stores (or replaces) the credential `name`, its secret sealed with `key`.
    pub async fn put_ssh_credential(
        &self,
        key: &MasterKey,
        name: &str,
        username: Option<&str>,
        secret: &SshSecret,
    ) -> Result<SshCredentialInfo> {
        let json = serde_json::to_string(secret).map_err(|e| corrupt("ssh secret", e))?;
        let sealed = key.seal(&context(name), json.as_bytes());
        let now = ms(Utc::now());
        sqlx::query(
            "INSERT INTO ssh_credentials (name, kind, username, secret_sealed, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, username = excluded.username,
                 secret_sealed = excluded.secret_sealed, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(secret.kind())
        .bind(username)
        .bind(sealed)
        .bind(now)
        .execute(self.pool())
        .await?;
        self.get_ssh_credential(name)
            .await?
            .ok_or_else(|| corrupt("ssh_credentials", format!("{name} vanished")))
    }

    /// Every credential, by name, without secrets.
    pub async fn list_ssh_credentials(&self) -> Result<Vec<SshCredentialInfo>> {
        let rows = sqlx::query(
            "SELECT name, kind, username, created_at, updated_at FROM ssh_credentials ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// One credential, without its secret.
    pub async fn get_ssh_credential(&self, name: &str) -> Result<Option<SshCredentialInfo>> {
        let row = sqlx::query(
            "SELECT name, kind, username, created_at, updated_at FROM ssh_credentials WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The credential's user and secret, opened with `key`.
    pub async fn ssh_secret(
        &self,
        key: &MasterKey,
        name: &str,
    ) -> Result<Option<(Option<String>, SshSecret)>> {
        let row =
            sqlx::query("SELECT username, secret_sealed FROM ssh_credentials WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let username: Option<String> = row.try_get("username")?;
        let sealed: String = row.try_get("secret_sealed")?;
        let json = key
            .open_string(&context(name), &sealed)
            .map_err(StoreError::Sealed)?;
        let secret = serde_json::from_str(&json).map_err(|e| corrupt("ssh_credentials", e))?;
        Ok(Some((username, secret)))
    }

    /// Deletes a credential. False when there was none.
    pub async fn delete_ssh_credential(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM ssh_credentials WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The fingerprints trusted on first use for `address`:`port`.
    pub async fn ssh_host_keys(&self, address: &str, port: u16) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT fingerprint FROM ssh_host_keys WHERE address = $1 AND port = $2 ORDER BY first_seen",
        )
        .bind(address.to_ascii_lowercase())
        .bind(i64::from(port))
        .fetch_all(self.pool())
        .await?)
    }

    /// Remembers a host key trusted on first use. False when it was already known.
    pub async fn remember_ssh_host_key(
        &self,
        address: &str,
        port: u16,
        fingerprint: &str,
        algorithm: &str,
        investigation: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO ssh_host_keys (address, port, fingerprint, algorithm, first_seen, investigation_id)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(address.to_ascii_lowercase())
        .bind(i64::from(port))
        .bind(fingerprint)
        .bind(algorithm)
        .bind(ms(Utc::now()))
        .bind(investigation)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
