//! A disk image uploaded as an EBS snapshot through the EBS direct APIs
//! (`StartSnapshot`, `PutSnapshotBlock`, `CompleteSnapshot`) — the way moto can be given
//! a snapshot with data — for tests that read snapshots back. Panics on any failure.

use aws_lc_rs::digest::{SHA256, digest};
use aws_sdk_ebs::primitives::ByteStream;
use aws_sdk_ebs::types::ChecksumAlgorithm;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinSet;

/// A snapshot uploaded from an image.
pub struct UploadedSnapshot {
    /// Its id.
    pub snapshot_id: String,
    /// Blocks written (the image's non-zero blocks).
    pub blocks_written: u64,
    /// The image's size in bytes.
    pub image_len: u64,
}

/// Uploads `image` like [`upload_snapshot`], with a client of `config`.
pub async fn upload_image(
    config: &aws_config::SdkConfig,
    image: &Path,
    volume_gib: i64,
    block_size: u64,
) -> UploadedSnapshot {
    upload_snapshot(
        &aws_sdk_ebs::Client::new(config),
        image,
        volume_gib,
        block_size,
        &[],
    )
    .await
}

/// Uploads `image` as a snapshot of a `volume_gib` volume in `block_size` blocks, skipping
/// all-zero blocks. `wrong_checksum` names blocks uploaded with the checksum of other data
/// (moto stores checksums without verifying them, as a corrupted block would arrive).
pub async fn upload_snapshot(
    ebs: &aws_sdk_ebs::Client,
    image: &Path,
    volume_gib: i64,
    block_size: u64,
    wrong_checksum: &[u64],
) -> UploadedSnapshot {
    let started = ebs
        .start_snapshot()
        .volume_size(volume_gib)
        .description("riposte test image")
        .send()
        .await
        .expect("StartSnapshot");
    let snapshot_id = started.snapshot_id().expect("snapshot id").to_string();
    assert_eq!(
        started.block_size(),
        Some(block_size as i32),
        "the emulator's block size is not the one the test uploads in"
    );
    let file = Arc::new(File::open(image).expect("open image"));
    let image_len = file.metadata().expect("image metadata").len();
    let blocks = image_len.div_ceil(block_size);
    let mut written = 0u64;
    let mut tasks = JoinSet::new();
    let zeros = vec![0u8; block_size as usize];
    for index in 0..blocks {
        let mut data = vec![0u8; block_size as usize];
        let n = file
            .read_at(&mut data, index * block_size)
            .expect("read image");
        if data[..n] == zeros[..n] {
            continue;
        }
        let checksum = if wrong_checksum.contains(&index) {
            BASE64.encode(digest(&SHA256, b"not this block"))
        } else {
            BASE64.encode(digest(&SHA256, &data))
        };
        let request = ebs
            .put_snapshot_block()
            .snapshot_id(&snapshot_id)
            .block_index(index as i32)
            .data_length(block_size as i32)
            .checksum(checksum)
            .checksum_algorithm(ChecksumAlgorithm::ChecksumAlgorithmSha256)
            .block_data(ByteStream::from(data));
        tasks.spawn(async move { request.send().await.map(|_| ()) });
        written += 1;
        if tasks.len() >= 8
            && let Some(done) = tasks.join_next().await
        {
            done.expect("upload task").expect("PutSnapshotBlock");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("upload task").expect("PutSnapshotBlock");
    }
    ebs.complete_snapshot()
        .snapshot_id(&snapshot_id)
        .changed_blocks_count(written as i32)
        .send()
        .await
        .expect("CompleteSnapshot");
    UploadedSnapshot {
        snapshot_id,
        blocks_written: written,
        image_len,
    }
}
