//! Rule evaluation over 100,000 alerts against 25 rules (a realistic rule book: per-source
//! rules with severity floors, finding-type and title patterns, tag filters, and a few
//! disabled ones). Measures both the full evaluation (a reason for every rule, as recorded
//! on each alert) and the match-only path.
//!
//! `cargo bench -p riposte-rules --bench evaluate`

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_model::{
    Alert, AlertId, AlertSource, DetectionRule, Observables, RuleId, RuleSpec, Severity, Target,
};
use riposte_rules::{AlertOrigin, RuleSet};
use std::hint::black_box;
use std::time::Duration;

const ALERTS: usize = 100_000;

const FINDING_TYPES: [&str; 10] = [
    "Backdoor:EC2/C&CActivity.B!DNS",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "Recon:EC2/PortProbeUnprotectedPort",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "Trojan:EC2/DNSDataExfiltration",
    "Impact:EC2/PortSweep",
    "OutgoingConnectionEvent",
    "SuspiciousFileEvent",
    "CredentialAccess",
    "Execution",
];

const SOURCES: [AlertSource; 6] = [
    AlertSource::GuardDuty,
    AlertSource::CrowdStrike,
    AlertSource::Defender,
    AlertSource::SentinelOne,
    AlertSource::Secdo,
    AlertSource::Generic,
];

fn alerts() -> Vec<Alert> {
    (0..ALERTS)
        .map(|i| {
            let mut target = Target {
                instance_id: Some(format!("i-{:017x}", i)),
                region: Some("us-east-1".into()),
                ..Default::default()
            };
            target
                .tags
                .insert("env".into(), if i % 3 == 0 { "prod" } else { "dev" }.into());
            Alert {
                id: AlertId::new(),
                source: SOURCES[i % SOURCES.len()],
                vendor: "vendor".into(),
                product: "product".into(),
                vendor_event_id: Some(i.to_string()),
                title: format!("Alert {i}: {} on host-{}", FINDING_TYPES[i % 10], i % 500),
                description: String::new(),
                severity: Severity::ALL[i % 5],
                finding_type: FINDING_TYPES[(i / 7) % 10].into(),
                time: Utc::now(),
                first_seen: None,
                last_seen: None,
                received_at: Utc::now(),
                target,
                observables: Observables::default(),
                raw: serde_json::Value::Null,
            }
        })
        .collect()
}

fn rules() -> Vec<DetectionRule> {
    let mut rules = Vec::new();
    for i in 0..25 {
        let source = ["guardduty", "crowdstrike", "defender", "any", "secdo"][i % 5];
        let min_severity = ["low", "medium", "high", "critical"][i % 4];
        let word = ["Backdoor", "Crypto", "Trojan", "Event", "Access"][i % 5];
        let tags = if i % 2 == 0 {
            serde_json::json!({"env": "prod"})
        } else {
            serde_json::json!({})
        };
        let spec: RuleSpec = serde_json::from_value(serde_json::json!({
            "name": format!("rule-{i}"),
            "source": source,
            "priority": i as i32,
            "filters": {
                "min_severity": min_severity,
                "finding_types": [format!("*{word}*"), "Impact:EC2/*"],
                "titles": [format!("*host-{}*", i * 7)],
                "tags": tags,
            }
        }))
        .expect("valid rule");
        rules.push(DetectionRule {
            id: RuleId::new(),
            version: 1,
            enabled: i % 6 != 5,
            spec,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        });
    }
    rules
}

fn bench(c: &mut Criterion) {
    let alerts = alerts();
    let set = RuleSet::new(rules());
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(alerts.len() as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("evaluate_with_reasons_100k_alerts_25_rules", |b| {
        b.iter(|| {
            let mut matched = 0usize;
            for a in &alerts {
                matched += set
                    .evaluate(a, AlertOrigin::default())
                    .iter()
                    .filter(|m| m.outcome == riposte_model::RuleOutcome::Matched)
                    .count();
            }
            black_box(matched)
        })
    });
    group.bench_function("match_only_100k_alerts_25_rules", |b| {
        b.iter(|| {
            let mut matched = 0usize;
            for a in &alerts {
                matched += set.matching(a, AlertOrigin::default()).len();
            }
            black_box(matched)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
