//! Scheduled hunts through the real API and real workers on SQLite and Postgres, with a
//! clock the tests set (no waiting for Sunday): a due run is started by exactly one of two
//! workers, lists the systems of an environment's local scope (the corpus OpenSSH log's
//! hosts) as they are at run time, records the targets it cannot acquire with their
//! reason, runs one investigation per system in the run's project, and sends
//! `hunt_completed` with the verdict counts when the last one finishes; a run missed while
//! the workers were down runs once; a run due while the previous one is going is skipped
//! and recorded as such; bad definitions are refused naming the field at fault.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Received, library, serve_state, webhook_receiver};
use riposte_model::HuntSchedule;
use riposte_notify::OutboundPolicy;
use riposte_server::AppState;
use riposte_store::testing::{TestDb, both, sqlite};
use riposte_store::{MasterKey, Role, Store, WebhookSpec};
use riposte_worker::hunts::{Clock, ManualClock};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::path::PathBuf;

/// A server, keys, and two workers sharing a clock the test sets; nothing runs by itself.
struct Fixture {
    base: String,
    http: reqwest::Client,
    analyst: String,
    viewer: String,
    store: Store,
    workers: [Worker; 2],
    clock: ManualClock,
    lib: PathBuf,
    hooks: Received,
    _tmp: tempfile::TempDir,
}

async fn setup(db: &TestDb) -> Fixture {
    eprintln!("backend: {}", db.name());
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let store = db.store().clone();
    let key = MasterKey::generate();
    let roots = riposte_rules::EvidenceRoots::new([tmp.path().to_path_buf()]);
    let base = serve_state(AppState {
        evidence_roots: roots.clone(),
        ..AppState::new(store.clone(), key.clone())
    })
    .await;
    let (analyst, viewer) = (
        store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap()
            .1,
        store
            .create_api_key("viewer", Role::Viewer)
            .await
            .unwrap()
            .1,
    );
    let (hook, hooks) = webhook_receiver().await;
    // Subscribed to nothing: it hears of the hunt because the hunt names it.
    store
        .create_webhook(
            &key,
            &WebhookSpec {
                name: "soc".into(),
                url: hook,
                preset: "custom".into(),
                events: vec![],
                template: None,
                settings: json!({}),
                max_attempts: 2,
                base_delay_ms: 10,
                enabled: true,
            },
            None,
            None,
        )
        .await
        .unwrap();
    let (clock, handle) = Clock::manual(Utc::now());
    let config = WorkerConfig {
        evidence_roots: roots,
        master_key: key,
        outbound: OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        },
        clock,
        ..WorkerConfig::default()
    };
    let blobs = riposte_store::BlobStore::local(&tmp.path().join("evidence")).unwrap();
    let workers = [
        Worker::new(store.clone(), blobs.clone(), config.clone()),
        Worker::new(store.clone(), blobs, config),
    ];
    Fixture {
        base,
        http: reqwest::Client::new(),
        analyst,
        viewer,
        store,
        workers,
        clock: handle,
        lib,
        hooks,
        _tmp: tmp,
    }
}

