//! The Sigma engine over the whole shared EVTX corpus (`$RIPOSTE_CORPUS/evtx`, 228 files,
//! GPL-licensed samples read in place) parsed with riposte-artifacts, against SigmaHQ's
//! full rule set (`$RIPOSTE_CORPUS/sigma`: rules, rules-emerging-threats,
//! rules-threat-hunting).
//!
//! `cargo bench -p riposte-detect --bench sigma` measures:
//! - `sigma/load+compile`: listing, reading, parsing and compiling every rule file;
//! - `sigma/match corpus (fresh engines)`: a new detector per pass, so the per-class
//!   engines are built inside the measurement (what one investigation pays);
//! - `sigma/match corpus (warm engines)`: the same detector every pass (what a worker that
//!   keeps its detector pays), throughput in events/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riposte_artifacts::{ArtifactContext, ArtifactParser, Evtx};
use riposte_detect::{Sigma, SigmaRules, StreamDetector};
use riposte_model::Event;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn corpus() -> PathBuf {
    std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

fn rule_dirs() -> Vec<PathBuf> {
    let sigma = corpus().join("sigma");
    ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect()
}

/// Every event of every EVTX file of the corpus, in one list (one investigation).
fn corpus_events() -> Vec<Event> {
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
    walk(&corpus().join("evtx"), &mut paths);
    paths.sort();
    let mut events = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).expect("readable corpus file");
        let ctx = ArtifactContext {
            host: "bench".into(),
            original_path: path.display().to_string(),
            modified: None,
        };
        events.extend(Evtx.parse(&ctx, Box::new(&bytes[..])).flatten());
    }
    events
}

fn bench(c: &mut Criterion) {
    let dirs = rule_dirs();
    let events = corpus_events();
    let rules = Arc::new(SigmaRules::load(&dirs).expect("rule folders"));
    let warm = Sigma::new(rules.clone());
    let alarms = warm.detect(&events);
    println!(
        "{} events, {} rules loaded ({} left out), {} alarms over {} matched events",
        events.len(),
        rules.report().loaded,
        rules.report().unsupported.len(),
        alarms.len(),
        warm.matches(&events).len(),
    );

    let mut group = c.benchmark_group("sigma");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("load+compile", |b| {
        b.iter(|| black_box(SigmaRules::load(&dirs).expect("rule folders")))
    });
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("match corpus (fresh engines)", |b| {
        b.iter(|| black_box(Sigma::new(rules.clone()).detect(&events)))
    });
    group.bench_function("match corpus (warm engines)", |b| {
        b.iter(|| black_box(warm.detect(&events)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
