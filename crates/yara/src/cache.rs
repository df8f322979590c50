//! Compiled rule sets cached on disk: compiling the bundled rules takes seconds (minutes
//! unoptimised), loading them back a fraction of that.
//!
//! The cache key is a SHA-256 over this crate's and yara-x's versions and, for every rule
//! folder, each rule file's relative path and content: any edit, added or removed file
//! compiles afresh. Entries are written atomically (temporary file, then rename); an entry
//! that cannot be read back is recompiled and replaced.

use crate::{CompileReport, RuleFileError, RuleSet, YaraConfig, YaraError, rules::rule_files};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The yara-x release this crate pins (its compiled format changes between releases).
const YARA_X_VERSION: &str = "1.22.1";

/// The report of a compilation, stored beside its rules.
#[derive(Serialize, Deserialize)]
struct StoredReport {
    files_loaded: usize,
    failures: Vec<(PathBuf, String)>,
}

/// The default cache folder: `$XDG_CACHE_HOME/riposte/yara`, else `~/.cache/riposte/yara`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("riposte").join("yara"))
}

/// The cache key of `config`'s rule folders.
fn cache_key(config: &YaraConfig) -> Result<String, YaraError> {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION"));
    hasher.update([0]);
    hasher.update(YARA_X_VERSION);
    for dir in &config.rule_dirs {
        hasher.update([1]);
        hasher.update(dir.to_string_lossy().as_bytes());
        for path in rule_files(dir)? {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            hasher.update([2]);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([3]);
            // An unreadable file fails the compilation too; hash the error so the entry
            // is not reused once it becomes readable.
            match std::fs::read(&path) {
                Ok(content) => hasher.update(&content),
                Err(e) => hasher.update(e.to_string()),
            }
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

impl RuleSet {
    /// [`RuleSet::compile`], through a cache of compiled sets in `cache_dir` (no cache
    /// when `None`). The report of a cached set is the one of its compilation, with
    /// `from_cache` set. A cache that cannot be written only costs the next start.
    pub fn compile_cached(
        config: &YaraConfig,
        cache_dir: Option<&Path>,
    ) -> Result<(RuleSet, CompileReport), YaraError> {
        let Some(cache_dir) = cache_dir else {
            return RuleSet::compile(config);
        };
        config.validate()?;
        let started = Instant::now();
        let key = cache_key(config)?;
        let rules_path = cache_dir.join(format!("{key}.yarac"));
        let report_path = cache_dir.join(format!("{key}.json"));
        if let Some(loaded) = load(&rules_path, &report_path, config) {
            let (set, mut report) = loaded;
            report.elapsed = started.elapsed();
            tracing::info!(
                rules = report.rules,
                elapsed_ms = report.elapsed.as_millis() as u64,
                cache = %rules_path.display(),
                "YARA rules loaded from the cache"
            );
            return Ok((set, report));
        }
        // One process compiles, the others starting at the same time wait for its entry
        // (workers of one host, parallel `investigate` runs) instead of all compiling.
        let guard = match lock(cache_dir, &key) {
            Ok(lock) => Some(lock),
            Err(error) => {
                tracing::warn!(cache = %cache_dir.display(), %error, "cannot lock the YARA rule cache; compiling without it");
                None
            }
        };
        if guard.is_some()
            && let Some((set, mut report)) = load(&rules_path, &report_path, config)
        {
            report.elapsed = started.elapsed();
            return Ok((set, report));
        }
        let (set, report) = RuleSet::compile(config)?;
        if guard.is_some()
            && let Err(error) = store(&set, &report, cache_dir, &rules_path, &report_path)
        {
            tracing::warn!(cache = %cache_dir.display(), %error, "cannot cache the compiled YARA rules");
        }
        Ok((set, report))
    }
}

fn load(
    rules_path: &Path,
    report_path: &Path,
    config: &YaraConfig,
) -> Option<(RuleSet, CompileReport)> {
    let bytes = std::fs::read(rules_path).ok()?;
    let stored: StoredReport = serde_json::from_slice(&std::fs::read(report_path).ok()?).ok()?;
    let set = match RuleSet::deserialize(&bytes, config) {
        Ok(set) => set,
        Err(error) => {
            tracing::warn!(cache = %rules_path.display(), %error, "cached YARA rules unreadable; compiling again");
            return None;
        }
    };
    let report = CompileReport {
        files_loaded: stored.files_loaded,
        failures: stored
            .failures
            .into_iter()
            .map(|(path, error)| RuleFileError { path, error })
            .collect(),
        rules: set.len(),
        rules_skipped_by_tag: set.rules_skipped_by_tag(),
        elapsed: Default::default(),
        from_cache: true,
    };
    Some((set, report))
}

fn store(
    set: &RuleSet,
    report: &CompileReport,
    cache_dir: &Path,
    rules_path: &Path,
    report_path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(cache_dir)?;
    let stored = StoredReport {
        files_loaded: report.files_loaded,
        failures: report
            .failures
            .iter()
            .map(|f| (f.path.clone(), f.error.clone()))
            .collect(),
    };
    // The report first: an entry counts once its rules file exists.
    write_atomically(cache_dir, report_path, &serde_json::to_vec(&stored)?)?;
    write_atomically(cache_dir, rules_path, &set.serialize()?)?;
    Ok(())
}

/// An exclusive lock on the cache entry `key`, held until dropped.
fn lock(cache_dir: &Path, key: &str) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(cache_dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache_dir.join(format!("{key}.lock")))?;
    file.lock()?;
    Ok(file)
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
