//! Connecting, choosing the backend, and migrating.

use crate::{Result, StoreError};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};
use std::path::Path;
use std::time::Duration;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL mode), the default.
    Sqlite,
    /// PostgreSQL, for many workers and big deployments.
    Postgres,
}

impl Backend {
    /// The backend a database URL selects.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// A URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The database handle every component shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// API keys found valid recently (see `authenticate_api_key`).
    pub(crate) verified_keys: crate::apikeys::VerifiedKeys,
    /// SQLite: the process's writers take turns here (see [`Store::write_turn`]).
    write_turns: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

/// The schema's migrations. Both backends run the same SQL (portable types only), except
/// where a feature only exists in one form per engine (free-text search: FTS5 on SQLite,
/// pg_trgm on Postgres), which gets one file per backend.
fn migrations(backend: Backend) -> Migrator {
    let migration = |version, name: &str, sql: &'static str| {
        Migration::new(
            version,
            name.to_string().into(),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(1, "init", include_str!("../migrations/0001_init.sql")),
        migration(2, "sources", include_str!("../migrations/0002_sources.sql")),
        migration(3, "rules", include_str!("../migrations/0003_rules.sql")),
        migration(
            4,
            "timeline",
            include_str!("../migrations/0004_timeline.sql"),
        ),
        migration(
            5,
            "response_actions",
            include_str!("../migrations/0005_response_actions.sql"),
        ),
        migration(
            6,
            "webhooks",
            include_str!("../migrations/0006_webhooks.sql"),
        ),
        migration(
            7,
            "search",
            match backend {
                Backend::Sqlite => include_str!("../migrations/0007_search_sqlite.sql"),
                Backend::Postgres => include_str!("../migrations/0007_search_postgres.sql"),
            },
        ),
        migration(9, "stories", include_str!("../migrations/0009_stories.sql")),
        migration(
            10,
            "acquisition",
            include_str!("../migrations/0010_acquisition.sql"),
        ),
        migration(
            11,
            "job_progress",
            include_str!("../migrations/0011_job_progress.sql"),
        ),
        migration(
            12,
            "webhook_url_sealed",
            include_str!("../migrations/0012_webhook_url_sealed.sql"),
        ),
        migration(
            13,
            "event_query",
            include_str!("../migrations/0013_event_query.sql"),
        ),
        migration(14, "ssh", include_str!("../migrations/0014_ssh.sql")),
        migration(15, "hunts", include_str!("../migrations/0015_hunts.sql")),
        migration(
            16,
            "console_sessions",
            include_str!("../migrations/0016_console_sessions.sql"),
        ),
        migration(
            17,
            "job_claim_index",
            include_str!("../migrations/0017_job_claim_index.sql"),
        ),
    ])
}

impl Store {
    /// Opens (creating if needed) the SQLite database file at `path`, in WAL mode, and
    /// migrates it. The file is mode 0600 (SQLite gives its WAL and shared-memory files
    /// the database's mode).
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        crate::private_file(path)?;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect(&url).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = match backend {
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;")
                            .await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => AnyPoolOptions::new().max_connections(10),
        };
        let pool = options
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        migrations(backend).run(&pool).await?;
        tracing::debug!(url = %redact_url(url), ?backend, "store opened");
        Ok(Store {
            pool,
            backend,
            verified_keys: Default::default(),
            write_turns: (backend == Backend::Sqlite).then(Default::default),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction; stage results and job state change together in one.
    ///
    /// On SQLite it begins `IMMEDIATE`, taking the write lock at once (waiting up to the busy
    /// timeout for another writer): a deferred transaction that reads and then writes fails
    /// at once with SQLITE_BUSY, without waiting, when another connection wrote in between.
    ///
    /// On SQLite the transaction first waits for the process's write turn (see
    /// [`Store::write_turn`]), which it holds until it ends.
    pub async fn begin(&self) -> Result<crate::Transaction> {
        let turn = self.write_turn().await;
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(crate::Transaction { inner, _turn: turn })
    }

    /// On SQLite, waits for this process's turn to write (none on Postgres). SQLite takes
    /// one writer at a time, and a writer that finds the lock taken sleeps in growing steps
    /// (up to 100 ms) before trying again; taking turns in the process instead hands the
    /// lock over at once, which keeps intake latency flat under load. Hold it only around
    /// the write, and never while waiting for another turn.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_turns {
            Some(turns) => Some(turns.clone().lock_owned().await),
            None => None,
        }
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The version of the newest applied migration.
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_url_and_passwords_are_redacted() {
        assert_eq!(
            Backend::from_url("sqlite:///x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::from_url("mysql://root:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
