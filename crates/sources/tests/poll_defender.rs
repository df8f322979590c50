//! The Defender for Endpoint poller end to end against the fake Entra ID + Defender API.

mod common;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use common::{at, drain, fast, window};
use riposte_fakes::FakeServer;
use riposte_fakes::defender::{FakeDefender, sample_alert};
use riposte_model::AlertSource;
use riposte_sources::poll::defender::{DefenderPoller, DefenderSettings};
use riposte_sources::poll::{AlertPoller, PollError, RetryPolicy};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

const TENANT: &str = "00000000-0000-4000-8000-0000000c0750";
const ID: &str = "00000000-0000-4000-8000-00000000a991";
const SECRET: &str = "entra-client-secret-do-not-leak";

fn settings(server: &FakeServer, tenant: &str, page_size: u32) -> DefenderSettings {
    let mut s = DefenderSettings::new(tenant, ID);
    s.login_url = server.url();
    s.api_url = server.url();
    s.page_size = page_size;
    s
}

fn poller(server: &FakeServer, secret: &str, page_size: u32) -> DefenderPoller {
    DefenderPoller::new(settings(server, TENANT, page_size), secret)
        .unwrap()
        .with_retry(fast())
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// Adds alert `n` updated at `t`; returns its id.
fn add(fake: &FakeDefender, n: u32, t: DateTime<Utc>) -> String {
    let alert = sample_alert(n, t);
    let alert_id = id(&alert);
    fake.add_alert(alert);
    alert_id
}

fn fake() -> FakeDefender {
    FakeDefender::new(TENANT, ID, SECRET)
}

#[tokio::test]
async fn follows_next_links_and_every_payload_parses_with_evidence() {
    let fake = fake();
    let server = fake.start().await;
    let ids: Vec<String> = (0..7).map(|n| add(&fake, n, at(1, n))).collect();
    let p = poller(&server, SECRET, 3);
    assert_eq!(p.source(), AlertSource::Defender);

    let (payloads, pages) = drain(&p, &window(at(0, 0), at(5, 0))).await.unwrap();
    assert_eq!(pages, 3);
    assert_eq!(payloads.iter().map(id).collect::<Vec<_>>(), ids);

    let parser = riposte_sources::parser(AlertSource::Defender).unwrap();
    for (n, payload) in payloads.iter().enumerate() {
        let alerts = parser.parse(payload, Utc::now()).unwrap();
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.vendor_event_id.as_deref(), Some(ids[n].as_str()));
        assert_eq!(
            alert.target.hostname.as_deref(),
            Some(format!("mde-host-{n}.contoso.test").as_str())
        );
        // Only present with $expand=evidence.
        assert!(alert.observables.command_line.is_some(), "{payload}");
    }
    assert_eq!(fake.token_requests(), 1, "one token serves every page");
}

