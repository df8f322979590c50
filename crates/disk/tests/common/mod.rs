//! Shared helpers for the disk tests: running the real image tools, and the corpus.
#![allow(dead_code)]

use riposte_disk::ByteSource;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a tool, panicking with what to install when it is missing and with its output
/// when it fails.
pub fn run(program: &str, args: &[&str], package: &str) -> String {
    let output = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a shell snippet (for tools fed on standard input).
pub fn sh(script: &str, package: &str) -> String {
    run("sh", &["-c", script], package)
}

/// The shared corpus: `$RIPOSTE_CORPUS` or `../shared/corpus` beside the repository.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(
        dir.is_dir(),
        "corpus not found at {} (set RIPOSTE_CORPUS or put shared/corpus beside the repository)",
        dir.display()
    );
    dir
}

/// Deterministic pseudo-random bytes (xorshift), so contents are known without storing them.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// All bytes of a source.
pub fn read_all(source: &dyn ByteSource) -> Vec<u8> {
    let mut out = vec![0u8; source.len() as usize];
    source.read_exact_at(0, &mut out).unwrap();
    out
}
