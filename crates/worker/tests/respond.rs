//! The respond stage with XDR containment, against a local Falcon API that records every
//! request: a rule's `contain_host` runs through the rule's CrowdStrike connection, is
//! recorded pending then succeeded, audited with the rule as the actor and notified to the
//! rule's own webhook; a retried stage runs nothing twice; an interrupted (pending) action
//! is checked again; a refusal is recorded failed with the vendor's message, notified, and
//! the stage is not retried.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use riposte_model::{
    Acquisition, ActionChange, ActionRecord, ActionStatus, ActionTrigger, EnvironmentId,
    Investigation, InvestigationId, InvestigationPlan, InvestigationStatus, InvestigationType,
    JobKind, JobStatus, NotificationEvent, ResponseAction, RuleAction, RuleId, RuleNotification,
    RuleRef, ScopeMatch, Target, Verdict, VerdictSummary, XdrHost,
};
use riposte_notify::OutboundPolicy;
use riposte_store::testing::{TestDb, sqlite};
use riposte_store::{BlobStore, MasterKey, NewJob, Store, WebhookSpec};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const RULE: &str = "contain-falcon-hosts";

/// A Falcon tenant: devices by id with their status; `forbidden-*` devices cannot be acted on.
#[derive(Clone, Default)]
struct Falcon {
    devices: Arc<Mutex<HashMap<String, String>>>,
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Falcon {
    /// (method, path, body) of every API call but the token's.
    fn calls(&self) -> Vec<(String, String, String)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _)| p != "/oauth2/token")
            .cloned()
            .collect()
    }
}

async fn falcon_api(State(f): State<Falcon>, method: Method, uri: Uri, body: Bytes) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let query = uri.query().unwrap_or_default().to_string();
    f.seen
        .lock()
        .unwrap()
        .push((method.to_string(), uri.path().to_string(), body.clone()));
    let (status, answer) = match (method.as_str(), uri.path()) {
        ("POST", "/oauth2/token") => (
            201,
            json!({"access_token": "falcon-token", "token_type": "bearer", "expires_in": 1799}),
        ),
        ("GET", "/devices/entities/devices/v2") => {
            let id = query.trim_start_matches("ids=");
            let status = f.devices.lock().unwrap().get(id).cloned();
            match status {
                Some(s) => (
                    200,
                    json!({"meta": {}, "resources": [{"device_id": id, "status": s}], "errors": []}),
                ),
                None => (200, json!({"meta": {}, "resources": [], "errors": []})),
            }
        }
        ("POST", "/devices/entities/devices-actions/v2") => {
            let request: Value = serde_json::from_str(&body).unwrap_or_default();
            let id = request["ids"][0].as_str().unwrap_or_default().to_string();
            if id.starts_with("forbidden") {
                (
                    403,
                    json!({"errors": [{"code": 403, "message": "access denied, authorization failed"}]}),
                )
            } else {
                let status = match query.as_str() {
                    "action_name=contain" => "containment_pending",
                    "action_name=lift_containment" => "lift_containment_pending",
                    other => panic!("unexpected devices action {other}"),
                };
                f.devices.lock().unwrap().insert(id.clone(), status.into());
                (
                    202,
                    json!({"meta": {}, "resources": [{"id": id}], "errors": []}),
                )
            }
        }
        _ => (
            404,
            json!({"errors": [{"code": 404, "message": "no route"}]}),
        ),
    };
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        axum::Json(answer),
    )
        .into_response()
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

type Hooks = Arc<Mutex<Vec<Value>>>;

async fn webhook_receiver() -> (String, Hooks) {
    let got: Hooks = Arc::default();
    let sink = got.clone();
    let app = Router::new().fallback(move |body: Bytes| {
        let sink = sink.clone();
        async move {
            sink.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            "ok"
        }
    });
    (format!("{}/hook", serve(app).await), got)
}

