//! Pull connections to vendor APIs and their polling state, plus the ingestion errors
//! polling records when a payload cannot be turned into an alert.
//!
//! Workers claim a due connection with a lease (like jobs), poll one window, and advance
//! the connection's cursor only when the whole window is stored, fenced on the lease, so a
//! connection is polled by one worker at a time and a crash re-reads the window.

use crate::integrations::random_token;
use crate::{Backend, Conn, MasterKey, Result, Store, StoreError, corrupt, from_ms, ms};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};
use std::time::Duration;

/// What is needed to create a connection.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// A unique name.
    pub name: String,
    /// The vendor (`crowdstrike`, `defender`, `guardduty`).
    pub vendor: String,
    /// Vendor settings (URLs, ids, regions); never secrets.
    pub settings: serde_json::Value,
    /// The credential (client secret), sealed before it is stored.
    pub secret: Option<String>,
    /// Whether it is polled.
    pub enabled: bool,
    /// Time between polls.
    pub poll_interval: Duration,
    /// How far each window reaches back before the cursor, for alerts the vendor indexes late.
    pub overlap: Duration,
    /// How far back the first poll reaches.
    pub lookback: Duration,
}

/// A stored connection with its polling state (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Vendor settings.
    pub settings: serde_json::Value,
    /// Whether a credential is stored.
    pub has_secret: bool,
    /// Whether it is polled.
    pub enabled: bool,
    /// Seconds between polls.
    pub poll_interval_seconds: i64,
    /// Seconds each window overlaps the previous one.
    pub overlap_seconds: i64,
    /// Seconds the first poll reaches back.
    pub lookback_seconds: i64,
    /// Alerts updated before this time are all ingested.
    pub cursor: Option<DateTime<Utc>>,
    /// When the next poll is due.
    pub next_poll_at: DateTime<Utc>,
    /// When the last poll finished (successfully or not).
    pub last_polled_at: Option<DateTime<Utc>>,
    /// The last poll's error, cleared by a successful poll.
    pub last_error: Option<String>,
    /// Consecutive failed polls.
    pub failures: i64,
    /// New alerts stored from this connection so far.
    pub alerts_ingested: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A payload a source could not turn into alerts, kept with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct IngestError {
    /// Id.
    pub id: String,
    /// The connection that fetched it.
    pub connection_id: Option<String>,
    /// The source whose parser refused it.
    pub source: String,
    /// Why.
    pub error: String,
    /// The payload as received.
    pub payload: serde_json::Value,
    /// When.
    pub received_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, vendor, settings, secret_sealed, enabled, poll_interval_s, overlap_s, lookback_s, cursor_ms, next_poll_at, last_polled_at, last_error, failures, alerts_ingested, created_at";

fn context(id: &str) -> String {
    format!("connection:{id}")
}

fn decode(row: &sqlx::any::AnyRow) -> Result<Connection> {
    let settings: String = row.try_get("settings")?;
    let sealed: Option<String> = row.try_get("secret_sealed")?;
    let enabled: i64 = row.try_get("enabled")?;
    Ok(Connection {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        vendor: row.try_get("vendor")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| corrupt("connections.settings", e))?,
        has_secret: sealed.is_some(),
        enabled: enabled != 0,
        poll_interval_seconds: row.try_get("poll_interval_s")?,
        overlap_seconds: row.try_get("overlap_s")?,
        lookback_seconds: row.try_get("lookback_s")?,
        cursor: row.try_get::<Option<i64>, _>("cursor_ms")?.map(from_ms),
        next_poll_at: from_ms(row.try_get("next_poll_at")?),
        last_polled_at: row
            .try_get::<Option<i64>, _>("last_polled_at")?
            .map(from_ms),
        last_error: row.try_get("last_error")?,
        failures: row.try_get("failures")?,
        alerts_ingested: row.try_get("alerts_ingested")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores a new connection, its secret sealed with `key`; due for polling at once.
    pub async fn create_connection(
        &self,
        key: &MasterKey,
        new: &NewConnection,
    ) -> Result<Connection> {
        let id = random_token(16);
        let now = ms(Utc::now());
        let sealed = new
            .secret
            .as_ref()
            .map(|s| key.seal(&context(&id), s.as_bytes()));
        let sql = format!(
            "INSERT INTO connections (id, name, vendor, settings, secret_sealed, enabled, poll_interval_s, overlap_s, lookback_s, next_poll_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(&id)
            .bind(&new.name)
            .bind(&new.vendor)
            .bind(new.settings.to_string())
            .bind(sealed)
            .bind(i64::from(new.enabled))
            .bind(seconds(new.poll_interval))
            .bind(seconds(new.overlap))
            .bind(seconds(new.lookback))
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        decode(&row)
    }

    /// All connections, oldest first.
    pub async fn list_connections(&self) -> Result<Vec<Connection>> {
        let sql = format!("SELECT {COLUMNS} FROM connections ORDER BY created_at, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// One connection.
    pub async fn get_connection(&self, id: &str) -> Result<Option<Connection>> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The connection's credential, opened with `key`.
    pub async fn connection_secret(&self, key: &MasterKey, id: &str) -> Result<Option<String>> {
        let sealed: Option<Option<String>> =
            sqlx::query_scalar("SELECT secret_sealed FROM connections WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        sealed
            .flatten()
            .map(|s| {
                key.open_string(&context(id), &s)
                    .map_err(StoreError::Sealed)
            })
            .transpose()
    }

    /// Deletes a connection. False when there was none.
    pub async fn delete_connection(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes a connection due for polling now.
    pub async fn poll_connection_now(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE connections SET next_poll_at = $1 WHERE id = $2")
            .bind(ms(Utc::now()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims the enabled connection most overdue for polling, leasing it to `worker`.
    pub async fn claim_due_connection(
        &self,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<Connection>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let now = Utc::now();
        let sql = format!(
            "UPDATE connections SET locked_by = $1, locked_until = $2
             WHERE id = (SELECT id FROM connections
                         WHERE enabled = 1 AND next_poll_at <= $3 AND (locked_until IS NULL OR locked_until < $3)
                         ORDER BY next_poll_at LIMIT 1{skip_locked})
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(ms(now + lease))
            .bind(ms(now))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Extends the poll lease; false when the worker lost it.
    pub async fn renew_connection_lease(
        conn: &mut Conn,
        id: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE connections SET locked_until = $1 WHERE id = $2 AND locked_by = $3",
        )
        .bind(ms(Utc::now() + lease))
        .bind(id)
        .bind(worker)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts new alerts stored from a page, inside the page's transaction, fenced on the
    /// lease: false means the worker lost the connection and must roll back.
    pub async fn add_connection_alerts(
        conn: &mut Conn,
        id: &str,
        worker: &str,
        created: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE connections SET alerts_ingested = alerts_ingested + $1 WHERE id = $2 AND locked_by = $3",
        )
        .bind(created)
        .bind(id)
        .bind(worker)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A window is fully stored: moves the cursor, schedules the next poll, clears the
    /// error and releases the lease. False when the worker no longer held it.
    pub async fn finish_connection_poll(
        &self,
        id: &str,
        worker: &str,
        cursor: DateTime<Utc>,
        next_poll_at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE connections SET cursor_ms = $1, next_poll_at = $2, last_polled_at = $3, last_error = NULL,
                    failures = 0, locked_by = NULL, locked_until = NULL
             WHERE id = $4 AND locked_by = $5",
        )
        .bind(ms(cursor))
        .bind(ms(next_poll_at))
        .bind(ms(Utc::now()))
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A poll failed: records why, schedules the retry, releases the lease; the cursor stays.
    pub async fn fail_connection_poll(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        next_poll_at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE connections SET last_error = $1, failures = failures + 1, next_poll_at = $2, last_polled_at = $3,
                    locked_by = NULL, locked_until = NULL
             WHERE id = $4 AND locked_by = $5",
        )
        .bind(error)
        .bind(ms(next_poll_at))
        .bind(ms(Utc::now()))
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a payload that could not be ingested (once per source and payload).
    pub async fn record_ingest_error(
        conn: &mut Conn,
        connection_id: Option<&str>,
        source: &str,
        error: &str,
        payload: &serde_json::Value,
    ) -> Result<()> {
        let payload = payload.to_string();
        let digest = hex::encode(Sha256::digest(payload.as_bytes()));
        sqlx::query(
            "INSERT INTO ingest_errors (id, connection_id, source, error, payload, digest, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source, digest) DO NOTHING",
        )
        .bind(random_token(16))
        .bind(connection_id)
        .bind(source)
        .bind(error)
        .bind(payload)
        .bind(digest)
        .bind(ms(Utc::now()))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The newest ingestion errors first, optionally for one connection.
    pub async fn list_ingest_errors(
        &self,
        connection_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IngestError>> {
        const SELECT: &str =
            "SELECT id, connection_id, source, error, payload, received_at FROM ingest_errors";
        let rows = match connection_id {
            Some(id) => {
                let sql = format!(
                    "{SELECT} WHERE connection_id = $1 ORDER BY received_at DESC, id LIMIT $2"
                );
                sqlx::query(AssertSqlSafe(sql)).bind(id).bind(limit)
            }
            None => {
                let sql = format!("{SELECT} ORDER BY received_at DESC, id LIMIT $1");
                sqlx::query(AssertSqlSafe(sql)).bind(limit)
            }
        }
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(IngestError {
                    id: row.try_get("id")?,
                    connection_id: row.try_get("connection_id")?,
                    source: row.try_get("source")?,
                    error: row.try_get("error")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| corrupt("ingest_errors.payload", e))?,
                    received_at: from_ms(row.try_get("received_at")?),
                })
            })
            .collect()
    }
}
