//! The real AWS SDK client against the fake GuardDuty API, found the standard way: static
//! test credentials in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` and the endpoint in
//! `AWS_ENDPOINT_URL_GUARDDUTY`, exactly as an operator would point Riposte elsewhere.
//!
//! Why one test function: in edition 2024 `std::env::set_var` is `unsafe`, because another
//! thread reading the environment at the same time is undefined behaviour. Each file under
//! `tests/` is its own process, and this file holds a single `#[test]`, so while the variables
//! are set the only other thread is libtest's main thread, parked waiting for the result. The
//! runtime is current-thread and the fake's port is bound from a literal address (no resolver
//! thread), so no runtime thread exists yet either. Scenarios then run one after the other
//! on that runtime; a failing one names itself in the panic message. Tests that need no
//! environment (errors, throttling) live in `guardduty_errors.rs` as ordinary tests.

mod common;

use common::*;
use riposte_aws::{GuardDutyPoller, GuardDutySettings};
use riposte_fakes::guardduty::FakeGuardDuty;
use riposte_model::{AlertSource, Severity};
use riposte_sources::poll::{AlertPoller, PollError};
use std::collections::{BTreeMap, HashSet};

const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";
const EAST_DETECTOR: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const WEST_DETECTOR: &str = "0f9e8d7c6b5a49382716f5e4d3c2b1a0";

/// Findings inside `[0 ms, 60 s)` in each region, in update order, plus ones outside it.
fn populate(fake: &FakeGuardDuty) -> (Vec<String>, Vec<String>) {
    // (n, updated ms). Stored in reverse so the fake's sort, not insertion order, decides.
    let east: Vec<(u32, i64)> = vec![
        (22, -1), // just before `since`: out
        (20, 0),  // exactly `since`: in
        (1, 5_000),
        (2, 10_000),
        (3, 15_000),
        (4, 20_000), // exactly the restart split point
        (5, 25_000),
        (6, 30_000),
        (7, 35_000),
        (8, 40_000),
        (23, 59_999), // last millisecond: in
        (21, 60_000), // exactly `until`: out
    ];
    let west: Vec<(u32, i64)> = (1..=5).map(|n| (n, i64::from(n) * 7_000 + 3)).collect();
    for (n, ms) in east.iter().rev() {
        fake.add_finding(finding(EAST, EAST_DETECTOR, *n, *ms));
    }
    for (n, ms) in west.iter().rev() {
        fake.add_finding(finding(WEST, WEST_DETECTOR, *n, *ms));
    }
    let inside = |v: &[(u32, i64)], region: &str| {
        let mut v: Vec<_> = v
            .iter()
            .filter(|(_, ms)| (0..60_000).contains(ms))
            .collect();
        v.sort_by_key(|(_, ms)| *ms);
        v.iter()
            .map(|(n, _)| finding_id(region, *n))
            .collect::<Vec<_>>()
    };
    (inside(&east, EAST), inside(&west, WEST))
}

fn settings(regions: &[&str]) -> GuardDutySettings {
    GuardDutySettings {
        regions: regions.iter().map(|r| r.to_string()).collect(),
        detector_ids: None,
        endpoint_url: None,
    }
}

#[test]
fn guardduty_pull_through_standard_aws_environment() {
    // SAFETY: see the module comment: no other thread reads the environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7FAKEKEY");
        std::env::set_var(
            "AWS_SECRET_ACCESS_KEY",
            "fake/secret/for/the/local/fake/only",
        );
        std::env::set_var("AWS_REGION", EAST);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/riposte-test/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/riposte-test/credentials",
        );
        for v in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_MAX_ATTEMPTS",
            "AWS_RETRY_MODE",
        ] {
            std::env::remove_var(v);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeGuardDuty::new();
    let expected = populate(&fake);
    let server = rt.block_on(fake.start());
    // SAFETY: as above; still the only thread.
    unsafe { std::env::set_var("AWS_ENDPOINT_URL_GUARDDUTY", server.url()) };

    rt.block_on(async {
        fake.set_page_size(3);
        pages_across_two_regions(&fake, &expected).await;
        payloads_parse_to_the_right_alerts().await;
        restart_reads_each_finding_exactly_once(&expected).await;
        page_token_resumes_on_a_fresh_poller(&expected).await;
        configured_detector_skips_discovery(&fake, &expected).await;
        connection_test_checks_every_region(&expected).await;
        fake.throttle_next(2);
        throttled_calls_are_retried_by_the_sdk(&fake, &expected).await;
    });
}

