use super::*;
use crate::heuristics::testing::ssh;

fn failures(ip: &str, n: usize, every_secs: i64) -> Vec<Event> {
    (0..n)
        .map(|i| ssh(Action::UserLogonFailed, i as i64 * every_secs, ip, "root"))
        .collect()
}

fn detect(events: &[Event]) -> Vec<Alarm> {
    SshBruteForce::DEFAULT.detect(events)
}

#[test]
fn ten_failures_in_ten_minutes_is_a_medium_brute_force() {
    let events = failures("203.0.113.5", 10, 60);
    let alarms = detect(&events);
    assert_eq!(alarms.len(), 1);
    let a = &alarms[0];
    assert_eq!(
        (a.detector.as_str(), a.severity),
        ("ssh_bruteforce", Severity::Medium)
    );
    assert_eq!(
        a.title,
        "SSH brute force from 203.0.113.5 (10 failures against user root)"
    );
    assert_eq!(a.mitre, vec![mitre("credential-access", "T1110.001")]);
    assert_eq!(a.event_refs, (0..10).collect::<Vec<u64>>());
    assert!(
        a.description.contains("up to 10 within 10 min"),
        "{}",
        a.description
    );
}

#[test]
fn too_few_or_too_spread_out_failures_are_not_brute_force() {
    assert!(detect(&failures("203.0.113.5", 9, 1)).is_empty());
    // 10 failures, but never 10 within any 10 minutes.
    assert!(detect(&failures("203.0.113.5", 10, 67)).is_empty());
    // Ten sources with one failure each.
    let spread: Vec<Event> = (0..10)
        .map(|i| {
            ssh(
                Action::UserLogonFailed,
                i,
                &format!("198.51.100.{i}"),
                "root",
            )
        })
        .collect();
    assert!(detect(&spread).is_empty());
}

#[test]
fn repeated_message_counts_add_up() {
    let events = vec![
        ssh(Action::UserLogonFailed, 0, "203.0.113.5", "root").with("count", "5"),
        ssh(Action::UserLogonFailed, 30, "203.0.113.5", "root").with("count", "5"),
    ];
    let alarms = detect(&events);
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].title.contains("10 failures"));
}

#[test]
fn success_after_the_burst_from_the_same_ip_is_one_high_alarm() {
    let mut events = failures("203.0.113.5", 12, 20);
    events.push(ssh(Action::UserLogon, 3_600, "198.51.100.7", "alice")); // someone else
    events.push(ssh(Action::UserLogon, 7_200, "203.0.113.5", "root"));
    let alarms = detect(&events);
    assert_eq!(alarms.len(), 1, "{alarms:#?}");
    let a = &alarms[0];
    assert_eq!(
        (a.detector.as_str(), a.severity),
        ("ssh_bruteforce_success", Severity::High)
    );
    assert_eq!(
        a.title,
        "Successful SSH logon after brute force from 203.0.113.5 (user root)"
    );
    assert_eq!(
        a.mitre,
        vec![
            mitre("credential-access", "T1110.001"),
            mitre("initial-access", "T1078")
        ]
    );
    assert!(a.event_refs.contains(&13) && !a.event_refs.contains(&12));
    assert_eq!(a.event_refs.len(), 13);
    assert!(a.description.contains("one of the targeted accounts"));
}

#[test]
fn success_before_the_burst_or_too_long_after_is_not_tied_to_it() {
    let mut before = vec![ssh(Action::UserLogon, -60, "203.0.113.5", "root")];
    before.extend(failures("203.0.113.5", 10, 1));
    let alarms = detect(&before);
    assert_eq!((alarms.len(), alarms[0].severity), (1, Severity::Medium));

    let mut late = failures("203.0.113.5", 10, 1);
    late.push(ssh(Action::UserLogon, 9 + 86_401, "203.0.113.5", "root"));
    assert_eq!(detect(&late)[0].detector, "ssh_bruteforce");
    // A success between two bursts is within a day of the first one.
    let mut between = failures("203.0.113.5", 10, 1);
    between.push(ssh(Action::UserLogon, 50_000, "203.0.113.5", "root"));
    assert_eq!(detect(&between)[0].detector, "ssh_bruteforce_success");
}

