//! Throughput of the auth-log parser: loghub's OpenSSH_2k.log (from the shared corpus,
//! not copied here: research-only licence) repeated to about 50 MB in memory.
//!
//! `cargo bench -p riposte-artifacts --bench auth_log`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_artifacts::{ArtifactContext, ArtifactParser, AuthLog};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const TARGET_BYTES: usize = 50 * 1024 * 1024;

fn corpus_sample() -> Vec<u8> {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log");
    let mut one = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read {} (set RIPOSTE_CORPUS): {e}", path.display()));
    if one.last() != Some(&b'\n') {
        one.push(b'\n');
    }
    let mut all = Vec::with_capacity(TARGET_BYTES + one.len());
    while all.len() < TARGET_BYTES {
        all.extend_from_slice(&one);
    }
    all
}

fn bench(c: &mut Criterion) {
    let data = corpus_sample();
    let ctx = ArtifactContext {
        host: "labsz".into(),
        original_path: "/var/log/auth.log".into(),
        modified: None,
    };
    let mut group = c.benchmark_group("auth_log");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("openssh_2k_x_50MB", |b| {
        b.iter(|| {
            let events = AuthLog
                .parse(&ctx, Box::new(&data[..]))
                .filter(Result::is_ok)
                .count();
            black_box(events)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