async fn pages_across_two_regions(fake: &FakeGuardDuty, (east, west): &(Vec<String>, Vec<String>)) {
    let poller = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    assert_eq!(poller.source(), AlertSource::GuardDuty);
    let before = fake.counters();
    let (payloads, pages) = drain(&poller, &window(0, 60_000)).await.unwrap();
    let got = ids(&payloads);
    let want: Vec<String> = east.iter().chain(west).cloned().collect();
    assert_eq!(
        got, want,
        "pages_across_two_regions: every finding in the window, in order"
    );
    // 10 east findings in pages of 3 = 4 pages, 5 west = 2 pages.
    assert_eq!(
        pages, 6,
        "pages_across_two_regions: one poller page per ListFindings page"
    );
    let after = fake.counters();
    assert_eq!(
        after.list_detectors - before.list_detectors,
        2,
        "one discovery per region"
    );
    assert_eq!(after.list_findings - before.list_findings, 6);
    assert_eq!(after.get_findings - before.get_findings, 6);
    // The window bounds: `since` included, `until` excluded, neighbours on the right side.
    assert!(
        got.contains(&finding_id(EAST, 20)),
        "finding updated exactly at since"
    );
    assert!(
        got.contains(&finding_id(EAST, 23)),
        "finding updated 1 ms before until"
    );
    assert!(
        !got.contains(&finding_id(EAST, 21)),
        "finding updated exactly at until"
    );
    assert!(
        !got.contains(&finding_id(EAST, 22)),
        "finding updated 1 ms before since"
    );
    // Sub-millisecond bounds round the right way.
    let w = riposte_sources::poll::PollWindow {
        since: at(0) + chrono::Duration::microseconds(1),
        until: at(60_000) - chrono::Duration::microseconds(1),
    };
    let got = ids(&drain(&poller, &w).await.unwrap().0);
    assert!(
        !got.contains(&finding_id(EAST, 20)),
        "0 ms is before since = 0.001 ms"
    );
    assert!(
        got.contains(&finding_id(EAST, 23)),
        "59 999 ms is before until = 59 999.999 ms"
    );
}

async fn payloads_parse_to_the_right_alerts() {
    let poller = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let (payloads, _) = drain(&poller, &window(0, 60_000)).await.unwrap();
    let parser = riposte_sources::parser(AlertSource::GuardDuty).unwrap();
    for p in &payloads {
        let n = p["riposteFixtureFutureField"]["n"]
            .as_u64()
            .expect("raw field kept") as u32;
        let region = p["region"].as_str().unwrap();
        let detector = if region == EAST {
            EAST_DETECTOR
        } else {
            WEST_DETECTOR
        };
        let updated = p["updatedAt"].as_str().unwrap();
        let updated_ms = (chrono::DateTime::parse_from_rfc3339(updated)
            .unwrap()
            .timestamp_millis())
            - t0().timestamp_millis();
        assert_eq!(
            p,
            &finding(region, detector, n, updated_ms),
            "payload is the finding as stored"
        );
        let alerts = parser.parse(p, chrono::Utc::now()).unwrap_or_else(|e| {
            panic!(
                "payloads_parse_to_the_right_alerts: {} refused: {e}",
                p["id"]
            )
        });
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(
            a.target.instance_id.as_deref(),
            Some(instance_id(n).as_str())
        );
        assert_eq!(a.target.account_id.as_deref(), Some(ACCOUNT));
        assert_eq!(a.target.region.as_deref(), Some(region));
        let want = match severity(n) {
            s if s < 4.0 => Severity::Low,
            s if s < 7.0 => Severity::Medium,
            _ => Severity::High,
        };
        assert_eq!(a.severity, want, "severity of {}", p["id"]);
        assert_eq!(a.finding_type, "UnauthorizedAccess:EC2/SSHBruteForce");
        assert_eq!(a.raw, *p);
    }
}

