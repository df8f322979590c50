//! An alert about a Linux host in an SSH scope, triaged from that host's files read over a
//! real SSH connection (OpenSSH's `sshd` on loopback, serving the compromised host of the
//! library fixture over SFTP only, chrooted), with its host key verified; the SSH
//! credential stored through the API, sealed, never read back.

mod common;

use common::{
    Server, admin_key, create_resource, library, post_secdo, start, wait_for_investigation,
};
use riposte_ssh::testing::{ServerOptions, SshServer};
use serde_json::{Value, json};
use sha2::Digest;
use std::path::Path;

/// Copies the folder `from` into `to`, files and folders only.
fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Stores the server's client key as the credential `name`, through the API.
async fn put_credential(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    name: &str,
    sshd: &SshServer,
) {
    let put = http
        .put(format!("{}/api/v1/credentials/{name}", server.base))
        .bearer_auth(key)
        .json(&json!({"kind": "private_key", "private_key": sshd.client.private, "username": sshd.user}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
}

/// An environment with the SSH `scope`, and a rule sending SECDO alerts to it.
async fn ssh_rule(http: &reqwest::Client, server: &Server, key: &str, scope: Value) {
    let environment = create_resource(
        http,
        server,
        key,
        "environments",
        json!({"name": "on-prem", "scopes": [scope]}),
    )
    .await;
    create_resource(
        http,
        server,
        key,
        "rules",
        json!({"name": "on-prem triage", "source": "secdo", "environment_id": environment["id"],
               "priority": 1}),
    )
    .await;
}

#[tokio::test]
async fn an_alert_about_a_host_in_an_ssh_scope_is_triaged_from_its_files_read_over_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(&dir.path().join("lib"));
    // sshd accepts a chroot only in folders writable by root alone (not the temp folder).
    let chroot = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    copy_tree(&lib.join("victim"), chroot.path());
    let sshd = SshServer::start(ServerOptions {
        chroot: Some(chroot.path().to_path_buf()),
        ..Default::default()
    });
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = admin_key(&data);
    let server = start(&data, &lib, None, &[]);
    let http = reqwest::Client::new();

    // The credential: stored, listed without its secret.
    put_credential(&http, &server, &key, "victim-key", &sshd).await;
    let listed: Value = http
        .get(format!("{}/api/v1/credentials", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["credentials"][0]["name"], "victim-key");
    assert!(!listed.to_string().contains("PRIVATE KEY"), "{listed}");
    // A key that cannot be opened is refused now, naming the field.
    let bad = http
        .put(format!("{}/api/v1/credentials/broken", server.base))
        .bearer_auth(&key)
        .json(&json!({"kind": "private_key", "private_key": "not a key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["fields"][0]["field"], "private_key", "{bad:#}");

    ssh_rule(
        &http,
        &server,
        &key,
        json!({"kind": "ssh", "cidrs": ["127.0.0.1/32"], "credential": "victim-key",
               "port": sshd.port, "known_hosts": [sshd.known_hosts_line()]}),
    )
    .await;
    let alert = post_secdo(&http, &server.base, &key, "127.0.0.1", "ssh-1").await;
    let d = wait_for_investigation(&http, &server.base, &key, &alert).await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "complete", "{d:#}\n{}", server.log());
    assert_eq!(
        inv["verdict"]["verdict"], "Malicious Activity Identified",
        "{d:#}"
    );
    assert_eq!(
        inv["acquisition"]["form"], "ssh",
        "{:#}",
        inv["acquisition"]
    );
    assert_eq!(inv["acquisition"]["profiles"], json!(["linux-triage"]));
    // Every file of the tree the profile selects, with its hash and SSH provenance.
    let files: Vec<&Value> = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provenance"]["method"] == "ssh")
        .collect();
    let mut paths: Vec<&str> = files
        .iter()
        .map(|e| e["provenance"]["original_path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/etc/hostname", "/root/.bash_history", "/var/log/auth.log"],
        "{:#}",
        d["evidence"]
    );
    let fingerprint =
        riposte_ssh::fingerprint(&russh::keys::PublicKey::from_openssh(&sshd.host_key).unwrap());
    for item in files {
        let path = item["provenance"]["original_path"].as_str().unwrap();
        let source = std::fs::read(chroot.path().join(path.trim_start_matches('/'))).unwrap();
        assert_eq!(item["sha256"], hex::encode(sha2::Sha256::digest(&source)));
        let ssh = &item["provenance"]["ssh"];
        assert_eq!(ssh["address"], "127.0.0.1");
        assert_eq!(ssh["port"], sshd.port);
        assert_eq!(ssh["host_key"], fingerprint.as_str());
    }
    // The live state is recorded as unavailable, with the reason, in the audit trail.
    let trail = d["audit"].to_string();
    assert!(trail.contains("live state unavailable"), "{trail}");
    assert!(trail.contains("acquisition.ssh_connected"), "{trail}");
}

#[tokio::test]
async fn a_host_whose_key_is_not_pinned_fails_its_investigation_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(&dir.path().join("lib"));
    let sshd = SshServer::start(ServerOptions::default());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = admin_key(&data);
    let server = start(&data, &lib, None, &[]);
    let http = reqwest::Client::new();
    put_credential(&http, &server, &key, "k", &sshd).await;
    // No known_hosts and no trust on first use.
    ssh_rule(
        &http,
        &server,
        &key,
        json!({"kind": "ssh", "cidrs": ["127.0.0.1/32"], "credential": "k", "port": sshd.port}),
    )
    .await;
    let alert = post_secdo(&http, &server.base, &key, "127.0.0.1", "ssh-2").await;
    let d = wait_for_investigation(&http, &server.base, &key, &alert).await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "failed", "{d:#}");
    let fingerprint =
        riposte_ssh::fingerprint(&russh::keys::PublicKey::from_openssh(&sshd.host_key).unwrap());
    let error = inv["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("host key") && error.contains(&fingerprint),
        "{d:#}"
    );
}

#[test]
fn the_cli_reads_the_live_state_of_a_running_host_and_flags_a_deleted_binary_in_tmp() {
    let sshd = SshServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("id");
    std::fs::write(&identity, &sshd.client.private).unwrap();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(&known_hosts, format!("{}\n", sshd.known_hosts_line())).unwrap();
    // A program run from a staging folder, deleted once started.
    let staging = tempfile::tempdir().unwrap();
    let binary = staging.path().join("kdevtmpfsi");
    std::fs::copy("/bin/sleep", &binary).unwrap();
    // A fork of another test thread can briefly hold the copy open for writing: exec then
    // fails with "text file busy" until that child execs. Retry a few times.
    let mut child = (0..50)
        .find_map(
            |_| match std::process::Command::new(&binary).arg("600").spawn() {
                Ok(child) => Some(child),
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
                Err(e) => panic!("cannot start {}: {e}", binary.display()),
            },
        )
        .expect("the copied binary stays busy");
    std::fs::remove_file(&binary).unwrap();
    let target = format!("{}@127.0.0.1:{}", sshd.user, sshd.port);
    let out = common::riposte([
        std::ffi::OsStr::new("acquire"),
        std::ffi::OsStr::new("ssh"),
        std::ffi::OsStr::new(&target),
        std::ffi::OsStr::new("--identity"),
        identity.as_os_str(),
        std::ffi::OsStr::new("--known-hosts"),
        known_hosts.as_os_str(),
        std::ffi::OsStr::new("--live-only"),
        std::ffi::OsStr::new("--no-bundled-yara"),
        std::ffi::OsStr::new("--format"),
        std::ffi::OsStr::new("json"),
    ]);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["title"]
                .as_str()
                .is_some_and(|t| t.contains(&binary.display().to_string()))
        })
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    assert!(
        rules.contains(&"process_from_staging"),
        "{rules:?}\n{report:#}"
    );
    assert!(rules.contains(&"deleted_binary_running"), "{rules:?}");
    assert_eq!(report["acquisition"]["form"], "ssh");
    assert_eq!(report["acquisition"]["profiles"], json!(["live-state"]));
    // A host key that is not the one pinned is refused, naming the key offered.
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
            sshd.port
        ),
    )
    .unwrap();
    let out = common::riposte([
        std::ffi::OsStr::new("acquire"),
        std::ffi::OsStr::new("ssh"),
        std::ffi::OsStr::new(&target),
        std::ffi::OsStr::new("--identity"),
        identity.as_os_str(),
        std::ffi::OsStr::new("--known-hosts"),
        known_hosts.as_os_str(),
        std::ffi::OsStr::new("--live-only"),
        std::ffi::OsStr::new("--no-bundled-yara"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CHANGED"), "{stderr}");
}
