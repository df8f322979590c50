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
use std::str::FromStr;

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
    /// A deprecated `condition: … | count() by …` aggregation; correlation rules replace
    /// it (Hayabusa ships each such rule with its correlation twin).
    Aggregation(String),
    /// A line of a `level_tuning.txt` that cannot be applied.
    LevelTuning(String),
    /// An informational Hayabusa rule (`ruletype: Hayabusa`): it labels every event of
    /// its kind (each logon, each process start) for Hayabusa's timeline; as alarms they
    /// would bury the findings, and they carry no weight in a verdict.
    TimelineLabel,
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
            UnsupportedReason::Aggregation(_) => "deprecated aggregation",
            UnsupportedReason::LevelTuning(_) => "level tuning",
            UnsupportedReason::TimelineLabel => "timeline label",
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
            UnsupportedReason::Aggregation(condition) => write!(
                f,
                "deprecated aggregation `{condition}`: not run; write it as a correlation rule"
            ),
            UnsupportedReason::LevelTuning(why) => write!(f, "level tuning: {why}"),
            UnsupportedReason::TimelineLabel => f.write_str(
                "informational Hayabusa rule: it labels every event of its kind for a timeline; not an alarm",
            ),
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
    /// Rules whose level a `level_tuning.txt` changed.
    pub tuned: usize,
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
            "{} rules loaded from {} files ({} correlations, {} levels tuned); {} left out",
            self.loaded,
            self.files,
            self.correlations,
            self.tuned,
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

/// The file, at the top of a rule directory, that changes rules' levels: Hayabusa's
/// format, a header `id,new_level` then one `rule id,level` per line, `#` comments.
pub const LEVEL_TUNING_FILE: &str = "level_tuning.txt";

/// The levels `dir/level_tuning.txt` sets, by rule id (none when there is no such file);
/// lines that cannot be used are reported.
pub(super) fn level_tuning(
    dir: &Path,
    unsupported: &mut Vec<Unsupported>,
) -> Vec<(String, Severity)> {
    let file = dir.join(LEVEL_TUNING_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            unsupported.push(Unsupported {
                file,
                title: None,
                reason: UnsupportedReason::Unreadable(e.to_string()),
            });
            return Vec::new();
        }
    };
    let mut levels = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() || (number == 0 && line.replace(' ', "") == "id,new_level") {
            continue;
        }
        let parsed = line.split_once(',').and_then(|(id, level)| {
            let level = Level::from_str(level.trim()).ok()?;
            Some((id.trim().to_string(), severity(Some(level))))
        });
        match parsed {
            Some(tuned) if !tuned.0.is_empty() => levels.push(tuned),
            _ => unsupported.push(Unsupported {
                file: file.clone(),
                title: None,
                reason: UnsupportedReason::LevelTuning(format!(
                    "line {}: expected `rule id,level` (informational, low, medium, high, critical), got {line:?}",
                    number + 1
                )),
            }),
        }
    }
    levels
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
        let reason = match deprecated_aggregation(text) {
            Some(condition) if error.contains("Condition parse error") => {
                UnsupportedReason::Aggregation(condition)
            }
            _ => UnsupportedReason::Parse(error.clone()),
        };
        leave_out(None, reason);
    }
    for correlation in &collection.correlations {
        correlations.push((file.to_path_buf(), correlation.clone()));
    }
    for filter in &collection.filters {
        leave_out(Some(filter.title.clone()), UnsupportedReason::Filter);
    }
    for rule in &collection.rules {
        let title = Some(rule.title.clone());
        if is_timeline_label(rule) {
            leave_out(title, UnsupportedReason::TimelineLabel);
            continue;
        }
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
                .any(|t| t.to_string().eq_ignore_ascii_case(HUNTING_TAG))
                || echoes_sysmon_tag(&rule.detection),
            compiled,
        });
    }
    (rules, correlations, unsupported)
}

/// The tag SigmaHQ gives its threat-hunting rules (`rules-threat-hunting/`): leads worth a
/// look, too noisy to be findings on their own.
pub const HUNTING_TAG: &str = "detection.threat-hunting";

/// An informational rule of Hayabusa's own (`ruletype: Hayabusa`, `level: informational`).
fn is_timeline_label(rule: &rsigma_parser::SigmaRule) -> bool {
    let hayabusa = rule
        .custom_attributes
        .get("ruletype")
        .and_then(|v| v.as_str())
        .is_some_and(|t| t.eq_ignore_ascii_case("hayabusa"));
    hayabusa && matches!(rule.level, Some(Level::Informational) | None)
}

/// The Sysmon field that carries the name of the host's own Sysmon configuration rule that
/// tagged an event.
const SYSMON_RULE_NAME: &str = "RuleName";

/// Whether a rule fires only on events the host's Sysmon configuration tagged (a
/// `RuleName`): it selects a non-empty `RuleName`, or excludes the empty ones (`''`, `-`)
/// with `not`. Its hits then say what the configuration tagged, not what the rule itself
/// recognises: Hayabusa's "… (Sysmon Alert)" rules fire on every tagged event, by the
/// hundred on ordinary systems. Such rules join the hunting tier: shown, not counted
/// toward the verdict. Rules that keep the *untagged* events (Hayabusa's "Proc Injection")
/// judge the event itself and stay as they are.
fn echoes_sysmon_tag(detections: &rsigma_parser::Detections) -> bool {
    use rsigma_parser::{Detection, SigmaValue};
    /// `Some(true)`: selects tagged events; `Some(false)`: selects untagged events.
    fn selects(detection: &Detection) -> Option<bool> {
        match detection {
            Detection::AllOf(items) => items
                .iter()
                .filter(|i| i.field.name.as_deref() == Some(SYSMON_RULE_NAME))
                .map(|i| {
                    !i.values.iter().all(|v| match v {
                        SigmaValue::String(s) => matches!(s.original.trim(), "" | "-"),
                        SigmaValue::Null => true,
                        _ => false,
                    })
                })
                .reduce(|a, b| a || b),
            Detection::AnyOf(parts) | Detection::And(parts) => {
                parts.iter().filter_map(selects).reduce(|a, b| a || b)
            }
            Detection::ArrayMatch { body, .. } => selects(body),
            Detection::Conditional { named, .. } => {
                named.values().filter_map(selects).reduce(|a, b| a || b)
            }
            Detection::Keywords(_) => None,
        }
    }
    let negated = |name: &str| {
        detections.condition_strings.iter().any(|condition| {
            let words: Vec<&str> = condition
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|w| !w.is_empty())
                .collect();
            words.windows(2).enumerate().any(|(i, pair)| {
                let target = match pair {
                    ["not", "1" | "all"] => words.get(i + 3).copied(),
                    ["not", name] => Some(*name),
                    _ => None,
                };
                target.is_some_and(|pattern| glob_matches(pattern, name))
            })
        })
    };
    detections
        .named
        .iter()
        .any(|(name, detection)| match selects(detection) {
            Some(true) => !negated(name),
            Some(false) => negated(name),
            None => false,
        })
}

/// A condition's identifier pattern (`filter*`, `them`) against a detection name.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name || pattern == "them",
    }
}

/// The `condition` of a deprecated aggregation rule (`selection | count() by X > 3`), if
/// the text holds one.
fn deprecated_aggregation(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let condition = line.trim().strip_prefix("condition:")?.trim();
        let (_, aggregation) = condition.split_once('|')?;
        let function = aggregation.trim_start();
        ["count(", "min(", "max(", "avg(", "sum("]
            .iter()
            .any(|f| function.starts_with(f))
            .then(|| condition.trim_matches(['\'', '"']).to_string())
    })
}

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
