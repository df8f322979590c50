//! Detections over an investigation's timeline events, and the verdict they lead to.
//!
//! Every heuristic is one module implementing [`Detector`] and is registered in
//! [`detectors`]; [`run_detectors`] runs them all over a slice. Detectors read normalized
//! [`Event`]s (attributes such as `remote_ip`, `cmd`, `stage`) and return [`Alarm`]s whose
//! `event_refs` are 0-based positions in the slice they were given. [`VerdictPolicy`]
//! turns the alarms into a [`riposte_model::VerdictSummary`].
//!
//! An investigation's timeline is not held in memory: the [`DetectionEngine`] streams it
//! ([`engine`]), and [`story::StoryBuilder`] draws the story from the events it needs.
//!
//! Around the alarms: [`correlate`] links the alert to the events sharing its observables,
//! [`chains`] walks each alarm's events back to their root cause, and [`scope`] lists the
//! hosts, users, addresses, files and processes involved.
//!
//! Detectors that need loaded configuration (the [`Sigma`] rule set) are not in the
//! static registry: a [`DetectionEngine`] runs the registry plus those.

use riposte_model::{Alarm, Event, MitreTechnique};

pub mod chain;
pub mod correlate;
pub mod engine;
mod files;
mod heuristics;
pub mod ioc;
mod observe;
pub mod scope;
pub mod sigma;
pub mod story;
pub mod verdict;

pub use chain::chains;
pub use correlate::{CorrelationConfig, correlate};
pub use engine::{Batch, EngineRun, Limits, Pass, StreamDetector};
pub use files::{CollectedFile, FileDetector};
pub use heuristics::credential_access::CredentialAccess;
pub use heuristics::cryptominer::Cryptominer;
pub use heuristics::ld_preload_hijack::LdPreloadHijack;
pub use heuristics::live_processes::LiveProcesses;
pub use heuristics::log_wiping::LogWiping;
pub use heuristics::privileged_account::PrivilegedAccount;
pub use heuristics::shell_history::ShellHistory;
pub use heuristics::ssh_bruteforce::{SshBruteForce, SshBruteForceConfig};
pub use heuristics::ssh_key_persistence::SshKeyPersistence;
pub use heuristics::tmp_persistence::TmpPersistence;
pub use ioc::{IocDetector, IocDetectorConfig, IocSet};
pub use scope::scope;
pub use sigma::{LoadReport, Sigma, SigmaError, SigmaRules};
pub use verdict::{PolicyError, SeverityWeights, VerdictPolicy};

/// A heuristic: reads the events it wants, in timeline order, and reports what it finds.
/// The engine keeps only the events some heuristic wants, so `wants` must accept every
/// event `detect` may look at (and should accept little else: it is the memory cost).
pub trait Detector: Send + Sync {
    /// Short stable name (e.g. `ssh_bruteforce`).
    fn name(&self) -> &'static str;
    /// Whether `detect` may read this event.
    fn wants(&self, event: &Event) -> bool;
    /// Alarms over `events`; their `event_refs` index into `events`.
    fn detect(&self, events: &[Event]) -> Vec<Alarm>;
    /// A streaming pass, for a detector that keeps bounded state of its own (a sliding
    /// window, counters) instead of the events it wants; `None` (the default): the engine
    /// keeps the wanted events in its window and calls `detect`.
    fn stream(&self) -> Option<Box<dyn Pass + '_>> {
        None
    }
}

/// Events per batch when a slice is run through the engine.
const BATCH: usize = 4096;

static DETECTORS: &[&dyn Detector] = &[
    &SshBruteForce::DEFAULT, //
    &ShellHistory,
    &PrivilegedAccount,
    &Cryptominer,
    &SshKeyPersistence,
    &TmpPersistence,
    &LogWiping,
    &LdPreloadHijack,
    &CredentialAccess,
    &LiveProcesses,
];

/// Every registered detector, with its default configuration.
pub fn detectors() -> &'static [&'static dyn Detector] {
    DETECTORS
}

/// Runs every registered detector over `events`, alarms in registry order.
pub fn run_detectors(events: &[Event]) -> Vec<Alarm> {
    detectors().iter().flat_map(|d| d.detect(events)).collect()
}

/// The registered detectors plus configured ones (e.g. [`Sigma`] with a loaded rule set),
/// and the detectors over collected files (YARA, IOCs). Build it once (loading rules
/// takes seconds) and share it.
#[derive(Default)]
pub struct DetectionEngine {
    /// The engine this one adds to (a hunt's IOC feeds and YARA rules on top of the
    /// server's detectors): its detectors run first, and its limits hold.
    base: Option<std::sync::Arc<DetectionEngine>>,
    configured: Vec<Box<dyn StreamDetector>>,
    file_detectors: Vec<Box<dyn FileDetector>>,
    limits: Limits,
}

