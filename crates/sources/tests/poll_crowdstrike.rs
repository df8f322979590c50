//! The CrowdStrike poller end to end against the fake Falcon API.

mod common;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use common::{at, drain, fast, window};
use riposte_fakes::FakeServer;
use riposte_fakes::crowdstrike::{FakeCrowdStrike, sample_alert};
use riposte_model::AlertSource;
use riposte_sources::poll::crowdstrike::{CrowdStrikePoller, CrowdStrikeSettings};
use riposte_sources::poll::{AlertPoller, PollError};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

const ID: &str = "falcon-client-id";
const SECRET: &str = "falcon-client-secret-do-not-leak";

fn poller(server: &FakeServer, secret: &str, page_size: u32) -> CrowdStrikePoller {
    let mut settings = CrowdStrikeSettings::new(server.url(), ID);
    settings.page_size = page_size;
    CrowdStrikePoller::new(settings, secret)
        .unwrap()
        .with_retry(fast())
}

fn composite(v: &Value) -> String {
    v["composite_id"].as_str().unwrap().to_string()
}

/// Adds alert `n` updated at `t`; returns its composite id.
fn add(fake: &FakeCrowdStrike, n: u32, t: DateTime<Utc>) -> String {
    let alert = sample_alert(n, t);
    let id = composite(&alert);
    fake.add_alert(alert);
    id
}

#[tokio::test]
async fn pages_through_a_window_and_every_payload_parses() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    let ids: Vec<String> = (0..7).map(|n| add(&fake, n, at(1, n))).collect();
    let p = poller(&server, SECRET, 3);
    assert_eq!(p.source(), AlertSource::CrowdStrike);

    let (payloads, pages) = drain(&p, &window(at(0, 0), at(5, 0))).await.unwrap();
    assert_eq!(pages, 3);
    assert_eq!(payloads.iter().map(composite).collect::<Vec<_>>(), ids);

    let parser = riposte_sources::parser(AlertSource::CrowdStrike).unwrap();
    for (n, payload) in payloads.iter().enumerate() {
        let alerts = parser.parse(payload, Utc::now()).unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].vendor_event_id.as_deref(), Some(ids[n].as_str()));
        assert_eq!(
            alerts[0].target.hostname.as_deref(),
            Some(format!("cs-host-{n}").as_str())
        );
    }
    assert_eq!(fake.token_requests(), 1, "one token serves every page");
}

#[tokio::test]
async fn a_server_side_page_cap_is_followed() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    fake.set_max_page_size(2);
    for n in 0..5 {
        add(&fake, n, at(1, n));
    }
    let (payloads, pages) = drain(&poller(&server, SECRET, 10), &window(at(0, 0), at(5, 0)))
        .await
        .unwrap();
    assert_eq!(payloads.len(), 5);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn the_window_includes_since_and_excludes_until() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    let (since, until) = (at(1, 0), at(2, 0));
    add(&fake, 1, since - ChronoDuration::milliseconds(1));
    let at_since = add(&fake, 2, since);
    let inside = add(&fake, 3, until - ChronoDuration::milliseconds(1));
    add(&fake, 4, until);
    let (payloads, _) = drain(&poller(&server, SECRET, 10), &window(since, until))
        .await
        .unwrap();
    assert_eq!(
        payloads.iter().map(composite).collect::<Vec<_>>(),
        [at_since, inside]
    );
}

#[tokio::test]
async fn an_expired_token_is_replaced_before_use() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    fake.set_token_lifetime(1);
    add(&fake, 1, at(1, 0));
    let p = poller(&server, SECRET, 10);
    let w = window(at(0, 0), at(5, 0));
    drain(&p, &w).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (payloads, _) = drain(&p, &w).await.unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.api_requests(), 4, "no request was refused");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_and_the_request_retried_once() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    add(&fake, 1, at(1, 0));
    let p = poller(&server, SECRET, 10);
    let w = window(at(0, 0), at(5, 0));
    drain(&p, &w).await.unwrap();
    fake.revoke_tokens();
    let (payloads, _) = drain(&p, &w).await.unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(fake.token_requests(), 2);
    // query + entities, then a refused query, its retry, and entities.
    assert_eq!(fake.api_requests(), 5);
}

#[tokio::test]
async fn rate_limiting_backs_off_then_succeeds() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    add(&fake, 1, at(1, 0));
    fake.rate_limit_next(3);
    let (payloads, _) = drain(&poller(&server, SECRET, 10), &window(at(0, 0), at(5, 0)))
        .await
        .unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(fake.api_requests(), 3 + 2);
}

