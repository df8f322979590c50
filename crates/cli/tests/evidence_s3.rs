//! The evidence store in an S3 bucket (`--evidence-url s3://bucket/prefix`), against moto's
//! S3 (the real object_store S3 client, signed requests, multipart uploads, copy and
//! delete). moto emulates the bucket; nothing else is faked.

mod common;

use common::*;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjectPath};
use riposte_fakes::moto::{ACCESS_KEY_ID, MotoServer, SECRET_ACCESS_KEY};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;

const REGION: &str = "eu-west-1";
const BUCKET: &str = "riposte-evidence";

/// The keys under `prefix` in the bucket (ListObjectsV2, unsigned: moto does not check).
async fn keys(http: &reqwest::Client, moto: &MotoServer, prefix: &str) -> BTreeSet<String> {
    let body = http
        .get(format!(
            "{}/{BUCKET}?list-type=2&prefix={prefix}",
            moto.url()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.split("<Key>")
        .skip(1)
        .filter_map(|part| part.split_once("</Key>").map(|(k, _)| k.to_string()))
        .collect()
}

/// The whole bucket through the S3 API, signed with the test credentials.
async fn bucket(moto: &MotoServer) -> Arc<dyn ObjectStore> {
    let config =
        riposte_aws::testing::config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    let location: riposte_aws::EvidenceBucket = format!("s3://{BUCKET}").parse().unwrap();
    riposte_aws::evidence_store(&config, &location, &Default::default())
        .await
        .unwrap()
}

/// moto's environment without `AWS_ENDPOINT_URL`: the server reaches the bucket only
/// through `--evidence-s3-endpoint`.
fn env_without_endpoint(moto: &MotoServer) -> Vec<(&'static str, String)> {
    moto.env(REGION)
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ENDPOINT_URL")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_goes_to_the_bucket_content_addressed_and_investigations_read_it_back() {
    let moto = MotoServer::start().await;
    let http = reqwest::Client::new();
    let created = http
        .put(format!("{}/{BUCKET}", moto.url()))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{created:?}");
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = admin_key(&data);
    let server = serve_binary(
        &data,
        &lib,
        &[
            "--evidence-url",
            &format!("s3://{BUCKET}/prod/evidence"),
            "--evidence-s3-endpoint",
            &moto.url(),
            "--no-bundled-sigma",
        ],
        &env_without_endpoint(&moto),
    );
    let alert = post_secdo(&http, &server.base, &key, "10.20.0.9", "s3-evidence-1").await;
    let d = wait_for_investigation(&http, &server.base, &key, &alert).await;
    assert_eq!(
        d["investigation"]["status"],
        "complete",
        "{d:#}\n{}",
        server.log()
    );
    assert_eq!(
        d["investigation"]["verdict"]["verdict"], "Malicious Activity Identified",
        "{d:#}"
    );

    // Nothing on local disk; every item in the bucket under the prefix, by its SHA-256.
    assert!(!data.join("evidence").exists());
    let stored = keys(&http, &moto, "prod/evidence/").await;
    assert!(
        stored
            .iter()
            .all(|k| k.starts_with("prod/evidence/sha256/")),
        "{stored:?}"
    );
    let s3 = bucket(&moto).await;
    let items = d["evidence"].as_array().expect("evidence items");
    assert!(items.len() >= 2, "{d:#}");
    for item in items {
        let sha = item["sha256"].as_str().expect("a hash");
        let key = format!("prod/evidence/sha256/{}/{sha}", &sha[..2]);
        assert!(stored.contains(&key), "{key} not in {stored:?}");
        let bytes = s3
            .get(&ObjectPath::from(key.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
    }
    // The same host again: the same blobs, stored once.
    let d2 = import_victim("again", &http, &server, &key, &lib).await;
    assert_ne!(d2["investigation"]["id"], d["investigation"]["id"]);
    assert_eq!(
        d2["investigation"]["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    // Its evidence items are the blobs already there (the new alert's own body is new).
    for item in d2["evidence"].as_array().expect("evidence items") {
        let sha = item["sha256"].as_str().expect("a hash");
        let key = format!("prod/evidence/sha256/{}/{sha}", &sha[..2]);
        let path = item["provenance"]["original_path"]
            .as_str()
            .unwrap_or_default();
        assert!(
            stored.contains(&key) || path.contains("alert"),
            "{key} ({path}) was stored again: {item:#}"
        );
    }
    let after = keys(&http, &moto, "prod/evidence/").await;
    assert!(
        after.is_superset(&stored) && after.len() <= stored.len() + 1,
        "{after:?}"
    );
    assert!(after.iter().all(|k| !k.contains("staging/")), "{after:?}");

    // Someone alters a blob in the bucket (same size, so it is kept as is): the next
    // investigation that reads it refuses it, naming its key, instead of parsing it.
    let history = items
        .iter()
        .find(|i| {
            i["provenance"]["original_path"]
                .as_str()
                .is_some_and(|p| p.ends_with(".bash_history"))
        })
        .expect("root's history was collected");
    let sha = history["sha256"].as_str().unwrap();
    let blob_key = format!("prod/evidence/sha256/{}/{sha}", &sha[..2]);
    let size = history["size"].as_u64().expect("a size") as usize;
    s3.put(
        &ObjectPath::from(blob_key.as_str()),
        PutPayload::from(vec![b'#'; size]),
    )
    .await
    .unwrap();
    let d3 = import_victim("after tampering", &http, &server, &key, &lib).await;
    // Recorded as the history's parse error, naming the blob; the rest is processed.
    let reports = d3["parse_reports"].as_array().expect("parse reports");
    let history_report = reports
        .iter()
        .find(|r| r["parser"] == "shell_history")
        .expect("the history was parsed");
    let error = history_report["first_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "evidence blob sha256/{}/{sha} no longer matches its SHA-256",
            &sha[..2]
        )),
        "{history_report:#}"
    );
    assert!(
        reports
            .iter()
            .any(|r| r["parser"] == "auth_log" && r["events"].as_u64() > Some(0)),
        "{reports:?}"
    );
    let reverse_shell = |d: &serde_json::Value| {
        d["alarms"].as_array().is_some_and(|a| {
            a.iter().any(|a| {
                a["description"]
                    .as_str()
                    .is_some_and(|t| t.contains("/dev/tcp/"))
            })
        })
    };
    assert!(reverse_shell(&d2) && !reverse_shell(&d3), "{d3:#}");
}

/// A new investigation of the library's victim host (a project import); its detail once
/// finished.
async fn import_victim(
    name: &str,
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    lib: &std::path::Path,
) -> serde_json::Value {
    let project = create_resource(
        http,
        server,
        key,
        "projects",
        serde_json::json!({ "name": name }),
    )
    .await;
    let r = post_json(
        http,
        format!(
            "{}/api/v1/projects/{}/imports",
            server.base,
            project["id"].as_str().unwrap()
        ),
        key,
        &serde_json::json!({"systems": [{"kind": "path", "path": lib.join("victim").display().to_string()}]}),
    )
    .await;
    let imported: serde_json::Value = r.json().await.unwrap();
    let inv = imported["investigations"][0]["investigation_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{imported:#}"))
        .to_string();
    wait_for_finished(http, &server.base, key, &inv).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_stops_the_server_with_what_to_check() {
    let moto = MotoServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--evidence-url",
            "s3://no-such-bucket/evidence",
            "--evidence-s3-endpoint",
            &moto.url(),
            "--no-bundled-sigma",
            "--no-bundled-yara",
        ])
        .envs(env_without_endpoint(&moto))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot use s3://no-such-bucket/evidence as the evidence store")
            && stderr.contains("check that the bucket exists"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--evidence-url", "s3://Bad_Bucket/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not an S3 bucket name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