async fn restart_reads_each_finding_exactly_once((east, west): &(Vec<String>, Vec<String>)) {
    // Window A, then (as after a restart) a fresh poller for window B.
    let a = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let first = ids(&drain(&a, &window(0, 20_000)).await.unwrap().0);
    drop(a);
    let b = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let second = ids(&drain(&b, &window(20_000, 60_000)).await.unwrap().0);
    assert!(
        !first.contains(&finding_id(EAST, 4)),
        "updated at the split: not in A"
    );
    assert!(
        second.contains(&finding_id(EAST, 4)),
        "updated at the split: in B"
    );
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "restart_reads_each_finding_exactly_once: a duplicate"
    );
    all.sort();
    let mut want: Vec<String> = east.iter().chain(west).cloned().collect();
    want.sort();
    assert_eq!(all, want, "restart_reads_each_finding_exactly_once: a gap");
}

async fn page_token_resumes_on_a_fresh_poller((east, west): &(Vec<String>, Vec<String>)) {
    let w = window(0, 60_000);
    let a = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let first = a.fetch(&w, None).await.unwrap();
    let token = first.next_page.clone().expect("more pages");
    drop(a);
    let b = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let mut got = ids(&first.payloads);
    let mut token = Some(token);
    while let Some(t) = token {
        let page = b.fetch(&w, Some(&t)).await.unwrap();
        got.extend(ids(&page.payloads));
        token = page.next_page;
    }
    let want: Vec<String> = east.iter().chain(west).cloned().collect();
    assert_eq!(got, want, "page_token_resumes_on_a_fresh_poller");
    let other = GuardDutyPoller::new(settings(&[WEST])).await.unwrap();
    let err = other
        .fetch(&w, first.next_page.as_deref())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PollError::Config(_)),
        "a token from other settings: {err}"
    );
}

async fn configured_detector_skips_discovery(
    fake: &FakeGuardDuty,
    (east, _): &(Vec<String>, Vec<String>),
) {
    let mut s = settings(&[EAST]);
    s.detector_ids = Some(BTreeMap::from([(
        EAST.to_string(),
        EAST_DETECTOR.to_string(),
    )]));
    let poller = GuardDutyPoller::new(s.clone()).await.unwrap();
    let before = fake.counters().list_detectors;
    let got = ids(&drain(&poller, &window(0, 60_000)).await.unwrap().0);
    assert_eq!(&got, east, "configured_detector_skips_discovery");
    assert_eq!(
        fake.counters().list_detectors,
        before,
        "no ListDetectors call"
    );
    // A wrong detector id is caught by the connection test, naming the key.
    s.detector_ids = Some(BTreeMap::from([(EAST.to_string(), "ffff0000".to_string())]));
    let poller = GuardDutyPoller::new(s).await.unwrap();
    let err = poller.test().await.unwrap_err();
    assert!(
        matches!(&err, PollError::Config(m) if m.contains("guardduty.detector_ids.us-east-1")),
        "configured_detector_skips_discovery: {err}"
    );
}

async fn connection_test_checks_every_region((east, _): &(Vec<String>, Vec<String>)) {
    let poller = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    poller.test().await.unwrap();
    // A region without a detector: the test says so; a poll skips it.
    let poller = GuardDutyPoller::new(settings(&[EAST, "ap-south-1"]))
        .await
        .unwrap();
    let err = poller.test().await.unwrap_err();
    assert!(
        matches!(&err, PollError::Config(m) if m.contains("no GuardDuty detector in region ap-south-1")),
        "connection_test_checks_every_region: {err}"
    );
    let got = ids(&drain(&poller, &window(0, 60_000)).await.unwrap().0);
    assert_eq!(&got, east, "connection_test_checks_every_region: east only");
}

async fn throttled_calls_are_retried_by_the_sdk(
    fake: &FakeGuardDuty,
    (east, west): &(Vec<String>, Vec<String>),
) {
    // Two 429 ThrottlingException answers are absorbed by the SDK's standard retry (3 attempts).
    let before = fake.counters().throttled;
    let poller = GuardDutyPoller::new(settings(&[EAST, WEST])).await.unwrap();
    let got = ids(&drain(&poller, &window(0, 60_000)).await.unwrap().0);
    let want: Vec<String> = east.iter().chain(west).cloned().collect();
    assert_eq!(got, want, "throttled_calls_are_retried_by_the_sdk");
    assert_eq!(fake.counters().throttled - before, 2);
}
