//! Scanning bytes, readers and files; one [`YaraScanner`] per thread.

use crate::{RuleSet, YaraError, YaraMatch, rules::EXTERNALS};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file was not scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// Larger than `max_file_size`.
    TooLarge {
        /// Its size, when known (a reader is only read up to the limit).
        size: Option<u64>,
        /// The limit.
        limit: u64,
    },
    /// Not a regular file (a folder, a device).
    NotAFile,
    /// A structured log the artifact parsers read completely (EVTX, journald, a
    /// registry hive, utmp/wtmp/btmp/lastlog, a bodyfile): YARA rules are not written for
    /// them, and scanning them costs more than the rest of the triage. `--yara-scan-all`
    /// scans them too.
    ParsedLog {
        /// `evtx`, `journald`, `registry`, `utmp` or `bodyfile`.
        format: String,
    },
}

/// What came of scanning one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScanOutcome {
    /// Scanned; the rules that matched (none for a clean file).
    Scanned {
        /// Matching rules, minus those skipped by tag.
        matches: Vec<YaraMatch>,
    },
    /// Not scanned, on purpose.
    Skipped {
        /// Why.
        skip: SkipReason,
    },
    /// The scan ran past the timeout.
    TimedOut {
        /// The timeout, in seconds.
        after_secs: u64,
    },
    /// The file could not be read or scanned.
    Failed {
        /// The error.
        error: String,
    },
}

/// One file's scan: where it is, what it is, and what matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileScan {
    /// The file (or the name given to scanned bytes or a reader).
    pub path: PathBuf,
    /// Bytes scanned (or the size of a skipped file, when known).
    pub size: u64,
    /// SHA-256 of the content, lowercase hex (not computed for skipped files).
    pub sha256: Option<String>,
    /// The result.
    pub outcome: ScanOutcome,
}

impl FileScan {
    /// The matches, empty unless the file was scanned.
    pub fn matches(&self) -> &[YaraMatch] {
        match &self.outcome {
            ScanOutcome::Scanned { matches } => matches,
            _ => &[],
        }
    }
}

/// Scans with one [`RuleSet`]; holds yara-x's scanner (not `Send`), so create one per
/// thread with [`RuleSet::scanner`].
pub struct YaraScanner<'r> {
    set: &'r RuleSet,
    scanner: yara_x::Scanner<'r>,
}

impl<'r> YaraScanner<'r> {
    pub(crate) fn new(set: &'r RuleSet) -> Self {
        let mut scanner = yara_x::Scanner::new(&set.rules);
        scanner.set_timeout(set.settings.timeout);
        YaraScanner { set, scanner }
    }

    /// Scans bytes in memory; `name` fills the `filename`/`filepath`/`extension` external
    /// variables some rules test.
    pub fn scan_bytes(&mut self, data: &[u8], name: &Path) -> FileScan {
        let size = data.len() as u64;
        if size > self.set.settings.max_file_size {
            return skipped(name, Some(size), self.set.settings.max_file_size);
        }
        let sha256 = hex::encode(Sha256::digest(data));
        let outcome = self.run(data, name);
        FileScan {
            path: name.to_path_buf(),
            size,
            sha256: Some(sha256),
            outcome,
        }
    }

    /// Reads at most `max_file_size` bytes from `reader` and scans them; a longer stream
    /// is skipped as too large.
    pub fn scan_reader(&mut self, reader: impl Read, name: &Path) -> FileScan {
        let limit = self.set.settings.max_file_size;
        let mut data = Vec::new();
        if let Err(e) = reader.take(limit.saturating_add(1)).read_to_end(&mut data) {
            return failed(name, format!("cannot read: {e}"));
        }
        if data.len() as u64 > limit {
            return skipped(name, None, limit);
        }
        self.scan_bytes(&data, name)
    }

    /// Scans a file, unless it is larger than `max_file_size` or not a regular file.
    pub fn scan_file(&mut self, path: &Path) -> FileScan {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) => return failed(path, format!("cannot read: {e}")),
        };
        if !meta.is_file() {
            return FileScan {
                path: path.to_path_buf(),
                size: 0,
                sha256: None,
                outcome: ScanOutcome::Skipped {
                    skip: SkipReason::NotAFile,
                },
            };
        }
        if meta.len() > self.set.settings.max_file_size {
            return skipped(path, Some(meta.len()), self.set.settings.max_file_size);
        }
        match std::fs::File::open(path) {
            Ok(file) => self.scan_reader(file, path),
            Err(e) => failed(path, format!("cannot open: {e}")),
        }
    }

    fn run(&mut self, data: &[u8], name: &Path) -> ScanOutcome {
        self.set_externals(name);
        let settings = &self.set.settings;
        match self.scanner.scan(data) {
            Ok(results) => ScanOutcome::Scanned {
                matches: results
                    .matching_rules()
                    .filter(|r| !self.set.is_skipped(r.tags().map(|t| t.identifier())))
                    .map(|r| {
                        YaraMatch::from_rule(
                            &r,
                            settings.max_hits_per_string,
                            settings.excerpt_bytes,
                        )
                    })
                    .collect(),
            },
            Err(yara_x::ScanError::Timeout) => ScanOutcome::TimedOut {
                after_secs: settings.timeout.as_secs(),
            },
            Err(e) => ScanOutcome::Failed {
                error: e.to_string(),
            },
        }
    }

    /// THOR/LOKI external variables for this file.
    fn set_externals(&mut self, name: &Path) {
        let text = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned());
        let values = [
            text(name.file_name()).unwrap_or_default(),
            name.to_string_lossy().into_owned(),
            text(name.extension()).unwrap_or_default().to_lowercase(),
        ];
        for (var, value) in EXTERNALS.iter().zip(values) {
            if let Err(e) = self.scanner.set_global(var, value) {
                tracing::debug!(var, error = %e, "cannot set YARA external variable");
            }
        }
    }
}

fn skipped(path: &Path, size: Option<u64>, limit: u64) -> FileScan {
    FileScan {
        path: path.to_path_buf(),
        size: size.unwrap_or(0),
        sha256: None,
        outcome: ScanOutcome::Skipped {
            skip: SkipReason::TooLarge { size, limit },
        },
    }
}

fn failed(path: &Path, error: String) -> FileScan {
    FileScan {
        path: path.to_path_buf(),
        size: 0,
        sha256: None,
        outcome: ScanOutcome::Failed { error },
    }
}

impl RuleSet {
    /// Scans `paths` in parallel (rayon), results in input order. The files are cut into
    /// a few runs per thread, each scanned by one scanner: creating a scanner costs more
    /// than scanning a small file, so it must not happen per rayon split.
    pub fn scan_files(&self, paths: &[PathBuf]) -> Result<Vec<FileScan>, YaraError> {
        let scan = || {
            let runs = rayon::current_num_threads().max(1) * 4;
            let run_len = paths.len().div_ceil(runs).max(1);
            paths
                .par_chunks(run_len)
                .flat_map_iter(|run| {
                    let mut scanner = self.scanner();
                    run.iter()
                        .map(|path| scanner.scan_file(path))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        match self.settings.threads {
            0 => Ok(scan()),
            threads => rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map(|pool| pool.install(scan))
                .map_err(|e| YaraError::ThreadPool {
                    threads,
                    message: e.to_string(),
                }),
        }
    }
}
