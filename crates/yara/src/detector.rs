//! YARA as a file detector of the detection engine: scans the collected files' content.

use crate::{FileScan, RuleSet, ScanOutcome, SkipReason};
use riposte_detect::{CollectedFile, FileDetector};
use riposte_model::Alarm;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Scans collected files with a compiled [`RuleSet`]; one alarm per matching rule and file.
#[derive(Debug, Clone)]
pub struct YaraDetector {
    rules: Arc<RuleSet>,
    scan_parsed_logs: bool,
}

impl YaraDetector {
    /// A detector over `rules` (share one compiled set between workers). Structured logs
    /// the parsers read completely are not scanned ([`SkipReason::ParsedLog`]).
    pub fn new(rules: Arc<RuleSet>) -> Self {
        YaraDetector {
            rules,
            scan_parsed_logs: false,
        }
    }

    /// Scans the structured logs the parsers read too (`--yara-scan-all`).
    pub fn scanning_parsed_logs(mut self, scan: bool) -> Self {
        self.scan_parsed_logs = scan;
        self
    }

    /// The scans of the files that have content, named by their original paths (skipped,
    /// timed-out and failed scans included, for the record).
    pub fn scan(&self, files: &[CollectedFile]) -> Vec<FileScan> {
        let mut skipped = Vec::new();
        let with_content: Vec<(&CollectedFile, PathBuf)> = files
            .iter()
            .filter_map(|f| f.content.clone().map(|p| (f, p)))
            .filter(|(file, content)| {
                if self.scan_parsed_logs {
                    return true;
                }
                let original = &file.item.provenance.original_path;
                let Some(format) = parsed_log(original, content) else {
                    return true;
                };
                skipped.push(FileScan {
                    path: PathBuf::from(original),
                    size: file.item.size,
                    sha256: None,
                    outcome: ScanOutcome::Skipped {
                        skip: SkipReason::ParsedLog {
                            format: format.to_string(),
                        },
                    },
                });
                false
            })
            .collect();
        let paths: Vec<PathBuf> = with_content.iter().map(|(_, p)| p.clone()).collect();
        let scans = match self.rules.scan_files(&paths) {
            Ok(scans) => scans,
            Err(error) => {
                tracing::error!(%error, "YARA scan could not start");
                return Vec::new();
            }
        };
        let mut scanned: Vec<FileScan> = scans
            .into_iter()
            .zip(with_content)
            .map(|(mut scan, (file, _))| {
                scan.path = PathBuf::from(&file.item.provenance.original_path);
                scan
            })
            .collect();
        scanned.extend(skipped);
        scanned
    }
}

/// The structured log format of a collected file that the artifact parsers read
/// completely, by its content's magic (EVTX, registry hive, journald) or, for formats
/// without one, its name (utmp family, bodyfiles); `None` for anything else.
fn parsed_log(original_path: &str, content: &Path) -> Option<&'static str> {
    let name = original_path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.ends_with(".body") || name.starts_with("bodyfile") {
        return Some("bodyfile");
    }
    let utmp = ["wtmp", "btmp", "utmp", "lastlog"];
    if utmp.iter().any(|u| {
        name == *u
            || name
                .strip_prefix(u)
                .is_some_and(|rest| rest.starts_with('.'))
    }) {
        return Some("utmp");
    }
    let mut head = [0u8; 8];
    std::fs::File::open(content)
        .and_then(|mut f| f.read_exact(&mut head))
        .ok()?;
    match &head {
        b"ElfFile\0" => Some("evtx"),
        b"LPKSHHRH" => Some("journald"),
        h if h.starts_with(b"regf") => Some("registry"),
        _ => None,
    }
}

impl FileDetector for YaraDetector {
    fn name(&self) -> &'static str {
        "yara"
    }

    fn content_limit(&self) -> Option<u64> {
        Some(self.rules.settings.max_file_size)
    }

    fn detect_files(&self, files: &[CollectedFile]) -> Vec<Alarm> {
        let scans = self.scan(files);
        let (mut scanned, mut skipped, mut failed) = (0u64, 0u64, 0u64);
        let limit = self.rules.settings.max_file_size;
        for file in files.iter().filter(|f| f.content.is_none()) {
            skipped += 1;
            tracing::info!(
                file = %file.item.provenance.original_path,
                size = file.item.size,
                limit,
                "YARA scan skipped: content not fetched (over the size limit)"
            );
        }
        for scan in &scans {
            match &scan.outcome {
                ScanOutcome::Scanned { .. } => scanned += 1,
                ScanOutcome::Skipped {
                    skip: SkipReason::ParsedLog { format },
                } => {
                    skipped += 1;
                    tracing::info!(file = %scan.path.display(), %format, "YARA scan skipped: parsed log (--yara-scan-all scans it)");
                }
                ScanOutcome::Skipped { skip } => {
                    skipped += 1;
                    tracing::info!(file = %scan.path.display(), ?skip, "YARA scan skipped");
                }
                ScanOutcome::TimedOut { after_secs } => {
                    failed += 1;
                    tracing::warn!(file = %scan.path.display(), after_secs, "YARA scan timed out");
                }
                ScanOutcome::Failed { error } => {
                    failed += 1;
                    tracing::warn!(file = %scan.path.display(), %error, "YARA scan failed");
                }
            }
        }
        let alarms: Vec<Alarm> = scans.iter().flat_map(FileScan::alarms).collect();
        tracing::info!(
            scanned,
            skipped,
            failed,
            alarms = alarms.len(),
            "YARA scan done"
        );
        alarms
    }
}
