//! The EBS direct block reader with the real AWS SDK against a real moto server.
//!
//! Snapshots are seeded the way moto supports (EBS `StartSnapshot` / `PutSnapshotBlock` /
//! `CompleteSnapshot`, all-zero blocks skipped) from images built with `mkfs.ext4 -d` and
//! `mkfs.xfs -p`, then read through `EbsSnapshotSource` by the same image readers that
//! read local images, and compared with their trees byte for byte.
//!
//! What is moto and what is emulated:
//! - moto: snapshot and block storage, `ListSnapshotBlocks` / `GetSnapshotBlock` data,
//!   tokens, checksums (stored as given, never verified — which is how a block with a
//!   wrong checksum is seeded), EC2 `DeleteSnapshot`.
//! - `riposte_fakes::moto::MotoServer::start_ebs_direct` patches moto in-process to answer
//!   as AWS documents where moto does not: block listings with integer, sorted indices and
//!   real pagination; `ResourceNotFoundException` for an unknown snapshot (moto: HTML 500);
//!   EC2 `DeleteSnapshot` removing the snapshot from the EBS direct API; optionally AWS's
//!   524 288-byte block size instead of moto's 512.
//! - `riposte_fakes::proxy::FaultProxy` sits between the SDK and moto to count requests and
//!   to answer some with canned EBS errors: `RequestThrottledException` (400), a 503, and
//!   `AccessDeniedException` (403, reasons `UNAUTHORIZED_ACCOUNT` and
//!   `DEPENDENCY_ACCESS_DENIED`). moto cannot throttle, and its IAM enforcement rejects
//!   EBS direct reads with `SignatureDoesNotMatch` before evaluating any policy.

mod ebs_support;

use aws_config::SdkConfig;
use ebs_support::{Tree, blocking, collect, ext4_image, host_tree, pattern, xfs_image};
use riposte_acquire::{ImageSelection, TriageProfile};
use riposte_aws::testing::ebs_snapshot::{UploadedSnapshot, upload_snapshot};
use riposte_aws::{EbsError, EbsReadOptions, EbsSnapshotSource};
use riposte_disk::ByteSource;
use riposte_fakes::moto::{ACCESS_KEY_ID, MotoServer, SECRET_ACCESS_KEY};
use riposte_fakes::proxy::{CannedFailure, FaultProxy, Faults};
use std::io;
use std::path::Path;
use std::time::Duration;

const REGION: &str = "us-east-1";
/// moto's own block size.
const MOTO_BLOCK: u64 = 512;
/// AWS's block size, which the patched moto can report.
const AWS_BLOCK: u64 = 512 << 10;

struct Emulator {
    moto: MotoServer,
    config: SdkConfig,
}

impl Emulator {
    async fn start(block_size: Option<u32>) -> Emulator {
        let moto = MotoServer::start_ebs_direct(block_size).await;
        let config = config_for(&moto.url()).await;
        Emulator { moto, config }
    }

    fn ebs(&self) -> aws_sdk_ebs::Client {
        aws_sdk_ebs::Client::new(&self.config)
    }

    async fn proxy(&self, faults: Faults) -> (FaultProxy, SdkConfig) {
        let proxy = FaultProxy::start(&self.moto.url(), faults).await;
        let config = config_for(&proxy.url()).await;
        (proxy, config)
    }
}

