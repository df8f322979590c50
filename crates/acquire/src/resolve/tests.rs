use super::*;
use std::path::PathBuf;

fn host(key: &str, names: &[&str], ips: &[&str]) -> LibraryHost {
    LibraryHost {
        key: key.to_string(),
        root: PathBuf::from("/lib").join(key),
        kind: crate::HostEvidence::Folder,
        names: names.iter().map(|s| s.to_string()).collect(),
        ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn library() -> Vec<LibraryHost> {
    vec![
        host("db01", &["db01", "db01.corp.local"], &["10.0.0.9"]),
        host("i-0abc", &["i-0abc", "ip-10-0-0-7"], &["10.0.0.7"]),
        host(
            "web01",
            &["web01", "web01.corp.local"],
            &["10.0.0.5", "fd00::5"],
        ),
        host("web01-eu", &["web01-eu", "web01.eu.local"], &["10.1.0.5"]),
    ]
}

fn resolve(target: Target) -> Resolution {
    resolve_in(Path::new("/lib"), library(), &target)
}

fn found(target: Target) -> (String, String) {
    match resolve(target) {
        Resolution::Found { host, matched_on } => (host.key, matched_on),
        other => panic!("expected a host, got {other:?}"),
    }
}

fn not_found(target: Target) -> String {
    match resolve(target) {
        Resolution::NotFound { reason } => reason,
        other => panic!("expected no host, got {other:?}"),
    }
}

fn t(instance_id: Option<&str>, hostname: Option<&str>, ips: &[&str]) -> Target {
    Target {
        instance_id: instance_id.map(str::to_string),
        hostname: hostname.map(str::to_string),
        ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        ..Target::default()
    }
}

#[test]
fn instance_id_matches_folder_name_or_a_name() {
    assert_eq!(
        found(t(Some("i-0ABC"), None, &[])),
        ("i-0abc".into(), "instance id i-0ABC".into())
    );
    assert_eq!(found(t(Some("db01.corp.local"), None, &[])).0, "db01");
}

#[test]
fn hostname_matches_case_insensitively_short_and_fqdn() {
    assert_eq!(
        found(t(None, Some("WEB01"), &[])),
        ("web01".into(), "hostname WEB01".into())
    );
    assert_eq!(
        found(t(None, Some("ip-10-0-0-7.ec2.internal"), &[])),
        (
            "i-0abc".into(),
            "hostname ip-10-0-0-7.ec2.internal (as ip-10-0-0-7)".into()
        )
    );
    assert_eq!(found(t(None, Some("db01.corp.local."), &[])).0, "db01");
}

#[test]
fn exact_names_beat_short_name_matches() {
    // "web01" is the exact name of web01 and the short name of web01.eu.local.
    assert_eq!(found(t(None, Some("web01"), &[])).0, "web01");
    assert_eq!(found(t(None, Some("web01.eu.local"), &[])).0, "web01-eu");
}

#[test]
fn any_target_ip_matches() {
    assert_eq!(
        found(t(None, None, &["203.0.113.1", "10.0.0.9"])),
        ("db01".into(), "ip 10.0.0.9".into())
    );
    assert_eq!(found(t(None, None, &["::ffff:10.0.0.5"])).0, "web01");
    assert_eq!(
        found(t(None, Some("fd00::5"), &[])),
        ("web01".into(), "ip fd00::5".into())
    );
}

#[test]
fn earlier_keys_win_over_later_ones() {
    assert_eq!(
        found(t(Some("i-0abc"), Some("db01"), &["10.0.0.5"])).0,
        "i-0abc"
    );
    assert_eq!(
        found(t(Some("i-unknown"), Some("db01"), &["10.0.0.5"])).0,
        "db01"
    );
}

#[test]
fn ambiguous_names_are_narrowed_by_ip_or_refused() {
    // An FQDN the library does not know still matches a host known by its short name.
    assert_eq!(
        found(t(None, Some("web01.x.local"), &[])),
        ("web01".into(), "hostname web01.x.local (as web01)".into())
    );
    let twins = vec![
        host("a", &["a", "app"], &["10.0.0.1"]),
        host("b", &["b", "app"], &["10.0.0.2"]),
    ];
    let r = resolve_in(
        Path::new("/lib"),
        twins.clone(),
        &t(None, Some("app"), &["10.0.0.2"]),
    );
    assert_eq!(
        r,
        Resolution::Found {
            host: twins[1].clone(),
            matched_on: "hostname app and ip 10.0.0.2".into()
        }
    );
    let r = resolve_in(Path::new("/lib"), twins, &t(None, Some("app"), &[]));
    assert_eq!(r, Resolution::NotFound {
        reason: "hostname 'app' is ambiguous in /lib: it matches hosts a, b; give a more specific target".into()
    });
}

#[test]
fn not_found_reason_lists_what_was_tried_and_known_hosts() {
    assert_eq!(
        not_found(t(Some("i-9"), Some("x"), &["10.9.9.9", "10.9.9.8"])),
        "no host in /lib matches instance id 'i-9', hostname 'x', ips [10.9.9.9, 10.9.9.8]; \
         known hosts: db01, i-0abc, web01, web01-eu"
    );
    assert_eq!(
        not_found(Target::default()),
        "the target names no instance id, hostname or IP to look for"
    );
    assert_eq!(
        not_found(t(None, Some("  "), &[])),
        "the target names no instance id, hostname or IP to look for"
    );
    let r = resolve_in(Path::new("/empty"), Vec::new(), &t(None, Some("x"), &[]));
    assert_eq!(
        r,
        Resolution::NotFound {
            reason: "no host in /empty matches hostname 'x'; the library has no host folders"
                .into()
        }
    );
}

#[test]
fn known_hosts_are_capped() {
    let hosts: Vec<LibraryHost> = (0..25)
        .map(|i| host(&format!("h{i:02}"), &[], &[]))
        .collect();
    let reason = match resolve_in(Path::new("/lib"), hosts, &t(None, Some("x"), &[])) {
        Resolution::NotFound { reason } => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason.ends_with("h18, h19 and 5 more"), "{reason}");
}
