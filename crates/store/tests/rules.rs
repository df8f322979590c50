//! Environments, versioned rules, projects and the "join an open investigation" lookup,
//! against SQLite and a real Postgres.

use chrono::{Duration as Span, Utc};
use riposte_model::{
    Acquisition, EnvironmentId, EnvironmentSpec, Investigation, InvestigationId, InvestigationPlan,
    InvestigationStatus, InvestigationType, RuleId, RuleRef, RuleSpec, ScopeMatch, Target,
};
use riposte_store::testing::both;
use riposte_store::{Store, StoreError};

fn env_spec(name: &str) -> EnvironmentSpec {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "scopes": [{"kind": "aws", "accounts": ["123456789012"], "regions": ["us-east-1"], "tags": {"env": "prod"}}]
    }))
    .unwrap()
}

fn rule_spec(name: &str, investigation_type: &str) -> RuleSpec {
    serde_json::from_value(serde_json::json!({
        "name": name, "source": "guardduty", "environment_id": EnvironmentId::new(),
        "investigation_type": investigation_type,
        "filters": {"min_severity": "medium", "finding_types": ["Backdoor:EC2/*"]}
    }))
    .unwrap()
}

fn investigation(
    key_instance: &str,
    created: chrono::DateTime<Utc>,
    rule: Option<RuleRef>,
) -> Investigation {
    Investigation {
        id: InvestigationId::new(),
        title: "t".into(),
        status: InvestigationStatus::Collecting,
        target: Target::default(),
        host: key_instance.into(),
        alert_ids: vec![],
        verdict: None,
        error: None,
        project_id: None,
        plan: Some(InvestigationPlan {
            rule,
            scope: ScopeMatch {
                environment_id: EnvironmentId::new(),
                environment: "prod".into(),
                scope_index: 0,
                acquisition: Acquisition::Ec2 {
                    account_id: Some("123456789012".into()),
                    region: "us-east-1".into(),
                    instance_id: key_instance.into(),
                    role_name: None,
                },
                matched_on: "instance".into(),
            },
            investigation_type: InvestigationType::Triage,
            retain_snapshots: false,
            attach_alert_context: true,
            actions: vec![],
            notifications: vec![],
            connection_id: None,
            detections: Default::default(),
        }),
        acquisition: None,
        created_at: created,
        updated_at: created,
    }
}

