use super::*;
use chrono::Utc;
use riposte_model::{AwsScope, EnvironmentId};
use std::collections::BTreeMap;

fn env(name: &str, scopes: Vec<Scope>) -> Environment {
    Environment {
        id: EnvironmentId::new(),
        name: name.into(),
        description: String::new(),
        scopes,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn ec2_target(account: Option<&str>, region: Option<&str>) -> Target {
    Target {
        instance_id: Some("i-99999999".into()),
        account_id: account.map(str::to_string),
        region: region.map(str::to_string),
        cloud_provider: Some("aws".into()),
        ..Default::default()
    }
}

fn ssh_scope(cidrs: &[&str], patterns: &[&str]) -> Scope {
    Scope::Ssh(SshScope {
        cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        hostname_patterns: patterns.iter().map(|p| p.to_string()).collect(),
        credential: "ir-key".into(),
        user: Some("forensics".into()),
        port: 2222,
        known_hosts: vec!["SHA256:abc".into()],
        trust_on_first_use: false,
        sudo: true,
    })
}

#[test]
fn aws_scope_checks_account_region_and_tags() {
    let mut tags = BTreeMap::new();
    tags.insert("env".to_string(), "prod".to_string());
    let scope = Scope::Aws(AwsScope {
        accounts: Accounts::Listed(vec!["123456789012".into()]),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        tags,
        role_name: Some("RiposteResponder".into()),
        ..Default::default()
    });
    let prod = env("prod", vec![scope]);
    let envs = [&prod];

    let mut t = ec2_target(Some("123456789012"), Some("eu-west-1"));
    t.tags.insert("env".into(), "prod".into());
    let Resolution::Covered(m) = resolve_target(&t, &envs) else {
        panic!("not covered")
    };
    assert_eq!(m.environment, "prod");
    assert_eq!(m.scope_index, 0);
    assert_eq!(
        m.acquisition,
        Acquisition::Ec2 {
            account_id: Some("123456789012".into()),
            region: "eu-west-1".into(),
            instance_id: "i-99999999".into(),
            role_name: Some("RiposteResponder".into()),
        }
    );

    let cases = [
        (
            ec2_target(Some("210987654321"), Some("eu-west-1")),
            "account 210987654321 is not one of 123456789012",
        ),
        (ec2_target(None, Some("eu-west-1")), "names no AWS account"),
        (
            ec2_target(Some("123456789012"), Some("ap-south-1")),
            "region ap-south-1 is not one of us-east-1, eu-west-1",
        ),
        (
            ec2_target(Some("123456789012"), Some("us-east-1")),
            "no tag env",
        ),
        (
            Target {
                hostname: Some("web01".into()),
                ..Default::default()
            },
            "names no EC2 instance id",
        ),
    ];
    for (target, why) in cases {
        match resolve_target(&target, &envs) {
            Resolution::NotCovered(reasons) => {
                assert_eq!(reasons.len(), 1);
                assert!(
                    reasons[0].starts_with("environment prod, scope 1 (aws): "),
                    "{reasons:?}"
                );
                assert!(reasons[0].contains(why), "{reasons:?} lacks {why}");
            }
            other => panic!("{target:?} resolved: {other:?}"),
        }
    }
}

#[test]
fn all_accounts_scope_covers_an_instance_without_an_account() {
    let any = env("any", vec![Scope::Aws(AwsScope::default())]);
    let Resolution::Covered(m) = resolve_target(&ec2_target(None, Some("us-east-1")), &[&any])
    else {
        panic!("not covered")
    };
    assert!(m.matched_on.contains("account (unknown)"));
    assert_eq!(m.acquisition.target_key(), "aws:-:us-east-1:i-99999999");
    let mut azure = ec2_target(None, Some("us-east-1"));
    azure.cloud_provider = Some("azure".into());
    assert!(matches!(
        resolve_target(&azure, &[&any]),
        Resolution::NotCovered(_)
    ));
}

#[test]
fn ssh_scope_matches_cidrs_then_hostname_patterns() {
    let e = env(
        "dc",
        vec![ssh_scope(&["10.1.0.0/16"], &["web-*.corp.example"])],
    );
    let by_ip = Target {
        ips: vec!["10.1.2.3".parse().unwrap()],
        hostname: Some("db7".into()),
        ..Default::default()
    };
    let Resolution::Covered(m) = resolve_target(&by_ip, &[&e]) else {
        panic!()
    };
    assert_eq!(
        m.acquisition,
        Acquisition::Ssh {
            address: "10.1.2.3".into(),
            port: 2222,
            user: Some("forensics".into()),
            credential: "ir-key".into(),
            known_hosts: vec!["SHA256:abc".into()],
            trust_on_first_use: false,
            sudo: true,
        }
    );
    assert_eq!(m.matched_on, "ip 10.1.2.3 in 10.1.0.0/16");
    let by_name = Target {
        hostname: Some("WEB-02.corp.example.".into()),
        ..Default::default()
    };
    let Resolution::Covered(m) = resolve_target(&by_name, &[&e]) else {
        panic!()
    };
    assert_eq!(m.acquisition.host_label(), "WEB-02.corp.example");
    let outside = Target {
        ips: vec!["192.168.1.1".parse().unwrap()],
        hostname: Some("db7".into()),
        ..Default::default()
    };
    let Resolution::NotCovered(r) = resolve_target(&outside, &[&e]) else {
        panic!()
    };
    assert!(
        r[0].contains("192.168.1.1 are outside")
            && r[0].contains("db7 matches no hostname pattern"),
        "{r:?}"
    );
}

#[test]
fn first_covering_scope_wins_and_every_miss_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web01/etc")).unwrap();
    std::fs::write(dir.path().join("web01/etc/hostname"), "web01\n").unwrap();
    let lab = env(
        "lab",
        vec![
            ssh_scope(&["172.16.0.0/12"], &[]),
            Scope::Local(LocalScope {
                folder: dir.path().display().to_string(),
            }),
        ],
    );
    let empty = env("empty", vec![]);
    let t = Target {
        hostname: Some("web01".into()),
        ..Default::default()
    };
    let Resolution::Covered(m) = resolve_target(&t, &[&empty, &lab]) else {
        panic!()
    };
    assert_eq!(m.scope_index, 1);
    assert!(matches!(&m.acquisition, Acquisition::Library { host, .. } if host == "web01"));
    assert!(
        m.matched_on.contains("evidence library host web01"),
        "{}",
        m.matched_on
    );

    let nobody = Target {
        hostname: Some("db9".into()),
        ..Default::default()
    };
    let Resolution::NotCovered(r) = resolve_target(&nobody, &[&empty, &lab]) else {
        panic!()
    };
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[0].contains("empty: it has no scopes"));
    assert!(
        r[2].starts_with("environment lab, scope 2 (local): no host in"),
        "{r:?}"
    );
    let Resolution::NotCovered(r) = resolve_target(&nobody, &[]) else {
        panic!()
    };
    assert!(r[0].contains("no environment is defined"));
}

