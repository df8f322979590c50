//! `riposte investigate` on triage packages built with the real `tar` and `zip` tools from
//! the corpus-based collection: the verdict matches the folder's, links and absolute
//! names in the package are refused and reported, and the format is found by content.

mod common;

use common::{investigate, library};
use serde_json::Value;
use std::process::Command;

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?}");
}

fn artifact_paths(report: &Value) -> Vec<String> {
    let mut paths: Vec<String> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

#[test]
fn uac_tar_gz_gives_the_same_verdict_as_the_folder_and_refuses_links() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let folder = investigate(&lib.join("victim"), &[]);
    assert_eq!(
        folder["verdict"]["verdict"],
        "Malicious Activity Identified"
    );

    // A UAC-style package: the host's files under [root]/, the collector's log beside it,
    // a planted link, and (with -P) an absolute name.
    let uac = tmp.path().join("uac-victim-linux-20240101");
    std::fs::create_dir_all(&uac).unwrap();
    run(Command::new("cp")
        .arg("-r")
        .arg(lib.join("victim"))
        .arg(uac.join("[root]")));
    std::fs::write(uac.join("uac.log"), "collection log\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", uac.join("[root]/var/log/shadow-link")).unwrap();
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "outside\n").unwrap();
    // Named without an extension: the format is recognised by content.
    let package = tmp.path().join("collection");
    run(Command::new("tar")
        .arg("-czPf")
        .arg(&package)
        .arg("-C")
        .arg(tmp.path())
        .arg("uac-victim-linux-20240101")
        .arg(&outside));
    let report = investigate(&package, &[]);
    assert_eq!(report["package"]["format"], "tar_gz");
    assert_eq!(report["package"]["layout"], "uac");
    // uac.log (the collector's own) and ifcfg-eth0 (outside the triage profile).
    assert_eq!(report["package"]["ignored"], 2);
    assert_eq!(report["verdict"], folder["verdict"], "{report:#}");
    assert_eq!(artifact_paths(&report), artifact_paths(&folder));
    let refused: Vec<(String, String)> = report["package"]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["archive_path"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|(p, r)| p.ends_with("shadow-link") && r == "link to /etc/shadow, not followed")
    );
    assert!(
        refused
            .iter()
            .any(|(p, r)| p.ends_with("outside.txt") && r == "absolute path")
    );
    // Each artifact's hash is its source file's.
    for a in report["artifacts"].as_array().unwrap() {
        let source = lib
            .join("victim")
            .join(a["path"].as_str().unwrap().trim_start_matches('/'));
        let bytes = std::fs::read(source).unwrap();
        use sha2::Digest;
        assert_eq!(a["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    }
}

#[test]
fn plain_zip_of_a_host_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let folder = investigate(&lib.join("victim"), &[]);
    let package = tmp.path().join("victim.zip");
    run(Command::new("zip")
        .arg("-qr")
        .arg(&package)
        .arg("victim")
        .current_dir(&lib));
    let report = investigate(&package, &[]);
    assert_eq!(report["package"]["format"], "zip");
    assert_eq!(report["package"]["layout"], "plain");
    assert_eq!(report["host"], "victim");
    assert_eq!(report["verdict"], folder["verdict"]);
    assert_eq!(artifact_paths(&report), artifact_paths(&folder));
}
