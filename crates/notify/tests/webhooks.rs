//! Webhook delivery end to end: stored webhooks, the dispatcher, and a local receiver that
//! records the exact requests (method, path, headers, signature, body).

mod common;

use common::{Answer, loopback_allowed, ok, receiver, status};
use riposte_model::{NotificationEvent, RuleNotification};
use riposte_notify::{
    AlarmSummary, DELIVERY_HEADER, Dispatcher, EVENT_HEADER, NotificationContext, OutboundPolicy,
    SIGNATURE_HEADER, verify,
};
use riposte_store::testing::{TestDb, sqlite};
use riposte_store::{DeliveryTarget, MasterKey, Webhook, WebhookSpec};
use serde_json::json;
use std::time::{Duration, Instant};

const EVENT: NotificationEvent = NotificationEvent::ProcessingWithAlarms;

struct Setup {
    db: TestDb,
    key: MasterKey,
}

impl Setup {
    async fn new() -> Self {
        Setup {
            db: sqlite().await,
            key: MasterKey::generate(),
        }
    }

    async fn webhook(
        &self,
        spec: WebhookSpec,
        secret: Option<&str>,
        auth: Option<&str>,
    ) -> Webhook {
        self.db
            .store()
            .create_webhook(&self.key, &spec, secret, auth)
            .await
            .unwrap()
    }

    fn dispatcher(&self, policy: OutboundPolicy) -> Dispatcher {
        Dispatcher::new(self.db.store().clone(), self.key.clone(), policy)
    }

    async fn log(&self, id: &str) -> Vec<riposte_store::DeliveryAttempt> {
        let mut log = self
            .db
            .store()
            .list_deliveries(DeliveryTarget::Webhook, id, 50)
            .await
            .unwrap();
        log.reverse();
        log
    }
}

fn spec(name: &str, url: &str, preset: &str) -> WebhookSpec {
    WebhookSpec {
        name: name.into(),
        url: url.into(),
        preset: preset.into(),
        events: vec![EVENT],
        template: None,
        settings: json!({}),
        max_attempts: 3,
        base_delay_ms: 0,
        enabled: true,
    }
}

fn context() -> NotificationContext {
    NotificationContext {
        title: "Crypto miner on web-1".into(),
        verdict: Some("Malicious Activity Identified".into()),
        score: Some(90),
        host: Some("web-1".into()),
        url: Some("https://riposte.example/investigations/inv-1".into()),
        investigation_id: Some("inv-1".into()),
        alarms: vec![AlarmSummary {
            detector: "miner".into(),
            title: "XMRig started".into(),
            severity: "high".into(),
            mitre: vec!["T1496".into()],
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn slack_preset_posts_the_seed_payload_signed() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    let url = format!("{}/services/T000/B000/XXXX", rx.base);
    let hook = s
        .webhook(spec("slack", &url, "slack"), Some("hmac-key"), None)
        .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].report.ok());

    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/services/T000/B000/XXXX")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header(EVENT_HEADER), Some("processing_with_alarms"));
    assert_eq!(
        r.header(DELIVERY_HEADER),
        Some(outcomes[0].delivery_id.as_str())
    );
    assert_eq!(r.header("authorization"), None);
    // The seed's Slack payload `{"text": "$Title\nDetails: $Event"}`, rendered.
    assert_eq!(
        r.text(),
        r#"{"text": "Crypto miner on web-1\nDetails: Processing with alarms"}"#
    );
    let signature = r.header(SIGNATURE_HEADER).unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(verify("hmac-key", signature, &r.body, now, 60).is_ok());

    let log = s.log(&hook.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].attempt, log[0].status_code, log[0].ok),
        (1, Some(200), true)
    );
    assert_eq!(log[0].event, "processing_with_alarms");
    assert_eq!(log[0].response_excerpt.as_deref(), Some("ok"));
}

#[tokio::test]
async fn teams_preset_sends_a_message_card_with_the_investigation_link() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    s.webhook(
        spec("teams", &format!("{}/webhookb2/abc", rx.base), "teams"),
        None,
        None,
    )
    .await;
    s.dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    let body = rx.requests()[0].json();
    assert_eq!(body["@type"], "MessageCard");
    assert_eq!(body["@context"], "https://schema.org/extensions");
    assert_eq!(body["summary"], "Crypto miner on web-1");
    assert_eq!(
        body["title"],
        "Processing with alarms: Crypto miner on web-1"
    );
    assert_eq!(
        body["text"],
        "Verdict: Malicious Activity Identified (score 90)\nAlarms: XMRig started [high]"
    );
    assert_eq!(
        body["sections"][0]["facts"][2],
        json!({"name": "Severity", "value": "high"})
    );
    assert_eq!(
        body["potentialAction"][0]["targets"][0]["uri"],
        "https://riposte.example/investigations/inv-1"
    );
}

