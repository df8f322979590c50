//! Reading rule files: every YAML file of a directory tree (multi-document files too),
//! parsed with rsigma-parser and compiled with rsigma-eval, one file per rayon task.
//! Whatever cannot be used is recorded in the [`LoadReport`] with its file and reason.

use super::logsource::RuleScope;
use super::mitre::mitre_from_tags;
use super::{SigmaError, SigmaRule};
use rayon::prelude::*;
use riposte_model::Severity;
use rsigma_parser::{Level, parse_sigma_yaml};
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest rule file read; SigmaHQ's biggest is a few tens of KiB.
const MAX_RULE_FILE: u64 = 4 * 1024 * 1024;

/// Why a rule (or a whole file) is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsupportedReason {
    /// The file could not be read (or is too large).
    Unreadable(String),
    /// YAML or Sigma syntax the parser rejects.
    Parse(String),
    /// A detection the evaluator cannot compile (unknown modifier, bad regex, …).
    Compile(String),
    /// A correlation rule that cannot be run (its type, its condition, a missing rule).
    Correlation(String),
    /// A filter rule (Sigma filters amend other rules' detections; not applied).
    Filter,
    /// No Riposte parser produces events of the rule's logsource.
    Logsource(String),
}

impl UnsupportedReason {
    /// A short name for the kind of reason, for counts.
    pub fn kind(&self) -> &'static str {
        match self {
            UnsupportedReason::Unreadable(_) => "unreadable",
            UnsupportedReason::Parse(_) => "parse error",
            UnsupportedReason::Compile(_) => "compile error",
            UnsupportedReason::Correlation(_) => "correlation rule",
            UnsupportedReason::Filter => "filter rule",
            UnsupportedReason::Logsource(_) => "logsource without events",
        }
    }
}

impl fmt::Display for UnsupportedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsupportedReason::Unreadable(e) => write!(f, "unreadable: {e}"),
            UnsupportedReason::Parse(e) => write!(f, "parse error: {e}"),
            UnsupportedReason::Compile(e) => write!(f, "compile error: {e}"),
            UnsupportedReason::Correlation(why) => write!(f, "correlation rule: {why}"),
            UnsupportedReason::Filter => f.write_str("filter rules are not applied"),
            UnsupportedReason::Logsource(e) => f.write_str(e),
        }
    }
}

/// One rule (or file) that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The rule file.
    pub file: PathBuf,
    /// The rule's title, when it got that far.
    pub title: Option<String>,
    /// Why it is not used.
    pub reason: UnsupportedReason,
}

/// What loading a rule set did: files read, rules loaded, and everything left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rule files read.
    pub files: usize,
    /// Rules compiled and in the set.
    pub loaded: usize,
    /// Correlation rules that run.
    pub correlations: usize,
    /// Rules and files left out, with the reason.
    pub unsupported: Vec<Unsupported>,
}

impl LoadReport {
    /// How many were left out for each kind of reason, by kind name.
    pub fn counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for u in &self.unsupported {
            *counts.entry(u.reason.kind()).or_default() += 1;
        }
        counts
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rules loaded from {} files; {} left out",
            self.loaded,
            self.files,
            self.unsupported.len()
        )?;
        for (kind, n) in self.counts() {
            writeln!(f, "  {n:>5} {kind}")?;
        }
        for u in &self.unsupported {
            write!(f, "{}", u.file.display())?;
            if let Some(title) = &u.title {
                write!(f, " ({title})")?;
            }
            writeln!(f, ": {}", u.reason)?;
        }
        Ok(())
    }
}

