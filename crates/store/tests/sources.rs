//! Integrations, connections and ingestion errors, against SQLite and a real Postgres.

use chrono::{Duration as Span, Utc};
use riposte_model::AlertSource;
use riposte_store::testing::both;
use riposte_store::{MasterKey, NewConnection, Store, StoreError};
use std::time::Duration;

fn new_connection(name: &str) -> NewConnection {
    NewConnection {
        name: name.into(),
        vendor: "crowdstrike".into(),
        settings: serde_json::json!({"base_url": "https://api.us-2.crowdstrike.com", "client_id": "abc"}),
        secret: Some("s3cret-client-secret".into()),
        enabled: true,
        poll_interval: Duration::from_secs(60),
        overlap: Duration::from_secs(300),
        lookback: Duration::from_secs(86_400),
    }
}

async fn raw_column(store: &Store, sql: &'static str) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn integration_secret_is_sealed_at_rest_and_opens_with_the_master_key() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let (integration, secret) = store
            .create_integration(&key, "s1-prod", AlertSource::SentinelOne)
            .await
            .unwrap();
        let stored = raw_column(store, "SELECT secret_sealed FROM integrations").await;
        assert!(!stored.contains(&secret), "{}", db.name());
        let (found, opened) = store
            .integration_with_secret(&key, &integration.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.name.as_str(), opened), ("s1-prod", secret.clone()));
        assert_eq!(found.source, AlertSource::SentinelOne);

        let wrong = MasterKey::generate();
        let err = store
            .integration_with_secret(&wrong, &integration.id)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Sealed(_)), "{err}");
        assert!(err.to_string().contains("master key"), "{err}");

        let rotated = store
            .rotate_integration_secret(&key, &integration.id)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(rotated, secret);
        let (_, now) = store
            .integration_with_secret(&key, &integration.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now, rotated);

        assert!(store.delete_integration(&integration.id).await.unwrap());
        assert!(
            store
                .integration_with_secret(&key, &integration.id)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_signature_is_accepted_once_within_its_window() {
    for db in both().await {
        let store = db.store();
        let expires = Utc::now() + Span::minutes(5);
        let mut tx = store.begin().await.unwrap();
        assert!(
            Store::remember_signature(&mut tx, "i1", "sig-a", expires)
                .await
                .unwrap()
        );
        assert!(
            !Store::remember_signature(&mut tx, "i1", "sig-a", expires)
                .await
                .unwrap(),
            "{}: replay accepted",
            db.name()
        );
        assert!(
            Store::remember_signature(&mut tx, "i2", "sig-a", expires)
                .await
                .unwrap()
        );
        // An expired entry is purged, so the table does not grow without bound.
        Store::remember_signature(&mut tx, "i1", "old", Utc::now() - Span::minutes(1))
            .await
            .unwrap();
        Store::remember_signature(&mut tx, "i1", "sig-b", expires)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_replays WHERE signature = 'old'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(left, 0, "{}", db.name());
    }
}

#[tokio::test]
async fn connection_credentials_are_sealed_and_never_listed() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let created = store
            .create_connection(&key, &new_connection("falcon"))
            .await
            .unwrap();
        assert!(created.has_secret && created.enabled);
        let listed = serde_json::to_string(&store.list_connections().await.unwrap()).unwrap();
        assert!(!listed.contains("s3cret"), "{}", db.name());
        let stored = raw_column(store, "SELECT secret_sealed FROM connections").await;
        assert!(!stored.contains("s3cret"));
        assert_eq!(
            store
                .connection_secret(&key, &created.id)
                .await
                .unwrap()
                .as_deref(),
            Some("s3cret-client-secret")
        );
        // Names are unique.
        assert!(
            store
                .create_connection(&key, &new_connection("falcon"))
                .await
                .is_err()
        );
        assert!(store.delete_connection(&created.id).await.unwrap());
        assert!(!store.delete_connection(&created.id).await.unwrap());
    }
}

#[tokio::test]
async fn a_due_connection_is_leased_to_one_worker_and_fenced() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let created = store
            .create_connection(&key, &new_connection("falcon"))
            .await
            .unwrap();
        let lease = Duration::from_secs(30);
        let claimed = store.claim_due_connection("w1", lease).await.unwrap();
        assert_eq!(claimed.map(|c| c.id), Some(created.id.clone()));
        assert!(
            store
                .claim_due_connection("w2", lease)
                .await
                .unwrap()
                .is_none(),
            "{}: leased twice",
            db.name()
        );
        // Another worker cannot finish it.
        let cursor = Utc::now();
        assert!(
            !store
                .finish_connection_poll(&created.id, "w2", cursor, cursor)
                .await
                .unwrap()
        );
        let mut tx = store.begin().await.unwrap();
        assert!(
            Store::add_connection_alerts(&mut tx, &created.id, "w1", 3)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let next = cursor + Span::seconds(60);
        assert!(
            store
                .finish_connection_poll(&created.id, "w1", cursor, next)
                .await
                .unwrap()
        );
        let after = store.get_connection(&created.id).await.unwrap().unwrap();
        assert_eq!(after.alerts_ingested, 3);
        assert_eq!(
            after.cursor.map(|c| c.timestamp_millis()),
            Some(cursor.timestamp_millis())
        );
        assert!(after.last_error.is_none());
        // Not due until `next`.
        assert!(
            store
                .claim_due_connection("w2", lease)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.poll_connection_now(&created.id).await.unwrap());
        let again = store.claim_due_connection("w2", lease).await.unwrap();
        assert!(again.is_some());
        assert!(
            store
                .fail_connection_poll(&created.id, "w2", "authentication failed: x", Utc::now())
                .await
                .unwrap()
        );
        let failed = store.get_connection(&created.id).await.unwrap().unwrap();
        assert_eq!(failed.failures, 1);
        assert_eq!(
            failed.last_error.as_deref(),
            Some("authentication failed: x")
        );
        assert_eq!(
            failed.cursor.map(|c| c.timestamp_millis()),
            Some(cursor.timestamp_millis()),
            "a failed poll must not move the cursor"
        );
    }
}

#[tokio::test]
async fn ingest_errors_keep_the_payload_and_reason() {
    for db in both().await {
        let store = db.store();
        let payload = serde_json::json!({"composite_id": "x", "device": 7});
        let mut tx = store.begin().await.unwrap();
        Store::record_ingest_error(
            &mut tx,
            Some("c1"),
            "crowdstrike",
            "device: must be an object",
            &payload,
        )
        .await
        .unwrap();
        Store::record_ingest_error(
            &mut tx,
            Some("c2"),
            "defender",
            "bad",
            &serde_json::json!({}),
        )
        .await
        .unwrap();
        // The same payload read again by an overlapping window is not recorded twice.
        Store::record_ingest_error(
            &mut tx,
            Some("c1"),
            "crowdstrike",
            "device: must be an object",
            &payload,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let all = store.list_ingest_errors(None, 10).await.unwrap();
        assert_eq!(all.len(), 2, "{}", db.name());
        let one = store.list_ingest_errors(Some("c1"), 10).await.unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].payload, payload);
        assert_eq!(one[0].error, "device: must be an object");
    }
}
