//! Riposte's storage layer: one API over two database backends (SQLite, the embedded
//! default, and Postgres for scale-out), versioned migrations, durable jobs, and the
//! evidence blob store.
//!
//! Queries are written once against sqlx's `Any` driver with `$n` placeholders, which
//! both backends accept; the only backend-specific statement is the job claim
//! (`FOR UPDATE SKIP LOCKED` on Postgres). Times are stored as epoch milliseconds, and
//! both backends run the same migration SQL.

mod alarms;
mod alerts;
mod apikeys;
mod audit;
mod blobs;
mod connections;
mod console_sessions;
mod db;
mod environments;
mod events;
mod evidence;
mod hunts;
mod integrations;
mod investigations;
mod jobs;
mod masked;
mod private;
mod projects;
mod response_actions;
mod rules;
mod sealed;
mod ssh;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

pub use alarms::ParseReport;
pub use alerts::{AlertInsert, StoredAlert, dedup_key};
pub use apikeys::{ApiKeyRecord, Role, VERIFIED_KEY_TTL};
pub use audit::{AuditEntry, NewAuditEntry};
pub use blobs::{BlobStore, StoredBlob};
pub use connections::{Connection, IngestError, NewConnection};
pub use console_sessions::{ConsoleSession, NewConsoleSession};
pub use db::{Backend, Store};
pub use events::{EventHit, EventHits, EventPage, EventSearch, TimelineEvent, TimelineQuery};
pub use hunts::RunStart;
pub use integrations::Integration;
pub use investigations::InvestigationSummary;
pub use jobs::{ClaimedJob, JobCounts, NewJob, QueueStage};
pub use masked::masked_url;
pub use private::{private_dir, private_file};
pub use projects::Project;
pub use rules::RuleVersion;
pub use sealed::{MasterKey, SealError};
pub use ssh::SshCredentialInfo;
pub use webhooks::{
    DeliveryAttempt, DeliveryTarget, SecretChange, SiemExport, SiemExportSpec, Webhook,
    WebhookSecrets, WebhookSpec, delivery_id,
};

use sqlx::AnyConnection;

/// The database driver's error type, for callers that run their own transactions.
pub use sqlx::Error as SqlxError;

/// A database transaction; stage results and job state commit together in one. It is a
/// connection (`&mut tx` is a [`Conn`]); on SQLite it holds the process's write turn
/// until it commits or is dropped.
pub struct Transaction {
    inner: sqlx::Transaction<'static, sqlx::Any>,
    /// The write turn (SQLite), released after the commit or rollback.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Transaction {
    /// Commits the transaction.
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Transaction {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}

/// A connection or transaction to run store operations on (`&mut *tx` or a pool connection).
pub type Conn = AnyConnection;

/// What can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names a backend Riposte does not support.
    #[error("unsupported database url `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// A stored value could not be decoded (a bug or a hand-edited database).
    #[error("corrupt stored value in {what}: {detail}")]
    Corrupt {
        /// Which table/column.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The evidence blob store failed.
    #[error("evidence store error: {0}")]
    Blob(#[from] object_store::Error),
    /// Reading evidence bytes failed.
    #[error("evidence read error: {0}")]
    Io(#[from] std::io::Error),
    /// A sealed secret could not be opened (wrong master key, damaged value).
    #[error("{0}")]
    Sealed(SealError),
    /// A unique value (such as a name) is already taken.
    #[error("{0}")]
    Conflict(String),
    /// A timeline cursor that no page ever returned.
    #[error("invalid timeline cursor `{0}`: pass the `next_cursor` of the previous page")]
    InvalidCursor(String),
}

/// Result alias for the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The `VALUES` rows of a multi-row insert: `($1,$2),($3,$4)` for 2 rows of 2 columns.
pub(crate) fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 1..=columns {
            if c > 1 {
                sql.push(',');
            }
            sql.push('$');
            sql.push_str(&(r * columns + c).to_string());
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list.
pub(crate) fn id_list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] with `message`.
pub(crate) fn conflict_on_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(message()),
        _ => StoreError::Database(e),
    }
}

/// Milliseconds since the epoch for a UTC time.
pub(crate) fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// A UTC time from epoch milliseconds.
pub(crate) fn from_ms(v: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(v).unwrap_or_default()
}
