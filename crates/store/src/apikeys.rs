//! API keys: shown once at creation, stored only as a SHA-256 hash.
//!
//! Keys are 32 random bytes (256 bits), so a plain SHA-256 is enough: a stolen
//! database gives nothing to brute-force. Lookups are by hash, which leaks no timing
//! about the secret itself.

use crate::{Result, Store, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::fmt;
use std::str::FromStr;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Read, submit alerts, run investigations.
    Analyst,
    /// Everything, including keys and settings.
    Admin,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// True when this role includes everything `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role `{s}`; expected admin, analyst or viewer"
            )),
        }
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    /// Key id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Its role.
    pub role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// How long a key found valid is trusted without reading the database again.
pub const VERIFIED_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Keys found valid recently, by hash.
#[derive(Debug, Default, Clone)]
pub(crate) struct VerifiedKeys(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (ApiKeyRecord, std::time::Instant)>>,
    >,
);

impl VerifiedKeys {
    /// Most keys remembered; beyond, the memory starts over.
    const MAX: usize = 1_024;

    fn get(&self, hash: &str) -> Option<ApiKeyRecord> {
        let keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(hash)
            .filter(|(_, at)| at.elapsed() < VERIFIED_KEY_TTL)
            .map(|(record, _)| record.clone())
    }

    fn remember(&self, hash: String, record: ApiKeyRecord) {
        let mut keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= Self::MAX {
            keys.clear();
        }
        keys.insert(hash, (record, std::time::Instant::now()));
    }

    fn forget_all(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The hash stored for a key.
pub(crate) fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub(crate) fn decode(row: &sqlx::any::AnyRow) -> Result<ApiKeyRecord> {
    let role: String = row.try_get("role")?;
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: role.parse().map_err(|e| corrupt("api_keys.role", e))?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| corrupt("random source", e))?;
    Ok(format!("rip_{}", hex::encode(bytes)))
}

impl Store {
    /// Creates a key and returns it in clear text: the only time it is ever visible.
    pub async fn create_api_key(&self, name: &str, role: Role) -> Result<(ApiKeyRecord, String)> {
        let secret = new_secret()?;
        let record = ApiKeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            prefix: secret[..12].to_string(),
            role,
            created_at: Utc::now(),
        };
        sqlx::query(
            "INSERT INTO api_keys (id, name, prefix, key_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&record.id)
        .bind(&record.name)
        .bind(&record.prefix)
        .bind(hash_key(&secret))
        .bind(role.as_str())
        .bind(ms(record.created_at))
        .execute(self.pool())
        .await?;
        Ok((record, secret))
    }

    /// The role of a presented key, or `None` when it is unknown or revoked.
    ///
    /// A key found valid is remembered for [`VERIFIED_KEY_TTL`], so a flood of requests
    /// does not read the database once per request. Revoking a key through this store
    /// forgets it at once; a revocation by another process (`riposte apikey revoke`)
    /// takes effect within that time.
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Option<ApiKeyRecord>> {
        let hash = hash_key(presented);
        if let Some(record) = self.verified_keys.get(&hash) {
            return Ok(Some(record));
        }
        let row = sqlx::query(
            "SELECT id, name, prefix, role, created_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(self.pool())
        .await?;
        let record = row.as_ref().map(decode).transpose()?;
        if let Some(record) = &record {
            self.verified_keys.remember(hash, record.clone());
        }
        Ok(record)
    }

    /// Active keys, oldest first (never their secrets).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, prefix, role, created_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Revokes a key by id; returns false when there was no such active key.
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        self.verified_keys.forget_all();
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ms(Utc::now()))
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