/// Every `.yml`/`.yaml` file under `dir`, sorted.
pub(super) fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, SigmaError> {
    if !dir.is_dir() {
        return Err(SigmaError::NotADirectory(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(|e| SigmaError::Walk {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let is_yaml = entry
            .path()
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        if entry.file_type().is_file() && is_yaml {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// What one file (or YAML text) gave: its rules, its correlations (not yet resolved), and
/// what was left out.
pub(super) type Loaded = (
    Vec<SigmaRule>,
    Vec<(PathBuf, rsigma_parser::CorrelationRule)>,
    Vec<Unsupported>,
);

/// Reads, parses and compiles every file, in parallel; rules keep the files' order.
pub(super) fn load_files(
    files: &[PathBuf],
) -> (
    Vec<SigmaRule>,
    Vec<(PathBuf, rsigma_parser::CorrelationRule)>,
    LoadReport,
) {
    let per_file: Vec<Loaded> = files.par_iter().map(|file| load_file(file)).collect();
    let mut rules = Vec::new();
    let mut correlations = Vec::new();
    let mut report = LoadReport {
        files: files.len(),
        ..LoadReport::default()
    };
    for (loaded, parsed, unsupported) in per_file {
        rules.extend(loaded);
        correlations.extend(parsed);
        report.unsupported.extend(unsupported);
    }
    report.loaded = rules.len();
    (rules, correlations, report)
}

fn load_file(file: &Path) -> Loaded {
    let unreadable = |message: String| {
        (
            Vec::new(),
            Vec::new(),
            vec![Unsupported {
                file: file.to_path_buf(),
                title: None,
                reason: UnsupportedReason::Unreadable(message),
            }],
        )
    };
    match std::fs::metadata(file) {
        Ok(m) if m.len() > MAX_RULE_FILE => {
            return unreadable(format!(
                "{} bytes, over the {MAX_RULE_FILE}-byte limit",
                m.len()
            ));
        }
        Err(e) => return unreadable(e.to_string()),
        Ok(_) => {}
    }
    match std::fs::read_to_string(file) {
        Ok(text) => load_yaml(file, &text),
        Err(e) => unreadable(e.to_string()),
    }
}

/// Parses and compiles the rules of one YAML text (`file` names it in the report).
pub(super) fn load_yaml(file: &Path, text: &str) -> Loaded {
    let mut rules = Vec::new();
    let mut correlations = Vec::new();
    let mut unsupported = Vec::new();
    let mut leave_out = |title: Option<String>, reason| {
        unsupported.push(Unsupported {
            file: file.to_path_buf(),
            title,
            reason,
        })
    };
    let collection = match parse_sigma_yaml(text) {
        Ok(c) => c,
        Err(e) => {
            leave_out(None, UnsupportedReason::Parse(e.to_string()));
            return (rules, correlations, unsupported);
        }
    };
    for error in &collection.errors {
        leave_out(None, UnsupportedReason::Parse(error.clone()));
    }
    for correlation in &collection.correlations {
        correlations.push((file.to_path_buf(), correlation.clone()));
    }
    for filter in &collection.filters {
        leave_out(Some(filter.title.clone()), UnsupportedReason::Filter);
    }
    for rule in &collection.rules {
        let title = Some(rule.title.clone());
        let scope = match RuleScope::of(&rule.logsource) {
            Ok(scope) => scope,
            Err(why) => {
                leave_out(title, UnsupportedReason::Logsource(why));
                continue;
            }
        };
        let compiled = match rsigma_eval::compile_rule(rule) {
            Ok(c) => c,
            Err(e) => {
                leave_out(title, UnsupportedReason::Compile(e.to_string()));
                continue;
            }
        };
        rules.push(SigmaRule {
            title: rule.title.clone(),
            id: rule.id.clone(),
            severity: severity(rule.level),
            mitre: mitre_from_tags(&rule.tags),
            description: rule.description.clone(),
            file: file.to_path_buf(),
            scope,
            name: rule.name.clone(),
            hunting: rule
                .tags
                .iter()
                .any(|t| t.to_string().eq_ignore_ascii_case(HUNTING_TAG)),
            compiled,
        });
    }
    (rules, correlations, unsupported)
}

/// The tag SigmaHQ gives its threat-hunting rules (`rules-threat-hunting/`): leads worth a
/// look, too noisy to be findings on their own.
pub const HUNTING_TAG: &str = "detection.threat-hunting";

/// Sigma `level` → severity; a rule without one is informational.
pub(super) fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Critical) => Severity::Critical,
        Some(Level::High) => Severity::High,
        Some(Level::Medium) => Severity::Medium,
        Some(Level::Low) => Severity::Low,
        Some(Level::Informational) | None => Severity::Informational,
    }
}
