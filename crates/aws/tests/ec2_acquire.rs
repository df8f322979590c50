//! EC2 acquisition with the real AWS SDK against a real moto server: an instance's EBS
//! volumes snapshotted with tags, awaited, read in place through the EBS direct APIs,
//! reused by a retried run, and deleted on cleanup.
//!
//! What is moto and what is emulated:
//! - moto: instances, volumes (`RunInstances`, `CreateVolume` from a snapshot,
//!   `AttachVolume` / `DetachVolume`, `DescribeInstances` block device mappings,
//!   `DescribeVolumes` tags), EC2 `CreateSnapshot` with tag specifications,
//!   `DescribeSnapshots` with tag filters, `DeleteSnapshot`; the EBS direct API's
//!   snapshots seeded with `StartSnapshot` / `PutSnapshotBlock` / `CompleteSnapshot`.
//! - `riposte_fakes::moto::MotoServer::start_ebs_direct_with` (`ebs_direct.py`) patches
//!   moto in-process: a snapshot EC2 `CreateSnapshot` makes of a volume serves, through the
//!   EBS direct API, the blocks of the EBS direct snapshot the volume was created from
//!   (moto knows no blocks for it: `ListSnapshotBlocks` fails with a 500); and EC2
//!   snapshots stay `pending` for a set time with rising progress (moto completes them at
//!   once), which is how progress and the timeout are seen. Plus the EBS direct fixes the
//!   block reader's tests describe.