/// The hostile tester's request: a huge host name against many scopes. Reasons neither
/// repeat the name in full nor grow with the number of scopes.
#[test]
fn reasons_do_not_multiply_the_target() {
    let scopes: Vec<Scope> = (0..500)
        .map(|_| ssh_scope(&["10.0.0.0/8"], &["web-*"]))
        .collect();
    let e = env("many", scopes);
    let target = Target {
        hostname: Some("B".repeat(921_600)),
        ..Default::default()
    };
    let Resolution::NotCovered(reasons) = resolve_target(&target, &[&e]) else {
        panic!("covered")
    };
    assert_eq!(reasons.len(), crate::resolve::MAX_REASONS + 1);
    assert!(
        reasons.last().unwrap().contains("480 more scope(s)"),
        "{reasons:?}"
    );
    let total: usize = reasons.iter().map(String::len).sum();
    assert!(total < 20 * 400, "{total} bytes of reasons");
}

#[test]
fn a_library_is_listed_once_per_batch_of_resolutions_and_fresh_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("web01/etc")).unwrap();
    let lab = env(
        "lab",
        vec![Scope::Local(LocalScope {
            folder: dir.path().display().to_string(),
        })],
    );
    let target = |name: &str| Target {
        hostname: Some(name.into()),
        ..Default::default()
    };
    let batch = LibraryListings::default();
    assert!(matches!(
        resolve_target_with(&target("web01"), &[&lab], &batch),
        Resolution::Covered(_)
    ));
    // A host added after the batch listed the library is not seen by that batch…
    std::fs::create_dir_all(dir.path().join("web02/etc")).unwrap();
    assert!(matches!(
        resolve_target_with(&target("web02"), &[&lab], &batch),
        Resolution::NotCovered(_)
    ));
    // …and is by the next one.
    let next = LibraryListings::default();
    assert!(matches!(
        resolve_target_with(&target("web02"), &[&lab], &next),
        Resolution::Covered(_)
    ));
    assert!(matches!(
        resolve_target(&target("web02"), &[&lab]),
        Resolution::Covered(_)
    ));
}
