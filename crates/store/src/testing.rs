//! Temporary databases for tests: the same suite runs on SQLite and on a real Postgres.
//!
//! Postgres comes from `RIPOSTE_TEST_POSTGRES_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a fresh database in it.
//! The variable is required: the test script starts Postgres and sets it, and a missing
//! Postgres fails the tests instead of silently skipping half of them.

use crate::Store;
use sqlx::{AssertSqlSafe, Connection};

/// A database that lives as long as the value (SQLite: a temp dir; Postgres: a fresh database).
///
/// Fields are reached through methods on purpose: a closure that used a field directly
/// would capture only that field and drop the temporary directory under the database.
pub struct TestDb {
    store: Store,
    url: String,
    name: &'static str,
    dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// The store, migrated.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The URL it was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend (`sqlite` or `postgres`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The temporary directory of a SQLite database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

/// The admin URL of the test Postgres; panics with instructions when unset.
pub fn postgres_admin_url() -> String {
    std::env::var("RIPOSTE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "RIPOSTE_TEST_POSTGRES_URL is not set. Run the tests through `.ci/run` (which starts Postgres), \
             or start one and export RIPOSTE_TEST_POSTGRES_URL=postgres://USER@127.0.0.1:5432/postgres"
        )
    })
}

/// A fresh, empty Postgres database URL (the database is created now).
pub async fn fresh_postgres_url() -> String {
    let admin = postgres_admin_url();
    let now = chrono::Utc::now().timestamp();
    let name = format!(
        "riposte_test_{now}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to test Postgres at RIPOSTE_TEST_POSTGRES_URL: {e}")
        });
    drop_stale_test_databases(&mut conn, now).await;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// Test databases are not dropped by the tests that create them (a failing test keeps its
/// database to look at): those over three hours old (or named before names carried their
/// creation time) are dropped here. One still in use is left alone.
async fn drop_stale_test_databases(conn: &mut sqlx::postgres::PgConnection, now: i64) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'riposte\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix("riposte_test_")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(secs, _)| secs.parse::<i64>().ok());
        if created.is_some_and(|t| now - t < 3 * 3600) {
            continue;
        }
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// A fresh SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("riposte.db").display()
    );
    let store = Store::connect(&url).await.expect("open sqlite");
    TestDb {
        store,
        url,
        name: "sqlite",
        dir: Some(dir),
    }
}

/// A fresh Postgres database.
pub async fn postgres() -> TestDb {
    let url = fresh_postgres_url().await;
    let store = Store::connect(&url).await.expect("open postgres");
    TestDb {
        store,
        url,
        name: "postgres",
        dir: None,
    }
}

/// Both backends, for running one test body against each.
pub async fn both() -> Vec<TestDb> {
    vec![sqlite().await, postgres().await]
}

/// A CrowdStrike Falcon connection to the API at `base_url` (client `riposte-client`,
/// secret `falcon-secret`), not polled: what containment tests act through.
pub fn falcon_connection(base_url: &str) -> crate::NewConnection {
    crate::NewConnection {
        name: "falcon-eu".into(),
        vendor: "crowdstrike".into(),
        settings: serde_json::json!({"base_url": base_url, "client_id": "riposte-client"}),
        secret: Some("falcon-secret".into()),
        enabled: false,
        poll_interval: std::time::Duration::from_secs(300),
        overlap: std::time::Duration::from_secs(60),
        lookback: std::time::Duration::from_secs(3600),
    }
}

/// Stores webhook `id` (Slack preset, `processing_complete`) as a version before sealed
/// URLs did: its URL in clear, `url_sealed` NULL — what migration 12 leaves to seal.
pub async fn insert_webhook_in_clear(store: &Store, id: &str, url: &str) {
    sqlx::query(
        "INSERT INTO webhooks (id, name, url, preset, events, template, settings, max_attempts, base_delay_ms, enabled, created_at, updated_at)
         VALUES ($1, $1, $2, 'slack', '[\"processing_complete\"]', NULL, '{}', 1, 0, 1, 0, 0)",
    )
    .bind(id)
    .bind(url)
    .execute(store.pool())
    .await
    .expect("insert a webhook in clear");
}
