//! An EC2 instance whose EBS volumes hold known disk images, on moto: each image is
//! uploaded as a snapshot through the EBS direct APIs ([`upload_snapshot`]), a volume is
//! created from that snapshot with EC2 `CreateVolume`, and the volumes replace the
//! instance's default root volume with EC2 `DetachVolume` / `AttachVolume`. With the
//! `ebs_direct.py` plugin, a snapshot EC2 `CreateSnapshot` makes of such a volume serves
//! the uploaded blocks. Panics on any failure.

use super::ebs_snapshot::upload_snapshot;
use crate::acquire::ec2::TAG_CREATED;
use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use std::collections::BTreeMap;
use std::path::Path;

/// A disk to attach: an image, where, and the volume's tags.
pub struct Disk<'a> {
    /// The device name; the instance's root device name makes it the root volume.
    pub device_name: &'a str,
    /// The raw image of the volume's contents.
    pub image: &'a Path,
    /// Tags of the volume.
    pub tags: &'a [(&'a str, &'a str)],
}

/// An attached volume of the fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededVolume {
    /// Where it is attached.
    pub device_name: String,
    /// The volume.
    pub volume_id: String,
    /// The EBS direct snapshot it was created from.
    pub origin_snapshot_id: String,
}

/// What the fixture created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededInstance {
    /// The instance.
    pub instance_id: String,
    /// Its root device name (moto: `/dev/sda1`).
    pub root_device_name: String,
    /// Its volumes, in the order given.
    pub volumes: Vec<SeededVolume>,
}

/// Panics with the operation's name and the SDK error.
fn setup<T, E: std::fmt::Debug>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("fixture {what} failed: {e:?}"))
}

/// Launches an instance and detaches its default root volume: an instance with no EBS
/// volume. Returns the instance id, its root device name and availability zone.
pub async fn bare_instance(config: &SdkConfig) -> (String, String, String) {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let run = setup(
        "RunInstances",
        ec2.run_instances()
            .image_id("ami-12c6146b")
            .min_count(1)
            .max_count(1)
            .send()
            .await,
    );
    let instance = run.instances().first().expect("one instance launched");
    let instance_id = instance.instance_id().expect("instance id").to_string();
    let root = instance
        .root_device_name()
        .unwrap_or("/dev/sda1")
        .to_string();
    let zone = instance
        .placement()
        .and_then(|p| p.availability_zone())
        .expect("availability zone")
        .to_string();
    for mapping in instance.block_device_mappings() {
        let volume = mapping
            .ebs()
            .and_then(|e| e.volume_id())
            .expect("volume id");
        setup(
            "DetachVolume",
            ec2.detach_volume()
                .volume_id(volume)
                .instance_id(&instance_id)
                .set_device(mapping.device_name().map(str::to_string))
                .send()
                .await,
        );
    }
    (instance_id, root, zone)
}

/// An instance whose volumes are `disks`, each uploaded in `block_size` blocks (the
/// emulator's) as a `volume_gib` volume.
pub async fn instance_with_disks(
    config: &SdkConfig,
    disks: &[Disk<'_>],
    volume_gib: i32,
    block_size: u64,
) -> SeededInstance {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let ebs = aws_sdk_ebs::Client::new(config);
    let (instance_id, root_device_name, zone) = bare_instance(config).await;
    let mut volumes = Vec::new();
    for disk in disks {
        let uploaded =
            upload_snapshot(&ebs, disk.image, i64::from(volume_gib), block_size, &[]).await;
        let mut request = ec2
            .create_volume()
            .snapshot_id(&uploaded.snapshot_id)
            .availability_zone(&zone)
            .size(volume_gib);
        // EC2 refuses a tag specification without tags.
        if !disk.tags.is_empty() {
            let tags = disk
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build());
            request = request.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(tags.collect()))
                    .build(),
            );
        }
        let created = setup("CreateVolume", request.send().await);
        let volume_id = created.volume_id().expect("volume id").to_string();
        setup(
            "AttachVolume",
            ec2.attach_volume()
                .volume_id(&volume_id)
                .instance_id(&instance_id)
                .device(disk.device_name)
                .send()
                .await,
        );
        volumes.push(SeededVolume {
            device_name: disk.device_name.to_string(),
            volume_id,
            origin_snapshot_id: uploaded.snapshot_id,
        });
    }
    SeededInstance {
        instance_id,
        root_device_name,
        volumes,
    }
}

/// Every snapshot in the account tagged as Riposte's, as id → tags.
pub async fn riposte_snapshots(config: &SdkConfig) -> BTreeMap<String, BTreeMap<String, String>> {
    let out = aws_sdk_ec2::Client::new(config)
        .describe_snapshots()
        .filters(
            Filter::builder()
                .name(format!("tag:{TAG_CREATED}"))
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("DescribeSnapshots");
    out.snapshots()
        .iter()
        .map(|s| {
            let tags = s
                .tags()
                .iter()
                .map(|t| {
                    let key = t.key().unwrap_or_default().to_string();
                    (key, t.value().unwrap_or_default().to_string())
                })
                .collect();
            (s.snapshot_id().unwrap_or_default().to_string(), tags)
        })
        .collect()
}

/// Whether EC2 still knows the snapshot.
pub async fn snapshot_exists(config: &SdkConfig, snapshot_id: &str) -> bool {
    match aws_sdk_ec2::Client::new(config)
        .describe_snapshots()
        .snapshot_ids(snapshot_id)
        .send()
        .await
    {
        Ok(out) => !out.snapshots().is_empty(),
        Err(err) if format!("{err:?}").contains("InvalidSnapshot.NotFound") => false,
        Err(err) => panic!("DescribeSnapshots {snapshot_id}: {err:?}"),
    }
}
