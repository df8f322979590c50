//! End to end through a real `riposte serve` and a real AWS emulator (moto): a GuardDuty
//! sample alert from the corpus, posted to the server, matches a rule that isolates the
//! instance in an empty security group on a malicious verdict; the investigation over the
//! instance's local collection (SSH brute force, a root login, a reverse shell) reaches
//! Malicious; the action runs through the AWS SDK against moto, is recorded and audited;
//! a Slack-preset webhook gets "processing with alarms" and, named by the rule, "response
//! action taken". Then the same alert about an instance that does not exist: the action
//! is recorded failed with the AWS error code, "response action failed" is notified, and
//! the stage is not retried.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use common::{
    admin_key, create_resource, guardduty_sample_about, investigate_finding, library, serve_binary,
};
use riposte_aws::testing::{World, config};
use riposte_fakes::moto::{ACCESS_KEY_ID, ACCOUNT_ID, MotoServer, SECRET_ACCESS_KEY};
use riposte_notify::{SIGNATURE_HEADER, verify};
use serde_json::{Value, json};
use std::path::Path;

use std::sync::{Arc, Mutex};

const REGION: &str = "us-east-1";
/// An instance id that does not exist in moto.
const MISSING_INSTANCE: &str = "i-0deadbeefdeadbeef";
const RULE: &str = "isolate-ssh-brute-force";
const SLACK_SECRET: &str = "slack-signing-secret";

/// What a webhook receiver got: headers and the exact body.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/services/T0/B0/slack"), got)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The Slack message of the preset's template `{"text": "$Title\nDetails: $Event"}`.
fn slack_body(title: &str, event: &str) -> String {
    format!(
        r#"{{"text": {}}}"#,
        serde_json::to_string(&format!("{title}\nDetails: {event}")).unwrap()
    )
}

/// The bodies the receiver got, as text, each checked to be signed with the webhook's secret.
fn signed_bodies(received: &Received) -> Vec<String> {
    let now = chrono::Utc::now().timestamp();
    received
        .lock()
        .unwrap()
        .iter()
        .map(|(headers, body)| {
            let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
            assert!(
                verify(SLACK_SECRET, signature, body, now, 300).is_ok(),
                "bad signature {signature}"
            );
            assert_eq!(headers["content-type"], "application/json");
            String::from_utf8(body.to_vec()).unwrap()
        })
        .collect()
}

