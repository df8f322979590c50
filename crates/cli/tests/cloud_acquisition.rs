//! EC2 acquisition end to end, through a real `riposte serve` and the real AWS SDK against
//! moto: a GuardDuty alert about an instance becomes a triage of *that instance's disks*
//! (snapshots made, read in place through the EBS direct APIs, deleted afterwards), a
//! verdict, the response and the notification. Also imports of an existing snapshot and
//! of a Windows instance into a project, and an instance that does not exist.
//!
//! What is moto and what is emulated: moto runs EC2 (instances, volumes, snapshots, tags,
//! security groups) and the EBS direct API for snapshots seeded with `StartSnapshot` /
//! `PutSnapshotBlock`; the `ebs_direct.py` plugin (`MotoServer::start_ebs_direct_with`)
//! makes a snapshot EC2 `CreateSnapshot` takes of a volume serve the blocks the volume was
//! created from, and keeps it `pending` for a while with rising progress.

mod common;

use common::{
    Received, Server, admin_key, create_resource, get_json, guardduty_sample_about,
    investigate_finding, library, post_json, serve_binary, wait_for_finished, webhook_receiver,
};
use riposte_aws::testing::ebs_snapshot::upload_image;
use riposte_aws::testing::ec2_instance::{
    Disk, SeededInstance, instance_with_disks, riposte_snapshots, snapshot_exists,
};
use riposte_aws::testing::images::{Tree, ext4_image, xfs_image};
use riposte_aws::testing::{World, config};
use riposte_fakes::moto::{ACCESS_KEY_ID, ACCOUNT_ID, EbsDirect, MotoServer, SECRET_ACCESS_KEY};
use riposte_fakes::proxy::{FaultProxy, Faults};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";
/// AWS's block size, which the patched moto reports.
const AWS_BLOCK: u64 = 512 << 10;
const RULE: &str = "triage-and-isolate-ec2";

/// moto with AWS-sized blocks and snapshots pending for a second and a half.
async fn emulator() -> (MotoServer, riposte_aws::SdkConfig) {
    let moto = MotoServer::start_ebs_direct_with(EbsDirect {
        block_size: Some(AWS_BLOCK as u32),
        snapshot_seconds: Some(1.5),
        enforce_iam_after: None,
    })
    .await;
    let config = config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await;
    (moto, config)
}

/// Every file under `dir`, by its path on the original system.
fn tree_of(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, tree);
            } else {
                let original = format!("/{}", path.strip_prefix(root).unwrap().display());
                tree.insert(original, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut tree = Tree::new();
    walk(dir, dir, &mut tree);
    tree
}

/// The compromised host of the library fixture (SSH brute force, a root login from the
/// same address, a reverse shell in root's history) as an ext4 root volume, and a data
/// volume in XFS holding a web root with an uploaded web shell, a backup no triage
/// selects, and a second `/etc/hostname`.
fn linux_disks(dir: &Path) -> (Tree, Tree, std::path::PathBuf, std::path::PathBuf) {
    let lib = library(&dir.join("src"));
    let root_tree = tree_of(&lib.join("victim"));
    let mut data_tree = Tree::new();
    data_tree.insert(
        "/srv/www/html/uploads/shell.php".into(),
        b"<?php system($_GET['cmd']); ?>\n".to_vec(),
    );
    data_tree.insert("/srv/backups/db.sql".into(), b"-- not triaged\n".to_vec());
    data_tree.insert("/etc/hostname".into(), b"data-volume\n".to_vec());
    let root_dir = dir.join("root");
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&root_dir).unwrap();
    std::fs::create_dir_all(&data_dir).unwrap();
    let root = ext4_image(&root_tree, &root_dir, 32);
    let data = xfs_image(&data_tree, &data_dir, 320);
    (root_tree, data_tree, root, data)
}

/// The emulator with the Linux instance of [`linux_disks`] in it.
struct LinuxInstance {
    moto: MotoServer,
    config: riposte_aws::SdkConfig,
    /// Holds the images: keep it alive while they are used.
    dir: tempfile::TempDir,
    root_tree: Tree,
    data_tree: Tree,
    /// The root volume's image.
    root: std::path::PathBuf,
    instance: SeededInstance,
}

