//! Shared by the EC2 acquisition tests: a patched moto (see `ec2_acquire.rs` for what
//! is moto and what is emulated), small instances, and reads of the account's snapshots.

// Each test binary uses a different subset.
#![allow(dead_code)]

use crate::ebs_support::{Tree, pattern};
use aws_config::SdkConfig;
use riposte_aws::EbsReadOptions;
use riposte_aws::acquire::{Ec2AcquireOptions, Ec2Acquirer, InstanceSnapshots};
use riposte_aws::testing::ec2_instance::{Disk, SeededInstance, instance_with_disks};
use riposte_fakes::moto::{ACCESS_KEY_ID, EbsDirect, MotoServer, SECRET_ACCESS_KEY};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const REGION: &str = "us-east-1";
/// AWS's block size, which the patched moto reports.
pub const AWS_BLOCK: u64 = 512 << 10;
/// moto's own block size, for the small raw disks.
pub const MOTO_BLOCK: u64 = 512;

pub struct Emulator {
    pub moto: MotoServer,
    /// The configuration tests and checks use (replaced by an admin's under IAM).
    pub config: SdkConfig,
}

impl Emulator {
    /// moto reporting `block_size` bytes per block, with EC2 snapshots pending for
    /// `snapshot_seconds`.
    pub async fn start(block_size: u64, snapshot_seconds: f64) -> Emulator {
        Self::start_with(EbsDirect {
            block_size: (block_size != MOTO_BLOCK).then_some(block_size as u32),
            snapshot_seconds: Some(snapshot_seconds),
            enforce_iam_after: None,
        })
        .await
    }

    /// moto with the plugin's `options`.
    pub async fn start_with(options: EbsDirect) -> Emulator {
        let moto = MotoServer::start_ebs_direct_with(options).await;
        let config =
            riposte_aws::testing::config(&moto.url(), REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
                .await;
        Emulator { moto, config }
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }

    pub fn acquirer(&self, options: Ec2AcquireOptions) -> Ec2Acquirer {
        Ec2Acquirer::new(&self.config, options).expect("valid options")
    }

    /// Every snapshot in the account tagged as Riposte's, as id → tags.
    pub async fn riposte_snapshots(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        riposte_aws::testing::ec2_instance::riposte_snapshots(&self.config).await
    }

    /// Whether EC2 still knows the snapshot.
    pub async fn snapshot_exists(&self, snapshot_id: &str) -> bool {
        riposte_aws::testing::ec2_instance::snapshot_exists(&self.config, snapshot_id).await
    }
}

/// Quick polls, a wait long enough for the emulator's pending time.
pub fn options() -> Ec2AcquireOptions {
    Ec2AcquireOptions {
        snapshot_timeout: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        retain_snapshots: false,
    }
}

pub fn read_options() -> EbsReadOptions {
    EbsReadOptions {
        cache_bytes: 64 << 20,
        initial_backoff_ms: 5,
        max_backoff_ms: 100,
        ..EbsReadOptions::default()
    }
}

/// The files of a data volume, by path on that volume.
pub fn data_tree() -> Tree {
    let mut tree = Tree::new();
    tree.insert("/db/orders.sqlite".into(), pattern(7, 700 << 10));
    tree.insert("/db/README".into(), b"orders database\n".to_vec());
    tree.insert("/uploads/invoice.pdf".into(), pattern(8, 90 << 10));
    tree
}

/// A small raw disk of pattern blocks, in `dir`.
pub fn raw_disk(dir: &Path, name: &str, seed: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pattern(seed, 4 * MOTO_BLOCK as usize)).expect("write raw disk");
    path
}

/// An instance with two small raw volumes (root `/dev/sda1`, data `/dev/sdf`).
pub async fn raw_instance(emulator: &Emulator, dir: &Path) -> SeededInstance {
    let root = raw_disk(dir, "root.img", 1);
    let data = raw_disk(dir, "data.img", 2);
    let disks = [
        Disk {
            device_name: "/dev/sda1",
            image: &root,
            tags: &[],
        },
        Disk {
            device_name: "/dev/sdf",
            image: &data,
            tags: &[],
        },
    ];
    instance_with_disks(&emulator.config, &disks, 1, MOTO_BLOCK).await
}

pub fn ids(snapshots: &InstanceSnapshots) -> Vec<String> {
    snapshots
        .snapshots
        .iter()
        .map(|s| s.snapshot_id.clone())
        .collect()
}
