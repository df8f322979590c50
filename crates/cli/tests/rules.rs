//! From an alert to an investigation, end to end on SQLite and Postgres: real GuardDuty,
//! CrowdStrike and Defender samples from the corpus, posted to the API, are matched
//! against detection rules and resolved in environments with AWS and local scopes; the
//! decision is recorded on every alert; alerts on one target within the window join one
//! investigation; investigations keep the rule version they started with.

mod common;

use common::{
    corpus, decided, get_json, library, outcome, post_json, serve_library, spawn_workers,
};
use riposte_rules::EvidenceRoots;
use riposte_store::testing::both;
use riposte_store::{BlobStore, Role, Store};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn sample(path: &str) -> Value {
    let text = std::fs::read_to_string(corpus().join("alerts").join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The CrowdStrike Linux detection, about `hostname`, with its own detection id.
fn crowdstrike(hostname: &str, n: u32) -> Value {
    let mut v =
        sample("crowdstrike/sekoia-stream-eppdetectionsummary-linux-custom-ioc-network.json");
    v["event"]["Hostname"] = hostname.into();
    v["event"]["CompositeId"] = format!("cid:ind:agent:{n}").into();
    v
}

/// Adds a library host `key` whose /etc/hostname is `hostname`.
fn add_host(lib: &Path, key: &str, hostname: &str) {
    let root = lib.join(key);
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::write(root.join("etc/hostname"), format!("{hostname}\n")).unwrap();
    std::fs::write(
        root.join("var/log/auth.log"),
        "Dec 10 06:55:46 host sshd[24200]: Failed password for root from 203.0.113.9 port 4000 ssh2\n",
    )
    .unwrap();
}

async fn post_alert(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    source: &str,
    body: &Value,
) -> String {
    let r = post_json(
        http,
        format!("{base}/api/v1/sources/{source}/alerts"),
        key,
        body,
    )
    .await;
    assert_eq!(r.status(), 202, "{source}");
    let v: Value = r.json().await.unwrap();
    v["alerts"][0]["alert_id"].as_str().unwrap().to_string()
}

/// The investigation once it is complete or failed.
async fn finished(http: &reqwest::Client, base: &str, key: &str, inv: &str) -> Value {
    for _ in 0..300 {
        let d = get_json(http, format!("{base}/api/v1/investigations/{inv}"), key).await;
        if matches!(
            d["investigation"]["status"].as_str(),
            Some("complete" | "failed")
        ) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("investigation {inv} did not finish");
}

fn outcomes(alert: &Value) -> Vec<(String, String)> {
    alert["decision_detail"]["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rule"]["name"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn created(r: reqwest::Response) -> Value {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v:#}");
    v
}

#[tokio::test]
async fn corpus_alerts_trigger_the_right_rules_and_record_why() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        add_host(&lib, "cs-host", "example.com");
        add_host(&lib, "temp123", "temp123");
        add_host(&lib, "cs-other", "other.example.com");
        let store: Store = db.store().clone();
        let stop = spawn_workers(&store, tmp.path(), 2);
        let base = serve_library(store.clone(), tmp.path()).await;
        let http = reqwest::Client::new();
        let (_, key) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();

        let aws = created(
            post_json(&http, format!("{base}/api/v1/environments"), &key, &json!({
                "name": "aws-prod",
                "scopes": [{"kind": "aws", "accounts": ["123456789012", "303697492861"],
                            "regions": ["us-east-1", "ca-central-1"], "role_name": "RiposteResponder"}]
            }))
            .await,
        )
        .await;
        let lab = created(
            post_json(&http, format!("{base}/api/v1/environments"), &key, &json!({
                "name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]
            }))
            .await,
        )
        .await;
        let rule = |body: Value| {
            let http = http.clone();
            let url = format!("{base}/api/v1/rules");
            let key = key.clone();
            async move { created(post_json(&http, url, &key, &body).await).await }
        };
        rule(
            json!({"name": "gd-backdoor", "source": "guardduty", "environment_id": aws["id"],
            "priority": 10, "investigation_type": "full",
            "filters": {"min_severity": "medium", "finding_types": ["Backdoor:EC2/*"]},
            "actions": [{"action": "isolate_security_group", "on": "malicious"}]}),
        )
        .await;
        rule(json!({"name": "gd-everything", "source": "guardduty", "environment_id": aws["id"], "enabled": false}))
            .await;
        let cs_rule = rule(
            json!({"name": "falcon-lab", "source": "crowdstrike", "environment_id": lab["id"],
            "filters": {"min_severity": "high"}, "join_window_minutes": 30}),
        )
        .await;
        rule(
            json!({"name": "mde-lab", "source": "defender", "environment_id": lab["id"],
            "filters": {"titles": ["*Meterpreter*"]}, "attach_alert_context": false}),
        )
        .await;

        // GuardDuty Backdoor:EC2/Spambot (medium) → gd-backdoor, EC2 acquisition in account
        // 303697492861, ca-central-1, with the rule's settings.
        let spambot = post_alert(
            &http,
            &base,
            &key,
            "guardduty",
            &sample("guardduty/eventbridge-ec2-backdoor-spambot.json"),
        )
        .await;
        let a = decided(&http, &base, &key, &spambot).await;
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            outcomes(&a),
            pairs(&[
                ("gd-backdoor", "applied"),
                ("falcon-lab", "not_matched"),
                ("gd-everything", "disabled"),
                ("mde-lab", "not_matched"),
            ]),
            "{a:#}"
        );
        assert!(
            outcome(&a, "falcon-lab")["reason"]
                .as_str()
                .unwrap()
                .contains("source is guardduty")
        );
        assert_eq!(a["decision_detail"]["joined"], false);
        let inv = a["investigation_id"].as_str().unwrap().to_string();
        assert!(
            a["decision"]
                .as_str()
                .unwrap()
                .contains("started by rule gd-backdoor (version 1)"),
            "{a:#}"
        );
        // The plan is recorded when the investigation starts (the acquisition itself, from
        // EBS snapshots, is tested against an AWS emulator in cloud_acquisition.rs).
        let d = get_json(&http, format!("{base}/api/v1/investigations/{inv}"), &key).await;
        let plan = &d["investigation"]["plan"];
        assert_eq!(plan["rule"]["name"], "gd-backdoor");
        assert_eq!(plan["investigation_type"], "full");
        assert_eq!(plan["actions"][0]["action"], "isolate_security_group");
        assert_eq!(plan["scope"]["environment"], "aws-prod");
        assert_eq!(
            plan["scope"]["acquisition"],
            json!({"method": "ec2", "account_id": "303697492861", "region": "ca-central-1",
                   "instance_id": "i-99999999", "role_name": "RiposteResponder"})
        );

        // GuardDuty SSH brute force is low severity: no rule takes it, and the alert says why.
        let brute = post_alert(
            &http,
            &base,
            &key,
            "guardduty",
            &sample("guardduty/panther-ec2-sshbruteforce.json"),
        )
        .await;
        let a = decided(&http, &base, &key, &brute).await;
        assert!(a["investigation_id"].is_null());
        assert_eq!(
            a["decision"], "no investigation: none of the 3 enabled rule(s) matched",
            "{a:#}"
        );
        assert_eq!(
            outcome(&a, "gd-backdoor")["reason"],
            "severity low is below the rule's minimum medium"
        );

        // CrowdStrike (high) on example.com → falcon-lab, found in the local library, and
        // carried through collection to a verdict, with the alert kept as context.
        let cs1 = post_alert(
            &http,
            &base,
            &key,
            "crowdstrike",
            &crowdstrike("example.com", 1),
        )
        .await;
        let a = decided(&http, &base, &key, &cs1).await;
        assert_eq!(outcome(&a, "falcon-lab")["outcome"], "applied", "{a:#}");
        assert!(
            outcome(&a, "falcon-lab")["reason"]
                .as_str()
                .unwrap()
                .contains("evidence library host cs-host")
        );
        let cs_inv = a["investigation_id"].as_str().unwrap().to_string();
        let d = finished(&http, &base, &key, &cs_inv).await;
        assert_eq!(d["investigation"]["status"], "complete", "{d:#}");
        assert_eq!(d["investigation"]["host"], "cs-host");
        let paths: Vec<&str> = d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["provenance"]["original_path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&"/var/log/auth.log"), "{paths:?}");
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/riposte/alert-context/")),
            "{paths:?}"
        );

        // A second CrowdStrike alert on the same host within 30 minutes joins it.
        let cs2 = post_alert(
            &http,
            &base,
            &key,
            "crowdstrike",
            &crowdstrike("example.com", 2),
        )
        .await;
        let a = decided(&http, &base, &key, &cs2).await;
        assert_eq!(a["investigation_id"], cs_inv.as_str(), "{a:#}");
        assert_eq!(a["decision_detail"]["joined"], true);
        assert!(
            a["decision"]
                .as_str()
                .unwrap()
                .starts_with("joined investigation")
        );
        let d = get_json(
            &http,
            format!("{base}/api/v1/investigations/{cs_inv}"),
            &key,
        )
        .await;
        assert_eq!(d["investigation"]["alert_ids"].as_array().unwrap().len(), 2);
        let logs = d["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["provenance"]["original_path"] == "/var/log/auth.log")
            .count();
        assert_eq!(logs, 1, "nothing is collected twice");

        // Defender Meterpreter (low, title matches) → mde-lab; its host temp123 is matched
        // by short name against temp123.middleeast.corp.microsoft.com; no context attached.
        let mde = post_alert(
            &http,
            &base,
            &key,
            "defender",
            &sample("defender/msdocs-mde-api-alert-meterpreter.json"),
        )
        .await;
        let a = decided(&http, &base, &key, &mde).await;
        assert_eq!(outcome(&a, "mde-lab")["outcome"], "applied", "{a:#}");
        let d = finished(&http, &base, &key, a["investigation_id"].as_str().unwrap()).await;
        assert_eq!(d["investigation"]["host"], "temp123");
        assert_eq!(d["investigation"]["plan"]["attach_alert_context"], false);
        assert!(
            d["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["provenance"]["method"] != "alert-context")
        );

        // Editing falcon-lab makes version 2; the running investigation keeps version 1.
        let mut spec = cs_rule.clone();
        for k in ["id", "version", "enabled", "created_at", "updated_at"] {
            spec.as_object_mut().unwrap().remove(k);
        }
        spec["investigation_type"] = "full".into();
        let r = http
            .put(format!(
                "{base}/api/v1/rules/{}",
                cs_rule["id"].as_str().unwrap()
            ))
            .bearer_auth(&key)
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v2: Value = r.json().await.unwrap();
        assert_eq!(v2["version"], 2);
        let d = get_json(
            &http,
            format!("{base}/api/v1/investigations/{cs_inv}"),
            &key,
        )
        .await;
        assert_eq!(d["investigation"]["plan"]["rule"]["version"], 1);
        assert_eq!(d["investigation"]["plan"]["investigation_type"], "triage");
        let cs3 = post_alert(
            &http,
            &base,
            &key,
            "crowdstrike",
            &crowdstrike("other.example.com", 3),
        )
        .await;
        let a = decided(&http, &base, &key, &cs3).await;
        assert_eq!(outcome(&a, "falcon-lab")["rule"]["version"], 2);
        let d = finished(&http, &base, &key, a["investigation_id"].as_str().unwrap()).await;
        assert_eq!(d["investigation"]["plan"]["investigation_type"], "full");
        assert_eq!(d["investigation"]["host"], "cs-other");
        assert_ne!(a["investigation_id"], cs_inv.as_str());

        // Disabled, it never fires again, and the alert says so.
        let r = post_json(
            &http,
            format!(
                "{base}/api/v1/rules/{}/disable",
                cs_rule["id"].as_str().unwrap()
            ),
            &key,
            &json!({}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let cs4 = post_alert(&http, &base, &key, "crowdstrike", &crowdstrike("labsz", 4)).await;
        let a = decided(&http, &base, &key, &cs4).await;
        assert!(a["investigation_id"].is_null());
        assert_eq!(outcome(&a, "falcon-lab")["outcome"], "disabled");

        // A rule whose environment cannot resolve the target records why.
        let unknown = post_alert(&http, &base, &key, "defender", &{
            let mut v = sample("defender/msdocs-mde-api-alert-meterpreter.json");
            v["id"] = "da000000000000000000_1".into();
            v["computerDnsName"] = "nowhere.example".into();
            v
        })
        .await;
        let a = decided(&http, &base, &key, &unknown).await;
        assert!(a["investigation_id"].is_null(), "{a:#}");
        assert_eq!(outcome(&a, "mde-lab")["outcome"], "not_resolved");
        assert!(
            outcome(&a, "mde-lab")["reason"]
                .as_str()
                .unwrap()
                .contains("no host in"),
            "{a:#}"
        );
        let summary = a["decision"].as_str().unwrap();
        assert!(
            summary
                .starts_with("no investigation: rule mde-lab matched, no scope covers the target")
                && summary.contains("nowhere.example"),
            "{summary}"
        );
        let _ = stop.send(true);
    }
}

#[tokio::test]
async fn simultaneous_alerts_on_one_target_start_one_investigation() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let store: Store = db.store().clone();
        assert!(
            riposte_worker::bootstrap::evidence_library_defaults(&store, &lib)
                .await
                .unwrap()
        );
        // Eight alerts on `victim` (10.20.0.9), accepted together, triaged by four workers.
        let alerts: Vec<riposte_model::Alert> = (0..8)
            .map(|i| {
                let payload = common::secdo_network("k", "10.20.0.9", &format!("burst-{i}"));
                riposte_sources::parser(riposte_model::AlertSource::Secdo)
                    .unwrap()
                    .parse(&payload, chrono::Utc::now())
                    .unwrap()
                    .remove(0)
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        riposte_worker::intake::accept_alerts(&mut tx, "test", None, &alerts)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let blobs = BlobStore::local(&tmp.path().join("evidence")).unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let config = WorkerConfig {
            evidence_roots: riposte_rules::EvidenceRoots::new([tmp.path().to_path_buf()]),
            poll_interval: Duration::from_millis(10),
            ..WorkerConfig::default()
        };
        for _ in 0..4 {
            tokio::spawn(Worker::new(store.clone(), blobs.clone(), config.clone()).run(rx.clone()));
        }
        let mut decided = 0;
        for _ in 0..400 {
            decided = 0;
            for a in &alerts {
                if store
                    .get_alert(a.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .decision
                    .is_some()
                {
                    decided += 1;
                }
            }
            if decided == alerts.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(decided, alerts.len());
        let _ = stop.send(true);
        let investigations = store.list_investigations(50, 0).await.unwrap();
        assert_eq!(investigations.len(), 1, "{}: {investigations:?}", db.name());
        let inv = store
            .get_investigation(investigations[0].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(inv.alert_ids.len(), alerts.len());
        let mut joined = 0;
        for a in &alerts {
            let stored = store.get_alert(a.id).await.unwrap().unwrap();
            assert_eq!(stored.investigation_id, Some(inv.id));
            if stored.decision_detail.unwrap().joined {
                joined += 1;
            }
        }
        assert_eq!(
            joined,
            alerts.len() - 1,
            "one started it, the others joined"
        );
    }
}

#[tokio::test]
async fn workers_refuse_local_evidence_outside_their_roots() {
    let db = riposte_store::testing::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let store: Store = db.store().clone();
    // The scope was valid when saved; this worker was started with another library.
    riposte_worker::bootstrap::evidence_library_defaults(&store, &lib)
        .await
        .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let payload = common::secdo_network("k", "10.20.0.9", "outside-1");
    let alerts = riposte_sources::parser(riposte_model::AlertSource::Secdo)
        .unwrap()
        .parse(&payload, chrono::Utc::now())
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    riposte_worker::intake::accept_alerts(&mut tx, "test", None, &alerts)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let config = WorkerConfig {
        evidence_roots: EvidenceRoots::new([elsewhere.path().to_path_buf()]),
        poll_interval: Duration::from_millis(10),
        ..WorkerConfig::default()
    };
    let blobs = BlobStore::local(&tmp.path().join("evidence")).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(Worker::new(store.clone(), blobs, config).run(rx));
    let mut failed = None;
    for _ in 0..300 {
        if let Some(inv) = store.list_investigations(5, 0).await.unwrap().first()
            && inv.status == riposte_model::InvestigationStatus::Failed
        {
            failed = store.get_investigation(inv.id).await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let inv = failed.expect("the investigation fails");
    let error = inv.error.unwrap();
    assert!(
        error.contains("refusing to collect") && error.contains("outside"),
        "{error}"
    );
    let evidence = store.list_evidence(inv.id).await.unwrap();
    assert!(
        evidence
            .iter()
            .all(|e| e.provenance.method == "alert-context"),
        "nothing read from the library: {evidence:?}"
    );
}
