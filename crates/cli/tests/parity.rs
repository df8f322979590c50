//! One engine from the laptop to the platform: every kind of evidence the tests build —
//! the Linux attack scenario as a folder, UAC and plain packages, ext4 and XFS images and
//! a partitioned ext4 + FAT disk; Windows EVTX from the corpus in KAPE, plain-root and
//! loose-log folders and packages; a Velociraptor collection; an NTFS volume — gives the
//! same evidence list, event count, alarms (rule and event references), acquisition
//! summary and verdict through `riposte investigate` as through a real `riposte serve`
//! (alert → library host → investigation). A collection with nothing parsable is said to
//! be so (an inconclusive "No Evidence Found" with a warning), on both paths.

mod common;

use common::{
    admin_key, corpus, get_json, investigate, library, post_json, serve_binary, tool,
    wait_for_investigation,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sh(script: &str) {
    tool("sh", &["-c", script], "coreutils, tar");
}

/// The first EVTX file (by name) of five tactic folders of the corpus.
fn attack_evtx() -> Vec<PathBuf> {
    let root = corpus().join("evtx");
    let mut picked = Vec::new();
    for tactic in [
        "Credential Access",
        "Execution",
        "Lateral Movement",
        "Persistence",
        "Privilege Escalation",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(tactic))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
            .collect();
        files.sort();
        picked.push(files.remove(0));
    }
    picked
}

fn copy_files(files: &[PathBuf], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in files {
        std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
    }
}

/// An XFS image of `tree` (directories and regular files) made by `mkfs.xfs -p`.
fn xfs_image(tree: &Path, image: &Path) {
    fn emit(dir: &Path, proto: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                proto.push_str(&format!("{name} d--755 0 0\n"));
                emit(&e.path(), proto);
                proto.push_str("$\n");
            } else if kind.is_file() {
                proto.push_str(&format!("{name} ---644 0 0 {}\n", e.path().display()));
            }
        }
    }
    let mut proto = String::from("riposte\n0 0\nd--755 0 0\n");
    emit(tree, &mut proto);
    proto.push_str("$\n");
    let proto_path = image.with_extension("proto");
    std::fs::write(&proto_path, proto).unwrap();
    std::fs::File::create(image)
        .unwrap()
        .set_len(320 << 20)
        .unwrap();
    tool(
        "mkfs.xfs",
        &[
            "-q",
            "-p",
            proto_path.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
        "xfsprogs",
    );
    std::fs::remove_file(proto_path).unwrap();
}

/// A zip of `entries` (name in the archive, file) written by Python's zipfile.
fn zip(archive: &Path, entries: &[(String, PathBuf)]) {
    let pairs: Vec<Value> = entries
        .iter()
        .map(|(name, file)| json!([name, file]))
        .collect();
    let script = format!(
        "import json, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\nfor name, path in json.loads({:?}):\n    z.write(path, name)\nz.close()\n",
        Value::Array(pairs).to_string()
    );
    tool(
        "python3",
        &["-c", &script, archive.to_str().unwrap()],
        "python3",
    );
}

/// What one case must show besides parity.
struct Expect {
    layouts: &'static [&'static str],
    /// Some parsable evidence (else: an inconclusive verdict with a warning).
    parsable: bool,
}

