//! YARA throughput: the full bundled rule set (signature-base in `detections/yara`) over a
//! realistic mix of evidence, and the time to compile that rule set.
//!
//! The mix is every EVTX file of the shared corpus (`$RIPOSTE_CORPUS/evtx`, 228 files,
//! about 16 MB) plus the loghub Linux syslog and OpenSSH logs, read into memory first so
//! only scanning is measured. `cargo bench -p riposte-yara --bench scan` reports:
//! - `yara/compile bundled rules`: compiling every rule file from source;
//! - `yara/scan mix 1 thread`: one scanner over every file (MB/s);
//! - `yara/scan mix all threads`: rayon, one scanner per worker (MB/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use riposte_yara::{RuleSet, YaraConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn corpus() -> PathBuf {
    std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

fn mix() -> Vec<(PathBuf, Vec<u8>)> {
    let root = corpus();
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(root.join("evtx"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
        })
        .map(|e| e.into_path())
        .collect();
    paths.sort();
    paths.push(root.join("linux-logs/loghub/Linux/Linux_2k.log"));
    paths.push(root.join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log"));
    assert!(
        paths.len() > 200,
        "corpus not found at {} (set RIPOSTE_CORPUS)",
        root.display()
    );
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

fn config() -> YaraConfig {
    YaraConfig {
        rule_dirs: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../detections/yara")],
        ..YaraConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let files = mix();
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let (set, report) = RuleSet::compile(&config()).expect("bundled rules");
    eprintln!(
        "{} rules from {} files ({} failed) in {:.1?}; mix: {} files, {:.1} MB",
        report.rules,
        report.files_loaded,
        report.failures.len(),
        report.elapsed,
        files.len(),
        total as f64 / 1e6
    );

    let mut group = c.benchmark_group("yara");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("compile bundled rules", |b| {
        b.iter(|| RuleSet::compile(&config()).expect("bundled rules"))
    });
    group.throughput(Throughput::Bytes(total));
    group.bench_function("scan mix 1 thread", |b| {
        let mut scanner = set.scanner();
        b.iter(|| {
            files
                .iter()
                .map(|(p, bytes)| scanner.scan_bytes(bytes, p).matches().len())
                .sum::<usize>()
        })
    });
    group.bench_function("scan mix all threads", |b| {
        b.iter(|| {
            files
                .par_iter()
                .map_init(
                    || set.scanner(),
                    |s, (p, bytes)| s.scan_bytes(bytes, p).matches().len(),
                )
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
