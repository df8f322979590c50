//! Response action records against SQLite and a real Postgres: stored as executed, listed
//! per investigation, released once, and written to the audit trail.

use chrono::Utc;
use riposte_model::*;
use riposte_store::Store;
use riposte_store::testing::both;

fn investigation() -> Investigation {
    Investigation {
        id: InvestigationId::new(),
        title: "i-0abc".into(),
        status: InvestigationStatus::Pending,
        target: Target::default(),
        host: "i-0abc".into(),
        alert_ids: vec![],
        verdict: None,
        error: None,
        project_id: None,
        plan: None,
        acquisition: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn isolated_sg(instance: &str) -> ActionRecord {
    let mut target = Ec2Target::new(instance, "eu-west-1");
    target.account_id = Some("111122223333".into());
    target.role_name = Some("RiposteResponder".into());
    let mut record = ActionRecord::new(ResponseAction::IsolateSecurityGroup, target, false)
        .requested_by("cli:alice");
    record.summary = "isolated".into();
    record.change = Some(ActionChange::IsolateSecurityGroup {
        vpc_id: "vpc-1".into(),
        original_group_ids: vec!["sg-b".into(), "sg-a".into()],
        isolation_group_id: Some("sg-iso".into()),
        isolation_group_name: format!("riposte-isolation-{instance}"),
        groups_replaced: true,
    });
    record
}

#[tokio::test]
async fn records_round_trip_with_their_change_and_error() {
    for db in both().await {
        let store = db.store();
        let done = isolated_sg("i-0abc");
        store.insert_action_record(&done).await.unwrap();
        assert_eq!(
            store.action_record(done.id).await.unwrap().as_ref(),
            Some(&done),
            "{}",
            db.name()
        );

        let mut failed = ActionRecord::new(
            ResponseAction::StopInstance,
            Ec2Target::new("i-0missing", "us-east-1"),
            false,
        );
        failed.fail(ActionError {
            code: Some("InvalidInstanceID.NotFound".into()),
            message: "The instance ID 'i-0missing' does not exist".into(),
        });
        store.insert_action_record(&failed).await.unwrap();
        let back = store.action_record(failed.id).await.unwrap().unwrap();
        assert_eq!(back, failed, "{}", db.name());
        assert_eq!(back.status, ActionStatus::Failed);
        assert_eq!(back.change, None);

        let dry = ActionRecord::new(
            ResponseAction::IsolateRole,
            Ec2Target::new("i-0abc", "eu-west-1"),
            true,
        );
        store.insert_action_record(&dry).await.unwrap();
        let back = store.action_record(dry.id).await.unwrap().unwrap();
        assert!(back.dry_run);
        assert_eq!(back.status, ActionStatus::DryRun);

        assert_eq!(store.action_record(ActionId::new()).await.unwrap(), None);
    }
}

#[tokio::test]
async fn records_list_newest_first_and_by_investigation() {
    for db in both().await {
        let store = db.store();
        let inv = investigation();
        let mut conn = store.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &inv).await.unwrap();
        drop(conn);

        let mut manual = isolated_sg("i-0manual");
        manual.created_at -= chrono::Duration::seconds(10);
        store.insert_action_record(&manual).await.unwrap();
        let triggered = isolated_sg("i-0abc").for_investigation(inv.id);
        store.insert_action_record(&triggered).await.unwrap();

        let all: Vec<ActionId> = store
            .list_action_records(None, 10, 0)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(all, vec![triggered.id, manual.id], "{}", db.name());
        let page2 = store.list_action_records(None, 1, 1).await.unwrap();
        assert_eq!(page2.len(), 1);
        assert_eq!(page2[0].id, manual.id);

        let of_inv = store
            .list_action_records(Some(inv.id), 10, 0)
            .await
            .unwrap();
        assert_eq!(of_inv.len(), 1);
        assert_eq!(of_inv[0].investigation_id, Some(inv.id));

        let trail = store.audit_trail(inv.id).await.unwrap();
        assert!(
            trail
                .iter()
                .any(|e| e.action == "response.taken" && e.actor == "cli:alice"),
            "{}: {trail:?}",
            db.name()
        );
    }
}

#[tokio::test]
async fn only_a_succeeded_action_is_released_and_only_once() {
    for db in both().await {
        let store = db.store();
        let inv = investigation();
        let mut conn = store.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &inv).await.unwrap();
        drop(conn);
        let record = isolated_sg("i-0abc").for_investigation(inv.id);
        store.insert_action_record(&record).await.unwrap();

        store
            .note_release_failure(record.id, "UnauthorizedOperation: no")
            .await
            .unwrap();
        let kept = store.action_record(record.id).await.unwrap().unwrap();
        assert_eq!(kept.status, ActionStatus::Succeeded);
        assert_eq!(
            kept.release_note.as_deref(),
            Some("UnauthorizedOperation: no")
        );

        assert!(
            store
                .mark_action_released(record.id, "cli:bob", "groups restored")
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_action_released(record.id, "cli:bob", "again")
                .await
                .unwrap(),
            "{}: a released action is not released twice",
            db.name()
        );
        let back = store.action_record(record.id).await.unwrap().unwrap();
        assert_eq!(back.status, ActionStatus::Released);
        assert_eq!(back.released_by.as_deref(), Some("cli:bob"));
        assert_eq!(back.release_note.as_deref(), Some("groups restored"));
        assert!(back.released_at.is_some());
        let trail = store.audit_trail(inv.id).await.unwrap();
        assert!(trail.iter().any(|e| e.action == "response.released"));

        let dry = ActionRecord::new(
            ResponseAction::StopInstance,
            Ec2Target::new("i-0abc", "eu-west-1"),
            true,
        );
        store.insert_action_record(&dry).await.unwrap();
        assert!(
            !store
                .mark_action_released(dry.id, "cli:bob", "x")
                .await
                .unwrap(),
            "a dry run changed nothing and is never released"
        );
    }
}