struct Setup {
    db: TestDb,
    key: MasterKey,
    worker: Worker,
    falcon: Falcon,
    connection_id: String,
    hooks: Hooks,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Self::with_dry_run(false).await
    }

    /// A worker started with `--response-dry-run` when `dry_run`.
    async fn with_dry_run(dry_run: bool) -> Setup {
        let db = sqlite().await;
        let store = db.store().clone();
        let key = MasterKey::generate();
        let falcon = Falcon::default();
        let base = serve(
            Router::new()
                .fallback(falcon_api)
                .with_state(falcon.clone()),
        )
        .await;
        let connection = store
            .create_connection(&key, &riposte_store::testing::falcon_connection(&base))
            .await
            .unwrap();
        // Subscribed to nothing about responses: it hears them because the rule names it.
        let (hook, hooks) = webhook_receiver().await;
        store
            .create_webhook(
                &key,
                &WebhookSpec {
                    name: "soc-falcon".into(),
                    url: hook,
                    preset: "custom".into(),
                    events: vec![NotificationEvent::AlertReceived],
                    template: Some(
                        r#"{"event": "$EventType", "action": "$Action", "error": "$Error", "title": "$Title"}"#
                            .into(),
                    ),
                    settings: json!({}),
                    max_attempts: 1,
                    base_delay_ms: 0,
                    enabled: true,
                },
                None,
                None,
            )
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = WorkerConfig {
            master_key: key.clone(),
            outbound: OutboundPolicy {
                allow: vec!["127.0.0.1/32".parse().unwrap()],
            },
            response_dry_run: dry_run,
            ..WorkerConfig::default()
        };
        let worker = Worker::new(
            store,
            BlobStore::local(&dir.path().join("evidence")).unwrap(),
            config,
        );
        Setup {
            db,
            key,
            worker,
            falcon,
            connection_id: connection.id,
            hooks,
            _dir: dir,
        }
    }

    fn store(&self) -> &Store {
        self.db.store()
    }

    /// A malicious investigation of a Falcon host whose rule contains it on malicious.
    /// A device in the given state at the vendor, and an investigation of it.
    async fn host(&self, device: &str, status: &str) -> InvestigationId {
        self.falcon
            .devices
            .lock()
            .unwrap()
            .insert(device.into(), status.into());
        self.investigation(device).await
    }

    async fn investigation(&self, device: &str) -> InvestigationId {
        let mut target = Target {
            hostname: Some("web-1".into()),
            ..Target::default()
        };
        target
            .tags
            .insert("crowdstrike.device_id".into(), device.into());
        let inv = Investigation {
            id: InvestigationId::new(),
            title: format!("Falcon detection on {device}"),
            status: InvestigationStatus::Complete,
            target,
            host: "web-1".into(),
            alert_ids: vec![],
            verdict: None,
            error: None,
            project_id: None,
            plan: Some(InvestigationPlan {
                rule: Some(RuleRef {
                    id: RuleId::new(),
                    name: RULE.into(),
                    version: 1,
                }),
                scope: ScopeMatch {
                    environment_id: EnvironmentId::new(),
                    environment: "lab".into(),
                    scope_index: 0,
                    acquisition: Acquisition::Library {
                        folder: "/lib".into(),
                        host: "web-1".into(),
                        host_root: "/lib/web-1".into(),
                    },
                    matched_on: "hostname web-1".into(),
                },
                investigation_type: InvestigationType::Triage,
                retain_snapshots: false,
                attach_alert_context: false,
                actions: vec![
                    RuleAction {
                        action: ResponseAction::ContainHost,
                        on: ActionTrigger::Malicious,
                    },
                    // The same action on a lower trigger also fires: it still runs once.
                    RuleAction {
                        action: ResponseAction::ContainHost,
                        on: ActionTrigger::Suspicious,
                    },
                ],
                notifications: vec![RuleNotification {
                    webhook: "soc-falcon".into(),
                    events: vec![
                        NotificationEvent::ResponseActionTaken,
                        NotificationEvent::ResponseActionFailed,
                    ],
                }],
                connection_id: Some(self.connection_id.clone()),
                detections: Default::default(),
            }),
            acquisition: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let mut tx = self.store().begin().await.unwrap();
        Store::create_investigation(&mut tx, &inv).await.unwrap();
        Store::set_verdict(
            &mut tx,
            inv.id,
            &VerdictSummary {
                verdict: Verdict::Malicious,
                score: 90,
                reasons: vec!["reverse shell".into()],
                inconclusive: false,
                warnings: Vec::new(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        inv.id
    }

    /// Enqueues the respond stage and runs every queued job.
    async fn respond(&self, inv: InvestigationId) {
        let mut tx = self.store().begin().await.unwrap();
        Store::enqueue(
            &mut tx,
            &NewJob::new(
                JobKind::Respond,
                json!({"investigation_id": inv.to_string()}),
                Some(inv),
            ),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        while self.worker.run_one().await.unwrap() {}
    }

    async fn records(&self, inv: InvestigationId) -> Vec<ActionRecord> {
        self.store()
            .list_action_records(Some(inv), 10, 0)
            .await
            .unwrap()
    }

    async fn audit(&self, inv: InvestigationId) -> Vec<(String, String)> {
        self.store()
            .audit_trail(inv)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action.starts_with("response."))
            .map(|e| (e.action, e.actor))
            .collect()
    }
}

fn rule_actor() -> String {
    format!("rule:{RULE}")
}

#[tokio::test]
async fn a_rule_contains_the_host_once_records_audits_and_notifies_it() {
    let s = Setup::new().await;
    let device = "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d";
    let inv = s.host(device, "normal").await;
    s.respond(inv).await;

    // The vendor saw: the device's status, then one contain of that device.
    assert_eq!(
        s.falcon.calls(),
        vec![
            (
                "GET".into(),
                "/devices/entities/devices/v2".into(),
                String::new()
            ),
            (
                "POST".into(),
                "/devices/entities/devices-actions/v2".into(),
                format!(r#"{{"ids":["{device}"]}}"#)
            ),
        ]
    );
    let records = s.records(inv).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(
        (r.action, r.status, r.dry_run),
        (ResponseAction::ContainHost, ActionStatus::Succeeded, false)
    );
    assert_eq!(r.requested_by, rule_actor());
    assert_eq!(
        r.target,
        XdrHost {
            vendor: "crowdstrike".into(),
            host_id: device.into(),
            connection_id: s.connection_id.clone(),
        }
        .into()
    );
    assert_eq!(
        r.change,
        Some(ActionChange::ContainHost {
            vendor: "crowdstrike".into(),
            host_id: device.into(),
            previous_state: Some("normal".into()),
            vendor_action_id: None,
            contained: true,
        })
    );
    let actor = rule_actor();
    assert_eq!(
        s.audit(inv).await,
        vec![
            ("response.requested".to_string(), actor.clone()),
            ("response.taken".to_string(), actor.clone()),
            ("response.notified".to_string(), actor.clone()),
        ]
    );
    let hooks = s.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["event"], "response_action_taken");
    assert_eq!(hooks[0]["title"], format!("Falcon detection on {device}"));
    assert_eq!(
        hooks[0]["action"],
        format!("contain_host on {device}: contained crowdstrike host {device} (was normal)")
    );
    assert_eq!(hooks[0]["error"], "");

    // The stage again (a retry after a crash past the completion): nothing runs twice.
    s.respond(inv).await;
    assert_eq!(s.falcon.calls().len(), 2, "no new vendor call");
    assert_eq!(s.records(inv).await.len(), 1);
    assert_eq!(s.hooks.lock().unwrap().len(), 1, "no second notification");
    let jobs = s.store().investigation_jobs(inv).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.kind == JobKind::Respond && j.status == JobStatus::Done && j.attempts == 1),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn an_interrupted_action_is_checked_again_against_the_hosts_state() {
    let s = Setup::new().await;
    let device = "7c2e7b3d4d8a4c1ef11a4e0b9d1b1f9a";
    // The first attempt contained the host, then the worker died before recording it.
    let inv = s.host(device, "contained").await;
    let mut pending = ActionRecord::new(
        ResponseAction::ContainHost,
        XdrHost {
            vendor: "crowdstrike".into(),
            host_id: device.into(),
            connection_id: s.connection_id.clone(),
        },
        false,
    )
    .for_investigation(inv)
    .requested_by(rule_actor());
    pending.status = ActionStatus::Pending;
    s.store().insert_action_record(&pending).await.unwrap();

    s.respond(inv).await;
    let records = s.records(inv).await;
    assert_eq!(
        records.len(),
        1,
        "the pending record is completed, not doubled"
    );
    assert_eq!(records[0].id, pending.id);
    assert_eq!(records[0].status, ActionStatus::Succeeded);
    assert!(
        records[0].summary.contains("already contained"),
        "{}",
        records[0].summary
    );
    // Only the status was read: no second contain.
    assert_eq!(
        s.falcon
            .calls()
            .iter()
            .map(|(m, p, _)| format!("{m} {p}"))
            .collect::<Vec<_>>(),
        ["GET /devices/entities/devices/v2"]
    );
    assert_eq!(s.hooks.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_containment_is_recorded_failed_notified_and_not_retried() {
    let s = Setup::new().await;
    let device = "forbidden-0001";
    let inv = s.host(device, "normal").await;
    s.respond(inv).await;

    let records = s.records(inv).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.status, ActionStatus::Failed);
    let error = r.error.as_ref().expect("the vendor's error");
    assert!(
        error.message.contains("access denied") && error.message.contains("Hosts: Write"),
        "{error:?}"
    );
    let actor = rule_actor();
    assert_eq!(
        s.audit(inv).await,
        vec![
            ("response.requested".to_string(), actor.clone()),
            ("response.failed".to_string(), actor.clone()),
            ("response.notified".to_string(), actor.clone()),
        ]
    );
    let hooks = s.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["event"], "response_action_failed");
    assert!(
        hooks[0]["error"]
            .as_str()
            .unwrap()
            .contains("access denied"),
        "{hooks:?}"
    );
    // The stage succeeded with a failed action: it ran once and is not retried.
    let jobs = s.store().investigation_jobs(inv).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].status, jobs[0].attempts, jobs[0].last_error.clone()),
        (JobStatus::Done, 1, None)
    );
    let contains = s
        .falcon
        .calls()
        .iter()
        .filter(|(m, _, _)| m == "POST")
        .count();
    assert_eq!(contains, 1, "one attempt at the vendor");
}

