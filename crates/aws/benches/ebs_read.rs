//! The EBS direct block reader against the moto emulator: throughput by requests in
//! flight behind an injected per-request latency, and how many blocks a triage fetches
//! compared with the blocks listed and a full read of a sparse volume.
//!
//! moto (through `MotoServer::start_ebs_direct`, reporting AWS's 524 288-byte blocks)
//! stores the snapshots; a `FaultProxy` in front of it adds the latency. The images are
//! built by the real tools (`mkfs.ext4 -d` from a generated tree) and uploaded through the
//! SDK with all-zero blocks skipped. Nothing is skipped or mocked: a missing tool fails.
//!
//! Run: `cargo bench -p riposte-aws --bench ebs_read --profile dev` (the AWS SDK crates are
//! never built in release here). Environment:
//! - `RIPOSTE_BENCH_EBS_ONLY`: `throughput` or `blocks` (default both).
//! - `RIPOSTE_BENCH_EBS_MIB`: data read per throughput run (default 128).
//! - `RIPOSTE_BENCH_EBS_LATENCY_MS`: latency added to each request (default 20).
//! - `RIPOSTE_BENCH_EBS_CONCURRENCY`: comma-separated requests in flight (default 1,8,16,32,64).
//! - `RIPOSTE_BENCH_EBS_REPEAT`: runs per level, the median reported (default 3).
//! - `RIPOSTE_BENCH_EBS_VOLUME_GIB`: the sparse volume's size (default 20).
//! - `RIPOSTE_BENCH_EBS_FILES_MIB`: file data on it (default 1024).

#[path = "../tests/ebs_support/mod.rs"]
mod ebs_support;

use aws_lc_rs::digest::{SHA256, digest};
use ebs_support::{Tree, collect, ext4_image, host_tree, pattern};
use riposte_acquire::ImageSelection;
use riposte_aws::testing::ebs_snapshot::upload_snapshot;
use riposte_aws::{EbsReadOptions, EbsReadStats, EbsSnapshotSource};
use riposte_disk::ByteSource;
use riposte_fakes::moto::{ACCESS_KEY_ID, MotoServer, SECRET_ACCESS_KEY};
use riposte_fakes::proxy::{FaultProxy, Faults};
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";
const BLOCK: u64 = 512 << 10;
const MIB: f64 = (1 << 20) as f64;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let only = std::env::var("RIPOSTE_BENCH_EBS_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "throughput" {
            throughput().await;
        }
        if only.is_empty() || only == "blocks" {
            blocks().await;
        }
    });
}

async fn config_for(endpoint: &str) -> aws_config::SdkConfig {
    riposte_aws::testing::config(endpoint, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY).await
}

/// Sequential reads of a fully written snapshot, 1 MiB at a time from one thread, with
/// each request delayed by the proxy.
async fn throughput() {
    let mib = env_u64("RIPOSTE_BENCH_EBS_MIB", 128);
    let latency = Duration::from_millis(env_u64("RIPOSTE_BENCH_EBS_LATENCY_MS", 20));
    let repeat = env_u64("RIPOSTE_BENCH_EBS_REPEAT", 3).max(1);
    let levels: Vec<usize> = std::env::var("RIPOSTE_BENCH_EBS_CONCURRENCY")
        .unwrap_or_else(|_| "1,8,16,32,64".into())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("RIPOSTE_BENCH_EBS_CONCURRENCY: numbers")
        })
        .collect();
    let moto = MotoServer::start_ebs_direct(Some(BLOCK as u32)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let disk = dir.path().join("disk.img");
    let blocks = mib * (1 << 20) / BLOCK;
    let data: Vec<u8> = (0..blocks)
        .flat_map(|i| pattern(i + 1, BLOCK as usize))
        .collect();
    std::fs::write(&disk, &data).expect("write disk");
    let ebs = aws_sdk_ebs::Client::new(&config_for(&moto.url()).await);
    let uploaded = upload_snapshot(&ebs, &disk, 1, BLOCK, &[]).await;

    let hashed = Instant::now();
    let hash = digest(&SHA256, &data);
    let sha_rate = data.len() as f64 / MIB / hashed.elapsed().as_secs_f64();
    std::hint::black_box(hash);
    println!(
        "\nthroughput: {mib} MiB in {} blocks of {} KiB, {} ms added per request; \
         SHA-256 in this build: {sha_rate:.0} MB/s",
        uploaded.blocks_written,
        BLOCK >> 10,
        latency.as_millis()
    );
    println!("| in flight | MB/s (median of {repeat}) | range | most requests seen at once |");
    println!("|---|---|---|---|");
    let mut runs = vec![(latency, levels.clone())];
    if !latency.is_zero() {
        runs.push((Duration::ZERO, vec![*levels.iter().max().unwrap_or(&64)]));
    }
    for (latency, levels) in runs {
        for concurrency in levels {
            let proxy = FaultProxy::start(
                &moto.url(),
                Faults {
                    latency,
                    ..Faults::default()
                },
            )
            .await;
            let config = config_for(&proxy.url()).await;
            let mut rates = Vec::new();
            for _ in 0..repeat {
                let options = EbsReadOptions {
                    concurrency,
                    ..EbsReadOptions::default()
                };
                let source = EbsSnapshotSource::open(&config, &uploaded.snapshot_id, options)
                    .await
                    .expect("open");
                let started = Instant::now();
                let read = read_all(&source, data.len()).await;
                rates.push(data.len() as f64 / MIB / started.elapsed().as_secs_f64());
                assert!(read == data, "the bytes read are the disk's");
            }
            rates.sort_by(f64::total_cmp);
            let label = if latency.is_zero() {
                format!("{concurrency} (no added latency)")
            } else {
                concurrency.to_string()
            };
            println!(
                "| {label} | {:.1} | {:.1}–{:.1} | {} |",
                rates[rates.len() / 2],
                rates[0],
                rates[rates.len() - 1],
                proxy.max_in_flight(),
            );
        }
    }
}