#[tokio::test]
async fn jira_preset_creates_an_issue_with_basic_or_bearer_auth() {
    let rx = receiver(vec![Answer(
        201,
        vec![],
        r#"{"id":"10000","key":"SEC-24"}"#.into(),
    )])
    .await;
    let s = Setup::new().await;
    let mut basic = spec("jira-cloud", &format!("{}/", rx.base), "jira");
    basic.settings = json!({"project_key": "SEC", "issue_type": "Task"});
    let basic_hook = s
        .webhook(
            basic.clone(),
            None,
            Some(r#"{"type":"basic","username":"Aladdin","password":"open sesame"}"#),
        )
        .await;
    let mut bearer = basic;
    bearer.name = "jira-dc".into();
    bearer.url = format!("{}/jira/rest/api/2/issue", rx.base);
    s.webhook(bearer, None, Some(r#"{"type":"bearer","token":"pat-123"}"#))
        .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| o.report.ok()));

    let mut got = rx.requests();
    got.sort_by_key(|r| r.path.clone());
    assert_eq!(got[0].path, "/jira/rest/api/2/issue");
    assert_eq!(got[0].header("authorization"), Some("Bearer pat-123"));
    assert_eq!(got[1].path, "/rest/api/2/issue");
    // RFC 7617's own example credential.
    assert_eq!(
        got[1].header("authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    let fields = &got[1].json()["fields"];
    assert_eq!(fields["project"], json!({"key": "SEC"}));
    assert_eq!(fields["issuetype"], json!({"name": "Task"}));
    assert_eq!(
        fields["summary"],
        "[Riposte] Processing with alarms: Crypto miner on web-1"
    );
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .contains("Host: web-1")
    );
    let log = s.log(&basic_hook.id).await;
    assert_eq!(
        log[0].response_excerpt.as_deref(),
        Some(r#"{"id":"10000","key":"SEC-24"}"#)
    );
}

#[tokio::test]
async fn custom_templates_escape_hostile_values_into_valid_json() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    let mut custom = spec("custom", &format!("{}/in", rx.base), "custom");
    custom.template = Some(
        r#"{"msg": "[$Severity] $Title", "host": $Host, "score": $Score, "n": $Alarms}"#.into(),
    );
    s.webhook(custom, None, None).await;
    let mut ctx = context();
    ctx.title = "He said \"rm -rf /\"\nthen \\ left\ttab \u{7} ünïcödé ✓ 😀".into();
    ctx.host = Some("host\"},\"evil\":{\"x".into());
    s.dispatcher(loopback_allowed())
        .dispatch(EVENT, &ctx)
        .await
        .unwrap();
    let body = rx.requests()[0].json();
    assert_eq!(body["msg"], format!("[high] {}", ctx.title));
    assert_eq!(body["host"], "host\"},\"evil\":{\"x");
    assert_eq!(
        (body["score"].as_i64(), body["n"].as_i64()),
        (Some(90), Some(1))
    );
    assert_eq!(body.as_object().unwrap().len(), 4, "nothing injected");

    // The default custom template carries every variable as its JSON type.
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    s.webhook(
        spec("default", &format!("{}/in", rx.base), "custom"),
        None,
        None,
    )
    .await;
    s.dispatcher(loopback_allowed())
        .dispatch(EVENT, &ctx)
        .await
        .unwrap();
    let body = rx.requests()[0].json();
    assert_eq!(body["event"], "processing_with_alarms");
    assert_eq!(body["title"], ctx.title);
    assert_eq!(body["investigation_id"], "inv-1");
    assert!(body["alert_id"].is_null() && body["error"].is_null());
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_and_every_attempt_is_logged() {
    let rx = receiver(vec![status(503), ok()]).await;
    let s = Setup::new().await;
    let mut retried = spec("retried", &format!("{}/hook", rx.base), "custom");
    retried.base_delay_ms = 300;
    let hook = s.webhook(retried, Some("k"), None).await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(outcomes[0].report.ok());
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(300),
        "waited the base delay"
    );
    assert_eq!(
        got[0].header(DELIVERY_HEADER),
        got[1].header(DELIVERY_HEADER)
    );
    assert_eq!(got[0].body, got[1].body, "the same payload is retried");
    let log = s.log(&hook.id).await;
    let summary: Vec<_> = log
        .iter()
        .map(|a| (a.attempt, a.status_code, a.ok))
        .collect();
    assert_eq!(summary, [(1, Some(503), false), (2, Some(200), true)]);
    assert_eq!(log[0].error.as_deref(), Some("HTTP 503"));
    assert_eq!(log[0].response_excerpt.as_deref(), Some("status 503"));
    assert_eq!(log[0].delivery_id, log[1].delivery_id);
}

#[tokio::test]
async fn a_400_is_not_retried_and_attempts_run_out_on_5xx() {
    let rx = receiver(vec![status(400)]).await;
    let s = Setup::new().await;
    let hook = s
        .webhook(
            spec("bad", &format!("{}/hook", rx.base), "custom"),
            None,
            None,
        )
        .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(!outcomes[0].report.ok());
    assert_eq!(rx.requests().len(), 1);
    let log = s.log(&hook.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].error.as_deref(), Some("HTTP 400 (not retried)"));

    let rx = receiver(vec![status(500)]).await;
    let s = Setup::new().await;
    let hook = s
        .webhook(
            spec("down", &format!("{}/hook", rx.base), "custom"),
            None,
            None,
        )
        .await;
    s.dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert_eq!(rx.requests().len(), 3, "max_attempts");
    assert!(s.log(&hook.id).await.iter().all(|a| !a.ok));

    let rx = receiver(vec![status(408), status(429), ok()]).await;
    let s = Setup::new().await;
    s.webhook(
        spec("slow", &format!("{}/hook", rx.base), "custom"),
        None,
        None,
    )
    .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(outcomes[0].report.ok(), "408 and 429 are retried");
}

#[tokio::test]
async fn retry_after_is_honoured_and_an_excessive_one_gives_up() {
    let rx = receiver(vec![
        Answer(429, vec![("retry-after", "1".into())], "slow down".into()),
        ok(),
    ])
    .await;
    let s = Setup::new().await;
    s.webhook(
        spec("limited", &format!("{}/hook", rx.base), "custom"),
        None,
        None,
    )
    .await;
    let started = Instant::now();
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(outcomes[0].report.ok());
    let got = rx.requests();
    assert!(
        got[1].at - got[0].at >= Duration::from_secs(1),
        "base delay is 0; Retry-After said 1 s"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let rx = receiver(vec![
        Answer(503, vec![("retry-after", "120".into())], "".into()),
        ok(),
    ])
    .await;
    let s = Setup::new().await;
    let hook = s
        .webhook(
            spec("far", &format!("{}/hook", rx.base), "custom"),
            None,
            None,
        )
        .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .with_max_delay(Duration::from_secs(5))
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(!outcomes[0].report.ok());
    assert_eq!(rx.requests().len(), 1);
    let error = s.log(&hook.id).await[0].error.clone().unwrap();
    assert!(error.contains("retry after 120s"), "{error}");
}

#[tokio::test]
async fn non_public_addresses_are_refused_unless_allowlisted() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    let port = rx.base.rsplit(':').next().unwrap().to_string();
    for url in [
        format!("{}/hook", rx.base),
        format!("http://localhost:{port}/hook"),
        "http://10.1.2.3/hook".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let s = Setup::new().await;
        let hook = s.webhook(spec("ssrf", &url, "custom"), None, None).await;
        let outcomes = s
            .dispatcher(OutboundPolicy::default())
            .dispatch(EVENT, &context())
            .await
            .unwrap();
        assert!(!outcomes[0].report.ok(), "{url}");
        let log = s.log(&hook.id).await;
        assert_eq!(log.len(), 1, "a refused address is not retried: {url}");
        assert!(
            log[0]
                .error
                .as_deref()
                .unwrap()
                .contains("non-public address"),
            "{url}: {:?}",
            log[0].error
        );
        assert!(
            !log[0].error.as_deref().unwrap().contains("meta-data"),
            "paths are not logged"
        );
    }
    assert!(rx.requests().is_empty(), "nothing reached the receiver");

    s.webhook(
        spec("allowed", &format!("{}/hook", rx.base), "custom"),
        None,
        None,
    )
    .await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert!(outcomes[0].report.ok());
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let rx = receiver(vec![Answer(
        302,
        vec![(
            "location",
            "http://169.254.169.254/latest/meta-data/".into(),
        )],
        "".into(),
    )])
    .await;
    let s = Setup::new().await;
    let hook = s
        .webhook(
            spec("redirect", &format!("{}/hook", rx.base), "custom"),
            None,
            None,
        )
        .await;
    s.dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert_eq!(rx.requests().len(), 1);
    let log = s.log(&hook.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status_code, Some(302));
    assert!(
        log[0]
            .error
            .as_deref()
            .unwrap()
            .contains("redirects are not followed")
    );
}

#[tokio::test]
async fn only_enabled_webhooks_subscribed_to_the_event_hear_it() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    let subscribed = s
        .webhook(
            spec("yes", &format!("{}/yes", rx.base), "custom"),
            None,
            None,
        )
        .await;
    let mut off = spec("off", &format!("{}/off", rx.base), "custom");
    off.enabled = false;
    s.webhook(off, None, None).await;
    let mut other = spec("other", &format!("{}/other", rx.base), "custom");
    other.events = vec![NotificationEvent::AlertReceived];
    s.webhook(other, None, None).await;
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].target_id, subscribed.id);
    let paths: Vec<String> = rx.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/yes"]);
}

