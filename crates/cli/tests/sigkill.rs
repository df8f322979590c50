//! A real `riposte serve` killed with SIGKILL mid-pipeline: after a restart the
//! investigation completes, with nothing lost and nothing duplicated.

mod common;

use common::{apikey, get_json, library, secdo_network, start};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

async fn kill_mid_pipeline_then_recover(db_url: Option<&str>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let lib = library(tmp.path());
    let key = apikey(&data, db_url, "analyst");
    let http = reqwest::Client::new();

    // Slow stages so the kill lands mid-pipeline.
    let first = start(&data, &lib, db_url, &["--stage-delay-ms", "1500"]);
    let r = http
        .post(format!("{}/publicapi/v2/enrich_with_secdo/", first.base))
        .json(&secdo_network(&key, "10.20.0.9", "kill-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let alert = r.headers()["x-riposte-alert-id"]
        .to_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let inv_id = loop {
        let a = get_json(&http, format!("{}/api/v1/alerts/{alert}", first.base), &key).await;
        if let Some(inv) = a["investigation_id"].as_str() {
            let d = get_json(
                &http,
                format!("{}/api/v1/investigations/{inv}", first.base),
                &key,
            )
            .await;
            // Evidence is collected and the processing job is leased: kill now.
            if d["investigation"]["status"] == "processing"
                && d["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["kind"] == "process" && j["status"] == "running")
            {
                break inv.to_string();
            }
        }
        assert!(
            Instant::now() < deadline,
            "pipeline never reached processing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pid = Pid::from_raw(first.child.id() as i32);
    kill(pid, Signal::SIGKILL).unwrap();
    drop(first);

    // Restart on the same data: the expired lease is taken over and the pipeline finishes.
    let second = start(&data, &lib, db_url, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let d = loop {
        let d = get_json(
            &http,
            format!("{}/api/v1/investigations/{inv_id}", second.base),
            &key,
        )
        .await;
        if d["investigation"]["status"] == "complete" {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "investigation did not complete after restart: {d:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        d["investigation"]["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    // Nothing duplicated: one investigation, each artifact once, each event once, each stage done once.
    let list = get_json(
        &http,
        format!("{}/api/v1/investigations", second.base),
        &key,
    )
    .await;
    assert_eq!(list["investigations"].as_array().unwrap().len(), 1);
    let files = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provenance"]["method"] == "evidence-library")
        .count();
    assert_eq!(files, 3, "{:#}", d["evidence"]);
    let collected = d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "evidence.collected")
        .count();
    assert_eq!(collected, 3, "each artifact recorded once");
    let jobs: Vec<(&str, &str, u64)> = d["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["kind"].as_str().unwrap(),
                j["status"].as_str().unwrap(),
                j["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        jobs.iter().filter(|j| j.0 == "process").count(),
        1,
        "{jobs:?}"
    );
    assert!(jobs.iter().all(|j| j.1 == "done"), "{jobs:?}");
    assert_eq!(
        jobs.iter().find(|j| j.0 == "process").unwrap().2,
        2,
        "the killed stage ran twice: {jobs:?}"
    );
    // The stored events are exactly what one clean offline run produces.
    let offline = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["investigate", "--format", "json", "--no-bundled-yara"])
        .arg(lib.join("victim"))
        .output()
        .unwrap();
    assert!(offline.status.success());
    let offline: Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert_eq!(
        d["events_count"], offline["events"],
        "events after recovery equal a clean run's"
    );
    assert_eq!(
        d["alarms"].as_array().unwrap().len(),
        offline["alarms"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn sigkill_mid_pipeline_on_sqlite_loses_and_duplicates_nothing() {
    kill_mid_pipeline_then_recover(None).await;
}

#[tokio::test]
async fn sigkill_mid_pipeline_on_postgres_loses_and_duplicates_nothing() {
    let url = riposte_store::testing::fresh_postgres_url().await;
    kill_mid_pipeline_then_recover(Some(&url)).await;
}

/// Floods a real server with alerts from many connections, SIGKILLs it mid-flood, and
/// restarts it: every alert it acknowledged (202) is stored, is triaged after the restart,
/// and is still deduplicated.
async fn acknowledged_alerts_survive_sigkill(db_url: Option<&str>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let lib = library(tmp.path());
    let key = apikey(&data, db_url, "analyst");
    let http = reqwest::Client::new();
    let first = start(&data, &lib, db_url, &[]);
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(String, Value)>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for sender in 0..24 {
        let (http, base, key) = (http.clone(), first.base.clone(), key.clone());
        let (acknowledged, count) = (acknowledged.clone(), count.clone());
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let alert = serde_json::json!({
                    "title": format!("flood {sender}-{n}"), "severity": "low",
                    "event_id": format!("flood-{sender}-{n}"),
                    "target": {"hostname": format!("flood-host-{}", n % 7)}
                });
                let Ok(r) = http
                    .post(format!("{base}/api/v1/alerts"))
                    .bearer_auth(&key)
                    .json(&alert)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 202 {
                    return;
                }
                let Ok(body) = r.json::<Value>().await else {
                    return;
                };
                let id = body["alert_id"].as_str().unwrap().to_string();
                acknowledged.lock().unwrap().push((id, alert));
                count.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < 400 {
        assert!(Instant::now() < deadline, "the flood never got 400 answers");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kill(Pid::from_raw(first.child.id() as i32), Signal::SIGKILL).unwrap();
    for s in senders {
        s.await.unwrap();
    }
    drop(first);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 400);

    let second = start(&data, &lib, db_url, &[]);
    let list = get_json(
        &http,
        format!("{}/api/v1/alerts?limit=1", second.base),
        &key,
    )
    .await;
    assert!(
        list["total"].as_u64().unwrap() >= acknowledged.len() as u64,
        "{} acknowledged, {} stored",
        acknowledged.len(),
        list["total"]
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    for (id, _) in &acknowledged {
        loop {
            let a = get_json(&http, format!("{}/api/v1/alerts/{id}", second.base), &key).await;
            assert_eq!(
                a["id"],
                id.as_str(),
                "acknowledged alert {id} was lost: {a}"
            );
            if a["decision"].is_string() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "alert {id} was never triaged: {a}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Still deduplicated: sending acknowledged alerts again changes nothing.
    for (id, alert) in acknowledged.iter().step_by(50) {
        let r = http
            .post(format!("{}/api/v1/alerts", second.base))
            .bearer_auth(&key)
            .json(alert)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["outcome"], "duplicate");
        assert_eq!(body["alert_id"], id.as_str());
    }
}

#[tokio::test]
async fn acknowledged_alerts_survive_sigkill_on_sqlite() {
    acknowledged_alerts_survive_sigkill(None).await;
}

#[tokio::test]
async fn acknowledged_alerts_survive_sigkill_on_postgres() {
    let url = riposte_store::testing::fresh_postgres_url().await;
    acknowledged_alerts_survive_sigkill(Some(&url)).await;
}