/// The first `len` bytes of the source, 1 MiB per read, from a blocking thread.
async fn read_all(source: &EbsSnapshotSource, len: usize) -> Vec<u8> {
    let reader = source.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = vec![0u8; len];
        for (i, chunk) in out.chunks_mut(1 << 20).enumerate() {
            reader.read_exact_at((i as u64) << 20, chunk).expect("read");
        }
        out
    })
    .await
    .expect("reader thread")
}

/// A host tree plus bulk files no triage selects, up to `total` bytes.
fn bulk_tree(total: u64) -> Tree {
    let mut tree = host_tree(8 << 20);
    let file = 16u64 << 20;
    for i in 0..total.div_ceil(file) {
        tree.insert(
            format!("/opt/data/blob-{i:03}.bin"),
            pattern(100 + i, file as usize),
        );
    }
    tree
}

/// Blocks fetched by a triage and a full read of a sparse ext4 volume.
async fn blocks() {
    let volume_gib = env_u64("RIPOSTE_BENCH_EBS_VOLUME_GIB", 20);
    let files_mib = env_u64("RIPOSTE_BENCH_EBS_FILES_MIB", 1024);
    let latency = Duration::from_millis(env_u64("RIPOSTE_BENCH_EBS_LATENCY_MS", 20));
    let moto = MotoServer::start_ebs_direct(Some(BLOCK as u32)).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let tree = bulk_tree(files_mib << 20);
    let built = Instant::now();
    let image = ext4_image(&tree, dir.path(), volume_gib << 10);
    let build_seconds = built.elapsed().as_secs_f64();
    let uploaded_at = Instant::now();
    let ebs = aws_sdk_ebs::Client::new(&config_for(&moto.url()).await);
    let uploaded = upload_snapshot(&ebs, &image, volume_gib as i64, BLOCK, &[]).await;
    let faults = Faults {
        latency,
        ..Faults::default()
    };
    let proxy = FaultProxy::start(&moto.url(), faults).await;
    let config = config_for(&proxy.url()).await;
    let upload_seconds = uploaded_at.elapsed().as_secs_f64();
    println!(
        "\nblocks: ext4 volume of {volume_gib} GiB with {} files ({} MiB); image built in \
         {build_seconds:.0} s, {} non-zero blocks uploaded in {upload_seconds:.0} s; \
         read with {} ms added per request and the default options",
        tree.len(),
        tree.values().map(|d| d.len() as u64).sum::<u64>() >> 20,
        uploaded.blocks_written,
        latency.as_millis()
    );
    println!("| read | files | blocks fetched | of listed | MiB fetched | seconds |");
    println!("|---|---|---|---|---|---|");
    for selection in [ImageSelection::Triage, ImageSelection::Full] {
        let source =
            EbsSnapshotSource::open(&config, &uploaded.snapshot_id, EbsReadOptions::default())
                .await
                .expect("open");
        assert_eq!(source.len(), volume_gib << 30, "the volume's size");
        let started = Instant::now();
        let collected = collect(&source, selection).await;
        let seconds = started.elapsed().as_secs_f64();
        let EbsReadStats {
            blocks_listed,
            blocks_fetched,
            bytes_fetched,
            ..
        } = source.stats();
        if selection == ImageSelection::Full {
            assert!(collected.files == tree, "the full read is the tree");
        }
        println!(
            "| {selection:?} | {} | {blocks_fetched} | {:.2} % of {blocks_listed} | {} | {seconds:.1} |",
            collected.files.len(),
            100.0 * blocks_fetched as f64 / blocks_listed.max(1) as f64,
            bytes_fetched >> 20
        );
    }
}