async fn linux_fixture() -> LinuxInstance {
    let (moto, config) = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (root_tree, data_tree, root, data) = linux_disks(dir.path());
    let instance = linux_instance(&config, &root, &data).await;
    LinuxInstance {
        moto,
        config,
        dir,
        root_tree,
        data_tree,
        root,
        instance,
    }
}

async fn linux_instance(
    config: &riposte_aws::SdkConfig,
    root: &Path,
    data: &Path,
) -> SeededInstance {
    let disks = [
        Disk {
            device_name: "/dev/sda1",
            image: root,
            tags: &[("Name", "web01-root")],
        },
        Disk {
            device_name: "/dev/sdf",
            image: data,
            tags: &[("Name", "web01-data")],
        },
    ];
    instance_with_disks(config, &disks, 1, AWS_BLOCK).await
}

/// `riposte serve` on `dir` (its `data` and `library` folders) with the AWS SDK pointed by
/// `aws`, polling snapshots every second, with `extra` options.
fn serve(dir: &Path, aws: &[(&'static str, String)], extra: &[&str]) -> Server {
    let lib = dir.join("library");
    std::fs::create_dir_all(&lib).unwrap();
    let mut args = vec![
        "--outbound-allow",
        "127.0.0.1/32",
        "--snapshot-poll-secs",
        "1",
    ];
    args.extend(extra);
    serve_binary(&dir.join("data"), &lib, &args, aws)
}

/// An admin key for the server data in `dir`.
fn admin(dir: &Path) -> String {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    admin_key(&data)
}

/// An environment whose AWS scope covers the emulator's account and region.
async fn aws_environment(http: &reqwest::Client, server: &Server, key: &str) -> Value {
    create_resource(
        http,
        server,
        key,
        "environments",
        json!({"name": "aws-prod", "scopes": [
            {"kind": "aws", "accounts": [ACCOUNT_ID], "regions": [REGION]},
        ]}),
    )
    .await
}

/// A server pointed at moto with results posted to a receiver; its admin key, an AWS
/// environment and what the receiver got.
async fn server(moto: &MotoServer, dir: &Path) -> (Server, String, Value, Received) {
    let key = admin(dir);
    let (url, received) = webhook_receiver().await;
    let server = serve(dir, &moto.env(REGION), &["--webhook-url", &url]);
    let environment = aws_environment(&reqwest::Client::new(), &server, &key).await;
    (server, key, environment, received)
}

/// Imports `systems` into a new project (keeping the snapshots made when `retain`); the
/// investigations' ids, in order.
async fn import_systems(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    systems: Value,
    retain: bool,
) -> Vec<String> {
    let project = create_resource(http, server, key, "projects", json!({"name": "hunt"})).await;
    let r = post_json(
        http,
        format!(
            "{}/api/v1/projects/{}/imports",
            server.base,
            project["id"].as_str().unwrap()
        ),
        key,
        &json!({"systems": systems, "retain_snapshots": retain}),
    )
    .await;
    let status = r.status();
    let imported: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{imported:#}");
    strings(&imported["investigations"], "investigation_id")
}

/// Imports the instance into a new project; the investigation's id.
async fn import_instance(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    instance_id: &str,
) -> String {
    let systems = json!([{"kind": "ec2", "instance_id": instance_id, "region": REGION, "account_id": ACCOUNT_ID}]);
    import_systems(http, server, key, systems, false)
        .await
        .remove(0)
}

/// Asserts the investigation failed with an error holding each of `expected` and
/// collected nothing.
fn assert_failed_cleanly(d: &Value, expected: &[&str]) {
    assert_eq!(d["investigation"]["status"], "failed", "{d:#}");
    let error = d["investigation"]["error"].as_str().unwrap();
    assert!(expected.iter().all(|e| error.contains(e)), "{error}");
    assert!(d["evidence"].as_array().unwrap().is_empty());
}

/// Asserts the cleanup record deleted exactly `ids` and no snapshot of Riposte's is left
/// in the account.
async fn assert_cleaned_up(d: &Value, config: &riposte_aws::SdkConfig, ids: &[String]) {
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(deleted_snapshots(d), expected);
    let left = riposte_snapshots(config).await;
    assert!(left.is_empty(), "{left:#?}");
}

/// The snapshot ids a cleanup record says it deleted, sorted.
fn deleted_snapshots(d: &Value) -> Vec<String> {
    let mut deleted: Vec<String> =
        serde_json::from_value(audit_entry(d, "acquisition.snapshots_cleaned")["deleted"].clone())
            .unwrap();
    deleted.sort();
    deleted
}

/// The string `key` of each object of the array `list`.
fn strings(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_string())
        .collect()
}

/// The investigation's collect job.
fn collect_job(d: &Value) -> &Value {
    d["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "collect")
        .expect("a collect job")
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn audit_actions(d: &Value) -> Vec<String> {
    d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// An audit entry's detail (stored as JSON text).
fn detail(entry: &Value) -> Value {
    serde_json::from_str(entry["detail"].as_str().unwrap()).unwrap()
}

fn audit_entry(d: &Value, action: &str) -> Value {
    d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .map(detail)
        .unwrap_or_else(|| panic!("no {action} in the audit trail: {:#}", d["audit"]))
}

/// The evidence items, by original path.
fn evidence(d: &Value) -> std::collections::BTreeMap<String, Value> {
    d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["provenance"]["original_path"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                e.clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardduty_alert_about_an_ec2_instance_is_triaged_from_its_own_snapshots_then_isolated_with_no_snapshot_left()
 {
    let LinuxInstance {
        moto,
        config,
        dir,
        root_tree,
        data_tree,
        instance,
        ..
    } = linux_fixture().await;
    let world = World::create(&config).await;
    let groups_before = world.instance_group_ids(&instance.instance_id).await;
    let (server, key, environment, received) = server(&moto, dir.path()).await;
    let http = reqwest::Client::new();
    create_resource(
        &http,
        &server,
        &key,
        "rules",
        json!({"name": RULE, "source": "guardduty", "environment_id": environment["id"],
               "priority": 1, "filters": {"finding_types": ["UnauthorizedAccess:EC2/SSHBruteForce"]},
               "actions": [{"action": "isolate_security_group", "on": "malicious"}]}),
    )
    .await;

    let d = investigate_finding(
        &http,
        &server,
        &key,
        &guardduty_sample_about(&instance.instance_id, None),
    )
    .await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "complete", "{d:#}\n{}", server.log());
    assert_eq!(inv["plan"]["scope"]["acquisition"]["method"], "ec2");
    assert_eq!(
        inv["plan"]["scope"]["acquisition"]["instance_id"],
        instance.instance_id.as_str()
    );
    assert_eq!(
        inv["verdict"]["verdict"], "Malicious Activity Identified",
        "{:#}",
        d["alarms"]
    );

    // Two snapshots, root volume first, made by Riposte for this investigation.
    let snapshots = inv["acquisition"]["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "{:#}", inv["acquisition"]);
    assert_eq!(
        snapshots[0]["device_name"],
        instance.root_device_name.as_str()
    );
    assert_eq!(snapshots[1]["device_name"], "/dev/sdf");
    let volume_ids: Vec<&str> = instance
        .volumes
        .iter()
        .map(|v| v.volume_id.as_str())
        .collect();
    for s in snapshots {
        assert_eq!(s["instance_id"], instance.instance_id.as_str());
        assert_eq!(s["region"], REGION);
        assert_eq!(s["account_id"], ACCOUNT_ID);
        assert_eq!(s["created_by_riposte"], true);
        assert!(
            volume_ids.contains(&s["volume_id"].as_str().unwrap()),
            "{s:#}"
        );
    }
    let snapshot_ids = strings(&inv["acquisition"]["snapshots"], "snapshot_id");
    assert_eq!(inv["acquisition"]["layouts"], json!(["linux"]));

    // The collected files are the volumes' files, byte for byte, each with its volume.
    let items = evidence(&d);
    for path in ["/var/log/auth.log", "/root/.bash_history", "/etc/hostname"] {
        let item = items
            .get(path)
            .unwrap_or_else(|| panic!("{path} not collected: {:#?}", items.keys()));
        assert_eq!(item["sha256"], sha256(&root_tree[path]), "{path}");
        assert_eq!(item["provenance"]["method"], "ebs-snapshot");
        assert_eq!(item["provenance"]["cloud"]["device_name"], "/dev/sda1");
        assert_eq!(
            item["provenance"]["cloud"]["snapshot_id"],
            snapshot_ids[0].as_str()
        );
        assert_eq!(item["provenance"]["image"]["filesystem"], "ext");
    }
    let shell = "/srv/www/html/uploads/shell.php";
    let access = items.get(shell).unwrap_or_else(|| {
        panic!(
            "the data volume's web root was not collected: {:#?}",
            items.keys()
        )
    });
    assert_eq!(access["sha256"], sha256(&data_tree[shell]));
    assert!(
        !items.contains_key("/srv/backups/db.sql"),
        "triage took everything"
    );
    assert_eq!(access["provenance"]["cloud"]["device_name"], "/dev/sdf");
    assert_eq!(
        access["provenance"]["cloud"]["snapshot_id"],
        snapshot_ids[1].as_str()
    );
    assert_eq!(access["provenance"]["image"]["filesystem"], "xfs");
    // The data volume's own /etc/hostname is listed as skipped, the root's kept.
    let skipped: Vec<&Value> = d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "evidence.skipped" && detail(e)["path"] == "/etc/hostname")
        .collect();
    assert_eq!(skipped.len(), 1, "{:#}", d["audit"]);
    assert!(
        detail(skipped[0])["reason"]
            .as_str()
            .unwrap()
            .contains("/dev/sdf"),
        "{:#}",
        skipped[0]
    );

    // Chain of custody: the snapshots recorded when made, then deleted.
    let actions = audit_actions(&d);
    let made = actions
        .iter()
        .position(|a| a == "acquisition.snapshots")
        .expect("snapshots recorded");
    let cleaned = actions
        .iter()
        .position(|a| a == "acquisition.snapshots_cleaned")
        .expect("cleanup recorded");
    assert!(made < cleaned, "{actions:?}");
    assert_cleaned_up(&d, &config, &snapshot_ids).await;
    for id in &snapshot_ids {
        assert!(!snapshot_exists(&config, id).await, "{id} still exists");
    }
    // The collect job said what it was doing.
    let collect = collect_job(&d);
    assert!(
        collect["progress"]
            .as_str()
            .is_some_and(|p| p.starts_with("read 2 snapshot(s)")),
        "{collect:#}"
    );

    // The response: the instance is isolated in a new, empty security group.
    let action = &d["actions"][0];
    assert_eq!(
        action["action"], "isolate_security_group",
        "{:#}",
        d["actions"]
    );
    assert_eq!(action["status"], "succeeded", "{action:#}");
    let groups = world.instance_group_ids(&instance.instance_id).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(!groups_before.contains(&groups[0]));

    // The webhook got the verdict.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bodies = received.lock().unwrap().clone();
        if let Some((_, body)) = bodies
            .iter()
            .find(|(_, b)| b["investigation_id"] == inv["id"])
        {
            assert_eq!(body["verdict"], "Malicious Activity Identified", "{body:#}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook for the investigation: {bodies:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Windows instance's NTFS volume: the dfVFS corpus volume (`windows_volume.qcow2`,
/// an NTFS filesystem with a `Windows` folder), converted to raw with `qemu-img`; and its
/// `$MFT` as ntfs-3g's `ntfscat` reads it, the oracle for the collected copy.
fn windows_disk(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let qcow2 = common::corpus().join("images/dfvfs/windows_volume.qcow2");
    let raw = dir.join("windows.raw");
    common::tool(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            qcow2.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
        "qemu-utils",
    );
    let mft = common::tool("ntfscat", &[raw.to_str().unwrap(), "$MFT"], "ntfs-3g");
    assert!(mft.len() > 1024, "ntfscat gave {} bytes", mft.len());
    (raw, mft)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_imports_read_a_windows_instance_keeping_its_snapshot_an_existing_snapshot_and_name_a_missing_instance()
 {
    let (moto, config) = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (ntfs, mft) = windows_disk(dir.path());
    let windows = instance_with_disks(
        &config,
        &[Disk {
            device_name: "/dev/sda1",
            image: &ntfs,
            tags: &[("Name", "win01")],
        }],
        1,
        AWS_BLOCK,
    )
    .await;
    // An existing snapshot of the compromised Linux host, imported by id.
    let (root_tree, _, root, _) = linux_disks(dir.path());
    let existing = upload_image(&config, &root, 1, AWS_BLOCK).await;
    let (server, key, _, _) = server(&moto, dir.path()).await;
    let http = reqwest::Client::new();
    let missing = "i-0deadbeefdeadbeef";
    let ids = import_systems(&http, &server, &key, json!([
            {"kind": "ec2", "instance_id": windows.instance_id, "region": REGION, "account_id": ACCOUNT_ID},
            {"kind": "ebs_snapshot", "snapshot_id": existing.snapshot_id, "region": REGION, "account_id": ACCOUNT_ID},
            {"kind": "ec2", "instance_id": missing, "region": REGION, "account_id": ACCOUNT_ID},
    ]), true)
    .await;
    assert_eq!(ids.len(), 3);

    // The Windows instance: its NTFS volume triaged with the Windows profile.
    let d = wait_for_finished(&http, &server.base, &key, &ids[0]).await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "complete", "{d:#}\n{}", server.log());
    assert_eq!(
        inv["acquisition"]["layouts"],
        json!(["windows"]),
        "{:#}",
        inv["acquisition"]
    );
    assert_eq!(inv["acquisition"]["profiles"], json!(["windows-triage"]));
    // Kept, as the import asked, and said so.
    let windows_snapshot = inv["acquisition"]["snapshots"][0]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        audit_entry(&d, "acquisition.snapshots_cleaned")["retained"],
        json!([windows_snapshot])
    );
    // Its $MFT, read from the snapshot, is the one ntfs-3g reads from the volume byte for
    // byte, except that ntfscat hands records out with their fixups undone (the last two
    // bytes of each sector); and the MFT parser turned it into events.
    let items = evidence(&d);
    let collected = items
        .get("/$MFT")
        .unwrap_or_else(|| panic!("$MFT not collected: {:#?}", items.keys()));
    let stored = dir
        .path()
        .join("data/evidence")
        .join(collected["storage_key"].as_str().unwrap());
    let blob = std::fs::read(&stored).unwrap_or_else(|e| panic!("{}: {e}", stored.display()));
    assert_eq!(collected["sha256"], sha256(&blob));
    assert_eq!(blob.len(), mft.len());
    let differing: Vec<usize> = (0..blob.len()).filter(|&i| blob[i] != mft[i]).collect();
    assert!(
        differing.iter().all(|i| i % 512 >= 510),
        "bytes differ outside the fixups: {:?}",
        &differing[..differing.len().min(10)]
    );
    assert_eq!(collected["provenance"]["image"]["filesystem"], "ntfs");
    assert_eq!(collected["provenance"]["cloud"]["device_name"], "/dev/sda1");
    assert!(
        d["events_count"].as_i64().is_some_and(|n| n > 0),
        "{:#}",
        d["parse_reports"]
    );

    // The existing snapshot: read in place, a verdict, and never deleted.
    let d = wait_for_finished(&http, &server.base, &key, &ids[1]).await;
    let inv = &d["investigation"];
    assert_eq!(inv["status"], "complete", "{d:#}\n{}", server.log());
    assert_eq!(
        inv["plan"]["scope"]["acquisition"]["method"],
        "ebs_snapshot"
    );
    assert_eq!(
        inv["verdict"]["verdict"], "Malicious Activity Identified",
        "{:#}",
        d["alarms"]
    );
    let snapshots = inv["acquisition"]["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0]["snapshot_id"], existing.snapshot_id.as_str());
    assert_eq!(snapshots[0]["created_by_riposte"], false);
    let history = &evidence(&d)["/root/.bash_history"];
    assert_eq!(history["sha256"], sha256(&root_tree["/root/.bash_history"]));
    assert!(
        snapshot_exists(&config, &existing.snapshot_id).await,
        "the imported snapshot was deleted"
    );

    // The missing instance: failed, saying which instance and what to check.
    let d = wait_for_finished(&http, &server.base, &key, &ids[2]).await;
    assert_failed_cleanly(&d, &[missing, "was not found in region us-east-1"]);

    // The import said to keep the snapshots: the Windows volume's is all that is left.
    let left = riposte_snapshots(&config).await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        [&windows_snapshot],
        "{left:#?}"
    );
    assert_eq!(
        left[&windows_snapshot]["riposte:instance"],
        windows.instance_id
    );
}

/// Runs the `riposte` binary with `args` against moto; its exit status, stdout and stderr.
fn riposte_on(moto: &MotoServer, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .envs(moto.env(REGION))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_acquires_an_instance_and_reads_a_snapshot_offline_leaving_only_what_it_is_told_to_keep()
 {
    let LinuxInstance {
        moto,
        config,
        dir: _dir,
        root_tree,
        root,
        instance,
        ..
    } = linux_fixture().await;
    let existing = upload_image(&config, &root, 1, AWS_BLOCK).await;
    let acquire = |extra: &[&str]| {
        let mut args = vec![
            "acquire",
            "ec2",
            "--instance-id",
            &instance.instance_id,
            "--region",
            REGION,
            "--snapshot-poll-secs",
            "1",
            "--no-bundled-yara",
            "--format",
            "json",
        ];
        args.extend(extra);
        riposte_on(&moto, &args)
    };

    // `acquire ec2`: both volumes read, the verdict, and no snapshot left.
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| acquire(&[]));
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["verdict"]["verdict"], "Malicious Activity Identified",
        "{stderr}"
    );
    assert_eq!(report["host"], instance.instance_id.as_str());
    let snapshots = report["acquisition"]["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "{:#}", report["acquisition"]);
    let artifacts = common::report_artifacts(&report);
    let history = artifacts
        .iter()
        .find(|(path, _)| path == "/root/.bash_history")
        .unwrap_or_else(|| panic!("{artifacts:?}"));
    assert_eq!(history.1, sha256(&root_tree["/root/.bash_history"]));
    assert!(
        artifacts
            .iter()
            .any(|(path, _)| path == "/srv/www/html/uploads/shell.php"),
        "the data volume was not read: {artifacts:?}"
    );
    assert!(stderr.contains("deleted snapshots"), "{stderr}");
    assert!(riposte_snapshots(&config).await.is_empty());

    // With --keep-snapshots they stay, tagged as Riposte's.
    let (ok, _, stderr) = tokio::task::block_in_place(|| acquire(&["--keep-snapshots"]));
    assert!(ok, "{stderr}");
    let kept = riposte_snapshots(&config).await;
    assert_eq!(kept.len(), 2, "{kept:#?}");
    assert!(
        kept.values()
            .all(|tags| tags.get("riposte:instance") == Some(&instance.instance_id))
    );

    // `investigate ebs-snapshot:…` reads an existing snapshot in place and keeps it.
    let name = format!("ebs-snapshot:{REGION}/{}", existing.snapshot_id);
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
        riposte_on(
            &moto,
            &[
                "investigate",
                &name,
                "--no-bundled-yara",
                "--format",
                "json",
            ],
        )
    });
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["source"], name.as_str());
    assert_eq!(
        report["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    assert!(snapshot_exists(&config, &existing.snapshot_id).await);

    // A malformed name and an unknown snapshot say what is wrong.
    let (ok, _, stderr) = tokio::task::block_in_place(|| {
        riposte_on(
            &moto,
            &["investigate", "ebs-snapshot:us-east-1", "--no-bundled-yara"],
        )
    });
    assert!(!ok);
    assert!(stderr.contains("ebs-snapshot:REGION/snap-"), "{stderr}");
    let (ok, _, stderr) = tokio::task::block_in_place(|| {
        riposte_on(
            &moto,
            &[
                "investigate",
                "ebs-snapshot:us-east-1/snap-0123456789abcdef0",
                "--no-bundled-yara",
            ],
        )
    });
    assert!(!ok);
    assert!(stderr.contains("snap-0123456789abcdef0"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_reading_snapshots_reuses_them_after_restart_and_leaves_none() {
    let LinuxInstance {
        moto,
        config,
        dir,
        root_tree,
        instance,
        ..
    } = linux_fixture().await;
    // Every AWS request takes 150 ms more, so reading the snapshots lasts seconds.
    let proxy = FaultProxy::start(
        &moto.url(),
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
    )
    .await;
    let mut aws = moto.env(REGION);
    for (name, value) in aws.iter_mut() {
        if *name == "AWS_ENDPOINT_URL" {
            *value = proxy.url();
        }
    }
    let key = admin(dir.path());
    let http = reqwest::Client::new();
    let lease = ["--job-lease-secs", "2"];
    let mut first = serve(dir.path(), &aws, &lease);
    aws_environment(&http, &first, &key).await;
    let inv = import_instance(&http, &first, &key, &instance.instance_id).await;

    // SIGKILL as soon as the snapshots are being read.
    let deadline = Instant::now() + Duration::from_secs(120);
    let made = loop {
        let d = get_json(
            &http,
            format!("{}/api/v1/investigations/{inv}", first.base),
            &key,
        )
        .await;
        let reading = d["jobs"].as_array().unwrap().iter().any(|j| {
            j["kind"] == "collect"
                && j["status"] == "running"
                && j["progress"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("reading "))
        });
        if reading {
            break audit_entry(&d, "acquisition.snapshots");
        }
        assert!(
            Instant::now() < deadline,
            "never saw the read start: {d:#}\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let made_ids = strings(&made["snapshots"], "snapshot_id");
    assert_eq!(made_ids.len(), 2);
    // The snapshots outlive the worker, recorded on the investigation.
    assert_eq!(riposte_snapshots(&config).await.len(), 2);

    // After a restart the retried job reuses them, finishes, and deletes them.
    let second = serve(dir.path(), &aws, &lease);
    let d = wait_for_finished(&http, &second.base, &key, &inv).await;
    assert_eq!(
        d["investigation"]["status"],
        "complete",
        "{d:#}\n{}",
        second.log()
    );
    assert_eq!(
        d["investigation"]["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    let records: Vec<Value> = d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "acquisition.snapshots")
        .map(detail)
        .collect();
    assert_eq!(records.len(), 2, "{:#}", d["audit"]);
    let reused: Vec<(String, bool)> = records[1]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["snapshot_id"].as_str().unwrap().to_string(),
                s["reused"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reused,
        made_ids
            .iter()
            .map(|id| (id.clone(), true))
            .collect::<Vec<_>>()
    );
    assert_cleaned_up(&d, &config, &made_ids).await;
    // Collected once, the collect job run twice.
    let items = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provenance"]["original_path"] == "/root/.bash_history")
        .collect::<Vec<_>>();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["sha256"],
        sha256(&root_tree["/root/.bash_history"])
    );
    let collect = collect_job(&d);
    assert_eq!(collect["attempts"], 2, "{collect:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_still_pending_at_the_timeout_fail_the_investigation_and_are_deleted() {
    let LinuxInstance {
        moto,
        config,
        dir,
        instance,
        ..
    } = linux_fixture().await;
    let key = admin(dir.path());
    let http = reqwest::Client::new();
    // Snapshots stay pending for 1.5 s; the server waits 1 s.
    let server = serve(
        dir.path(),
        &moto.env(REGION),
        &["--snapshot-timeout-secs", "1"],
    );
    aws_environment(&http, &server, &key).await;
    let inv = import_instance(&http, &server, &key, &instance.instance_id).await;
    let d = wait_for_finished(&http, &server.base, &key, &inv).await;
    assert_failed_cleanly(
        &d,
        &["still pending after 1s", "raise the snapshot timeout"],
    );
    let left = riposte_snapshots(&config).await;
    assert!(left.is_empty(), "{left:#?}");
}

/// Stores `body` at `path` (`bucket` creates a bucket) in moto's S3, with a plain
/// request: moto checks no signature unless told to.
async fn s3_put(moto: &MotoServer, path: &str, body: Vec<u8>) {
    let r = reqwest::Client::new()
        .put(format!("{}/{path}", moto.url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "PUT {path}: {}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_imports_read_a_package_and_an_image_in_place_and_name_a_missing_or_truncated_object() {
    let LinuxInstance {
        moto,
        dir,
        root_tree,
        root,
        ..
    } = linux_fixture().await;
    // The compromised host as a tar.gz triage package, as a raw ext4 image, and the
    // package cut in half.
    let package = dir.path().join("web01.tar.gz");
    let victim = dir.path().join("victim");
    riposte_aws::testing::images::write_tree(&root_tree, &victim);
    common::tool(
        "tar",
        &[
            "-czf",
            package.to_str().unwrap(),
            "-C",
            victim.to_str().unwrap(),
            ".",
        ],
        "tar",
    );
    let package = std::fs::read(&package).unwrap();
    s3_put(&moto, "evidence", Vec::new()).await;
    s3_put(&moto, "evidence/cases/web01.tar.gz", package.clone()).await;
    s3_put(
        &moto,
        "evidence/cases/web02.img",
        std::fs::read(&root).unwrap(),
    )
    .await;
    s3_put(
        &moto,
        "evidence/cases/cut.tar.gz",
        package[..package.len() / 2].to_vec(),
    )
    .await;

    let (server, key, _, _) = server(&moto, dir.path()).await;
    let http = reqwest::Client::new();
    let system =
        |uri: &str| json!({"kind": "s3", "uri": uri, "region": REGION, "account_id": ACCOUNT_ID});
    let ids = import_systems(
        &http,
        &server,
        &key,
        json!([
            system("s3://evidence/cases/web01.tar.gz"),
            system("s3://evidence/cases/web02.img"),
            system("s3://evidence/cases/gone.tar.gz"),
            system("s3://evidence/cases/cut.tar.gz"),
        ]),
        false,
    )
    .await;

    // The package and the image: read in place, the same files, the same verdict.
    for (id, form, name) in [
        (&ids[0], "package", "s3://evidence/cases/web01.tar.gz"),
        (&ids[1], "image", "s3://evidence/cases/web02.img"),
    ] {
        let d = wait_for_finished(&http, &server.base, &key, id).await;
        let inv = &d["investigation"];
        assert_eq!(inv["status"], "complete", "{name}: {d:#}\n{}", server.log());
        assert_eq!(inv["plan"]["scope"]["acquisition"]["method"], "s3");
        assert_eq!(inv["acquisition"]["form"], form);
        assert_eq!(
            inv["verdict"]["verdict"], "Malicious Activity Identified",
            "{name}: {:#}",
            d["alarms"]
        );
        let items = evidence(&d);
        for path in ["/var/log/auth.log", "/root/.bash_history"] {
            let item = items
                .get(path)
                .unwrap_or_else(|| panic!("{name}: {path} missing: {:#?}", items.keys()));
            assert_eq!(item["sha256"], sha256(&root_tree[path]), "{name} {path}");
            assert_eq!(item["provenance"]["method"], "s3");
            assert_eq!(item["provenance"]["source"], name);
        }
    }

    // A missing object: failed, naming it.
    let d = wait_for_finished(&http, &server.base, &key, &ids[2]).await;
    assert_eq!(d["investigation"]["status"], "failed", "{d:#}");
    let error = d["investigation"]["error"].as_str().unwrap();
    assert!(
        error.contains("s3://evidence/cases/gone.tar.gz does not exist"),
        "{error}"
    );

    // A truncated package: what could be read is kept, the rest is recorded as refused.
    let d = wait_for_finished(&http, &server.base, &key, &ids[3]).await;
    assert_eq!(d["investigation"]["status"], "complete", "{d:#}");
    let skipped: Vec<Value> = d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "evidence.skipped")
        .map(detail)
        .collect();
    assert!(
        skipped.iter().any(|s| s["path"] == "(rest of the package)"),
        "{skipped:#?}"
    );

    // The CLI reads the same object in place.
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
        riposte_on(
            &moto,
            &[
                "investigate",
                "s3://evidence/cases/web01.tar.gz",
                "--no-bundled-yara",
                "--format",
                "json",
            ],
        )
    });
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["host"], "web01");
    assert_eq!(
        report["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
}
