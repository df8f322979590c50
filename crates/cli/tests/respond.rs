//! `riposte respond` end to end: the built binary against a private moto emulator
//! (AWS_ENDPOINT_URL and test credentials in its environment), the emulator's state read
//! back with the SDK, and the records read back through `riposte respond list`.

use riposte_aws::respond::ISOLATION_POLICY_NAME;
use riposte_aws::testing::{World, assumed_config, config};
use riposte_fakes::moto::{ACCESS_KEY_ID, MotoServer, SECRET_ACCESS_KEY};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const REGION: &str = "us-west-2";

fn riposte(moto: &MotoServer, data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .arg("respond")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("RIPOSTE_DATABASE_URL")
        .envs(moto.env(REGION))
        .env("USER", "alice")
        .output()
        .expect("run riposte")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn listed(moto: &MotoServer, data: &Path) -> Vec<Value> {
    let out = riposte(moto, data, &["list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn world(moto: &MotoServer) -> World {
    World::create(&config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await).await
}

#[tokio::test]
async fn stop_then_release_through_the_cli_is_recorded() {
    let moto = MotoServer::start().await;
    let world = world(&moto).await;
    let tmp = tempfile::tempdir().unwrap();
    let id = world.instance_id.as_str();

    let out = riposte(
        &moto,
        tmp.path(),
        &["stop-instance", "--instance-id", id, "--region", REGION],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let action_id = text(&out.stdout).trim().to_string();
    assert_eq!(action_id.len(), 36, "a uuid: {action_id}");
    assert_eq!(world.instance_state(id).await, "stopped");

    let records = listed(&moto, tmp.path());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["id"], action_id.as_str());
    assert_eq!(records[0]["status"], "succeeded");
    assert_eq!(records[0]["action"], "stop_instance");
    assert_eq!(records[0]["target"]["instance_id"], id);
    assert_eq!(records[0]["requested_by"], "cli:alice");
    assert_eq!(records[0]["change"]["previous_state"], "running");

    let out = riposte(&moto, tmp.path(), &["release", &action_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(world.instance_state(id).await, "running");
    let records = listed(&moto, tmp.path());
    assert_eq!(records[0]["status"], "released");
    assert_eq!(records[0]["released_by"], "cli:alice");

    let again = riposte(&moto, tmp.path(), &["release", &action_id]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("only a succeeded action can be released"));

    let table = riposte(&moto, tmp.path(), &["list"]);
    let line = text(&table.stdout);
    assert!(
        line.starts_with(&action_id) && line.contains("\treleased\t"),
        "{line}"
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_missing_instance_fails_with_the_aws_error() {
    let moto = MotoServer::start().await;
    let world = world(&moto).await;
    let tmp = tempfile::tempdir().unwrap();
    let id = world.instance_id.as_str();

    let out = riposte(
        &moto,
        tmp.path(),
        &[
            "isolate-sg",
            "--instance-id",
            id,
            "--region",
            REGION,
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dry_id = text(&out.stdout).trim().to_string();
    assert!(
        text(&out.stderr).contains("dry run: would create"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(world.instance_group_ids(id).await, world.sorted_group_ids());
    assert!(world.groups_named("riposte-isolation-").await.is_empty());
    let release = riposte(&moto, tmp.path(), &["release", &dry_id]);
    assert!(!release.status.success());

    let out = riposte(
        &moto,
        tmp.path(),
        &[
            "isolate-role",
            "--instance-id",
            "i-0123456789abcdef0",
            "--region",
            REGION,
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("InvalidInstanceID.NotFound"),
        "{}",
        text(&out.stderr)
    );
    let failed_id = text(&out.stdout).trim().to_string();

    let records = listed(&moto, tmp.path());
    let failed = records
        .iter()
        .find(|r| r["id"] == failed_id.as_str())
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "InvalidInstanceID.NotFound");
    let dry = records.iter().find(|r| r["id"] == dry_id.as_str()).unwrap();
    assert_eq!(dry["status"], "dry_run");
    assert_eq!(dry["dry_run"], true);
}

#[tokio::test]
async fn a_role_is_assumed_in_the_target_account() {
    let moto = MotoServer::start().await;
    let account = "111122223333";
    let base = config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    // moto keeps each account's resources apart and maps assumed-role credentials to the
    // role's account: the instance exists only in 111122223333.
    let role_arn = format!("arn:aws:iam::{account}:role/RiposteResponder");
    let world = World::create(&assumed_config(&base, &moto.url(), &role_arn).await).await;
    let tmp = tempfile::tempdir().unwrap();
    let id = world.instance_id.as_str();

    let out = riposte(
        &moto,
        tmp.path(),
        &["isolate-role", "--instance-id", id, "--region", REGION],
    );
    assert!(
        !out.status.success(),
        "not visible with the caller's own account"
    );
    assert!(
        text(&out.stderr).contains("InvalidInstanceID.NotFound"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(world.role_policy(ISOLATION_POLICY_NAME).await, None);

    let out = riposte(
        &moto,
        tmp.path(),
        &[
            "isolate-role",
            "--instance-id",
            id,
            "--region",
            REGION,
            "--account-id",
            account,
            "--role-name",
            "RiposteResponder",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(world.role_policy(ISOLATION_POLICY_NAME).await.is_some());
    let records = listed(&moto, tmp.path());
    assert_eq!(records[0]["target"]["account_id"], account);
    assert_eq!(records[0]["target"]["role_name"], "RiposteResponder");
}
