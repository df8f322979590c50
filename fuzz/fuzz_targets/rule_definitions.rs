//! Any bytes as an environment or a rule definition (what `POST /api/v1/environments` and
//! `/api/v1/rules` accept): parsing, validation, compiling the rule's patterns, and
//! evaluating and resolving a fixed alert against it must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_model::{
    Alert, AlertId, AlertSource, DetectionRule, Environment, EnvironmentId, EnvironmentSpec,
    Observables, RuleId, RuleSpec, Severity, Target,
};
use riposte_rules::{AlertOrigin, EvidenceRoots, RuleSet, resolve_target, validate_environment, validate_rule};

fn alert() -> Alert {
    let now = chrono::Utc::now();
    Alert {
        id: AlertId::new(),
        source: AlertSource::GuardDuty,
        vendor: "Amazon".into(),
        product: "GuardDuty".into(),
        vendor_event_id: Some("1".into()),
        title: "Backdoor on i-0123456789abcdef0".into(),
        description: String::new(),
        severity: Severity::High,
        finding_type: "Backdoor:EC2/C&CActivity.B!DNS".into(),
        time: now,
        first_seen: None,
        last_seen: None,
        received_at: now,
        target: Target {
            instance_id: Some("i-0123456789abcdef0".into()),
            hostname: Some("web-01.corp.example".into()),
            ips: vec!["10.1.2.3".parse().unwrap()],
            account_id: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            ..Default::default()
        },
        observables: Observables::default(),
        raw: serde_json::Value::Null,
    }
}

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc::now();
    if let Ok(spec) = serde_json::from_slice::<EnvironmentSpec>(data) {
        // No evidence roots: local scopes are refused without touching the disk.
        let problems = validate_environment(&spec, &EvidenceRoots::default());
        let local = spec.scopes.iter().any(|s| s.kind() == "local");
        if problems.is_empty() && !local {
            let env = Environment {
                id: EnvironmentId::new(),
                name: spec.name,
                description: spec.description,
                scopes: spec.scopes,
                created_at: now,
                updated_at: now,
            };
            let _ = resolve_target(&alert().target, &[&env]);
        }
    }
    if let Ok(spec) = serde_json::from_slice::<RuleSpec>(data) {
        let _ = validate_rule(&spec, &[], &[]);
        let rule = DetectionRule { id: RuleId::new(), version: 1, enabled: true, spec, created_at: now, updated_at: now };
        // A rule that cannot be compiled is listed as invalid, never evaluated.
        let set = RuleSet::new(vec![rule]);
        std::hint::black_box(set.invalid().count());
        std::hint::black_box(set.evaluate(&alert(), AlertOrigin::default()).into_iter().count());
    }
});