/// Builds every case into `lib`; returns the host keys with what each must show.
fn build_library(scratch: &Path, lib: &Path) -> BTreeMap<&'static str, Expect> {
    let e = |layouts, parsable| Expect { layouts, parsable };
    let mut cases = BTreeMap::new();
    std::fs::create_dir_all(lib).unwrap();
    let victim = library(&scratch.join("linux")).join("victim");
    let (v, l) = (victim.display(), lib.display());

    // The Linux attack scenario: brute force, root login, reverse shell.
    sh(&format!("cp -a {v} {l}/lnx-folder"));
    cases.insert("lnx-folder", e(&["linux"], true));
    let uac = scratch.join("uac/uac-web01-linux-20240101");
    std::fs::create_dir_all(&uac).unwrap();
    sh(&format!(
        "cp -a {v} '{u}/[root]' && echo collected > {u}/uac.log && tar -C {p} -czf {l}/lnx-uac.tar.gz uac-web01-linux-20240101",
        u = uac.display(),
        p = uac.parent().unwrap().display()
    ));
    cases.insert("lnx-uac", e(&["linux"], true));
    sh(&format!(
        "tar -C {} -cf {l}/lnx-plain.tar victim",
        victim.parent().unwrap().display()
    ));
    cases.insert("lnx-plain", e(&["linux"], true));
    tool(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            victim.to_str().unwrap(),
            lib.join("lnx-ext4.img").to_str().unwrap(),
            "16M",
        ],
        "e2fsprogs",
    );
    cases.insert("lnx-ext4", e(&["linux"], true));
    xfs_image(&victim, &lib.join("lnx-xfs.img"));
    cases.insert("lnx-xfs", e(&["linux"], true));
    let (disk, _) = common::disk_image(&scratch.join("disk"));
    std::fs::rename(disk, lib.join("mixed-disk.raw")).unwrap();
    cases.insert("mixed-disk", e(&["windows", "linux"], true));

    // Windows event logs from the corpus, laid out as collectors and copies do.
    let evtx = attack_evtx();
    let logs = "Windows/System32/winevt/Logs";
    copy_files(&evtx, &lib.join("win-kape/C").join(logs));
    cases.insert("win-kape", e(&["windows"], true));
    copy_files(&evtx, &lib.join("win-root").join(logs));
    cases.insert("win-root", e(&["windows"], true));
    copy_files(&evtx, &lib.join("win-loose/exported"));
    cases.insert("win-loose", e(&["loose_logs"], true));
    sh(&format!("tar -C {l}/win-kape -cf {l}/win-kape-pkg.tar C"));
    cases.insert("win-kape-pkg", e(&["windows"], true));
    sh(&format!(
        "tar -C {l}/win-root -cf {l}/win-root-pkg.tar Windows"
    ));
    cases.insert("win-root-pkg", e(&["windows"], true));
    let loose: Vec<(String, PathBuf)> = evtx
        .iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().to_string(),
                f.clone(),
            )
        })
        .collect();
    zip(&lib.join("win-loose-pkg.zip"), &loose);
    cases.insert("win-loose-pkg", e(&["loose_logs"], true));
    let mut velociraptor: Vec<(String, PathBuf)> = evtx
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().replace(' ', "%20");
            (
                format!("uploads/auto/C%3A/Windows/System32/winevt/Logs/{name}"),
                f.clone(),
            )
        })
        .collect();
    velociraptor.push((
        "uploads/file/var/log/auth.log".into(),
        victim.join("var/log/auth.log"),
    ));
    velociraptor.push(("log.json".into(), victim.join("etc/hostname")));
    zip(&lib.join("velo.zip"), &velociraptor);
    cases.insert("velo", e(&["windows", "linux"], true));
    std::fs::copy(
        corpus().join("images/dfvfs/windows_volume.qcow2"),
        lib.join("ntfs-vol.qcow2"),
    )
    .unwrap();
    cases.insert("ntfs-vol", e(&["windows"], true));

    // Nothing to read: an empty host folder, and one whose files no parser claims.
    std::fs::create_dir_all(lib.join("empty")).unwrap();
    cases.insert("empty", e(&["loose_logs"], false));
    std::fs::create_dir_all(lib.join("noparse/notes")).unwrap();
    std::fs::write(lib.join("noparse/notes/todo.txt"), "buy milk\n").unwrap();
    std::fs::write(lib.join("noparse/data.bin"), [0u8, 1, 2, 3]).unwrap();
    cases.insert("noparse", e(&["loose_logs"], false));
    cases
}

