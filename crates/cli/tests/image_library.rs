//! Disk images and triage packages as hosts of the evidence library: an alert on the host
//! a qcow2 image is named after is investigated from inside the image (the triage
//! profile's files, hashed, with their partition, filesystem and inode as provenance),
//! on SQLite and Postgres.

mod common;

use common::{BRUTE_IP, disk_image, get_json, secdo_network, serve_in_process, tool};
use riposte_acquire::{EvidenceLibrary, HostEvidence};
use riposte_store::testing::both;
use riposte_store::{BlobStore, Role, Store};
use riposte_worker::{Worker, WorkerConfig};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The inode `debugfs` reports for `path` in the ext4 image at `fs_image`.
fn debugfs_inode(fs_image: &Path, path: &str) -> u64 {
    let out = std::process::Command::new("debugfs")
        .args(["-R", &format!("stat {path}")])
        .arg(fs_image)
        .output()
        .expect("run debugfs: install e2fsprogs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "Inode:")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no inode for {path} in {text}"))
}

#[tokio::test]
async fn an_alert_on_an_image_host_is_investigated_inside_the_image() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let (disk, _) = disk_image(tmp.path());
        let lib = tmp.path().join("library");
        std::fs::create_dir_all(&lib).unwrap();
        // The image is named after the host's IP; a package and a second segment beside it.
        let image = lib.join("10.20.0.9.qcow2");
        tool(
            "qemu-img",
            &[
                "convert",
                "-f",
                "raw",
                "-O",
                "qcow2",
                disk.to_str().unwrap(),
                image.to_str().unwrap(),
            ],
            "qemu-utils",
        );
        let hosts = EvidenceLibrary::open(&lib).unwrap().hosts().unwrap();
        assert_eq!(hosts.len(), 1, "{hosts:?}");
        assert_eq!(hosts[0].key, "10.20.0.9");
        assert_eq!(hosts[0].kind, HostEvidence::Image);

        let store: Store = db.store().clone();
        let config = WorkerConfig {
            evidence_roots: riposte_rules::EvidenceRoots::new([tmp.path().to_path_buf()]),
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        };
        assert!(
            riposte_worker::bootstrap::evidence_library_defaults(&store, &lib)
                .await
                .unwrap()
        );
        let blobs = BlobStore::local(&tmp.path().join("evidence")).unwrap();
        let (_stop, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(Worker::new(store.clone(), blobs.clone(), config.clone()).run(rx.clone()));
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, key) = store.create_api_key("t", Role::Analyst).await.unwrap();

        let r = http
            .post(format!("{base}/publicapi/v2/enrich_with_secdo/"))
            .json(&secdo_network(&key, "10.20.0.9", "img-1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let alert_id = r.headers()["x-riposte-alert-id"]
            .to_str()
            .unwrap()
            .to_string();
        let mut detail = Value::Null;
        for _ in 0..300 {
            let alert: Value =
                get_json(&http, format!("{base}/api/v1/alerts/{alert_id}"), &key).await;
            if let Some(inv) = alert["investigation_id"].as_str() {
                detail = get_json(&http, format!("{base}/api/v1/investigations/{inv}"), &key).await;
                if matches!(
                    detail["investigation"]["status"].as_str(),
                    Some("complete" | "failed")
                ) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let inv = &detail["investigation"];
        assert_eq!(inv["status"], "complete", "{detail:#}");
        assert_eq!(
            inv["verdict"]["verdict"], "Malicious Activity Identified",
            "{detail:#}"
        );
        let alarms = detail["alarms"].as_array().unwrap();
        assert!(
            alarms
                .iter()
                .any(|a| a["title"].as_str().unwrap().contains(BRUTE_IP))
        );

        let items: Vec<&Value> = detail["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["provenance"]["method"] == "disk-image")
            .collect();
        let mut paths: Vec<&str> = items
            .iter()
            .map(|e| e["provenance"]["original_path"].as_str().unwrap())
            .collect();
        paths.sort();
        assert_eq!(paths.len(), 7, "{paths:?}");
        for item in &items {
            let location = &item["provenance"]["image"];
            assert_eq!(location["format"], "qcow2");
            assert_eq!(location["image"], image.display().to_string());
            let path = item["provenance"]["original_path"].as_str().unwrap();
            if path.starts_with("/Windows") || path.starts_with("/Users") {
                assert_eq!(location["partition"], 2);
                assert_eq!(location["filesystem"], "fat");
            } else {
                assert_eq!(location["partition"], 1);
                assert_eq!(location["filesystem"], "ext");
                assert_eq!(
                    location["inode"],
                    debugfs_inode(&tmp.path().join("linux.ext4"), path),
                    "{path}"
                );
            }
            // The stored copy hashes to the recorded digest.
            use sha2::Digest;
            let stored = blobs
                .get(item["storage_key"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(item["sha256"], hex::encode(sha2::Sha256::digest(&stored)));
        }
        let audit: Vec<&Value> = detail["audit"].as_array().unwrap().iter().collect();
        assert!(
            audit.iter().any(|a| a["action"] == "evidence.skipped"
                && a["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("/root/.lesshst")),
            "the planted link is on the record"
        );
    }
}