#[tokio::test]
async fn persistent_rate_limiting_gives_up() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    fake.rate_limit_next(1000);
    let e = poller(&server, SECRET, 10)
        .fetch(&window(at(0, 0), at(5, 0)), None)
        .await
        .unwrap_err();
    assert!(matches!(e, PollError::RateLimited { .. }), "{e}");
    assert!(e.is_transient());
    assert_eq!(fake.api_requests(), 1 + 4, "first try and four retries");
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_gives_up_at_once() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    fake.rate_limit_next(1);
    fake.set_retry_after(60);
    let e = poller(&server, SECRET, 10).test().await.unwrap_err();
    assert_eq!(
        e,
        PollError::RateLimited {
            retry_after: Duration::from_secs(60)
        }
    );
    assert_eq!(fake.api_requests(), 1);
}

#[tokio::test]
async fn a_wrong_secret_fails_the_connection_test_with_advice() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    let p = poller(&server, "not-the-secret", 10);
    let e = p.test().await.unwrap_err();
    let PollError::Auth(message) = &e else {
        panic!("expected an auth error, got {e}");
    };
    assert!(message.contains("Not Authorized"), "{message}");
    assert!(message.contains("client id and secret"), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    assert!(!e.is_transient());
    assert!(matches!(
        p.fetch(&window(at(0, 0), at(5, 0)), None).await,
        Err(PollError::Auth(_))
    ));
    assert_eq!(fake.api_requests(), 0);
}

#[tokio::test]
async fn a_missing_scope_is_an_auth_error_naming_the_scope() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    fake.set_api_forbidden(true);
    let e = poller(&server, SECRET, 10).test().await.unwrap_err();
    assert!(
        matches!(&e, PollError::Auth(m) if m.contains("Alerts: Read") && m.contains("HTTP 403")),
        "{e}"
    );
    assert_eq!(
        fake.token_requests(),
        1,
        "a 403 is not retried with a new token"
    );
}

#[tokio::test]
async fn the_connection_test_passes_with_good_credentials() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    poller(&server, SECRET, 10).test().await.unwrap();
    assert_eq!((fake.token_requests(), fake.api_requests()), (1, 1));
}

#[tokio::test]
async fn polling_window_a_then_b_after_a_restart_sees_each_alert_once() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    let (a, b) = (window(at(1, 0), at(2, 0)), window(at(2, 0), at(3, 0)));
    let mut expected = HashSet::new();
    for n in 0..40u32 {
        // Spread over 10:00:30 – 10:03:30; the ends fall outside A ∪ B.
        let t = at(0, 30) + ChronoDuration::seconds(i64::from(n) * 5);
        let id = add(&fake, n, t);
        if a.since <= t && t < b.until {
            expected.insert(id);
        }
    }
    let mut seen = Vec::new();
    for w in [a, b] {
        let p = poller(&server, SECRET, 4); // a new instance, as after a restart
        seen.extend(drain(&p, &w).await.unwrap().0.iter().map(composite));
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an alert came twice");
    assert_eq!(unique, expected);
}

#[tokio::test]
async fn a_late_update_shows_up_in_the_later_window() {
    let fake = FakeCrowdStrike::new(ID, SECRET);
    let server = fake.start().await;
    let id = add(&fake, 1, at(1, 0));
    let p = poller(&server, SECRET, 10);
    assert_eq!(
        drain(&p, &window(at(1, 0), at(2, 0)))
            .await
            .unwrap()
            .0
            .len(),
        1
    );
    assert!(fake.update_alert(sample_alert(1, at(2, 30))));
    let (later, _) = drain(&p, &window(at(2, 0), at(3, 0))).await.unwrap();
    assert_eq!(later.iter().map(composite).collect::<Vec<_>>(), [id]);
    assert!(
        drain(&p, &window(at(1, 0), at(2, 0)))
            .await
            .unwrap()
            .0
            .is_empty()
    );
}

#[tokio::test]
async fn an_unreachable_api_is_a_transient_error() {
    let settings = CrowdStrikeSettings::new("http://127.0.0.1:1", ID);
    let p = CrowdStrikePoller::new(settings, SECRET).unwrap();
    let e = p.test().await.unwrap_err();
    assert!(matches!(e, PollError::Unreachable { .. }), "{e}");
    assert!(e.is_transient());
    assert!(!e.to_string().contains(SECRET));
}
