//! YARA scanning of evidence files with [yara-x](https://virustotal.github.io/yara-x/).
//!
//! A [`RuleSet`] is compiled once from folders of `.yar`/`.yara` files ([`YaraConfig`]):
//! every file gets its own namespace (its path under the folder), a file that fails to
//! compile is reported in the [`CompileReport`] and left out while the rest loads, and
//! `include` statements resolve relative to the including file. A [`YaraScanner`] (one
//! per thread) scans bytes, readers and files under a size cap and a per-scan timeout;
//! [`RuleSet::scan_files`] scans many files in parallel with rayon. Each [`FileScan`]
//! carries the file's SHA-256 and its [`YaraMatch`]es, which become
//! [`riposte_model::Alarm`]s with [`FileScan::alarms`].
//!
//! This crate is the only one that depends on yara-x (a long build), so nothing else
//! recompiles it.

mod alarm;
mod cache;
mod config;
mod detector;
mod matches;
mod rules;
mod scan;

pub use alarm::{DEFAULT_SEVERITY, severity_from_score};
pub use cache::default_cache_dir;
pub use config::{BUNDLED_RULES_DIR, YaraConfig};
pub use detector::YaraDetector;
pub use matches::{MatchedString, RuleMeta, StringHit, YaraMatch};
pub use rules::{CompileReport, RuleFileError, RuleSet};
pub use scan::{FileScan, ScanOutcome, SkipReason, YaraScanner};

/// What can go wrong loading rules or configuring a scan (a single file's scan failure is
/// a [`ScanOutcome`], never an error: one bad file does not stop the others).
#[derive(Debug, thiserror::Error)]
pub enum YaraError {
    /// A configuration value is out of range; names the key.
    #[error("invalid YARA configuration: {0}")]
    Config(String),
    /// A configured rule folder cannot be read.
    #[error("cannot read YARA rule folder {path}: {source}")]
    RuleDir {
        /// The folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Compiled rules could not be serialized or deserialized.
    #[error("compiled YARA rules: {0}")]
    Serialization(String),
    /// The scan thread pool could not be built.
    #[error("cannot start {threads} YARA scan threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// Why it failed.
        message: String,
    },
}