async fn config_for(endpoint: &str) -> SdkConfig {
    riposte_aws::testing::config(endpoint, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await
}

/// Small pages (pagination is exercised), a cache that holds the test images' blocks,
/// fast retries.
fn options() -> EbsReadOptions {
    EbsReadOptions {
        list_page_size: 100,
        cache_bytes: 8 << 20,
        initial_backoff_ms: 5,
        max_backoff_ms: 100,
        ..EbsReadOptions::default()
    }
}

/// An emulator holding one snapshot of a raw disk (see [`raw_disk`]).
struct Seeded {
    emulator: Emulator,
    uploaded: UploadedSnapshot,
    /// The disk's bytes.
    disk: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Seeded {
    /// Uploads a raw disk of moto-sized blocks; `wrong_checksum` as in [`upload_snapshot`].
    async fn raw(blocks: &[Option<u64>], wrong_checksum: &[u64]) -> Seeded {
        let emulator = Emulator::start(None).await;
        let dir = tempfile::tempdir().unwrap();
        let path = raw_disk(dir.path(), blocks, MOTO_BLOCK);
        let uploaded = upload_snapshot(&emulator.ebs(), &path, 1, MOTO_BLOCK, wrong_checksum).await;
        let disk = std::fs::read(&path).unwrap();
        Seeded {
            emulator,
            uploaded,
            disk,
            _dir: dir,
        }
    }

    fn snapshot(&self) -> &str {
        &self.uploaded.snapshot_id
    }

    /// Opens the snapshot through `config` (the emulator's own by default).
    async fn open(
        &self,
        config: Option<&SdkConfig>,
        options: EbsReadOptions,
    ) -> Result<EbsSnapshotSource, EbsError> {
        let config = config.unwrap_or(&self.emulator.config);
        EbsSnapshotSource::open(config, self.snapshot(), options).await
    }
}

/// Blocks `1..=n` of pattern data.
fn patterned(n: u64) -> Vec<Option<u64>> {
    (1..=n).map(Some).collect()
}

/// The `EbsError` inside an I/O error from `read_at`.
fn ebs_error(err: &io::Error) -> EbsError {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<EbsError>())
        .unwrap_or_else(|| panic!("not an EbsError: {err:?}"))
        .clone()
}

/// A raw disk of `blocks.len()` blocks: `Some(seed)` is pattern data, `None` zeros.
fn raw_disk(dir: &Path, blocks: &[Option<u64>], block_size: u64) -> std::path::PathBuf {
    let mut data = Vec::new();
    for block in blocks {
        match block {
            Some(seed) => data.extend(pattern(*seed, block_size as usize)),
            None => data.extend(std::iter::repeat_n(0u8, block_size as usize)),
        }
    }
    let path = dir.join("raw.img");
    std::fs::write(&path, data).expect("write raw disk");
    path
}

fn block(source: &EbsSnapshotSource, index: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; source.block_size() as usize];
    source
        .read_exact_at(index * source.block_size(), &mut buf)
        .map(|()| buf)
}