#[tokio::test]
async fn a_pending_record_is_completed_once_with_its_result_and_audited() {
    for db in both().await {
        let store = db.store();
        let inv = investigation();
        let mut conn = store.pool().acquire().await.unwrap();
        Store::create_investigation(&mut conn, &inv).await.unwrap();
        drop(conn);
        let host = XdrHost {
            vendor: "crowdstrike".into(),
            host_id: "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d".into(),
            connection_id: "conn-1".into(),
        };
        let mut record = ActionRecord::new(ResponseAction::ContainHost, host.clone(), false)
            .for_investigation(inv.id)
            .requested_by("rule:contain-falcon");
        record.status = ActionStatus::Pending;
        record.summary = "contain_host requested".into();
        store.insert_action_record(&record).await.unwrap();
        let back = store.action_record(record.id).await.unwrap().unwrap();
        assert_eq!(back, record, "{}", db.name());

        record.status = ActionStatus::Failed;
        record.fail(ActionError {
            code: Some("403".into()),
            message: "the API client lacks Hosts: Write".into(),
        });
        record.change = Some(ActionChange::ContainHost {
            vendor: "crowdstrike".into(),
            host_id: host.host_id.clone(),
            previous_state: Some("normal".into()),
            vendor_action_id: None,
            contained: false,
        });
        assert!(store.complete_action_record(&record).await.unwrap());
        assert!(
            !store.complete_action_record(&record).await.unwrap(),
            "{}: only a pending record is completed",
            db.name()
        );
        let back = store.action_record(record.id).await.unwrap().unwrap();
        assert_eq!(back, record, "{}", db.name());
        assert_eq!(back.target, ActionTarget::Xdr(host));

        let trail = store.audit_trail(inv.id).await.unwrap();
        let trail: Vec<_> = trail
            .iter()
            .filter(|e| e.action.starts_with("response."))
            .collect();
        let actions: Vec<(&str, &str)> = trail
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("response.requested", "rule:contain-falcon"),
                ("response.failed", "rule:contain-falcon")
            ],
            "{}",
            db.name()
        );
        let failed: serde_json::Value = serde_json::from_str(&trail[1].detail).unwrap();
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["host_id"], "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d");
        assert_eq!(failed["error"]["code"], "403");
    }
}
