//! Throughput of the EVTX parser over the whole shared EVTX corpus (`$RIPOSTE_CORPUS/evtx`,
//! 228 files, 16 MB; GPL-licensed samples, read in place), against the `evtx` crate alone
//! rendering the same records to JSON.
//!
//! `cargo bench -p riposte-artifacts --bench evtx` prints one table row per contender:
//! - `riposte parse -> Event`: [`Evtx`] through `ArtifactParser::parse`, i.e. reading the
//!   stream into memory, decoding, rendering JSON, flattening and mapping into `Event`s;
//! - `evtx records_json 1 thread`: the crate rendering each record to a JSON `String`, single
//!   threaded: the library equivalent of `evtx_dump -t 1 -o jsonl` without the writes;
//! - `evtx records_json_value` 1 thread and all threads: the crate rendering to
//!   `serde_json::Value`;
//! - with `EVTX_DUMP=/path/to/evtx_dump` set (`cargo install evtx --version 0.15.1`): the
//!   binary itself, `evtx_dump -t 1 -o jsonl FILE > /dev/null` once per file, as the product
//!   requirement words it (process start-up included; its CPU is the children's, not shown).
//!
//! CPU is user + system time over wall time for the whole process (from `/proc/self/stat`,
//! Linux), so 200% means both cores busy. Each contender runs the corpus repeatedly for at
//! least `EVTX_BENCH_SECS` seconds (default 3) after one warm-up pass.

use evtx::{EvtxParser, ParserSettings};
use riposte_artifacts::{ArtifactContext, ArtifactParser, Evtx};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The corpus in memory: (path, bytes) per file.
type Files = [(String, Vec<u8>)];

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("evtx");
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {} (set RIPOSTE_CORPUS): {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
            {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable corpus file");
            (p.display().to_string(), bytes)
        })
        .collect()
}

/// User + system CPU time of the whole process, from `/proc/self/stat` (clock ticks of
/// 1/100 s, the Linux default).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

struct Row {
    name: &'static str,
    passes: u32,
    records: u64,
    bytes: u64,
    wall: Duration,
    cpu: Option<Duration>,
}

fn measure(
    name: &'static str,
    files: &Files,
    min_time: Duration,
    pass: &dyn Fn(&Files) -> u64,
) -> Row {
    let expected = pass(files); // warm-up
    let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut passes = 0;
    let mut records = 0;
    while passes == 0 || start.elapsed() < min_time {
        let n = pass(files);
        assert_eq!(n, expected, "{name}: a pass produced a different count");
        records += n;
        passes += 1;
    }
    let wall = start.elapsed();
    let cpu = cpu0.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    Row {
        name,
        passes,
        records,
        bytes: bytes * passes as u64,
        wall,
        cpu,
    }
}

fn riposte(files: &Files) -> u64 {
    let mut n = 0;
    for (path, bytes) in files {
        let ctx = ArtifactContext {
            host: "bench".into(),
            original_path: path.clone(),
            modified: None,
        };
        for event in Evtx.parse(&ctx, Box::new(&bytes[..])).flatten() {
            black_box(&event);
            n += 1;
        }
    }
    n
}

fn crate_json(threads: usize, value: bool) -> impl Fn(&Files) -> u64 {
    move |files| {
        let mut n = 0;
        for (_, bytes) in files {
            let settings = ParserSettings::new()
                .num_threads(threads)
                .indent(false)
                .separate_json_attributes(false);
            let Ok(parser) = EvtxParser::from_buffer(bytes.clone()) else {
                continue;
            };
            let mut parser = parser.with_configuration(settings);
            if value {
                for r in parser.records_json_value().flatten() {
                    black_box(&r);
                    n += 1;
                }
            } else {
                for r in parser.records_json().flatten() {
                    black_box(&r);
                    n += 1;
                }
            }
        }
        n
    }
}

/// `evtx_dump -t 1 -o jsonl FILE` per file, output discarded; counts output lines.
fn evtx_dump(binary: PathBuf) -> impl Fn(&Files) -> u64 {
    move |files| {
        let mut n = 0;
        for (path, _) in files {
            let out = std::process::Command::new(&binary)
                .args(["-t", "1", "-o", "jsonl", path])
                .stderr(std::process::Stdio::null())
                .output()
                .expect("evtx_dump runs");
            n += out.stdout.iter().filter(|b| **b == b'\n').count() as u64;
        }
        n
    }
}

fn main() {
    let files = corpus_files();
    let secs: u64 = std::env::var("EVTX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let min_time = Duration::from_secs(secs);
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    println!(
        "EVTX corpus: {} files, {:.1} MB, {} cores",
        files.len(),
        total as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rows = vec![
        measure("riposte parse -> Event", &files, min_time, &riposte),
        measure(
            "evtx records_json 1 thread",
            &files,
            min_time,
            &crate_json(1, false),
        ),
        measure(
            "evtx records_json_value 1 thread",
            &files,
            min_time,
            &crate_json(1, true),
        ),
        measure(
            "evtx records_json_value all threads",
            &files,
            min_time,
            &crate_json(0, true),
        ),
    ];
    if let Some(binary) = std::env::var_os("EVTX_DUMP") {
        let dump = evtx_dump(PathBuf::from(binary));
        rows.push(measure(
            "evtx_dump -t 1 -o jsonl, per file",
            &files,
            min_time,
            &dump,
        ));
    }
    println!(
        "| {:<36} | {:>6} | {:>12} | {:>8} | {:>8} | {:>6} |",
        "contender", "passes", "records/s", "MB/s", "wall s", "CPU"
    );
    println!(
        "|{:-<38}|{:->8}|{:->14}|{:->10}|{:->10}|{:->8}|",
        "", "", "", "", "", ""
    );
    for r in &rows {
        let wall = r.wall.as_secs_f64();
        let cpu = r
            .cpu
            .map(|c| format!("{:.0}%", 100.0 * c.as_secs_f64() / wall))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "| {:<36} | {:>6} | {:>12.0} | {:>8.1} | {:>8.2} | {:>6} |",
            r.name,
            r.passes,
            r.records as f64 / wall,
            r.bytes as f64 / 1e6 / wall,
            wall,
            cpu
        );
    }
}
