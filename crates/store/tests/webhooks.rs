//! Webhooks, SIEM exports and the delivery log, against SQLite and a real Postgres.

use chrono::{Duration as Span, Utc};
use riposte_model::NotificationEvent;
use riposte_store::testing::{both, insert_webhook_in_clear};
use riposte_store::{
    DeliveryAttempt, DeliveryTarget, MasterKey, SecretChange, SiemExportSpec, StoreError,
    WebhookSecrets, WebhookSpec, delivery_id,
};
use serde_json::json;

fn spec(name: &str) -> WebhookSpec {
    WebhookSpec {
        name: name.into(),
        url: "https://hooks.slack.com/services/T0/B0/abc-s3cret".into(),
        preset: "slack".into(),
        events: vec![
            NotificationEvent::ProcessingWithAlarms,
            NotificationEvent::ResponseActionFailed,
        ],
        template: Some(r#"{"text": "$Title"}"#.into()),
        settings: json!({"channel": "soc"}),
        max_attempts: 4,
        base_delay_ms: 1500,
        enabled: true,
    }
}

#[tokio::test]
async fn webhook_round_trips_with_its_secrets_sealed_at_rest() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let created = store
            .create_webhook(
                &key,
                &spec("slack-soc"),
                Some("hmac-s3cret"),
                Some(r#"{"type":"bearer","token":"tok-123"}"#),
            )
            .await
            .unwrap();
        assert!(created.has_secret && created.has_auth, "{}", db.name());
        assert_eq!(created.events, spec("x").events);
        assert_eq!(created.settings, json!({"channel": "soc"}));
        assert_eq!((created.max_attempts, created.base_delay_ms), (4, 1500));
        assert_eq!(store.list_webhooks().await.unwrap(), vec![created.clone()]);

        let raw: (String, String) =
            sqlx::query_as("SELECT secret_sealed, auth_sealed FROM webhooks")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(!raw.0.contains("hmac-s3cret") && !raw.1.contains("tok-123"));
        let listed = serde_json::to_string(&store.list_webhooks().await.unwrap()).unwrap();
        assert!(!listed.contains("hmac-s3cret") && !listed.contains("sealed"));

        let WebhookSecrets { url, secret, auth } = store
            .webhook_secrets(&key, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(url, spec("x").url);
        assert_eq!(secret.as_deref(), Some("hmac-s3cret"));
        assert_eq!(
            auth.as_deref(),
            Some(r#"{"type":"bearer","token":"tok-123"}"#)
        );
        assert!(matches!(
            store
                .webhook_secrets(&MasterKey::generate(), &created.id)
                .await,
            Err(StoreError::Sealed(_))
        ));

        // Keep the secret, drop the credential, change the rest.
        let mut changed = spec("slack-soc-2");
        changed.enabled = false;
        changed.template = None;
        let updated = store
            .update_webhook(
                &key,
                &created.id,
                &changed,
                SecretChange::Keep,
                SecretChange::Clear,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.name, "slack-soc-2");
        assert!(!updated.enabled && updated.template.is_none());
        assert!(updated.has_secret && !updated.has_auth);
        let WebhookSecrets { secret, auth, .. } = store
            .webhook_secrets(&key, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((secret.as_deref(), auth), (Some("hmac-s3cret"), None));
        store
            .update_webhook(
                &key,
                &created.id,
                &changed,
                SecretChange::Set("new".into()),
                SecretChange::Keep,
            )
            .await
            .unwrap();
        let secrets = store
            .webhook_secrets(&key, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(secrets.secret.as_deref(), Some("new"));
        assert!(
            store
                .update_webhook(
                    &key,
                    "nope",
                    &changed,
                    SecretChange::Keep,
                    SecretChange::Keep
                )
                .await
                .unwrap()
                .is_none()
        );

        let other = store
            .create_webhook(&key, &spec("other"), None, None)
            .await
            .unwrap();
        assert!(!other.has_secret && !other.has_auth);
        let clash = store
            .update_webhook(
                &key,
                &other.id,
                &changed,
                SecretChange::Keep,
                SecretChange::Keep,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(clash, StoreError::Conflict(ref m) if m.contains("slack-soc-2")),
            "{clash}"
        );
        let dup = store
            .create_webhook(&key, &spec("other"), None, None)
            .await
            .unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");
    }
}

/// The webhook's URL is a credential: sealed at rest (in the row, bound to it), listed
/// masked, opened only for delivery, sealed anew when replaced.
#[tokio::test]
async fn webhook_urls_are_sealed_and_listed_masked() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let created = store
            .create_webhook(&key, &spec("slack"), None, None)
            .await
            .unwrap();
        assert_eq!(created.url, "https://hooks.slack.com/services/***");
        assert_eq!(store.list_webhooks().await.unwrap()[0].url, created.url);
        let (shown, sealed): (String, String) =
            sqlx::query_as("SELECT url, url_sealed FROM webhooks")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(shown, created.url, "{}", db.name());
        assert!(!sealed.contains("s3cret") && sealed.starts_with("v1:"));
        let secrets = store.webhook_secrets(&key, &created.id).await.unwrap();
        assert_eq!(secrets.unwrap().url, spec("x").url);
        let debug = format!("{:?}", store.webhook_secrets(&key, &created.id).await);
        assert!(!debug.contains("s3cret"), "{debug}");

        let mut moved = spec("slack");
        moved.url = "https://u:pw@teams.example:8443/webhookb2/NEW-s3cret?sig=x".into();
        let updated = store
            .update_webhook(
                &key,
                &created.id,
                &moved,
                SecretChange::Keep,
                SecretChange::Keep,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.url, "https://teams.example:8443/webhookb2/***");
        let secrets = store.webhook_secrets(&key, &created.id).await.unwrap();
        assert_eq!(secrets.unwrap().url, moved.url);
        let raw: String = sqlx::query_scalar("SELECT url_sealed FROM webhooks")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(!raw.contains("NEW-s3cret") && !raw.contains("pw"));
    }
}

/// Rows a version before sealed URLs stored (the URL in clear, `url_sealed` NULL after
/// migration 12) are delivered from until sealed, then sealed once, on both backends.
#[tokio::test]
async fn webhook_urls_stored_in_clear_are_sealed_at_start() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let url = "https://hooks.slack.com/services/T1/B1/old-s3cret";
        insert_webhook_in_clear(store, "old", url).await;
        let before = store.webhook_secrets(&key, "old").await.unwrap().unwrap();
        assert_eq!(before.url, url, "{}", db.name());

        assert_eq!(store.seal_webhook_urls(&key).await.unwrap(), 1);
        assert_eq!(store.seal_webhook_urls(&key).await.unwrap(), 0);
        let listed = store.get_webhook("old").await.unwrap().unwrap();
        assert_eq!(listed.url, "https://hooks.slack.com/services/***");
        let after = store.webhook_secrets(&key, "old").await.unwrap().unwrap();
        assert_eq!(after.url, url);
        let dump: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT url, url_sealed FROM webhooks")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert!(!format!("{dump:?}").contains("old-s3cret"), "{dump:?}");
        // Sealed with the master key: another key cannot open it.
        assert!(matches!(
            store.webhook_secrets(&MasterKey::generate(), "old").await,
            Err(StoreError::Sealed(_))
        ));
    }
}

