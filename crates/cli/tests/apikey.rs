//! `riposte apikey create|list|revoke` against a real data directory.

use riposte_store::Store;
use std::process::Command;

fn riposte(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .expect("run riposte")
}

#[tokio::test]
async fn keys_are_created_once_listed_without_secrets_and_revoked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap();
    let out = riposte(&[
        "apikey",
        "create",
        "--data-dir",
        data,
        "--role",
        "viewer",
        "--name",
        "grafana",
    ]);
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("rip_"));

    let out = riposte(&["apikey", "list", "--data-dir", data]);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("grafana") && listing.contains("viewer"),
        "{listing}"
    );
    assert!(
        !listing.contains(&key[12..]),
        "the listing never shows the secret"
    );
    let id = listing.split('\t').next().unwrap().to_string();

    let out = riposte(&["apikey", "create", "--data-dir", data, "--role", "root"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected admin, analyst or viewer"));

    assert!(
        riposte(&["apikey", "revoke", &id, "--data-dir", data])
            .status
            .success()
    );
    let out = riposte(&["apikey", "revoke", &id, "--data-dir", data]);
    assert!(
        !out.status.success(),
        "a second revoke reports the key is not active"
    );
    let store = Store::open_sqlite(&tmp.path().join("riposte.db"))
        .await
        .unwrap();
    assert!(store.authenticate_api_key(&key).await.unwrap().is_none());
}
