use super::*;
use chrono::Utc;
use riposte_model::{EnvironmentId, LocalScope};

fn spec(json: serde_json::Value) -> RuleSpec {
    serde_json::from_value(json).unwrap()
}

fn env(name: &str, scopes: serde_json::Value) -> Environment {
    Environment {
        id: EnvironmentId::new(),
        name: name.into(),
        description: String::new(),
        scopes: serde_json::from_value(scopes).unwrap(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn fields(problems: &[FieldProblem]) -> Vec<&str> {
    problems.iter().map(|p| p.field.as_str()).collect()
}

#[test]
fn environment_problems_name_their_fields() {
    let bad: EnvironmentSpec = serde_json::from_value(serde_json::json!({
        "name": " x",
        "scopes": [
            {"kind": "aws", "accounts": ["12345", "123456789012"], "regions": ["us-east-1", "Mars"], "role_name": "a b"},
            {"kind": "ssh", "credential": "", "port": 0},
            {"kind": "local", "folder": "/etc"}
        ]
    }))
    .unwrap();
    let problems = validate_environment(&bad, &EvidenceRoots::default());
    assert_eq!(
        fields(&problems),
        [
            "name",
            "scopes[0].accounts[0]",
            "scopes[0].regions[1]",
            "scopes[0].role_name",
            "scopes[1].cidrs",
            "scopes[1].credential",
            "scopes[1].port",
            "scopes[2].folder"
        ]
    );
    assert!(problems[7].problem.contains("--evidence-library"));
    let empty: EnvironmentSpec =
        serde_json::from_value(serde_json::json!({"name": "e", "scopes": []})).unwrap();
    assert_eq!(
        fields(&validate_environment(&empty, &EvidenceRoots::default())),
        ["scopes"]
    );
}

#[test]
fn local_scopes_must_stay_inside_the_evidence_roots() {
    let root = tempfile::tempdir().unwrap();
    let inside = root.path().join("lib");
    std::fs::create_dir(&inside).unwrap();
    let roots = EvidenceRoots::new([root.path().to_path_buf()]);
    let with = |folder: String| EnvironmentSpec {
        name: "l".into(),
        description: String::new(),
        scopes: vec![Scope::Local(LocalScope { folder })],
    };
    assert!(validate_environment(&with(inside.display().to_string()), &roots).is_empty());
    let escape = format!("{}/lib/../..", root.path().display());
    let p = validate_environment(&with(escape), &roots);
    assert!(
        p[0].problem.contains("outside the server's evidence roots"),
        "{p:?}"
    );
    let p = validate_environment(&with("lib".into()), &roots);
    assert!(p[0].problem.contains("absolute"), "{p:?}");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc", inside.join("etc-link")).unwrap();
        let p = validate_environment(&with(inside.join("etc-link").display().to_string()), &roots);
        assert!(p[0].problem.contains("outside"), "{p:?}");
    }
}

#[test]
fn rules_need_an_existing_environment_and_actions_fit_the_target() {
    let aws = env("prod", serde_json::json!([{"kind": "aws"}]));
    let ssh = env(
        "dc",
        serde_json::json!([{"kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "k"}]),
    );
    let conns = vec![
        ConnectionInfo {
            id: "c1".into(),
            name: "falcon".into(),
            vendor: "crowdstrike".into(),
        },
        ConnectionInfo {
            id: "d1".into(),
            name: "mde".into(),
            vendor: "defender".into(),
        },
    ];
    let envs = vec![aws.clone(), ssh.clone()];

    let gd = spec(serde_json::json!({"name": "gd", "source": "guardduty",
        "actions": [{"action": "stop_instance", "on": "malicious"}]}));
    let p = validate_rule(&gd, &envs, &conns);
    assert_eq!(fields(&p), ["environment_id", "actions[0].action"]);
    assert!(p[0].problem.contains("missing"));

    let unknown_env = spec(
        serde_json::json!({"name": "gd", "source": "guardduty", "environment_id": EnvironmentId::new()}),
    );
    assert!(
        validate_rule(&unknown_env, &envs, &conns)[0]
            .problem
            .contains("no environment has id")
    );

    let ok = spec(
        serde_json::json!({"name": "gd", "source": "guardduty", "environment_id": aws.id,
        "actions": [{"action": "stop_instance", "on": "malicious"}, {"action": "isolate_role", "on": "suspicious"}]}),
    );
    assert!(validate_rule(&ok, &envs, &conns).is_empty());

    let wrong_kind = spec(
        serde_json::json!({"name": "x", "source": "any", "environment_id": ssh.id,
        "actions": [{"action": "isolate_security_group", "on": "malicious"}, {"action": "contain_host", "on": "malicious"}]}),
    );
    let p = validate_rule(&wrong_kind, &envs, &conns);
    assert_eq!(fields(&p), ["actions[0].action", "actions[1].action"]);
    assert!(
        p[0].problem.contains("environment dc has no AWS scope"),
        "{p:?}"
    );
    assert!(p[1].problem.contains("connection_id"), "{p:?}");

    let xdr = spec(
        serde_json::json!({"name": "cs", "source": "crowdstrike", "connection_id": "c1",
        "actions": [{"action": "contain_host", "on": "malicious"}, {"action": "contain_host", "on": "suspicious"}]}),
    );
    assert_eq!(
        fields(&validate_rule(&xdr, &envs, &conns)),
        ["actions[1].action"]
    );
    let mismatched =
        spec(serde_json::json!({"name": "cs", "source": "crowdstrike", "connection_id": "d1"}));
    assert!(
        validate_rule(&mismatched, &envs, &conns)[0]
            .problem
            .contains("defender connection")
    );
    let gd_conn =
        spec(serde_json::json!({"name": "g", "source": "generic", "connection_id": "c1"}));
    assert_eq!(
        fields(&validate_rule(&gd_conn, &envs, &conns)),
        ["connection_id"]
    );

    let misc = spec(
        serde_json::json!({"name": "m", "source": "any", "join_window_minutes": 20000,
        "filters": {"titles": [""]}, "notifications": [{"webhook": "slack", "events": []}]}),
    );
    assert_eq!(
        fields(&validate_rule(&misc, &envs, &conns)),
        [
            "filters.titles[0]",
            "notifications[0].events",
            "join_window_minutes"
        ]
    );
}

/// A rule is validated as triage compiles it: patterns valid one by one but too large
/// together are refused on the list's field, and what validation accepts compiles.
#[test]
fn rules_are_validated_as_triage_compiles_them() {
    let one = format!("0000{}", "?".repeat(490));
    let big = spec(serde_json::json!({"name": "bigpats", "source": "any",
        "filters": {"titles": vec![one.clone(); 2000]}}));
    let problems = validate_rule(&big, &[], &[]);
    assert_eq!(fields(&problems), ["filters.titles"], "{problems:?}");
    assert!(problems[0].problem.contains("size limit"), "{problems:?}");

    let fine = spec(serde_json::json!({"name": "fine", "source": "any",
        "filters": {"titles": vec![one; 3], "finding_types": ["Backdoor:*"]}}));
    assert!(validate_rule(&fine, &[], &[]).is_empty());
    let rule = riposte_model::DetectionRule {
        id: riposte_model::RuleId::new(),
        version: 1,
        enabled: true,
        spec: fine,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    assert_eq!(crate::RuleSet::new(vec![rule]).invalid().count(), 0);
}

#[test]
fn paths_outside_the_roots_get_one_answer_whether_they_exist_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("library");
    std::fs::create_dir_all(root.join("web01")).unwrap();
    std::fs::write(dir.path().join("secret"), "x").unwrap();
    let roots = EvidenceRoots::new([root.clone()]);
    let message = |path: &std::path::Path| {
        let text = path.display().to_string();
        roots
            .check(&text)
            .unwrap_err()
            .replace(&format!("{text:?}"), "PATH")
    };
    let existing = message(&dir.path().join("secret"));
    let missing = message(&dir.path().join("no-such-file"));
    let escaping = message(&root.join("../secret"));
    assert!(
        existing.contains("outside the server's evidence roots"),
        "{existing}"
    );
    assert_eq!(existing, missing);
    assert_eq!(existing, escaping);
    for system in ["/etc/shadow", "/etc/no-such-file"] {
        assert!(
            roots
                .check(system)
                .unwrap_err()
                .contains("outside the server's evidence roots"),
            "{system}"
        );
    }
    // A link inside the library that leads out is refused the same way.
    std::os::unix::fs::symlink(dir.path(), root.join("escape")).unwrap();
    let linked = message(&root.join("escape"));
    assert_eq!(linked, existing);
    assert!(
        roots
            .check(&root.join("web01").display().to_string())
            .is_ok()
    );
}