/// The tree's files a Linux triage selects.
fn triage_subset(tree: &Tree) -> Tree {
    tree.iter()
        .filter(|(path, _)| TriageProfile::linux().matches(path))
        .map(|(p, d)| (p.clone(), d.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext4_snapshot_read_in_place_matches_its_tree_and_triage_fetches_less() {
    let emulator = Emulator::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let tree = host_tree(512 << 10);
    let image = ext4_image(&tree, dir.path(), 24);
    let uploaded = upload_snapshot(&emulator.ebs(), &image, 1, MOTO_BLOCK, &[]).await;
    assert!(
        uploaded.blocks_written > 300,
        "the snapshot spans several listing pages"
    );
    let (proxy, config) = emulator.proxy(Faults::default()).await;

    let source = EbsSnapshotSource::open(&config, &uploaded.snapshot_id, options())
        .await
        .expect("open the snapshot");
    assert_eq!(
        source.block_size(),
        MOTO_BLOCK,
        "the block size AWS reported is used"
    );
    assert_eq!(source.len(), 1 << 30, "a 1 GiB volume");
    let full = collect(&source, ImageSelection::Full).await;
    assert_eq!(full.files, tree, "every file, byte for byte");
    let full_fetched = source.stats().blocks_fetched;
    let name = format!("ebs-snapshot:{REGION}/{}", uploaded.snapshot_id);
    assert!(
        full.image_names.iter().all(|n| *n == name),
        "{:?}",
        full.image_names
    );
    assert_eq!(full.report.volumes.len(), 1);

    // The volume as a whole: the image's bytes (skipped blocks read as zeros), then zeros.
    let expected = std::fs::read(&image).unwrap();
    let image_len = uploaded.image_len;
    let (whole, tail) = blocking(&source, move |s| {
        let mut whole = vec![0u8; image_len as usize];
        s.read_exact_at(0, &mut whole).unwrap();
        let mut tail = vec![0xffu8; 4096];
        s.read_exact_at(s.len() - 4096, &mut tail).unwrap();
        (whole, tail)
    })
    .await;
    assert!(whole == expected, "the volume's bytes are the image's");
    assert!(
        tail.iter().all(|b| *b == 0),
        "past the image the volume is zeros"
    );

    // Every written block has now been read, each once (the cache holds them all), and
    // nothing is left in flight: the counters can be compared with the wire.
    let stats = source.stats();
    assert_eq!(stats.blocks_listed, uploaded.blocks_written);
    assert_eq!(
        stats.list_pages,
        uploaded.blocks_written.div_ceil(100),
        "every page of 100 was followed"
    );
    assert_eq!(proxy.count("GET", "/blocks?") as u64, stats.list_pages);
    assert_eq!(
        proxy.count("GET", "/blocks/") as u64,
        stats.blocks_fetched,
        "the counter matches the requests on the wire"
    );
    assert_eq!(
        stats.blocks_fetched, stats.blocks_listed,
        "each written block fetched once: {stats:?}"
    );
    assert_eq!(stats.fetch_failures, 0);

    let triage_source = EbsSnapshotSource::open(&config, &uploaded.snapshot_id, options())
        .await
        .unwrap();
    let triage = collect(&triage_source, ImageSelection::Triage).await;
    let wanted = triage_subset(&tree);
    assert!(wanted.len() >= 5, "the tree holds triage files: {wanted:?}");
    assert_eq!(triage.files, wanted, "the triage files, byte for byte");
    let triage_stats = triage_source.stats();
    assert!(
        triage_stats.blocks_fetched * 2 < full_fetched,
        "triage fetches well under a full read: {triage_stats:?} vs {full_fetched}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xfs_snapshot_in_aws_sized_blocks_matches_its_tree() {
    let emulator = Emulator::start(Some(AWS_BLOCK as u32)).await;
    let dir = tempfile::tempdir().unwrap();
    let tree = host_tree(3 << 20);
    let image = xfs_image(&tree, dir.path(), 320);
    let uploaded = upload_snapshot(&emulator.ebs(), &image, 1, AWS_BLOCK, &[]).await;
    assert!(
        uploaded.blocks_written < uploaded.image_len / AWS_BLOCK / 2,
        "the snapshot is sparse: {} of {} blocks written",
        uploaded.blocks_written,
        uploaded.image_len / AWS_BLOCK
    );
    let options = EbsReadOptions {
        cache_bytes: 64 << 20,
        ..options()
    };
    let source = EbsSnapshotSource::open(&emulator.config, &uploaded.snapshot_id, options)
        .await
        .unwrap();
    assert_eq!(source.block_size(), AWS_BLOCK);
    let full = collect(&source, ImageSelection::Full).await;
    assert_eq!(full.files, tree, "every file, byte for byte");
    let fs = full.report.volumes[0].filesystem.map(|f| f.as_str());
    assert_eq!(fs, Some("xfs"));
    let expected = std::fs::read(&image).unwrap();
    let whole = blocking(&source, move |s| {
        let mut whole = vec![0u8; expected.len()];
        s.read_exact_at(0, &mut whole).unwrap();
        whole == expected
    })
    .await;
    assert!(whole, "the volume's bytes are the image's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_whose_checksum_does_not_match_fails_naming_snapshot_and_block() {
    let seeded = Seeded::raw(&[Some(1), Some(2), None, Some(4), Some(5)], &[3]).await;
    let no_readahead = EbsReadOptions {
        readahead_blocks: Some(0),
        ..options()
    };
    let source = seeded.open(None, no_readahead).await.unwrap();
    let (good, zeros, bad, again, after) = blocking(&source, |s| {
        (
            block(s, 1),
            block(s, 2),
            block(s, 3),
            block(s, 3),
            block(s, 4),
        )
    })
    .await;
    assert_eq!(good.unwrap(), pattern(2, MOTO_BLOCK as usize));
    assert_eq!(
        zeros.unwrap(),
        vec![0u8; MOTO_BLOCK as usize],
        "never written: zeros"
    );
    let err = bad.expect_err("a corrupt block must not be read");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    match ebs_error(&err) {
        EbsError::ChecksumMismatch {
            snapshot, block, ..
        } => {
            assert_eq!((snapshot.as_str(), block), (seeded.snapshot(), 3));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(seeded.snapshot()) && message.contains("block 3"),
        "{message}"
    );
    assert!(again.is_err(), "a failed block is not cached as good");
    assert_eq!(
        after.unwrap(),
        pattern(5, MOTO_BLOCK as usize),
        "other blocks still read"
    );
    let stats = source.stats();
    assert_eq!(stats.fetch_failures, 2);
    assert_eq!(
        stats.zero_block_reads, 1,
        "the unwritten block cost no request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_deleted_under_the_reader_is_a_clear_error() {
    let seeded = Seeded::raw(&patterned(3), &[]).await;
    let no_readahead = EbsReadOptions {
        readahead_blocks: Some(0),
        ..options()
    };
    let source = seeded.open(None, no_readahead).await.unwrap();
    let first = blocking(&source, |s| block(s, 0)).await;
    assert_eq!(first.unwrap(), pattern(1, MOTO_BLOCK as usize));

    aws_sdk_ec2::Client::new(&seeded.emulator.config)
        .delete_snapshot()
        .snapshot_id(seeded.snapshot())
        .send()
        .await
        .expect("EC2 DeleteSnapshot");

    let (gone, cached) = blocking(&source, |s| (block(s, 1), block(s, 0))).await;
    let err = gone.expect_err("the snapshot is gone");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        matches!(ebs_error(&err), EbsError::SnapshotDeleted { block: 1, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(seeded.snapshot()) && message.contains("deleted while it was being read"),
        "{message}"
    );
    assert!(
        cached.is_ok(),
        "a block verified before the deletion stays readable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_snapshot_is_a_clear_error() {
    let emulator = Emulator::start(None).await;
    let err = EbsSnapshotSource::open(&emulator.config, "snap-0123456789abcdef0", options())
        .await
        .expect_err("no such snapshot");
    assert!(matches!(err, EbsError::SnapshotNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("snap-0123456789abcdef0") && message.contains(REGION),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_and_failing_requests_succeed_after_backoff() {
    let seeded = Seeded::raw(&patterned(12), &[]).await;
    for (what, failure, injected) in [
        ("throttling", CannedFailure::ebs_throttling("/blocks", 6), 6),
        (
            "HTTP 503",
            CannedFailure::server_error("/blocks/", 5, 503),
            5,
        ),
    ] {
        let faults = Faults {
            fail_first: Some(failure),
            ..Faults::default()
        };
        let (proxy, config) = seeded.emulator.proxy(faults).await;
        let source = seeded
            .open(Some(&config), options())
            .await
            .unwrap_or_else(|e| panic!("{what}: open: {e}"));
        let len = seeded.disk.len();
        let read = blocking(&source, move |s| {
            let mut buf = vec![0u8; len];
            s.read_exact_at(0, &mut buf).map(|()| buf)
        })
        .await;
        assert!(
            read.unwrap() == seeded.disk,
            "{what}: the data read is the disk's"
        );
        assert_eq!(
            proxy.failed(),
            injected,
            "{what}: every injected failure was met"
        );
        let stats = source.stats();
        assert_eq!(stats.fetch_failures, 0, "{what}: {stats:?}");
        let failed_reads = proxy
            .seen()
            .iter()
            .filter(|s| s.failed && s.path.contains("/blocks/"))
            .count();
        assert_eq!(
            proxy.count("GET", "/blocks/") as u64,
            stats.blocks_fetched + failed_reads as u64,
            "{what}: each failed request was retried"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_past_the_attempts_stops_after_them_and_says_so() {
    let seeded = Seeded::raw(&patterned(1), &[]).await;
    let faults = Faults {
        fail_first: Some(CannedFailure::ebs_throttling("/blocks", usize::MAX)),
        ..Faults::default()
    };
    let (proxy, config) = seeded.emulator.proxy(faults).await;
    let three_attempts = EbsReadOptions {
        max_attempts: 3,
        ..options()
    };
    let err = seeded
        .open(Some(&config), three_attempts)
        .await
        .expect_err("throttled throughout");
    assert!(
        matches!(
            err,
            EbsError::Throttled {
                attempts: 3,
                operation: "ListSnapshotBlocks",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("throttled"), "{err}");
    assert_eq!(proxy.failed(), 3, "exactly max_attempts requests were made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_missing_permission() {
    let seeded = Seeded::raw(&patterned(2), &[]).await;
    let denied = |path: &str, reason: &str| Faults {
        fail_first: Some(CannedFailure::ebs_access_denied(path, reason)),
        ..Faults::default()
    };

    let (proxy, config) = seeded
        .emulator
        .proxy(denied("/blocks?", "UNAUTHORIZED_ACCOUNT"))
        .await;
    let err = seeded
        .open(Some(&config), options())
        .await
        .expect_err("listing refused");
    assert!(
        matches!(
            err,
            EbsError::AccessDenied {
                permission: "ebs:ListSnapshotBlocks",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("ebs:ListSnapshotBlocks"), "{err}");
    assert_eq!(proxy.failed(), 1, "a refusal is not retried");

    for (reason, permission) in [
        ("UNAUTHORIZED_ACCOUNT", "ebs:GetSnapshotBlock"),
        ("DEPENDENCY_ACCESS_DENIED", "kms:Decrypt"),
    ] {
        let (_proxy, config) = seeded.emulator.proxy(denied("/blocks/", reason)).await;
        let source = seeded.open(Some(&config), options()).await.unwrap();
        let err = blocking(&source, |s| block(s, 0))
            .await
            .expect_err("read refused");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let message = err.to_string();
        assert!(
            message.contains(permission) && message.contains(seeded.snapshot()),
            "{reason}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_reads_are_fetched_ahead_within_the_concurrency() {
    let seeded = Seeded::raw(&patterned(200), &[]).await;
    let faults = Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    };
    let (proxy, config) = seeded.emulator.proxy(faults).await;
    let four = EbsReadOptions {
        concurrency: 4,
        ..options()
    };

    // One block at a time, in order: read-ahead must keep 4 requests in flight.
    let source = seeded.open(Some(&config), four.clone()).await.unwrap();
    let read = blocking(&source, |s| {
        (0..200u64)
            .map(|i| block(s, i).unwrap())
            .collect::<Vec<_>>()
            .concat()
    })
    .await;
    assert!(read == seeded.disk);
    let stats = source.stats();
    assert!(
        stats.blocks_prefetched > 150,
        "read-ahead fetched most blocks: {stats:?}"
    );
    assert_eq!(stats.blocks_fetched, 200, "no block twice: {stats:?}");
    assert_eq!(
        proxy.max_in_flight(),
        4,
        "read-ahead filled, and kept to, the concurrency"
    );

    // Scattered reads: nothing is fetched that was not asked for.
    let random = seeded.open(Some(&config), four).await.unwrap();
    let picks = [150u64, 3, 77, 120, 9, 181, 40];
    let ok = blocking(&random, move |s| {
        picks
            .iter()
            .all(|i| block(s, *i).unwrap() == pattern(i + 1, MOTO_BLOCK as usize))
    })
    .await;
    assert!(ok);
    let stats = random.stats();
    assert_eq!(
        (stats.blocks_fetched, stats.blocks_prefetched),
        (7, 0),
        "{stats:?}"
    );

    // A hint: the blocks of a range are fetched before they are read.
    assert_eq!(random.prefetch(50 * MOTO_BLOCK, 10 * MOTO_BLOCK), 10);
    assert_eq!(
        random.prefetch(50 * MOTO_BLOCK, 10 * MOTO_BLOCK),
        0,
        "already asked for"
    );
    // One read (a sequence of single-block reads would start read-ahead past block 59).
    let hinted = blocking(&random, |s| {
        let mut buf = vec![0u8; 10 * MOTO_BLOCK as usize];
        s.read_exact_at(50 * MOTO_BLOCK, &mut buf).unwrap();
        buf
    })
    .await;
    let range = 50 * MOTO_BLOCK as usize..60 * MOTO_BLOCK as usize;
    assert!(hinted == seeded.disk[range], "the hinted blocks' bytes");
    let stats = random.stats();
    assert_eq!(
        stats.cache_misses, 7,
        "the hinted blocks cost no demand fetch: {stats:?}"
    );
    assert_eq!(stats.blocks_fetched, 17, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_after_the_runtime_shut_down_fail_instead_of_hanging() {
    let seeded = Seeded::raw(&patterned(2), &[]).await;
    let config = seeded.emulator.config.clone();
    let snapshot = seeded.snapshot().to_string();
    // A runtime of its own, on a plain thread: opened there, then shut down.
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a second runtime");
        let source = runtime
            .block_on(EbsSnapshotSource::open(&config, &snapshot, options()))
            .expect("open");
        let before = block(&source, 0);
        drop(runtime);
        (before, block(&source, 1))
    })
    .join()
    .expect("the reader thread");
    assert!(outcome.0.is_ok(), "reads work while the runtime runs");
    let err = outcome.1.expect_err("no runtime to fetch with");
    assert!(
        matches!(ebs_error(&err), EbsError::Cancelled { block: 1, .. }),
        "{err:?}"
    );
}