fn audit(d: &Value) -> Vec<(String, String)> {
    d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("response."))
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn jobs(d: &Value) -> Vec<(String, String, u64)> {
    d["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["kind"].as_str().unwrap().to_string(),
                j["status"].as_str().unwrap().to_string(),
                j["attempts"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_guardduty_alert_with_a_malicious_verdict_isolates_the_instance_in_moto_and_notifies_slack()
 {
    let moto = MotoServer::start().await;
    let world =
        World::create(&config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await).await;
    let instance = world.instance_id.clone();
    assert_eq!(
        world.instance_group_ids(&instance).await,
        world.sorted_group_ids()
    );

    // The library holds the instance's collection (folder named after it): the corpus SSH
    // log lines of one brute-forcing IP, a root login from it, a reverse shell in root's
    // history. A copy of it stands for an instance that no longer exists.
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    std::fs::remove_dir_all(lib.join("labsz")).unwrap();
    copy_tree(&lib.join("victim"), &lib.join(MISSING_INSTANCE));
    std::fs::rename(lib.join("victim"), lib.join(&instance)).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = admin_key(&data);
    let server = serve_binary(
        &data,
        &lib,
        &["--outbound-allow", "127.0.0.1/32"],
        &moto.env(REGION),
    );
    let http = reqwest::Client::new();
    let (slack_url, slack) = receiver().await;

    let environment = create_resource(
        &http,
        &server,
        &key,
        "environments",
        json!({"name": "aws-lab", "scopes": [
            {"kind": "local", "folder": lib.display().to_string()},
            {"kind": "aws", "accounts": [ACCOUNT_ID], "regions": [REGION]},
        ]}),
    )
    .await;
    create_resource(
        &http,
        &server,
        &key,
        "webhooks",
        json!({"name": "soc-slack", "url": slack_url, "preset": "slack",
               "events": ["processing_with_alarms"], "secret": SLACK_SECRET,
               "max_attempts": 2, "base_delay_ms": 10}),
    )
    .await;
    create_resource(
        &http,
        &server,
        &key,
        "rules",
        json!({"name": RULE, "source": "guardduty", "environment_id": environment["id"],
               "priority": 1, "filters": {"finding_types": ["UnauthorizedAccess:EC2/SSHBruteForce"]},
               "actions": [{"action": "isolate_security_group", "on": "malicious"}],
               "notifications": [{"webhook": "soc-slack",
                                  "events": ["response_action_taken", "response_action_failed"]}]}),
    )
    .await;

    // The sample, about the instance created in moto.
    let d = investigate_finding(
        &http,
        &server,
        &key,
        &guardduty_sample_about(&instance, None),
    )
    .await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "complete", "{d:#}");
    assert_eq!(inv["host"], instance.as_str());
    assert_eq!(
        inv["verdict"]["verdict"], "Malicious Activity Identified",
        "{:#}",
        d["alarms"]
    );
    assert_eq!(inv["plan"]["rule"]["name"], RULE);

    // In moto: the instance's only group is a new one, with no rule in or out.
    let groups = world.instance_group_ids(&instance).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(!world.group_ids.contains(&groups[0]));
    let isolation = world
        .security_group(&groups[0])
        .await
        .expect("the isolation group");
    assert_eq!(
        isolation.group_name(),
        Some(format!("riposte-isolation-{instance}").as_str())
    );
    assert!(isolation.ip_permissions().is_empty(), "{isolation:?}");
    assert!(
        isolation.ip_permissions_egress().is_empty(),
        "{isolation:?}"
    );

    // The record: succeeded, by the rule, with what release needs.
    let actions = d["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let action = &actions[0];
    assert_eq!(action["action"], "isolate_security_group");
    assert_eq!(action["status"], "succeeded", "{action:#}");
    assert_eq!(action["requested_by"], format!("rule:{RULE}"));
    assert_eq!(action["target"]["instance_id"], instance.as_str());
    assert_eq!(action["target"]["region"], REGION);
    assert_eq!(action["change"]["isolation_group_id"], groups[0].as_str());
    let mut original: Vec<String> =
        serde_json::from_value(action["change"]["original_group_ids"].clone()).unwrap();
    original.sort();
    assert_eq!(original, world.sorted_group_ids());
    // The audit trail: the worker saw the trigger; the rule requested, took and notified.
    let actor = format!("rule:{RULE}");
    let trail = audit(&d);
    assert_eq!(trail[0].0, "response.triggered", "{trail:?}");
    assert!(trail[0].1.starts_with("worker:"), "{trail:?}");
    assert_eq!(
        trail[1..],
        [
            ("response.requested".to_string(), actor.clone()),
            ("response.taken".to_string(), actor.clone()),
            ("response.notified".to_string(), actor.clone()),
        ]
    );
    let mut kinds = jobs(&d);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("collect", "done", 1),
            ("detect", "done", 1),
            ("notify", "done", 1),
            ("process", "done", 1),
            ("respond", "done", 1)
        ]
        .map(|(k, s, n)| (k.to_string(), s.to_string(), n))
    );

    // Slack: the preset's message for "processing with alarms" (subscribed) and "response
    // action taken" (named by the rule), each once, signed.
    let title = inv["title"].as_str().unwrap();
    let mut bodies = signed_bodies(&slack);
    bodies.sort();
    let mut expected = vec![
        slack_body(title, "Processing with alarms"),
        slack_body(title, "Response action taken"),
    ];
    expected.sort();
    assert_eq!(bodies, expected);

    // The same finding about an instance moto does not have.
    let failing =
        guardduty_sample_about(MISSING_INSTANCE, Some("0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"));
    let d = investigate_finding(&http, &server, &key, &failing).await;
    let inv = &d["investigation"];
    assert_eq!(inv["verdict"]["verdict"], "Malicious Activity Identified");
    let actions = d["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert_eq!(actions[0]["status"], "failed", "{:#}", actions[0]);
    assert_eq!(actions[0]["error"]["code"], "InvalidInstanceID.NotFound");
    assert!(
        actions[0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("DescribeInstances: "),
        "{:#}",
        actions[0]
    );
    assert_eq!(
        audit(&d)[1..],
        [
            ("response.requested".to_string(), actor.clone()),
            ("response.failed".to_string(), actor.clone()),
            ("response.notified".to_string(), actor.clone()),
        ]
    );
    // Not retried: the respond stage ran once and succeeded with a failed action.
    let respond: Vec<_> = jobs(&d).into_iter().filter(|j| j.0 == "respond").collect();
    assert_eq!(respond, [("respond".to_string(), "done".to_string(), 1)]);
    let title = inv["title"].as_str().unwrap();
    let bodies = signed_bodies(&slack);
    assert_eq!(bodies.len(), 4, "{bodies:#?}");
    for event in ["Processing with alarms", "Response action failed"] {
        let body = slack_body(title, event);
        assert_eq!(
            bodies.iter().filter(|b| **b == body).count(),
            1,
            "{body} in {bodies:#?}"
        );
    }
    // The first instance kept its isolation; nothing else changed in moto.
    assert_eq!(world.instance_group_ids(&instance).await, groups);
    assert_eq!(
        world.instance_group_ids(&world.bare_instance_id).await,
        world.sorted_group_ids()
    );
}
