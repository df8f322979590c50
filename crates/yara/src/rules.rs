//! Compiling rule folders into one [`RuleSet`], file by file.

use crate::{YaraConfig, YaraError, scan::YaraScanner};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use walkdir::WalkDir;

/// External variables of THOR/LOKI rules (signature-base uses them): defined empty so the
/// rules compile, and set per file (`filename`, `filepath`, `extension`) when scanning.
pub(crate) const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// A rule file that failed to compile and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFileError {
    /// The file.
    pub path: PathBuf,
    /// The compiler's message (with line and column).
    pub error: String,
}

/// What a compilation loaded and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileReport {
    /// Rule files compiled into the set.
    pub files_loaded: usize,
    /// Rule files that failed and were skipped.
    pub failures: Vec<RuleFileError>,
    /// Rules in the set (including those whose tags are skipped).
    pub rules: usize,
    /// Rules whose tags are in `skip_tags`: compiled, never reported.
    pub rules_skipped_by_tag: usize,
    /// How long compiling (or loading from the cache) took.
    pub elapsed: Duration,
    /// Whether the set was loaded from the cache of compiled sets.
    pub from_cache: bool,
}

/// Settings the scanners take from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct ScanSettings {
    pub max_file_size: u64,
    pub timeout: Duration,
    pub max_hits_per_string: usize,
    pub excerpt_bytes: usize,
    pub threads: usize,
    pub skip_tags: BTreeSet<String>,
}

impl ScanSettings {
    fn from_config(config: &YaraConfig) -> Self {
        ScanSettings {
            max_file_size: config.max_file_size,
            timeout: Duration::from_secs(config.timeout_secs),
            max_hits_per_string: config.max_hits_per_string,
            excerpt_bytes: config.excerpt_bytes,
            threads: config.threads,
            skip_tags: config.skip_tags.iter().map(|t| t.to_lowercase()).collect(),
        }
    }
}

/// Compiled rules plus the scan settings; shared by every scanner (it is `Sync`).
pub struct RuleSet {
    pub(crate) rules: yara_x::Rules,
    pub(crate) settings: ScanSettings,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.iter().len())
            .field("settings", &self.settings)
            .finish()
    }
}

impl RuleSet {
    /// Compiles every `.yar`/`.yara` file under `config.rule_dirs`. A file that does not
    /// compile is reported in the [`CompileReport`] and skipped; only an unreadable
    /// folder or an invalid setting is an error.
    pub fn compile(config: &YaraConfig) -> Result<(RuleSet, CompileReport), YaraError> {
        config.validate()?;
        let started = Instant::now();
        let mut compiler = new_compiler();
        let mut report = CompileReport::default();
        let mut namespaces = HashSet::new();
        for dir in &config.rule_dirs {
            for path in rule_files(dir)? {
                let namespace = unique_namespace(dir, &path, &mut namespaces);
                match compile_file(&mut compiler, &path, &namespace) {
                    Ok(()) => report.files_loaded += 1,
                    Err(error) => {
                        tracing::warn!(file = %path.display(), %error, "YARA rule file skipped");
                        report.failures.push(RuleFileError { path, error });
                    }
                }
            }
        }
        let set = RuleSet {
            rules: compiler.build(),
            settings: ScanSettings::from_config(config),
        };
        report.rules = set.rules.iter().len();
        report.rules_skipped_by_tag = set.rules_skipped_by_tag();
        report.elapsed = started.elapsed();
        tracing::info!(
            files = report.files_loaded,
            failed = report.failures.len(),
            rules = report.rules,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "YARA rules compiled"
        );
        Ok((set, report))
    }

    /// The compiled rules as bytes, to cache and [`RuleSet::deserialize`] later instead of
    /// compiling again.
    pub fn serialize(&self) -> Result<Vec<u8>, YaraError> {
        self.rules
            .serialize()
            .map_err(|e| YaraError::Serialization(e.to_string()))
    }

    /// Rules from [`RuleSet::serialize`]'s bytes, scanned with `config`'s settings
    /// (its `rule_dirs` are not read).
    pub fn deserialize(bytes: &[u8], config: &YaraConfig) -> Result<RuleSet, YaraError> {
        config.validate()?;
        let rules = yara_x::Rules::deserialize(bytes)
            .map_err(|e| YaraError::Serialization(e.to_string()))?;
        Ok(RuleSet {
            rules,
            settings: ScanSettings::from_config(config),
        })
    }