#[tokio::test]
async fn a_dry_run_contains_nothing_and_records_what_it_would_do() {
    let s = Setup::with_dry_run(true).await;
    let device = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let inv = s.host(device, "normal").await;
    s.respond(inv).await;

    assert_eq!(s.falcon.calls(), vec![], "no vendor call at all");
    assert_eq!(
        s.falcon
            .devices
            .lock()
            .unwrap()
            .get(device)
            .map(String::as_str),
        Some("normal")
    );
    let records = s.records(inv).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].status, records[0].dry_run),
        (ActionStatus::DryRun, true)
    );
    assert_eq!(
        records[0].summary,
        format!("dry run: would contain crowdstrike host {device} through connection falcon-eu")
    );
    let actor = rule_actor();
    assert_eq!(
        s.audit(inv).await,
        vec![
            ("response.requested".to_string(), actor.clone()),
            ("response.dry_run".to_string(), actor.clone()),
            ("response.notified".to_string(), actor.clone()),
        ]
    );
    let hooks = s.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["event"], "response_action_taken");
    assert!(
        hooks[0]["action"].as_str().unwrap().starts_with(&format!(
            "contain_host (dry run) on {device}: dry run: would contain"
        )),
        "{hooks:?}"
    );
}

#[tokio::test]
async fn a_containment_by_a_rule_is_released_through_its_connection() {
    let s = Setup::new().await;
    let device = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";
    let inv = s.host(device, "normal").await;
    s.respond(inv).await;
    let record = s.records(inv).await.remove(0);
    let outbound = OutboundPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
    };
    let note = riposte_worker::respond::release_containment(s.store(), &s.key, &outbound, &record)
        .await
        .unwrap();
    assert_eq!(
        note,
        format!("lifted the containment of crowdstrike host {device}")
    );
    assert_eq!(
        s.falcon.devices.lock().unwrap()[device],
        "lift_containment_pending",
        "the vendor was asked to lift the containment"
    );
    let last = s.falcon.calls().pop().unwrap();
    assert_eq!(
        last,
        (
            "POST".into(),
            "/devices/entities/devices-actions/v2".into(),
            format!(r#"{{"ids":["{device}"]}}"#)
        )
    );

    // A host that was already contained before the rule acted is left contained.
    let before = s.falcon.calls().len();
    let mut already = record.clone();
    if let Some(ActionChange::ContainHost { contained, .. }) = &mut already.change {
        *contained = false;
    }
    let note = riposte_worker::respond::release_containment(s.store(), &s.key, &outbound, &already)
        .await
        .unwrap();
    assert!(note.contains("left contained"), "{note}");
    assert_eq!(s.falcon.calls().len(), before, "no vendor call");

    // Failed or dry-run records are not released; a wrong key cannot open the credential.
    let mut failed = record.clone();
    failed.status = ActionStatus::Failed;
    assert!(
        riposte_worker::respond::release_containment(s.store(), &s.key, &outbound, &failed)
            .await
            .is_err()
    );
    let err = riposte_worker::respond::release_containment(
        s.store(),
        &MasterKey::generate(),
        &outbound,
        &record,
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("credential"), "{err}");
}