#[tokio::test]
async fn environments_round_trip_and_names_are_unique() {
    for db in both().await {
        let store = db.store();
        let env = store.create_environment(&env_spec("prod")).await.unwrap();
        let back = store.get_environment(env.id).await.unwrap().unwrap();
        assert_eq!(back, env, "{}", db.name());
        match store.create_environment(&env_spec("prod")).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("prod")),
            other => panic!("{}: {other:?}", db.name()),
        }
        store.create_environment(&env_spec("dev")).await.unwrap();
        let mut spec = env_spec("production");
        spec.description = "renamed".into();
        let updated = store
            .update_environment(env.id, &spec)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.name, "production");
        assert_eq!(updated.description, "renamed");
        assert!(matches!(
            store.update_environment(env.id, &env_spec("dev")).await,
            Err(StoreError::Conflict(_))
        ));
        let names: Vec<String> = store
            .list_environments()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["dev", "production"]);
        assert!(
            store
                .update_environment(EnvironmentId::new(), &spec)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.delete_environment(env.id).await.unwrap());
        assert!(!store.delete_environment(env.id).await.unwrap());
        assert!(store.get_environment(env.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn every_rule_edit_is_a_new_version_and_versions_outlive_the_rule() {
    for db in both().await {
        let store = db.store();
        let rule = store
            .create_rule(&rule_spec("gd", "triage"), true, "alice")
            .await
            .unwrap();
        assert_eq!(rule.version, 1);
        let v2 = store
            .update_rule(rule.id, &rule_spec("gd", "full"), "bob")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v2.version, 2, "{}", db.name());
        assert_eq!(v2.spec.investigation_type, InvestigationType::Full);
        // Enabling and disabling is state, not a new version.
        let off = store
            .set_rule_enabled(rule.id, false)
            .await
            .unwrap()
            .unwrap();
        assert!(!off.enabled);
        assert_eq!(off.version, 2);
        let versions = store.rule_versions(rule.id).await.unwrap();
        let summary: Vec<(u32, InvestigationType, &str)> = versions
            .iter()
            .map(|v| (v.version, v.spec.investigation_type, v.created_by.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, InvestigationType::Triage, "alice"),
                (2, InvestigationType::Full, "bob")
            ]
        );
        assert!(matches!(
            store
                .create_rule(&rule_spec("gd", "triage"), true, "x")
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            store
                .update_rule(RuleId::new(), &rule_spec("zz", "triage"), "x")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .set_rule_enabled(RuleId::new(), true)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.delete_rule(rule.id).await.unwrap());
        assert!(store.get_rule(rule.id).await.unwrap().is_none());
        assert_eq!(store.rule_versions(rule.id).await.unwrap().len(), 2);
        assert!(store.list_rules().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn alerts_join_only_recent_unfailed_investigations_on_the_same_target() {
    for db in both().await {
        let store = db.store();
        let now = Utc::now();
        let rule = RuleRef {
            id: RuleId::new(),
            name: "gd".into(),
            version: 3,
        };
        let recent = investigation("i-11111111", now - Span::minutes(10), Some(rule.clone()));
        let old = investigation("i-22222222", now - Span::minutes(90), None);
        let failed = investigation("i-33333333", now - Span::minutes(5), None);
        let mut tx = store.begin().await.unwrap();
        for inv in [&recent, &old, &failed] {
            Store::create_investigation(&mut tx, inv).await.unwrap();
        }
        Store::set_investigation_status(&mut tx, failed.id, InvestigationStatus::Failed, Some("x"))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let since = now - Span::minutes(60);
        let key = |inv: &Investigation| inv.plan.as_ref().unwrap().scope.acquisition.target_key();
        let mut tx = store.begin().await.unwrap();
        Store::lock_target(&mut tx, &key(&recent)).await.unwrap();
        Store::lock_target(&mut tx, &key(&recent)).await.unwrap();
        assert_eq!(
            Store::joinable_investigation(&mut tx, &key(&recent), since)
                .await
                .unwrap(),
            Some(recent.id),
            "{}",
            db.name()
        );
        assert_eq!(
            Store::joinable_investigation(&mut tx, &key(&old), since)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            Store::joinable_investigation(&mut tx, &key(&failed), since)
                .await
                .unwrap(),
            None
        );
        tx.commit().await.unwrap();

        let back = store.get_investigation(recent.id).await.unwrap().unwrap();
        assert_eq!(back.plan, recent.plan);
        assert_eq!(back.plan.unwrap().rule.unwrap().version, 3);
        let (id, version): (String, i64) =
            sqlx::query_as("SELECT rule_id, rule_version FROM investigations WHERE id = $1")
                .bind(recent.id.to_string())
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!((id, version), (rule.id.to_string(), 3));
    }
}

#[tokio::test]
async fn projects_list_their_investigations() {
    for db in both().await {
        let store = db.store();
        let project = store
            .create_project("Sunday hunt", "weekly", "apikey:lambda")
            .await
            .unwrap();
        assert_eq!(
            store.get_project(project.id).await.unwrap().unwrap(),
            project
        );
        let mut inv = investigation("i-44444444", Utc::now(), None);
        inv.project_id = Some(project.id);
        let other = investigation("i-55555555", Utc::now(), None);
        let mut tx = store.begin().await.unwrap();
        Store::create_investigation(&mut tx, &inv).await.unwrap();
        Store::create_investigation(&mut tx, &other).await.unwrap();
        tx.commit().await.unwrap();
        let listed = store.project_investigations(project.id).await.unwrap();
        assert_eq!(listed.len(), 1, "{}", db.name());
        assert_eq!(listed[0].id, inv.id);
        assert_eq!(listed[0].project_id, Some(project.id));
        assert_eq!(
            store
                .get_investigation(inv.id)
                .await
                .unwrap()
                .unwrap()
                .project_id,
            Some(project.id)
        );
        assert_eq!(store.list_projects(10, 0).await.unwrap(), vec![project]);
    }
}