    /// Number of rules in the set.
    pub fn len(&self) -> usize {
        self.rules.iter().len()
    }

    /// Whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A scanner over these rules; create one per thread.
    pub fn scanner(&self) -> YaraScanner<'_> {
        YaraScanner::new(self)
    }

    /// Rules whose tags are skipped by configuration.
    pub(crate) fn rules_skipped_by_tag(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| self.is_skipped(r.tags().map(|t| t.identifier())))
            .count()
    }

    /// Whether a rule with these tags is skipped by configuration.
    pub(crate) fn is_skipped<'t>(&self, mut tags: impl Iterator<Item = &'t str>) -> bool {
        let skip = &self.settings.skip_tags;
        !skip.is_empty() && tags.any(|t| skip.contains(&t.to_lowercase()))
    }
}

fn new_compiler() -> yara_x::Compiler<'static> {
    let mut compiler = yara_x::Compiler::new();
    for name in EXTERNALS {
        // The names are valid identifiers and defined once, so this cannot fail.
        if let Err(e) = compiler.define_global(name, "") {
            tracing::error!(name, error = %e, "cannot define YARA external variable");
        }
    }
    compiler
}

/// Rule files under `dir`, sorted, so namespaces and reports are stable.
pub(crate) fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, YaraError> {
    let meta = std::fs::metadata(dir).map_err(|source| YaraError::RuleDir {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(YaraError::RuleDir {
            path: dir.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        });
    }
    let mut files = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| YaraError::RuleDir {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        let is_rule = entry
            .path()
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yar") || x.eq_ignore_ascii_case("yara"));
        if entry.file_type().is_file() && is_rule {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// The file's path under its folder (`signature-base/yara/gen_x.yar`), made unique.
fn unique_namespace(dir: &Path, path: &Path, used: &mut HashSet<String>) -> String {
    let relative = path.strip_prefix(dir).unwrap_or(path);
    let base = relative.to_string_lossy().replace('\\', "/");
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}#{n}");
        n += 1;
    }
    name
}

/// Adds one file in its own namespace, after checking alone that it compiles whole: a
/// file with an error must not leave its other rules half in the set.
fn compile_file(
    compiler: &mut yara_x::Compiler<'_>,
    path: &Path,
    namespace: &str,
) -> Result<(), String> {
    let source = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let origin = path.display().to_string();
    let text = wrapped_source(&source, path);
    let mut check = new_compiler();
    if let Some(parent) = path.parent() {
        check.add_include_dir(parent);
    }
    check
        .add_source(source_code(&text, &origin))
        .map_err(|e| e.to_string())?;
    compiler.new_namespace(namespace);
    if let Some(parent) = path.parent() {
        compiler.add_include_dir(parent);
    }
    compiler
        .add_source(source_code(&text, &origin))
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn source_code<'s>(text: &'s [u8], origin: &str) -> yara_x::SourceCode<'s> {
    yara_x::SourceCode::from(text).with_origin(origin)
}

/// The source to compile for `path`: a file with `include` statements is compiled through
/// an `include` of its own absolute path, so yara-x resolves its includes relative to it
/// (relative includes of a top-level source would otherwise resolve from the working
/// directory). Paths a YARA string cannot hold (`"` or `\`) fall back to the include
/// folders, where the file's own folder is registered.
fn wrapped_source(source: &[u8], path: &Path) -> Vec<u8> {
    let has_include = source
        .split(|b| *b == b'\n')
        .any(|line| line.trim_ascii_start().starts_with(b"include"));
    let absolute = std::path::absolute(path).ok();
    match absolute.as_deref().and_then(Path::to_str) {
        Some(abs) if has_include && !abs.contains(['"', '\\']) => {
            format!("include \"{abs}\"\n").into_bytes()
        }
        _ => source.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_relative_paths_made_unique() {
        let mut used = HashSet::new();
        let dir = Path::new("/rules");
        let a = unique_namespace(dir, Path::new("/rules/x/a.yar"), &mut used);
        assert_eq!(a, "x/a.yar");
        let again = unique_namespace(dir, Path::new("/rules/x/a.yar"), &mut used);
        assert_eq!(again, "x/a.yar#2");
    }
}