fn attempt(
    target: &str,
    delivery: &str,
    n: u32,
    ok: bool,
    at: chrono::DateTime<Utc>,
) -> DeliveryAttempt {
    DeliveryAttempt {
        id: delivery_id(),
        target_id: target.into(),
        delivery_id: delivery.into(),
        event: "processing_with_alarms".into(),
        attempt: n,
        status_code: Some(if ok { 200 } else { 503 }),
        ok,
        error: (!ok).then(|| "HTTP 503".to_string()),
        response_excerpt: Some("busy".into()),
        created_at: at,
    }
}

#[tokio::test]
async fn delivery_log_lists_newest_first_and_goes_with_its_webhook() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let hook = store
            .create_webhook(&key, &spec("h"), None, None)
            .await
            .unwrap();
        let t0 = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let first = attempt(&hook.id, "d1", 1, false, t0);
        let second = attempt(&hook.id, "d1", 2, true, t0 + Span::seconds(2));
        for a in [&first, &second] {
            store
                .record_delivery(DeliveryTarget::Webhook, a)
                .await
                .unwrap();
        }
        // Same id under the other kind: not mixed in.
        store
            .record_delivery(
                DeliveryTarget::SiemExport,
                &attempt(&hook.id, "d2", 1, true, t0),
            )
            .await
            .unwrap();
        let log = store
            .list_deliveries(DeliveryTarget::Webhook, &hook.id, 10)
            .await
            .unwrap();
        assert_eq!(log, vec![second.clone(), first.clone()], "{}", db.name());
        assert_eq!(
            store
                .list_deliveries(DeliveryTarget::Webhook, &hook.id, 1)
                .await
                .unwrap(),
            vec![second]
        );

        assert!(store.delete_webhook(&hook.id).await.unwrap());
        assert!(!store.delete_webhook(&hook.id).await.unwrap());
        assert!(
            store
                .list_deliveries(DeliveryTarget::Webhook, &hook.id, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .list_deliveries(DeliveryTarget::SiemExport, &hook.id, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn siem_export_round_trips_with_its_credential_sealed() {
    for db in both().await {
        let store = db.store();
        let key = MasterKey::generate();
        let spec = SiemExportSpec {
            name: "splunk".into(),
            kind: "splunk_hec".into(),
            url: "https://splunk.example:8088".into(),
            events: vec![NotificationEvent::ProcessingComplete],
            settings: json!({"index": "security", "batch_size": 50}),
            max_attempts: 3,
            base_delay_ms: 100,
            enabled: true,
        };
        let created = store
            .create_siem_export(&key, &spec, Some(r#"{"type":"splunk","token":"hec-tok"}"#))
            .await
            .unwrap();
        assert!(created.has_auth, "{}", db.name());
        assert_eq!(
            store.list_siem_exports().await.unwrap(),
            vec![created.clone()]
        );
        assert_eq!(
            store.get_siem_export(&created.id).await.unwrap(),
            Some(created.clone())
        );
        let raw: String = sqlx::query_scalar("SELECT auth_sealed FROM siem_exports")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(!raw.contains("hec-tok"));
        assert_eq!(
            store.siem_export_auth(&key, &created.id).await.unwrap(),
            Some(Some(r#"{"type":"splunk","token":"hec-tok"}"#.to_string()))
        );
        // Replace: the credential is kept unless changed; the name stays unique.
        let mut changed = spec.clone();
        changed.name = "splunk-2".into();
        changed.enabled = false;
        let updated = store
            .update_siem_export(&key, &created.id, &changed, SecretChange::Keep)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (updated.name.as_str(), updated.enabled, updated.has_auth),
            ("splunk-2", false, true),
            "{}",
            db.name()
        );
        assert_eq!(
            store.siem_export_auth(&key, &created.id).await.unwrap(),
            Some(Some(r#"{"type":"splunk","token":"hec-tok"}"#.to_string()))
        );
        let cleared = store
            .update_siem_export(&key, &created.id, &changed, SecretChange::Clear)
            .await
            .unwrap()
            .unwrap();
        assert!(!cleared.has_auth);
        store.create_siem_export(&key, &spec, None).await.unwrap();
        assert!(matches!(
            store
                .update_siem_export(&key, &created.id, &spec, SecretChange::Keep)
                .await,
            Err(riposte_store::StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .update_siem_export(&key, "nope", &spec, SecretChange::Keep)
                .await
                .unwrap(),
            None
        );
        assert!(store.delete_siem_export(&created.id).await.unwrap());
        assert_eq!(
            store.siem_export_auth(&key, &created.id).await.unwrap(),
            None
        );
    }
}

/// Found by the API property test on SQLite: a webhook replaced while a worker wrote
/// answered 500 "database is locked". A transaction that reads before it writes failed at
/// once (no busy wait) when another connection had written in between; transactions now
/// take the write lock when they begin. Replacements and other writes running together
/// all succeed, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_webhooks_while_others_write_never_fails() {
    for db in both().await {
        let store = db.store().clone();
        let key = MasterKey::generate();
        let hook = store
            .create_webhook(&key, &spec("busy"), Some("s"), None)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..4 {
            let (store, key, id) = (store.clone(), key.clone(), hook.id.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..40 {
                    let mut changed = spec("busy");
                    changed.max_attempts = (t * 40 + n) % 10 + 1;
                    store
                        .update_webhook(&key, &id, &changed, SecretChange::Keep, SecretChange::Keep)
                        .await
                        .map(|_| ())?;
                }
                Ok::<(), StoreError>(())
            }));
        }
        for _ in 0..2 {
            let (store, id) = (store.clone(), hook.id.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..80 {
                    let at = Utc::now();
                    store
                        .record_delivery(DeliveryTarget::Webhook, &attempt(&id, "d", n, true, at))
                        .await?;
                }
                Ok(())
            }));
        }
        for task in tasks {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", db.name()));
        }
    }
}
