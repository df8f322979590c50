//! Detections over collected files (their content or their record) rather than events:
//! YARA scans and IOC hash/path matches.

use riposte_model::{Alarm, EvidenceItem};
use std::path::PathBuf;

/// A collected file handed to the file detectors: its evidence record and, when the engine
/// reads content and the file is small enough, where its bytes are on local disk.
#[derive(Debug, Clone)]
pub struct CollectedFile {
    /// The evidence record: original path, host, SHA-256, size.
    pub item: EvidenceItem,
    /// A local copy of the content (`None` when no detector reads content, or the file is
    /// over every detector's size limit).
    pub content: Option<PathBuf>,
}

/// A detection over collected files.
pub trait FileDetector: Send + Sync {
    /// Short stable name (`yara`, `ioc`).
    fn name(&self) -> &'static str;
    /// The largest file whose content this detector reads, or `None` when it reads only
    /// the records (hashes and paths).
    fn content_limit(&self) -> Option<u64>;
    /// Alarms over `files`, naming the files in [`Alarm::files`] by their original paths.
    fn detect_files(&self, files: &[CollectedFile]) -> Vec<Alarm>;
}

impl FileDetector for crate::IocDetector {
    fn name(&self) -> &'static str {
        "ioc"
    }

    fn content_limit(&self) -> Option<u64> {
        None
    }

    fn detect_files(&self, files: &[CollectedFile]) -> Vec<Alarm> {
        let items: Vec<EvidenceItem> = files.iter().map(|f| f.item.clone()).collect();
        crate::IocDetector::detect_files(self, &items)
    }
}