#[tokio::test]
async fn a_rules_webhooks_hear_its_events_once_beside_the_subscribed_ones() {
    let rx = receiver(vec![ok()]).await;
    let s = Setup::new().await;
    let hook = |name: &str, events: Vec<NotificationEvent>, enabled: bool| {
        let mut w = spec(name, &format!("{}/{name}", rx.base), "custom");
        w.events = events;
        w.enabled = enabled;
        w
    };
    // Subscribed to the event and named by the rule: one delivery, not two.
    s.webhook(hook("both", vec![EVENT], true), None, None).await;
    // Not subscribed, named by the rule (by id) for the event.
    let by_id = s
        .webhook(
            hook("rule-only", vec![NotificationEvent::AlertReceived], true),
            None,
            None,
        )
        .await;
    // Named by the rule for another event only.
    s.webhook(
        hook("other-event", vec![NotificationEvent::AlertReceived], true),
        None,
        None,
    )
    .await;
    // Named by the rule, but disabled.
    s.webhook(hook("disabled", vec![EVENT], false), None, None)
        .await;
    let rule = vec![
        RuleNotification {
            webhook: "both".into(),
            events: vec![EVENT, NotificationEvent::ResponseActionTaken],
        },
        RuleNotification {
            webhook: by_id.id.clone(),
            events: vec![EVENT],
        },
        RuleNotification {
            webhook: "other-event".into(),
            events: vec![NotificationEvent::ResponseActionFailed],
        },
        RuleNotification {
            webhook: "disabled".into(),
            events: vec![EVENT],
        },
        RuleNotification {
            webhook: "gone".into(),
            events: vec![EVENT],
        },
    ];
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch_for(EVENT, &context(), &rule)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let mut paths: Vec<String> = rx.requests().iter().map(|r| r.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["/both", "/rule-only"]);

    // Without the rule, only the subscribed webhook hears it.
    let outcomes = s
        .dispatcher(loopback_allowed())
        .dispatch(EVENT, &context())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].name, "both");
    assert_eq!(rx.requests().len(), 3);
}

#[tokio::test]
async fn send_test_makes_one_attempt_even_when_disabled() {
    let rx = receiver(vec![status(503)]).await;
    let s = Setup::new().await;
    let mut disabled = spec("t", &format!("{}/hook", rx.base), "slack");
    disabled.enabled = false;
    let hook = s.webhook(disabled, None, None).await;
    let outcome = s
        .dispatcher(loopback_allowed())
        .send_test(&hook)
        .await
        .unwrap();
    assert!(!outcome.report.ok());
    let got = rx.requests();
    assert_eq!(got.len(), 1, "a test is sent once");
    assert_eq!(got[0].header(EVENT_HEADER), Some("test"));
    assert_eq!(
        got[0].json()["text"],
        "Test notification from Riposte to t\nDetails: Test notification"
    );
    assert_eq!(s.log(&hook.id).await[0].event, "test");
}
