//! Failure modes of GuardDuty pull mode against the fake: refused credentials, throttling,
//! an unreachable endpoint, bad settings. These build the SDK configuration explicitly
//! (static test credentials, fast retries, `endpoint_url` in the settings), so they touch no
//! environment variable and run as ordinary parallel tests.

mod common;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_guardduty::config::Credentials;
use common::*;
use riposte_aws::{GuardDutyPoller, GuardDutySettings};
use riposte_fakes::guardduty::FakeGuardDuty;
use riposte_sources::poll::{AlertPoller, PollError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REGION: &str = "eu-west-1";
const DETECTOR: &str = "5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d";
const SECRET: &str = "fake/secret/for/the/local/fake/only";

/// Static test credentials and a quick standard retry (`attempts` tries, 5 ms base backoff).
async fn sdk(attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIAIOSFODNN7FAKEKEY",
            SECRET,
            None,
            None,
            "riposte-test",
        ))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .load()
        .await
}

fn settings(url: &str) -> GuardDutySettings {
    GuardDutySettings {
        regions: vec![REGION.to_string()],
        detector_ids: None,
        endpoint_url: Some(url.to_string()),
    }
}

/// A fake with three findings in `[0, 60 s)`.
fn fake() -> FakeGuardDuty {
    let fake = FakeGuardDuty::new();
    for n in 1..=3 {
        fake.add_finding(finding(REGION, DETECTOR, n, i64::from(n) * 1_000));
    }
    fake
}

#[tokio::test]
async fn denied_credentials_are_auth_errors_naming_the_region() {
    let fake = fake();
    let server = fake.start().await;
    fake.deny_credentials();
    let poller = GuardDutyPoller::with_sdk_config(settings(&server.url()), &sdk(3).await).unwrap();
    for err in [
        poller.test().await.unwrap_err(),
        poller.fetch(&window(0, 60_000), None).await.unwrap_err(),
    ] {
        let PollError::Auth(msg) = &err else {
            panic!("expected an auth error, got {err:?}");
        };
        assert!(msg.contains("region eu-west-1"), "{msg}");
        assert!(msg.contains("UnrecognizedClientException"), "{msg}");
        assert!(msg.contains("guardduty:ListFindings"), "{msg}");
        assert!(!msg.contains(SECRET), "the secret leaked into {msg}");
        assert!(!err.is_transient());
    }
    // Auth failures are not retried.
    assert_eq!(fake.counters().refused, 2);
}

#[tokio::test]
async fn throttling_is_retried_then_surfaces_as_rate_limited() {
    let fake = fake();
    let server = fake.start().await;
    let poller = GuardDutyPoller::with_sdk_config(settings(&server.url()), &sdk(3).await).unwrap();
    let w = window(0, 60_000);

    fake.throttle_next(2);
    let (payloads, _) = drain(&poller, &w).await.unwrap();
    assert_eq!(
        payloads.len(),
        3,
        "two throttles are absorbed by three attempts"
    );

    fake.throttle_next(1_000);
    let before = fake.counters().throttled;
    let err = poller.fetch(&w, None).await.unwrap_err();
    assert!(matches!(err, PollError::RateLimited { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(
        fake.counters().throttled - before,
        3,
        "the SDK tried three times"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let poller = GuardDutyPoller::with_sdk_config(settings(&url), &sdk(2).await).unwrap();
    let err = poller.fetch(&window(0, 60_000), None).await.unwrap_err();
    match &err {
        PollError::Unreachable { url: u, reason } => {
            assert_eq!(u, &url);
            assert!(reason.contains("region eu-west-1"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn empty_window_and_bad_tokens_make_no_calls() {
    let fake = fake();
    let server = fake.start().await;
    let poller = GuardDutyPoller::with_sdk_config(settings(&server.url()), &sdk(3).await).unwrap();
    let page = poller.fetch(&window(5_000, 5_000), None).await.unwrap();
    assert!(page.payloads.is_empty() && page.next_page.is_none());
    let err = poller
        .fetch(&window(0, 60_000), Some("not a token"))
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::Config(_)), "{err:?}");
    assert_eq!(fake.counters(), Default::default());
}

#[tokio::test]
async fn invalid_settings_are_refused_up_front() {
    let mut s = settings("http://127.0.0.1:9");
    s.regions.clear();
    let err = GuardDutyPoller::with_sdk_config(s, &sdk(1).await).unwrap_err();
    assert!(
        matches!(&err, PollError::Config(m) if m.contains("guardduty.regions")),
        "{err}"
    );
}

#[tokio::test]
async fn fake_refuses_unsigned_requests() {
    let fake = fake();
    let server = fake.start().await;
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /detector HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    let lower = answer.to_ascii_lowercase();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        lower.contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""__type":"MissingAuthenticationTokenException""#),
        "{answer}"
    );
    assert_eq!(fake.counters().refused, 1);
    assert_eq!(fake.counters().list_detectors, 0);
}
