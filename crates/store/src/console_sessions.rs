//! Web console sessions: a sign-in with an API key becomes a random session token held in
//! an HttpOnly cookie (only its SHA-256 is stored) and a CSRF token the console sends back
//! on every change. A session acts with its key's role and ends with the key's revocation,
//! its expiry, or sign-out.

use crate::apikeys::{ApiKeyRecord, decode, hash_key};
use crate::{Result, Store, corrupt, ms};
use chrono::{DateTime, Utc};

/// A new session's secrets, returned once.
#[derive(Debug, Clone)]
pub struct NewConsoleSession {
    /// The cookie's value.
    pub token: String,
    /// The CSRF token the console sends in `X-CSRF-Token`.
    pub csrf: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// A live session: its key and CSRF token.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The API key it acts as.
    pub key: ApiKeyRecord,
    /// Its CSRF token.
    pub csrf: String,
}

fn random_token() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| corrupt("random source", e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Store {
    /// Opens a session for `key` lasting `ttl`.
    pub async fn create_console_session(
        &self,
        key: &ApiKeyRecord,
        ttl: chrono::Duration,
    ) -> Result<NewConsoleSession> {
        let session = NewConsoleSession {
            token: random_token()?,
            csrf: random_token()?,
            expires_at: Utc::now() + ttl,
        };
        // Expired sessions are dropped as new ones open.
        sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(ms(Utc::now()))
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, api_key_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_key(&session.token))
        .bind(&key.id)
        .bind(&session.csrf)
        .bind(ms(Utc::now()))
        .bind(ms(session.expires_at))
        .execute(self.pool())
        .await?;
        Ok(session)
    }

    /// The live session of `token`: not expired, its key not revoked.
    pub async fn console_session(&self, token: &str) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(
            "SELECT k.id, k.name, k.prefix, k.role, k.created_at, s.csrf
             FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
        )
        .bind(hash_key(token))
        .bind(ms(Utc::now()))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        use sqlx::Row;
        Ok(Some(ConsoleSession {
            key: decode(&row)?,
            csrf: row.try_get("csrf")?,
        }))
    }

    /// Ends a session (sign-out); false when there was none.
    pub async fn delete_console_session(&self, token: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(hash_key(token))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