impl Fixture {
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1/{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, &self.analyst, path, Some(body))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self
            .send(reqwest::Method::GET, &self.viewer, path, None)
            .await;
        assert_eq!(status, 200, "GET {path}: {v:#}");
        v
    }

    /// The lab environment: the library's hosts, plus an SSH scope naming a network.
    async fn lab(&self) {
        let (status, v) = self
            .post(
                "environments",
                &json!({"name": "lab", "scopes": [
                    {"kind": "local", "folder": self.lib.display().to_string()},
                    {"kind": "ssh", "cidrs": ["10.99.0.0/24"], "credential": "ir-key"}
                ]}),
            )
            .await;
        assert_eq!(status, 201, "{v:#}");
    }

    /// Creates a hunt; returns it.
    async fn hunt(&self, spec: Value) -> Value {
        let (status, v) = self.post("hunts", &spec).await;
        assert_eq!(status, 201, "{v:#}");
        v
    }

    async fn runs(&self, hunt: &Value) -> Vec<Value> {
        let runs = self
            .get(&format!("hunts/{}/runs", hunt["id"].as_str().unwrap()))
            .await;
        runs["runs"].as_array().unwrap().clone()
    }

    /// Both workers look for due hunts at once; how many runs they recorded.
    async fn tick(&self, at: DateTime<Utc>) -> usize {
        self.clock.set(at);
        let (a, b) = tokio::join!(
            self.workers[0].schedule_hunts(),
            self.workers[1].schedule_hunts()
        );
        a.unwrap() + b.unwrap()
    }

    /// Runs jobs until none is left and every finished run is completed and notified.
    async fn drain(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
        loop {
            let mut worked = false;
            while self.workers[0].run_one().await.unwrap() {
                worked = true;
                assert!(std::time::Instant::now() < deadline, "jobs never ran out");
            }
            worked |= self.workers[1].finish_hunt_runs().await.unwrap() > 0;
            if !worked {
                break;
            }
        }
    }

    fn received(&self, event: &str) -> Vec<Value> {
        self.hooks
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, _)| h.get("x-riposte-event").is_some_and(|v| v == event))
            .map(|(_, b)| b.clone())
            .collect()
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_due_hunt_runs_once_across_two_workers_and_notifies_its_summary() {
    for db in both().await {
        let f = setup(&db).await;
        f.lab().await;
        let hunt = f
            .hunt(json!({
                "name": "Sunday hunt",
                "schedule": {"cron": "0 2 * * SUN", "time_zone": "Europe/London"},
                "scopes": [{"environment": "lab"}],
                "systems": [{"kind": "host", "hostname": "ghost.corp"}],
                "webhooks": ["soc"]
            }))
            .await;
        let due = time(&hunt["next_run_at"]);
        let schedule = HuntSchedule {
            cron: "0 2 * * SUN".into(),
            time_zone: "Europe/London".into(),
        };
        assert_eq!(due, schedule.next_after(Utc::now()).unwrap());
        assert!(schedule.local_time(due).ends_with("02:00 Europe/London"));

        // Not yet due: nothing happens.
        assert_eq!(f.tick(due - Duration::minutes(1)).await, 0);
        assert!(f.runs(&hunt).await.is_empty());
        // Due: the two workers race, one records the run.
        assert_eq!(f.tick(due + Duration::seconds(30)).await, 1);
        assert_eq!(f.tick(due + Duration::seconds(40)).await, 0);
        let runs = f.runs(&hunt).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(runs[0]["status"], "starting");
        assert_eq!(runs[0]["trigger"], "schedule");
        assert_eq!(time(&runs[0]["scheduled_for"]), due);
        let moved = f
            .get(&format!("hunts/{}", hunt["id"].as_str().unwrap()))
            .await;
        assert_eq!(time(&moved["next_run_at"]), due + Duration::days(7));

        f.drain().await;
        let run = f.runs(&hunt).await.remove(0);
        assert_eq!(run["status"], "completed", "{run:#}");
        // What could not be acquired is on the run, with why; the rest ran.
        let failed: Vec<(String, String)> = run["failed_targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap().to_string(),
                    t["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(failed.len(), 2, "{failed:#?}");
        assert!(
            failed
                .iter()
                .any(|(t, r)| t.contains("ghost.corp") && r.contains("no scope covers it")),
            "{failed:#?}"
        );
        assert!(
            failed
                .iter()
                .any(|(t, r)| t.contains("10.99.0.0/24") && r.contains("not swept")),
            "{failed:#?}"
        );
        // One investigation per host folder, in a project named after the hunt and time.
        let project = f
            .get(&format!("projects/{}", run["project_id"].as_str().unwrap()))
            .await;
        assert_eq!(
            project["project"]["name"],
            format!("Sunday hunt — {}", schedule.local_time(due))
        );
        let investigations = project["investigations"].as_array().unwrap();
        let mut hosts: Vec<&str> = investigations
            .iter()
            .map(|i| i["host"].as_str().unwrap())
            .collect();
        hosts.sort();
        assert_eq!(hosts, ["labsz", "victim"], "{project:#}");
        let count = |verdict: &str| {
            investigations
                .iter()
                .filter(|i| i["verdict"] == verdict)
                .count() as u64
        };
        let counts = &run["counts"];
        assert_eq!(counts["systems"], 2);
        assert_eq!(counts["malicious"], count("Malicious Activity Identified"));
        assert_eq!(counts["suspicious"], count("Suspicious Activity"));
        assert_eq!(counts["no_evidence"], count("No Evidence Found"));
        assert_eq!(counts["failed_targets"], 2);
        // The victim's reverse shell raises alarms.
        let with_alarms: Vec<&str> = counts["with_alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert!(with_alarms.contains(&"victim"), "{counts:#}");

        // The summary, once, to the hunt's webhook; and each system with alarms.
        let summaries = f.received("hunt_completed");
        assert_eq!(summaries.len(), 1, "{summaries:#?}");
        let summary = &summaries[0];
        assert_eq!(summary["title"], "Hunt Sunday hunt completed");
        let details = summary["details"].as_str().unwrap();
        assert!(
            details.starts_with(&format!(
                "2 systems: {} Malicious Activity Identified, {} Suspicious Activity, {} No Evidence Found, 0 failed; 2 targets not investigated.",
                counts["malicious"], counts["suspicious"], counts["no_evidence"]
            )),
            "{details}"
        );
        assert!(details.contains("victim"), "{details}");
        let alarmed: Vec<Value> = f.received("processing_with_alarms");
        assert!(
            alarmed.iter().any(|b| b["host"] == "victim"),
            "{alarmed:#?}"
        );
        assert_eq!(alarmed.len(), with_alarms.len(), "{alarmed:#?}");
        // Finishing again sends nothing twice.
        assert_eq!(f.workers[0].finish_hunt_runs().await.unwrap(), 0);
        f.drain().await;
        assert_eq!(f.received("hunt_completed").len(), 1);
    }
}

#[tokio::test]
async fn a_missed_run_runs_once_and_an_overlapping_run_is_skipped() {
    for db in both().await {
        let f = setup(&db).await;
        f.lab().await;
        let victim = f.lib.join("victim").display().to_string();
        let hunt = f
            .hunt(json!({
                "name": "hourly",
                "schedule": {"cron": "0 * * * *"},
                "systems": [{"kind": "path", "path": victim}],
            }))
            .await;
        let due = time(&hunt["next_run_at"]);
        // Everything was down for three weeks: one run, for the missed time, and the next
        // one is after now rather than the 500 missed hours.
        let back = due + Duration::days(21) + Duration::minutes(10);
        assert_eq!(f.tick(back).await, 1);
        assert_eq!(f.tick(back).await, 0);
        let runs = f.runs(&hunt).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(time(&runs[0]["scheduled_for"]), due);
        let next = time(
            &f.get(&format!("hunts/{}", hunt["id"].as_str().unwrap()))
                .await["next_run_at"],
        );
        assert_eq!(next, back + Duration::minutes(50));

        // Its systems are not investigated yet: the next firing is skipped, and recorded.
        assert_eq!(f.tick(next + Duration::seconds(5)).await, 1);
        let runs = f.runs(&hunt).await;
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0]["status"], "skipped", "{runs:#?}");
        assert_eq!(time(&runs[0]["scheduled_for"]), next);
        assert!(
            runs[0]["reason"]
                .as_str()
                .unwrap()
                .contains(runs[1]["id"].as_str().unwrap()),
            "{runs:#?}"
        );
        // By hand too, while it goes: 409 naming the run.
        let (status, v) = f
            .post(
                &format!("hunts/{}/run", hunt["id"].as_str().unwrap()),
                &json!({}),
            )
            .await;
        assert_eq!(status, 409, "{v:#}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains(runs[1]["id"].as_str().unwrap()),
            "{v:#}"
        );

        // Once it completes, a manual run starts.
        f.drain().await;
        assert_eq!(f.runs(&hunt).await[1]["status"], "completed");
        let (status, run) = f
            .post(
                &format!("hunts/{}/run", hunt["id"].as_str().unwrap()),
                &json!({}),
            )
            .await;
        assert_eq!(status, 202, "{run:#}");
        assert_eq!(run["trigger"], "manual");
        assert!(run["scheduled_for"].is_null());
        f.drain().await;
        let runs = f.runs(&hunt).await;
        assert_eq!(runs.len(), 3);
        // (Its time is the server's, not the test's clock, so it may not list first.)
        let manual = runs.iter().find(|r| r["id"] == run["id"]).unwrap();
        assert_eq!(manual["status"], "completed", "{runs:#?}");
        assert_eq!(manual["counts"]["systems"], 1);
    }
}

#[tokio::test]
async fn a_disabled_hunt_never_fires_but_can_be_run_by_hand() {
    let db = sqlite().await;
    let f = setup(&db).await;
    f.lab().await;
    let hunt = f
        .hunt(json!({
            "name": "paused", "enabled": false,
            "schedule": {"cron": "*/5 * * * *"},
            "scopes": [{"environment": "lab", "scope_index": 0}],
        }))
        .await;
    assert!(hunt["next_run_at"].is_null(), "{hunt:#}");
    assert_eq!(f.tick(Utc::now() + Duration::days(30)).await, 0);
    let (status, _) = f
        .post(
            &format!("hunts/{}/run", hunt["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    f.drain().await;
    let runs = f.runs(&hunt).await;
    assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
    assert_eq!(runs[0]["counts"]["systems"], 2);
    assert!(runs[0]["failed_targets"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_hunts_are_refused_naming_the_field_and_roles_are_enforced() {
    let db = sqlite().await;
    let f = setup(&db).await;
    f.lab().await;
    let good = json!({
        "name": "weekly", "schedule": {"cron": "0 2 * * SUN", "time_zone": "UTC"},
        "scopes": [{"environment": "lab"}]
    });
    let with = |path: &[&str], value: Value| {
        let mut spec = good.clone();
        let mut at = &mut spec;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        spec
    };
    for (spec, field) in [
        (
            with(&["schedule", "cron"], json!("0 2 * *")),
            "schedule.cron",
        ),
        (
            with(&["schedule", "cron"], json!("0 25 * * SUN")),
            "schedule.cron",
        ),
        (
            with(&["schedule", "time_zone"], json!("Europe/Atlantis")),
            "schedule.time_zone",
        ),
        (
            with(&["scopes"], json!([{"environment": "prod"}])),
            "scopes[0].environment",
        ),
        (
            with(
                &["scopes"],
                json!([{"environment": "lab", "scope_index": 7}]),
            ),
            "scopes[0].scope_index",
        ),
        (with(&["webhooks"], json!(["nobody"])), "webhooks[0]"),
        (with(&["scopes"], json!([])), "systems"),
        (with(&["systems"], json!([{"kind": "vm"}])), "systems[0]"),
        (with(&["systems"], json!([{"kind": "host"}])), "systems[0]"),
        (
            with(&["systems"], json!([{"kind": "path", "path": "/etc"}])),
            "systems[0].path",
        ),
        (with(&["name"], json!("  ")), "name"),
        (with(&["every"], json!("sunday")), "every"),
    ] {
        let (status, v) = f.post("hunts", &spec).await;
        assert_eq!(status, 422, "{spec}: {v:#}");
        let fields: Vec<&str> = v["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{v:#}"))
            .iter()
            .filter_map(|p| p["field"].as_str())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{spec}: expected {field} in {v:#}"
        );
    }
    assert!(f.store.list_hunts().await.unwrap().is_empty());

    // Viewers read, analysts write, nobody anonymous.
    let (status, _) = f
        .send(reqwest::Method::POST, &f.viewer, "hunts", Some(&good))
        .await;
    assert_eq!(status, 403);
    let (status, _) = f
        .send(reqwest::Method::POST, "rip_nobody", "hunts", Some(&good))
        .await;
    assert_eq!(status, 401);
    let hunt = f.hunt(good.clone()).await;
    let path = format!("hunts/{}", hunt["id"].as_str().unwrap());
    let (status, _) = f.post("hunts", &good).await;
    assert_eq!(status, 409, "the name is taken");
    for (method, p) in [
        (reqwest::Method::PUT, path.clone()),
        (reqwest::Method::DELETE, path.clone()),
        (reqwest::Method::POST, format!("{path}/run")),
    ] {
        let (status, _) = f.send(method.clone(), &f.viewer, &p, Some(&good)).await;
        assert_eq!(status, 403, "viewer {method} {p}");
    }
    assert_eq!(f.get("hunts").await["hunts"].as_array().unwrap().len(), 1);
    assert_eq!(f.get(&format!("{path}/runs")).await["runs"], json!([]));

    // An edit moves the next run to the new schedule; disabling clears it.
    let (status, v) = f
        .send(
            reqwest::Method::PUT,
            &f.analyst,
            &path,
            Some(&with(&["schedule", "cron"], json!("30 3 1 * *"))),
        )
        .await;
    assert_eq!(status, 200, "{v:#}");
    let next = time(&v["next_run_at"]);
    assert_eq!(
        next,
        HuntSchedule {
            cron: "30 3 1 * *".into(),
            time_zone: "UTC".into()
        }
        .next_after(Utc::now())
        .unwrap()
    );
    let (status, v) = f
        .send(
            reqwest::Method::PUT,
            &f.analyst,
            &path,
            Some(&with(&["enabled"], json!(false))),
        )
        .await;
    assert_eq!(status, 200, "{v:#}");
    assert!(v["next_run_at"].is_null());
    let (status, _) = f
        .send(reqwest::Method::DELETE, &f.analyst, &path, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = f.send(reqwest::Method::GET, &f.viewer, &path, None).await;
    assert_eq!(status, 404);
}

#[test]
fn schedules_follow_the_time_zone() {
    // Sunday 02:00 in New York is 07:00 UTC in winter.
    let schedule = HuntSchedule {
        cron: "0 2 * * SUN".into(),
        time_zone: "America/New_York".into(),
    };
    let after = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
    assert_eq!(
        schedule.next_after(after).unwrap(),
        Utc.with_ymd_and_hms(2026, 12, 13, 7, 0, 0).unwrap()
    );
}

/// Launches an instance with `tags`; returns its id.
async fn launch(ec2: &aws_sdk_ec2::Client, tags: &[(&str, &str)]) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let run = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .tag_specifications(spec.build())
        .send()
        .await
        .unwrap();
    run.instances()[0].instance_id().unwrap().to_string()
}

/// "Every EC2 instance in account X tagged tier=critical": a real `riposte serve` with the
/// real AWS SDK against moto lists the scope's instances when the run starts, with the
/// selector's tags besides the scope's, and investigates each of them (terminated and
/// untagged ones are left out).
#[tokio::test]
async fn an_aws_scope_is_listed_at_run_time_by_its_tags() {
    use riposte_fakes::moto::{ACCESS_KEY_ID, ACCOUNT_ID, MotoServer, SECRET_ACCESS_KEY};
    const REGION: &str = "eu-west-2";
    let moto = MotoServer::start().await;
    let config =
        riposte_aws::testing::config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let critical_a = launch(&ec2, &[("tier", "critical"), ("env", "prod")]).await;
    let critical_b = launch(&ec2, &[("tier", "critical"), ("env", "prod")]).await;
    let _staging = launch(&ec2, &[("tier", "critical"), ("env", "staging")]).await;
    let _ordinary = launch(&ec2, &[("tier", "web"), ("env", "prod")]).await;
    let gone = launch(&ec2, &[("tier", "critical"), ("env", "prod")]).await;
    ec2.terminate_instances()
        .instance_ids(&gone)
        .send()
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = common::admin_key(&data);
    let server = common::serve_binary(&data, &lib, &[], &moto.env(REGION));
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}/api/v1/{path}", server.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let resp = post(
        "environments",
        json!({"name": "cloud", "scopes": [{"kind": "aws", "accounts": [ACCOUNT_ID], "regions": [REGION], "tags": {"env": "prod"}}]}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let resp = post(
        "hunts",
        json!({"name": "critical", "schedule": {"cron": "0 2 * * SUN"},
               "scopes": [{"environment": "cloud", "tags": {"tier": "critical"}}]}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let hunt: Value = resp.json().await.unwrap();
    let id = hunt["id"].as_str().unwrap();
    let resp = post(&format!("hunts/{id}/run"), json!({})).await.unwrap();
    assert_eq!(resp.status(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let runs = common::get_json(
            &http,
            format!("{}/api/v1/hunts/{id}/runs", server.base),
            &key,
        )
        .await;
        let run = runs["runs"][0].clone();
        if run["status"] != "starting" {
            break run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started: {}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        run["failed_targets"].as_array().unwrap().is_empty(),
        "{run:#}"
    );
    let project = common::get_json(
        &http,
        format!(
            "{}/api/v1/projects/{}",
            server.base,
            run["project_id"].as_str().unwrap()
        ),
        &key,
    )
    .await;
    let mut hosts: Vec<String> = project["investigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["host"].as_str().unwrap().to_string())
        .collect();
    hosts.sort();
    let mut expected = vec![critical_a, critical_b];
    expected.sort();
    assert_eq!(hosts, expected, "{project:#}");
}

/// A hunt's own IOC feed and YARA rules run over its systems in a real `riposte serve`
/// (besides the server's detectors), and only over its systems: the same host imported
/// without the hunt raises neither.
#[tokio::test]
async fn a_hunt_runs_its_own_ioc_feed_and_yara_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let rules = lib.join("hunt-rules");
    std::fs::create_dir_all(rules.join("yara")).unwrap();
    // The reverse shell's address in the victim's root history (the brute-forcing address
    // of the corpus log), as an IOC list.
    std::fs::write(
        rules.join("c2.csv"),
        "type,value,description\nipv4,183.62.140.253,reverse shell C2 (hunt list)\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("yara/revshell.yar"),
        "rule hunt_bash_dev_tcp { strings: $a = \"/dev/tcp/\" condition: $a }\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = common::admin_key(&data);
    let server = common::serve_binary(&data, &lib, &[], &[]);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1/{path}", server.base);
    let resp = common::post_json(
        &http,
        url("environments"),
        &key,
        &json!({"name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let victim = lib.join("victim").display().to_string();
    let labsz = lib.join("labsz").display().to_string();
    // Outside the evidence roots: refused, naming the entry.
    let resp = common::post_json(
        &http,
        url("hunts"),
        &key,
        &json!({"name": "c2", "schedule": {"cron": "0 2 * * SUN"},
                "systems": [{"kind": "path", "path": victim}],
                "detections": {"ioc_feeds": ["/etc/passwd"]}}),
    )
    .await;
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["fields"][0]["field"], "detections.ioc_feeds[0]", "{v:#}");
    let resp = common::post_json(
        &http,
        url("hunts"),
        &key,
        &json!({"name": "c2", "schedule": {"cron": "0 2 * * SUN"},
                "systems": [{"kind": "path", "path": victim}, {"kind": "path", "path": labsz}],
                "detections": {"ioc_feeds": [format!("csv:{}", rules.join("c2.csv").display())],
                               "yara_rules": [rules.join("yara").display().to_string()]}}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let hunt: Value = resp.json().await.unwrap();
    let id = hunt["id"].as_str().unwrap();
    let resp = common::post_json(&http, url(&format!("hunts/{id}/run")), &key, &json!({})).await;
    assert_eq!(resp.status(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let run = loop {
        let runs = common::get_json(&http, url(&format!("hunts/{id}/runs")), &key).await;
        if runs["runs"][0]["status"] == "completed" {
            break runs["runs"][0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not complete: {runs:#}\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let project = common::get_json(
        &http,
        url(&format!("projects/{}", run["project_id"].as_str().unwrap())),
        &key,
    )
    .await;
    let detectors = |detail: &Value| -> Vec<(String, String)> {
        detail["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["detector"].as_str().unwrap().to_string(),
                    a["title"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    for inv in project["investigations"].as_array().unwrap() {
        let detail = common::get_json(
            &http,
            url(&format!("investigations/{}", inv["id"].as_str().unwrap())),
            &key,
        )
        .await;
        let found = detectors(&detail);
        let has = |name: &str| found.iter().any(|(d, _)| d == name);
        if inv["host"] == "victim" {
            assert!(has("ioc") && has("yara"), "{found:#?}");
            assert!(
                found
                    .iter()
                    .any(|(d, t)| d == "yara" && t.contains("hunt_bash_dev_tcp")),
                "{found:#?}"
            );
        } else {
            // LabSZ's log holds the same address (it brute-forced LabSZ too): the feed
            // matches there; the YARA rule finds no shell history to match.
            assert!(has("ioc") && !has("yara"), "{found:#?}");
        }
    }
    // The same host imported without the hunt: neither.
    let resp = common::post_json(&http, url("projects"), &key, &json!({"name": "plain"})).await;
    let plain: Value = resp.json().await.unwrap();
    let resp = common::post_json(
        &http,
        url(&format!(
            "projects/{}/imports",
            plain["id"].as_str().unwrap()
        )),
        &key,
        &json!({"systems": [{"kind": "path", "path": victim}]}),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let imported: Value = resp.json().await.unwrap();
    let inv = imported["investigations"][0]["investigation_id"]
        .as_str()
        .unwrap();
    let detail = common::wait_for_finished(&http, &server.base, &key, inv).await;
    let found = detectors(&detail);
    assert!(
        !found.iter().any(|(d, _)| d == "ioc" || d == "yara"),
        "{found:#?}"
    );
}