#[tokio::test]
async fn a_server_side_page_cap_is_followed() {
    let fake = fake();
    let server = fake.start().await;
    fake.set_max_page_size(2);
    for n in 0..5 {
        add(&fake, n, at(1, n));
    }
    let (payloads, pages) = drain(&poller(&server, SECRET, 100), &window(at(0, 0), at(5, 0)))
        .await
        .unwrap();
    assert_eq!(payloads.len(), 5);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn the_window_includes_since_and_excludes_until() {
    let fake = fake();
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
        payloads.iter().map(id).collect::<Vec<_>>(),
        [at_since, inside]
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let fake = fake();
    let server = fake.start().await;
    for n in 0..3 {
        add(&fake, n, at(1, n));
    }
    fake.set_next_link_base(Some("http://attacker.example"));
    let p = poller(&server, SECRET, 1);
    let w = window(at(0, 0), at(5, 0));
    let e = p.fetch(&w, None).await.unwrap_err();
    let PollError::Protocol { reason, .. } = &e else {
        panic!("expected a protocol error, got {e}");
    };
    assert!(reason.contains("attacker.example"), "{reason}");
    // A stored page token pointing elsewhere is refused before any request.
    let before = fake.api_requests();
    let e = p
        .fetch(&w, Some("http://attacker.example/api/alerts?$skip=1"))
        .await
        .unwrap_err();
    assert!(matches!(e, PollError::Protocol { .. }), "{e}");
    assert_eq!(fake.api_requests(), before);
}

#[tokio::test]
async fn an_expired_token_is_replaced_before_use() {
    let fake = fake();
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
    assert_eq!(fake.api_requests(), 2, "no request was refused");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_and_the_request_retried_once() {
    let fake = fake();
    let server = fake.start().await;
    add(&fake, 1, at(1, 0));
    let p = poller(&server, SECRET, 10);
    let w = window(at(0, 0), at(5, 0));
    drain(&p, &w).await.unwrap();
    fake.revoke_tokens();
    let (payloads, _) = drain(&p, &w).await.unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(
        fake.api_requests(),
        3,
        "one page, one refused try, its retry"
    );
}

#[tokio::test]
async fn rate_limiting_backs_off_then_succeeds() {
    let fake = fake();
    let server = fake.start().await;
    add(&fake, 1, at(1, 0));
    fake.rate_limit_next(4);
    let (payloads, _) = drain(&poller(&server, SECRET, 10), &window(at(0, 0), at(5, 0)))
        .await
        .unwrap();
    assert_eq!(payloads.len(), 1);
    assert_eq!(fake.api_requests(), 4 + 1);
}

#[tokio::test]
async fn persistent_rate_limiting_gives_up() {
    let fake = fake();
    let server = fake.start().await;
    fake.rate_limit_next(1000);
    fake.set_retry_after(1);
    let p = DefenderPoller::new(settings(&server, TENANT, 10), SECRET)
        .unwrap()
        .with_retry(RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(1),
            max_wait: Duration::from_secs(1),
        });
    let e = p
        .fetch(&window(at(0, 0), at(5, 0)), None)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        PollError::RateLimited {
            retry_after: Duration::from_secs(1)
        }
    );
    assert_eq!(fake.api_requests(), 1 + 2, "first try and two retries");
}

#[tokio::test]
async fn a_wrong_secret_fails_the_connection_test_with_entras_reason() {
    let fake = fake();
    let server = fake.start().await;
    let p = poller(&server, "not-the-secret", 10);
    let e = p.test().await.unwrap_err();
    let PollError::Auth(message) = &e else {
        panic!("expected an auth error, got {e}");
    };
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(message.contains("client secret value"), "{message}");
    assert!(!message.contains("Trace ID"), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    assert_eq!(fake.api_requests(), 0);
}

#[tokio::test]
async fn a_wrong_tenant_fails_with_entras_reason() {
    let fake = fake();
    let server = fake.start().await;
    let p = DefenderPoller::new(settings(&server, "contoso.onmicrosoft.com", 10), SECRET).unwrap();
    let e = p.test().await.unwrap_err();
    assert!(
        matches!(&e, PollError::Auth(m) if m.contains("AADSTS90002") && m.contains("tenant id")),
        "{e}"
    );
}

#[tokio::test]
async fn the_connection_test_passes_with_good_credentials() {
    let fake = fake();
    let server = fake.start().await;
    poller(&server, SECRET, 10).test().await.unwrap();
    assert_eq!((fake.token_requests(), fake.api_requests()), (1, 1));
}

#[tokio::test]
async fn polling_window_a_then_b_after_a_restart_sees_each_alert_once() {
    let fake = fake();
    let server = fake.start().await;
    let (a, b) = (window(at(1, 0), at(2, 0)), window(at(2, 0), at(3, 0)));
    let mut expected = HashSet::new();
    for n in 0..40u32 {
        // Spread over 10:00:30 – 10:03:30; the ends fall outside A ∪ B.
        let t = at(0, 30) + ChronoDuration::seconds(i64::from(n) * 5);
        let alert_id = add(&fake, n, t);
        if a.since <= t && t < b.until {
            expected.insert(alert_id);
        }
    }
    let mut seen = Vec::new();
    for w in [a, b] {
        let p = poller(&server, SECRET, 4); // a new instance, as after a restart
        seen.extend(drain(&p, &w).await.unwrap().0.iter().map(id));
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an alert came twice");
    assert_eq!(unique, expected);
}

#[tokio::test]
async fn a_late_update_shows_up_in_the_later_window() {
    let fake = fake();
    let server = fake.start().await;
    let alert_id = add(&fake, 1, at(1, 0));
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
    assert_eq!(later.iter().map(id).collect::<Vec<_>>(), [alert_id]);
}