mod ebs_support;
mod ec2_support;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use ebs_support::{collect, ext4_image, host_tree, pattern, xfs_image};
use ec2_support::{
    AWS_BLOCK, Emulator, MOTO_BLOCK, REGION, data_tree, ids, options, raw_instance, read_options,
};
use riposte_acquire::ImageSelection;
use riposte_aws::EbsSnapshotSource;
use riposte_aws::acquire::ec2::{TAG_CREATED, TAG_INSTANCE, TAG_INVESTIGATION};
use riposte_aws::acquire::{Ec2AcquireError, Ec2AcquireOptions, SnapshotProgress};
use riposte_aws::testing::ec2_instance::{Disk, bare_instance, instance_with_disks};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_ext4_root_and_xfs_data_volumes_are_snapshotted_tagged_read_and_cleaned_up() {
    let emulator = Emulator::start(AWS_BLOCK, 2.0).await;
    let dir = tempfile::tempdir().unwrap();
    let root_tree = host_tree(256 << 10);
    let data_tree = data_tree();
    let root_image = ext4_image(&root_tree, dir.path(), 32);
    let data_image = xfs_image(&data_tree, dir.path(), 320);
    let disks = [
        Disk {
            device_name: "/dev/sda1",
            image: &root_image,
            tags: &[("Name", "web01-root"), ("team", "payments")],
        },
        Disk {
            device_name: "/dev/sdf",
            image: &data_image,
            tags: &[("Name", "web01-data")],
        },
    ];
    let instance = instance_with_disks(&emulator.config, &disks, 1, AWS_BLOCK).await;
    assert_eq!(instance.root_device_name, "/dev/sda1");
    let acquirer = emulator.acquirer(options());

    let mut progress: Vec<SnapshotProgress> = Vec::new();
    let taken = acquirer
        .snapshot_instance("inv-1", &instance.instance_id, |p| progress.push(p.clone()))
        .await
        .expect("snapshot the instance");
    assert_eq!(taken.instance_id, instance.instance_id);
    assert_eq!(taken.region, REGION);
    let found: Vec<_> = taken
        .snapshots
        .iter()
        .map(|s| {
            let v = &s.volume;
            (
                v.device_name.as_str(),
                v.volume_id.as_str(),
                v.root,
                s.reused,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "/dev/sda1",
                instance.volumes[0].volume_id.as_str(),
                true,
                false
            ),
            (
                "/dev/sdf",
                instance.volumes[1].volume_id.as_str(),
                false,
                false
            ),
        ]
    );

    // Tagged with the investigation, the instance and Riposte's mark, the volume's own
    // tags copied.
    let tagged = emulator.riposte_snapshots().await;
    assert_eq!(tagged.keys().cloned().collect::<Vec<_>>(), {
        let mut ids = ids(&taken);
        ids.sort();
        ids
    });
    let riposte = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
        [
            (TAG_INVESTIGATION, "inv-1"),
            (TAG_INSTANCE, instance.instance_id.as_str()),
            (TAG_CREATED, "true"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let root_id = &taken.snapshots[0].snapshot_id;
    let data_id = &taken.snapshots[1].snapshot_id;
    assert_eq!(
        tagged[root_id],
        riposte(&[("Name", "web01-root"), ("team", "payments")])
    );
    assert_eq!(tagged[data_id], riposte(&[("Name", "web01-data")]));

    // Progress: each snapshot seen pending, never going back, ending at 100.
    for snapshot in &taken.snapshots {
        let seen: Vec<u8> = progress
            .iter()
            .filter(|p| p.snapshot_id == snapshot.snapshot_id)
            .map(|p| p.percent)
            .collect();
        assert!(seen.first().is_some_and(|p| *p < 100), "{seen:?}");
        assert_eq!(seen.last(), Some(&100), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!(
            progress
                .iter()
                .filter(|p| p.snapshot_id == snapshot.snapshot_id)
                .all(|p| p.device_name == snapshot.volume.device_name),
            "progress names the device"
        );
    }

    // The snapshots Riposte made hold the volumes' filesystems, byte for byte.
    for (id, tree, fs) in [(root_id, &root_tree, "ext"), (data_id, &data_tree, "xfs")] {
        let source = EbsSnapshotSource::open(&emulator.config, id, read_options())
            .await
            .expect("open the snapshot Riposte made");
        let read = collect(&source, ImageSelection::Full).await;
        assert_eq!(&read.files, tree, "{fs}: every file, byte for byte");
        let found = read.report.volumes[0].filesystem.map(|f| f.as_str());
        assert_eq!(found, Some(fs));
        let name = format!("ebs-snapshot:{REGION}/{id}");
        assert!(read.image_names.iter().all(|n| *n == name));
    }

    // Cleanup deletes exactly the snapshots Riposte made, and is idempotent.
    let cleanup = acquirer.cleanup(&taken).await.expect("cleanup");
    assert_eq!(cleanup.deleted, ids(&taken));
    assert!(cleanup.already_gone.is_empty() && cleanup.retained.is_empty());
    for id in ids(&taken) {
        assert!(!emulator.snapshot_exists(&id).await, "{id} deleted");
    }
    for volume in &instance.volumes {
        assert!(
            emulator.snapshot_exists(&volume.origin_snapshot_id).await,
            "the volumes' own snapshots are untouched"
        );
    }
    assert!(emulator.riposte_snapshots().await.is_empty());
    let again = acquirer.cleanup(&taken).await.expect("second cleanup");
    assert!(again.deleted.is_empty());
    assert_eq!(again.already_gone, ids(&taken));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_run_for_the_same_investigation_reuses_its_snapshots() {
    let emulator = Emulator::start(MOTO_BLOCK, 0.3).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    let acquirer = emulator.acquirer(options());

    let first = acquirer
        .snapshot_instance("inv-7", &instance.instance_id, |_| {})
        .await
        .expect("first run");
    // A new acquirer, as a retried job in another worker would have.
    let retry = emulator.acquirer(options());
    let second = retry
        .snapshot_instance("inv-7", &instance.instance_id, |_| {})
        .await
        .expect("retried run");
    assert_eq!(ids(&second), ids(&first), "the same snapshots");
    assert!(second.snapshots.iter().all(|s| s.reused));
    assert!(first.snapshots.iter().all(|s| !s.reused));
    assert_eq!(emulator.riposte_snapshots().await.len(), 2, "no second set");

    // Another investigation of the same instance gets its own snapshots.
    let other = acquirer
        .snapshot_instance("inv-8", &instance.instance_id, |_| {})
        .await
        .expect("other investigation");
    assert!(ids(&other).iter().all(|id| !ids(&first).contains(id)));
    assert_eq!(emulator.riposte_snapshots().await.len(), 4);

    // The reused snapshots read as the volume's disk.
    let source = EbsSnapshotSource::open(
        &emulator.config,
        &second.snapshots[1].snapshot_id,
        read_options(),
    )
    .await
    .expect("open the reused snapshot");
    let disk = tokio::task::spawn_blocking(move || {
        let mut disk = vec![0u8; 4 * MOTO_BLOCK as usize];
        riposte_disk::ByteSource::read_exact_at(&source, 0, &mut disk).map(|()| disk)
    })
    .await
    .unwrap()
    .expect("read the data volume");
    assert_eq!(disk, pattern(2, 4 * MOTO_BLOCK as usize));

    let cleanup = retry.cleanup(&second).await.expect("cleanup");
    assert_eq!(cleanup.deleted, ids(&first));
    let left: Vec<String> = emulator.riposte_snapshots().await.into_keys().collect();
    let mut other_ids = ids(&other);
    other_ids.sort();
    assert_eq!(left, other_ids, "only the other investigation's are left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_abandoned_mid_wait_leaves_pending_snapshots_that_the_retry_waits_out_and_deletes() {
    let emulator = Emulator::start(MOTO_BLOCK, 3.0).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;

    // The first attempt stops once it is waiting for its snapshots, as a killed worker
    // would: no cleanup runs.
    let first = emulator.acquirer(options());
    let waiting = std::sync::Arc::new(tokio::sync::Notify::new());
    let notify = waiting.clone();
    let attempt =
        first.snapshot_instance("inv-3", &instance.instance_id, move |_| notify.notify_one());
    tokio::select! {
        result = attempt => panic!("the first attempt finished: {result:?}"),
        () = waiting.notified() => {}
    }
    let left = emulator.riposte_snapshots().await;
    assert_eq!(left.len(), 2, "one pending snapshot per volume left behind");

    let mut progress = Vec::new();
    let retry = emulator.acquirer(options());
    let taken = retry
        .snapshot_instance("inv-3", &instance.instance_id, |p| progress.push(p.percent))
        .await
        .expect("the retry waits the snapshots out");
    let mut reused = ids(&taken);
    reused.sort();
    assert_eq!(reused, left.into_keys().collect::<Vec<_>>());
    assert!(taken.snapshots.iter().all(|s| s.reused));
    assert!(progress.iter().any(|p| *p < 100), "{progress:?}");
    assert_eq!(progress.iter().filter(|p| **p == 100).count(), 2);

    retry.cleanup(&taken).await.expect("cleanup");
    assert!(
        emulator.riposte_snapshots().await.is_empty(),
        "no snapshot orphaned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_made_twice_by_concurrent_attempts_are_reused_once_and_all_deleted() {
    let emulator = Emulator::start(MOTO_BLOCK, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    // Two attempts each snapshotted the data volume before either could see the other's.
    let data_volume = &instance.volumes[1].volume_id;
    let mut made = Vec::new();
    for _ in 0..2 {
        let tags = [
            (TAG_INVESTIGATION, "inv-5"),
            (TAG_INSTANCE, instance.instance_id.as_str()),
            (TAG_CREATED, "true"),
        ]
        .map(|(k, v)| Tag::builder().key(k).value(v).build());
        let out = emulator
            .ec2()
            .create_snapshot()
            .volume_id(data_volume)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Snapshot)
                    .set_tags(Some(tags.to_vec()))
                    .build(),
            )
            .send()
            .await
            .expect("CreateSnapshot");
        made.push(out.snapshot_id().unwrap().to_string());
    }
    made.sort();

    let acquirer = emulator.acquirer(options());
    let taken = acquirer
        .snapshot_instance("inv-5", &instance.instance_id, |_| {})
        .await
        .expect("snapshot");
    let data = &taken.snapshots[1];
    assert_eq!(&data.volume.volume_id, data_volume);
    assert!(data.reused);
    assert_eq!(data.snapshot_id, made[0], "the lowest id is reused");
    assert!(
        !taken.snapshots[0].reused,
        "the root volume is snapshotted now"
    );
    assert_eq!(taken.leftovers, vec![made[1].clone()]);

    let cleanup = acquirer.cleanup(&taken).await.expect("cleanup");
    assert_eq!(cleanup.deleted.len(), 3, "{cleanup:?}");
    assert!(cleanup.deleted.contains(&made[1]), "the leftover too");
    assert!(emulator.riposte_snapshots().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_snapshots_are_kept_on_cleanup() {
    let emulator = Emulator::start(MOTO_BLOCK, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    let acquirer = emulator.acquirer(Ec2AcquireOptions {
        retain_snapshots: true,
        ..options()
    });
    let taken = acquirer
        .snapshot_instance("inv-keep", &instance.instance_id, |_| {})
        .await
        .expect("snapshot");
    let cleanup = acquirer.cleanup(&taken).await.expect("cleanup");
    assert_eq!(cleanup.retained, ids(&taken));
    assert!(cleanup.deleted.is_empty());
    for id in ids(&taken) {
        assert!(emulator.snapshot_exists(&id).await, "{id} kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_instance_is_refused_naming_it_and_its_region() {
    let emulator = Emulator::start(MOTO_BLOCK, 0.0).await;
    let acquirer = emulator.acquirer(options());
    let err = acquirer
        .snapshot_instance("inv-1", "i-0123456789abcdef0", |_| {})
        .await
        .expect_err("no such instance");
    assert!(
        matches!(&err, Ec2AcquireError::UnknownInstance { instance_id, region }
            if instance_id == "i-0123456789abcdef0" && region == REGION),
        "{err:?}"
    );
    assert!(emulator.riposte_snapshots().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_volumes_is_refused_and_nothing_is_created() {
    let emulator = Emulator::start(MOTO_BLOCK, 0.0).await;
    let (instance_id, _, _) = bare_instance(&emulator.config).await;
    let acquirer = emulator.acquirer(options());
    let err = acquirer
        .snapshot_instance("inv-1", &instance_id, |_| {})
        .await
        .expect_err("nothing to snapshot");
    assert!(
        matches!(&err, Ec2AcquireError::NoVolumes { instance_id: id } if *id == instance_id),
        "{err:?}"
    );
    assert!(err.to_string().contains("no EBS volume"), "{err}");
    assert!(emulator.riposte_snapshots().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_pending_past_the_timeout_fails_and_is_deleted() {
    let emulator = Emulator::start(MOTO_BLOCK, 3600.0).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = raw_instance(&emulator, dir.path()).await;
    let acquirer = emulator.acquirer(Ec2AcquireOptions {
        snapshot_timeout: Duration::from_millis(700),
        poll_interval: Duration::from_millis(200),
        retain_snapshots: false,
    });
    let mut progress = Vec::new();
    let started = std::time::Instant::now();
    let err = acquirer
        .snapshot_instance("inv-slow", &instance.instance_id, |p| {
            progress.push(p.clone())
        })
        .await
        .expect_err("still pending");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the wait is bounded"
    );
    let Ec2AcquireError::SnapshotTimeout {
        instance_id,
        waited,
        pending,
    } = &err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(instance_id, &instance.instance_id);
    assert!(*waited >= Duration::from_millis(700), "{waited:?}");
    let volumes: Vec<&str> = pending.iter().map(|p| p.volume_id.as_str()).collect();
    let mut expected: Vec<&str> = instance
        .volumes
        .iter()
        .map(|v| v.volume_id.as_str())
        .collect();
    expected.sort();
    let mut volumes = volumes;
    volumes.sort();
    assert_eq!(volumes, expected, "both snapshots named");
    assert!(progress.iter().all(|p| p.percent < 100), "{progress:?}");
    assert!(err.to_string().contains("still pending"), "{err}");
    for p in pending {
        assert!(
            !emulator.snapshot_exists(&p.snapshot_id).await,
            "{} deleted after the timeout",
            p.snapshot_id
        );
    }
    assert!(emulator.riposte_snapshots().await.is_empty());
}
