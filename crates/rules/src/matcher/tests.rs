use super::*;
use chrono::Utc;
use riposte_model::{
    AlertId, AlertSource, Observables, RuleFilters, RuleId, RuleSource, RuleSpec, Severity,
};

fn alert(source: AlertSource, severity: Severity, finding_type: &str, title: &str) -> Alert {
    Alert {
        id: AlertId::new(),
        source,
        vendor: "v".into(),
        product: "p".into(),
        vendor_event_id: None,
        title: title.into(),
        description: String::new(),
        severity,
        finding_type: finding_type.into(),
        time: Utc::now(),
        first_seen: None,
        last_seen: None,
        received_at: Utc::now(),
        target: Target::default(),
        observables: Observables::default(),
        raw: serde_json::Value::Null,
    }
}

fn rule(name: &str, source: RuleSource, filters: RuleFilters, priority: i32) -> DetectionRule {
    let spec: RuleSpec =
        serde_json::from_value(serde_json::json!({"name": name, "source": "any"})).unwrap();
    DetectionRule {
        id: RuleId::new(),
        version: 1,
        enabled: true,
        spec: RuleSpec {
            source,
            filters,
            priority,
            ..spec
        },
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn every_filter_must_pass_and_the_first_failure_is_the_reason() {
    let filters = RuleFilters {
        min_severity: Some(Severity::Medium),
        finding_types: vec!["Backdoor:EC2/*".into(), "*CryptoCurrency*".into()],
        ..Default::default()
    };
    let set = RuleSet::new(vec![rule(
        "gd",
        RuleSource::Only(AlertSource::GuardDuty),
        filters,
        1,
    )]);
    let origin = AlertOrigin::default();

    let hit = alert(
        AlertSource::GuardDuty,
        Severity::High,
        "Backdoor:EC2/C&CActivity.B!DNS",
        "t",
    );
    let out = set.evaluate(&hit, origin);
    assert_eq!(out[0].outcome, RuleOutcome::Matched, "{}", out[0].reason);
    assert!(
        out[0].reason.contains("Backdoor:EC2/*"),
        "{}",
        out[0].reason
    );

    let low = alert(
        AlertSource::GuardDuty,
        Severity::Low,
        "Backdoor:EC2/C&CActivity.B!DNS",
        "t",
    );
    let out = set.evaluate(&low, origin);
    assert_eq!(out[0].outcome, RuleOutcome::NotMatched);
    assert!(
        out[0].reason.contains("below the rule's minimum medium"),
        "{}",
        out[0].reason
    );

    let other_type = alert(
        AlertSource::GuardDuty,
        Severity::High,
        "Recon:EC2/PortProbeUnprotectedPort",
        "t",
    );
    let out = set.evaluate(&other_type, origin);
    assert_eq!(out[0].outcome, RuleOutcome::NotMatched);
    assert!(
        out[0].reason.contains("Recon:EC2/PortProbeUnprotectedPort"),
        "{}",
        out[0].reason
    );

    let other_source = alert(AlertSource::Defender, Severity::High, "Backdoor:EC2/x", "t");
    let out = set.evaluate(&other_source, origin);
    assert_eq!(out[0].outcome, RuleOutcome::NotMatched);
    assert!(
        out[0].reason.contains("source is defender"),
        "{}",
        out[0].reason
    );
    assert!(set.matching(&other_source, origin).is_empty());
}

#[test]
fn disabled_rules_never_match_and_order_is_priority_then_name() {
    let mut off = rule("a-off", RuleSource::Any, RuleFilters::default(), 1);
    off.enabled = false;
    let late = rule("b-late", RuleSource::Any, RuleFilters::default(), 50);
    let early = rule("z-early", RuleSource::Any, RuleFilters::default(), 10);
    let set = RuleSet::new(vec![late, off, early]);
    let a = alert(AlertSource::Generic, Severity::Low, "", "x");
    let out = set.evaluate(&a, AlertOrigin::default());
    let names: Vec<&str> = out.iter().map(|m| m.rule.spec.name.as_str()).collect();
    assert_eq!(names, ["a-off", "z-early", "b-late"]);
    assert_eq!(out[0].outcome, RuleOutcome::Disabled);
    let matching: Vec<&str> = set
        .matching(&a, AlertOrigin::default())
        .iter()
        .map(|r| r.spec.name.as_str())
        .collect();
    assert_eq!(matching, ["z-early", "b-late"]);
}

#[test]
fn connection_bound_rules_take_only_that_connections_alerts() {
    let mut r = rule(
        "cs",
        RuleSource::Only(AlertSource::CrowdStrike),
        RuleFilters::default(),
        1,
    );
    r.spec.connection_id = Some("conn-1".into());
    let set = RuleSet::new(vec![r]);
    let a = alert(AlertSource::CrowdStrike, Severity::High, "", "x");
    let via = |id| AlertOrigin { connection_id: id };
    assert_eq!(
        set.evaluate(&a, via(Some("conn-1")))[0].outcome,
        RuleOutcome::Matched
    );
    let other = set.evaluate(&a, via(Some("conn-2")));
    assert_eq!(other[0].outcome, RuleOutcome::NotMatched);
    assert!(other[0].reason.contains("conn-2"));
    assert!(
        set.evaluate(&a, via(None))[0]
            .reason
            .contains("not pulled by a connection")
    );
}

#[test]
fn title_and_tag_filters() {
    let mut tags = std::collections::BTreeMap::new();
    tags.insert("env".to_string(), "prod".to_string());
    tags.insert("team".to_string(), "*".to_string());
    let filters = RuleFilters {
        titles: vec!["*ssh*".into()],
        tags,
        ..Default::default()
    };
    let set = RuleSet::new(vec![rule("t", RuleSource::Any, filters, 1)]);
    let mut a = alert(
        AlertSource::Generic,
        Severity::Low,
        "",
        "Brute-force SSH logins",
    );
    a.target.tags.insert("env".into(), "prod".into());
    let out = set.evaluate(&a, AlertOrigin::default());
    assert_eq!(out[0].outcome, RuleOutcome::NotMatched);
    assert_eq!(out[0].reason, "the target has no tag team");
    a.target.tags.insert("team".into(), "web".into());
    assert_eq!(
        set.evaluate(&a, AlertOrigin::default())[0].outcome,
        RuleOutcome::Matched
    );
    a.target.tags.insert("env".into(), "dev".into());
    assert!(
        set.evaluate(&a, AlertOrigin::default())[0]
            .reason
            .contains("\"dev\"")
    );
    a.target.tags.insert("env".into(), "prod".into());
    a.title = "Port scan".into();
    assert!(
        set.evaluate(&a, AlertOrigin::default())[0]
            .reason
            .contains("matches none of *ssh*")
    );
}

/// The hostile tester's rule: patterns valid one by one that together exceed the
/// matcher's size limit. Stored before validation compiled whole rules (or edited in the
/// database), it is skipped with the reason, and the other rules still decide.
#[test]
fn a_rule_that_cannot_compile_is_skipped_and_the_others_still_decide() {
    let huge = RuleFilters {
        titles: vec![format!("0000{}", "?".repeat(490)); 2000],
        ..Default::default()
    };
    let empty = RuleFilters {
        finding_types: vec!["".into()],
        ..Default::default()
    };
    let mut off = rule("bigpats-off", RuleSource::Any, huge.clone(), 1);
    off.enabled = false;
    let set = RuleSet::new(vec![
        rule("bigpats", RuleSource::Any, huge, 1),
        rule("empty", RuleSource::Any, empty, 2),
        off,
        rule("catch-all", RuleSource::Any, RuleFilters::default(), 3),
    ]);
    let invalid: Vec<&str> = set.invalid().map(|(r, _)| r.spec.name.as_str()).collect();
    assert_eq!(invalid, ["bigpats", "empty"]);
    let a = alert(AlertSource::Generic, Severity::Low, "", "x");
    let out = set.evaluate(&a, AlertOrigin::default());
    let got: Vec<(&str, RuleOutcome)> = out
        .iter()
        .map(|m| (m.rule.spec.name.as_str(), m.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("bigpats", RuleOutcome::Invalid),
            ("bigpats-off", RuleOutcome::Disabled),
            ("empty", RuleOutcome::Invalid),
            ("catch-all", RuleOutcome::Matched),
        ]
    );
    assert!(
        out[0].reason.contains("filters.titles"),
        "{}",
        out[0].reason
    );
    assert!(
        out[2].reason.contains("filters.finding_types[0]"),
        "{}",
        out[2].reason
    );
    let matching: Vec<&str> = set
        .matching(&a, AlertOrigin::default())
        .iter()
        .map(|r| r.spec.name.as_str())
        .collect();
    assert_eq!(matching, ["catch-all"]);
}
