//! YARA as a file detector of the detection engine: scans the collected files' content.

use crate::{FileScan, RuleSet, ScanOutcome};
use riposte_detect::{CollectedFile, FileDetector};
use riposte_model::Alarm;
use std::path::PathBuf;
use std::sync::Arc;

/// Scans collected files with a compiled [`RuleSet`]; one alarm per matching rule and file.
#[derive(Debug, Clone)]
pub struct YaraDetector {
    rules: Arc<RuleSet>,
}

impl YaraDetector {
    /// A detector over `rules` (share one compiled set between workers).
    pub fn new(rules: Arc<RuleSet>) -> Self {
        YaraDetector { rules }
    }

    /// The scans of the files that have content, named by their original paths (skipped,
    /// timed-out and failed scans included, for the record).
    pub fn scan(&self, files: &[CollectedFile]) -> Vec<FileScan> {
        let with_content: Vec<(&CollectedFile, PathBuf)> = files
            .iter()
            .filter_map(|f| f.content.clone().map(|p| (f, p)))
            .collect();
        let paths: Vec<PathBuf> = with_content.iter().map(|(_, p)| p.clone()).collect();
        let scans = match self.rules.scan_files(&paths) {
            Ok(scans) => scans,
            Err(error) => {
                tracing::error!(%error, "YARA scan could not start");
                return Vec::new();
            }
        };
        scans
            .into_iter()
            .zip(with_content)
            .map(|(mut scan, (file, _))| {
                scan.path = PathBuf::from(&file.item.provenance.original_path);
                scan
            })
            .collect()
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