fn server_evidence(detail: &Value) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = detail["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provenance"]["method"] != "alert-context")
        .map(|e| {
            (
                e["provenance"]["original_path"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                e["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    items.sort();
    items
}

/// Each alarm as (detector, rule id, title, event references), sorted.
fn alarms(list: &Value) -> Vec<(String, String, String, Vec<u64>)> {
    let mut alarms: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["detector"].as_str().unwrap_or("").to_string(),
                a["rule_id"].as_str().unwrap_or("").to_string(),
                a["title"].as_str().unwrap_or("").to_string(),
                a["event_refs"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    alarms.sort();
    alarms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_server_give_the_same_investigation_for_every_kind_of_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    let cases = build_library(&tmp.path().join("scratch"), &lib);
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = admin_key(&data);
    let (hook, received) = common::webhook_receiver().await;
    let server = serve_binary(
        &data,
        &lib,
        &["--webhook-url", &hook, "--outbound-allow", "127.0.0.1/32"],
        &[],
    );
    let http = reqwest::Client::new();

    // Every alert first, so the server works while the CLI runs.
    let mut alert_ids = BTreeMap::new();
    for host in cases.keys() {
        let alert = json!({
            "title": format!("Parity check of {host}"),
            "severity": "high",
            "event_id": format!("parity-{host}"),
            "target": {"hostname": host},
        });
        let r = post_json(
            &http,
            format!("{}/api/v1/alerts", server.base),
            &key,
            &alert,
        )
        .await;
        assert!(r.status().is_success(), "{host}: {}", r.status());
        let body: Value = r.json().await.unwrap();
        let id = body["id"]
            .as_str()
            .or_else(|| body["alert_id"].as_str())
            .unwrap_or_else(|| panic!("no alert id in {body}"))
            .to_string();
        alert_ids.insert(*host, id);
    }

    let mut checked = 0;
    for (host, expect) in &cases {
        let entry = std::fs::read_dir(&lib)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                name == *host || name.starts_with(&format!("{host}."))
            })
            .unwrap();
        let cli = tokio::task::spawn_blocking({
            let host = host.to_string();
            move || investigate(&entry, &["--no-bundled-yara", "--host", &host])
        })
        .await
        .unwrap();
        let d = wait_for_investigation(&http, &server.base, &key, &alert_ids[host]).await;
        let inv = &d["investigation"];
        assert_eq!(inv["status"], "complete", "{host}: {inv}\n{}", server.log());
        assert_eq!(inv["host"], *host, "{host}: the alert resolved elsewhere");

        let evidence = common::report_artifacts(&cli);
        eprintln!(
            "{host}: {} items, {} events, {} alarms, {} {}, acquisition {}",
            evidence.len(),
            cli["events"],
            alarms(&cli["alarms"]).len(),
            cli["verdict"]["verdict"],
            cli["verdict"]["inconclusive"],
            cli["acquisition"]
        );
        assert_eq!(server_evidence(&d), evidence, "{host}: evidence");
        assert_eq!(d["events_count"], cli["events"], "{host}: event count");
        assert_eq!(
            alarms(&d["alarms"]),
            alarms(&cli["alarms"]),
            "{host}: alarms"
        );
        assert_eq!(
            inv["acquisition"], cli["acquisition"],
            "{host}: acquisition"
        );
        assert_eq!(
            inv["verdict"]["verdict"], cli["verdict"]["verdict"],
            "{host}: verdict"
        );
        assert_eq!(
            inv["verdict"]["inconclusive"], cli["verdict"]["inconclusive"],
            "{host}: inconclusive"
        );

        let layouts: Vec<&str> = cli["acquisition"]["layouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(layouts, expect.layouts, "{host}: layouts");
        let warnings = inv["verdict"]["warnings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if expect.parsable {
            assert!(!evidence.is_empty(), "{host}: nothing collected");
            assert!(
                cli["acquisition"]["parsable"].as_u64().unwrap() > 0,
                "{host}: nothing parsable"
            );
            assert!(cli["events"].as_u64().unwrap() > 0, "{host}: no events");
            assert!(warnings.is_empty(), "{host}: {warnings:?}");
        } else {
            assert_eq!(inv["verdict"]["verdict"], "No Evidence Found", "{host}");
            assert_eq!(inv["verdict"]["inconclusive"], true, "{host}");
            assert_eq!(warnings.len(), 1, "{host}: {warnings:?}");
            let warning = warnings[0].as_str().unwrap();
            assert!(
                warning.starts_with(&format!("no parsable evidence collected from {host}: ")),
                "{warning}"
            );
            assert_eq!(cli["verdict"]["warnings"][0], warnings[0], "{host}");
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len());

    // The webhook says it too: inconclusive, with the warning, only for those hosts.
    for (host, expect) in &cases {
        let bodies: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| body.clone())
            .filter(|b| b["host"] == *host && b["verdict"].is_string())
            .collect();
        assert!(!bodies.is_empty(), "{host}: no webhook with a verdict");
        for body in bodies {
            assert_eq!(body["inconclusive"], !expect.parsable, "{host}: {body}");
            let warned = body["warnings"].as_array().is_some_and(|w| !w.is_empty());
            assert_eq!(warned, !expect.parsable, "{host}: {body}");
        }
    }

    // The Windows collections reach the same verdict whatever their layout, and it is not
    // an all-clear: the corpus files are attacks.
    let verdict_of = |host: &str| {
        let id = &alert_ids[host];
        let http = http.clone();
        let base = server.base.clone();
        let key = key.clone();
        let id = id.clone();
        async move {
            let alert = get_json(&http, format!("{base}/api/v1/alerts/{id}"), &key).await;
            let inv = alert["investigation_id"].as_str().unwrap().to_string();
            let d = get_json(&http, format!("{base}/api/v1/investigations/{inv}"), &key).await;
            d["investigation"]["verdict"]["verdict"].clone()
        }
    };
    let kape = verdict_of("win-kape").await;
    assert_ne!(kape, "No Evidence Found");
    for host in [
        "win-root",
        "win-loose",
        "win-kape-pkg",
        "win-root-pkg",
        "win-loose-pkg",
    ] {
        assert_eq!(verdict_of(host).await, kape, "{host}");
    }
}
