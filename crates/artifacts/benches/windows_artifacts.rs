//! Throughput of the registry and prefetch parsers.
//!
//! - registry: a `SYSTEM` hive with 2,000 services (image path, start, type, account) and
//!   two mounted devices, written at setup by `hivexsh` (apt package libhivex-bin) into an
//!   empty hive. hivex leaves every outgrown subkey list behind, so the file is about
//!   20 MB of mostly dead cells (its size grows with the square of the key count: 20,000
//!   services make 1.6 GB); the reader only follows live ones, so throughput is counted
//!   in services;
//! - prefetch: the real Windows 10 `AUDIODG.EXE` file from `testdata/prefetch` (9 KB of
//!   MAM/LZXPRESS Huffman, 36 KB decompressed), parsed again and again.
//!
//! `cargo bench -p riposte-artifacts --bench windows_artifacts`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_artifacts::{ArtifactContext, ArtifactParser, Prefetch, RegistryHive};
use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "../tests/support/empty_hive.rs"]
mod empty_hive;

const SERVICES: usize = 2_000;

/// A SYSTEM hive with [`SERVICES`] services in the current control set.
fn system_hive() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("SYSTEM");
    std::fs::write(&path, empty_hive::empty_hive()).expect("write the empty hive");
    let mut script = String::from(
        "add Select\ncd Select\nsetval 1\nCurrent\ndword:0x1\ncd \\\n\
         add ControlSet001\ncd ControlSet001\nadd Services\ncd Services\n",
    );
    for i in 0..SERVICES {
        script.push_str(&format!(
            "add svc{i:05}\ncd svc{i:05}\nsetval 4\nImagePath\n\
             expandstring:%SystemRoot%\\System32\\drivers\\svc{i:05}.sys\nStart\ndword:0x3\n\
             Type\ndword:0x1\nObjectName\nstring:LocalSystem\ncd ..\n"
        ));
    }
    script.push_str("cd \\\nadd MountedDevices\ncd MountedDevices\nsetval 2\n");
    script.push_str("\\DosDevices\\C:\nhex:3:4d3c2b1a0000100000000000\n");
    script.push_str("\\DosDevices\\D:\nhex:3:4d3c2b1a0000500000000000\ncommit\n");
    let mut child = Command::new("hivexsh")
        .arg("-w")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run hivexsh ({e}): install libhivex-bin"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("feed hivexsh");
    assert!(child.wait().expect("hivexsh").success(), "hivexsh failed");
    std::fs::read(&path).expect("read the hive back")
}

fn bench(c: &mut Criterion) {
    let hive = system_hive();
    let ctx = ArtifactContext {
        host: "ws01".into(),
        original_path: "C:\\Windows\\System32\\config\\SYSTEM".into(),
        modified: None,
    };
    let mut group = c.benchmark_group("registry");
    group.throughput(Throughput::Elements(SERVICES as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("system_2k_services", |b| {
        b.iter(|| {
            let events = RegistryHive
                .parse(&ctx, Box::new(&hive[..]))
                .filter(Result::is_ok)
                .count();
            assert_eq!(events, SERVICES + 2);
            black_box(events)
        })
    });
    group.finish();

    let prefetch = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/prefetch/AUDIODG.EXE-AB22E9A6.pf"
    ))
    .expect("the prefetch sample");
    let ctx = ArtifactContext {
        host: "ws01".into(),
        original_path: "C:\\Windows\\Prefetch\\AUDIODG.EXE-AB22E9A6.pf".into(),
        modified: None,
    };
    let mut group = c.benchmark_group("prefetch");
    group.throughput(Throughput::Elements(1));
    group.bench_function("audiodg_win10_mam", |b| {
        b.iter(|| {
            let events = Prefetch
                .parse(&ctx, Box::new(&prefetch[..]))
                .filter(Result::is_ok)
                .count();
            black_box(events)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