impl DetectionEngine {
    /// The registered detectors only.
    pub fn new() -> Self {
        DetectionEngine::default()
    }

    /// An engine running `base`'s detectors and then those added to it (builder style),
    /// within `base`'s limits; `base` is shared, not copied.
    pub fn extending(base: std::sync::Arc<DetectionEngine>) -> Self {
        DetectionEngine {
            limits: base.limits,
            base: Some(base),
            ..DetectionEngine::default()
        }
    }

    /// The configured detectors, the base's first.
    fn all_configured(&self) -> Vec<&dyn StreamDetector> {
        let mut all = self
            .base
            .as_ref()
            .map(|b| b.all_configured())
            .unwrap_or_default();
        all.extend(self.configured.iter().map(|d| d.as_ref()));
        all
    }

    /// The file detectors, the base's first.
    fn all_file_detectors(&self) -> Vec<&dyn FileDetector> {
        let mut all = self
            .base
            .as_ref()
            .map(|b| b.all_file_detectors())
            .unwrap_or_default();
        all.extend(self.file_detectors.iter().map(|d| d.as_ref()));
        all
    }

    /// Adds a configured detector, run after the registered ones (builder style).
    pub fn with(mut self, detector: impl StreamDetector + 'static) -> Self {
        self.configured.push(Box::new(detector));
        self
    }

    /// Sets the memory bounds of a pass (builder style).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The memory bounds of a pass.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Starts a pass over one timeline: feed it the events in timeline order.
    pub fn start(&self) -> EngineRun<'_> {
        EngineRun::new(self.all_configured(), self.limits)
    }

    /// Adds a detector over collected files (builder style).
    pub fn with_files(mut self, detector: impl FileDetector + 'static) -> Self {
        self.file_detectors.push(Box::new(detector));
        self
    }

    /// One pass over `events` (in timeline order), references being positions in it:
    /// alarms of the registered detectors, then of the configured ones in the order they
    /// were added.
    pub fn run(&self, events: &[Event]) -> Vec<Alarm> {
        let mut run = self.start();
        let ids: Vec<u64> = (0..events.len() as u64).collect();
        for (ids, events) in ids.chunks(BATCH).zip(events.chunks(BATCH)) {
            run.observe(Batch::new(ids, events));
        }
        run.finish()
    }

    /// Whether any file detector is configured (else collected files need not be listed).
    pub fn has_file_detectors(&self) -> bool {
        !self.all_file_detectors().is_empty()
    }

    /// The largest file whose content some file detector reads; `None` when none reads
    /// content (collected files need not be fetched).
    pub fn content_limit(&self) -> Option<u64> {
        self.all_file_detectors()
            .iter()
            .filter_map(|d| d.content_limit())
            .max()
    }

    /// Alarms of the file detectors, in the order they were added.
    pub fn run_files(&self, files: &[CollectedFile]) -> Vec<Alarm> {
        self.all_file_detectors()
            .iter()
            .flat_map(|d| d.detect_files(files))
            .collect()
    }
}

impl std::fmt::Debug for DetectionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = detectors()
            .iter()
            .map(|d| d.name())
            .chain(self.all_configured().iter().map(|d| d.name()))
            .collect();
        let file_names: Vec<&str> = self.all_file_detectors().iter().map(|d| d.name()).collect();
        f.debug_struct("DetectionEngine")
            .field("detectors", &names)
            .field("file_detectors", &file_names)
            .finish()
    }
}

/// Where a bundled rule folder (`relative` to the repository root, e.g. `detections/sigma`)
/// is installed: next to the running binary, in `../share/riposte/` from it, or in the
/// source tree this crate was built from. The error lists the places looked at.
pub fn bundled_rules_dir(relative: &str) -> Result<std::path::PathBuf, String> {
    use std::path::Path;
    let mut candidates = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join(relative));
        candidates.push(exe_dir.join("../share/riposte").join(relative));
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(relative),
    );
    candidates
        .iter()
        .find(|dir| dir.is_dir())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            looked.join(", ")
        })
}

/// A MITRE ATT&CK technique from its tactic and id.
pub(crate) fn mitre(tactic: &str, technique: &str) -> MitreTechnique {
    MitreTechnique {
        tactic: tactic.to_string(),
        technique: technique.to_string(),
    }
}

/// At most `max` characters of `s`, with `…` when cut: keeps titles one line long.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    match one_line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_empty_input_raises_nothing() {
        let mut names: Vec<_> = detectors().iter().map(|d| d.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), detectors().len());
        assert!(run_detectors(&[]).is_empty());
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("ééééé\nz", 3), "ééé…");
        assert_eq!(shorten("a\nb", 5), "a b");
    }
}