#[test]
fn only_one_kind_of_failure_line_is_counted_per_source() {
    // Invalid-user and probe lines never count.
    let lookups: Vec<Event> = (0..10)
        .flat_map(|i| {
            let e = ssh(Action::UserLogonFailed, i, "203.0.113.5", "admin");
            [
                e.clone().with("stage", "invalid_user"),
                e.with("stage", "probe"),
            ]
        })
        .collect();
    assert!(detect(&lookups).is_empty());
    // PAM lines stand in only when the source has no sshd result lines.
    let pam: Vec<Event> = (0..10)
        .map(|i| ssh(Action::UserLogonFailed, i, "203.0.113.5", "root").with("stage", "pam"))
        .collect();
    let alarms = detect(&pam);
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].description.contains("PAM"));
    let mut both = pam.clone();
    both.extend(failures("203.0.113.5", 5, 1));
    assert!(
        detect(&both).is_empty(),
        "5 sshd failures; the 10 PAM lines describe the same attempts"
    );
}

#[test]
fn untimed_non_sshd_and_unsourced_events_are_ignored() {
    let mut events = failures("203.0.113.5", 10, 1);
    events[0].time = None;
    assert!(detect(&events).is_empty());
    let other: Vec<Event> = failures("203.0.113.5", 10, 1)
        .into_iter()
        .map(|e| e.with("process", "vsftpd"))
        .collect();
    assert!(detect(&other).is_empty());
    let mut no_ip = failures("203.0.113.5", 10, 1);
    no_ip.iter_mut().for_each(|e| {
        e.attributes.remove("remote_ip");
    });
    assert!(detect(&no_ip).is_empty());
}

#[test]
fn host_names_are_sources_too_and_input_order_does_not_matter() {
    let mut events: Vec<Event> = (0..10)
        .map(|i| {
            let mut e = ssh(Action::UserLogonFailed, 100 - i, "x", &format!("user{i}"));
            e.attributes.remove("remote_ip");
            e.with("remote_host", "scanner.example.net")
        })
        .collect();
    events.insert(3, ssh(Action::UserLogonFailed, 0, "192.0.2.1", "root"));
    let alarms = detect(&events);
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].title.starts_with("SSH brute force from scanner.example.net (10 failures against users user0, user1, user2 and 7 more)"));
    assert!(!alarms[0].event_refs.contains(&3));
    assert_eq!(alarms[0].event_refs.len(), 10);
}

#[test]
fn one_alarm_per_source_with_bounded_refs_ordered_by_first_burst() {
    let mut events = failures("203.0.113.9", 10, 1000); // never a burst
    events.extend((0..200).map(|i| ssh(Action::UserLogonFailed, 5_000 + i, "203.0.113.5", "root")));
    events.extend((0..30).map(|i| ssh(Action::UserLogonFailed, 100 + i, "203.0.113.6", "root")));
    let alarms = detect(&events);
    assert_eq!(alarms.len(), 2);
    assert!(alarms[0].title.contains("203.0.113.6") && alarms[1].title.contains("203.0.113.5"));
    assert_eq!(alarms[1].event_refs.len(), 50);
    assert!(alarms[1].title.contains("200 failures"));
}

#[test]
fn config_defaults_deserialize_and_validate() {
    let c: SshBruteForceConfig = serde_json::from_str(r#"{"threshold": 5}"#).unwrap();
    assert_eq!(
        c,
        SshBruteForceConfig {
            threshold: 5,
            ..SshBruteForceConfig::DEFAULT
        }
    );
    assert!(serde_json::from_str::<SshBruteForceConfig>(r#"{"treshold": 5}"#).is_err());
    assert!(
        SshBruteForceConfig {
            threshold: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .contains("threshold")
    );
    assert!(SshBruteForceConfig::DEFAULT.validate().is_ok());
    let strict = SshBruteForce::new(SshBruteForceConfig {
        threshold: 3,
        window_secs: 10,
        ..Default::default()
    });
    assert_eq!(strict.detect(&failures("203.0.113.5", 3, 5)).len(), 1);
    assert!(strict.detect(&failures("203.0.113.5", 3, 6)).is_empty());
}
