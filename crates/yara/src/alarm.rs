//! Turning matches into alarms.
//!
//! Severity comes from the rule's metadata: `severity` when it names a level
//! (`informational`, `low`, `medium`, `high`, `critical`), else `score` (the THOR/LOKI
//! 0–100 convention signature-base uses) through [`severity_from_score`], else
//! [`DEFAULT_SEVERITY`].

use crate::{FileScan, YaraMatch};
use riposte_model::{Alarm, AlarmFile, Severity};
use std::fmt::Write;

/// Severity of a match whose rule has neither `severity` nor `score`: Medium.
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;

/// A THOR/LOKI score as a severity: ≥ 90 critical, ≥ 70 high, ≥ 50 medium, ≥ 30 low,
/// below that informational.
pub fn severity_from_score(score: i64) -> Severity {
    match score {
        90.. => Severity::Critical,
        70..=89 => Severity::High,
        50..=69 => Severity::Medium,
        30..=49 => Severity::Low,
        _ => Severity::Informational,
    }
}

impl YaraMatch {
    /// The alarm's severity (see the module documentation).
    pub fn severity(&self) -> Severity {
        self.meta
            .severity
            .or(self.meta.score.map(severity_from_score))
            .unwrap_or(DEFAULT_SEVERITY)
    }
}

impl FileScan {
    /// One alarm per matching rule, naming the rule, its author, the file and its SHA-256.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.matches().iter().map(|m| self.alarm(m)).collect()
    }

    fn alarm(&self, m: &YaraMatch) -> Alarm {
        let file = self.path.display();
        let mut description = String::new();
        if let Some(text) = &m.meta.description {
            let _ = writeln!(description, "{text}");
        }
        let _ = writeln!(
            description,
            "YARA rule {} ({}) matched {file}",
            m.rule, m.namespace
        );
        if let Some(sha256) = &self.sha256 {
            let _ = writeln!(description, "SHA-256 {sha256}, {} bytes", self.size);
        }
        if let Some(author) = &m.meta.author {
            let _ = writeln!(description, "Rule author: {author}");
        }
        if let Some(reference) = &m.meta.reference {
            let _ = writeln!(description, "Reference: {reference}");
        }
        if !m.tags.is_empty() {
            let _ = writeln!(description, "Tags: {}", m.tags.join(", "));
        }
        for s in &m.strings {
            let first = s.hits.first();
            let _ = writeln!(
                description,
                "{} ×{} at {}: {}",
                s.identifier,
                s.total_hits,
                first.map_or(0, |h| h.offset),
                first.map_or("", |h| h.ascii.as_str())
            );
        }
        Alarm {
            detector: "yara".to_string(),
            title: format!("YARA {} in {file}", m.rule),
            description: description.trim_end().to_string(),
            severity: m.severity(),
            mitre: Vec::new(),
            event_refs: Vec::new(),
            rule_id: Some(format!("{}:{}", m.namespace, m.rule)),
            files: vec![AlarmFile {
                path: file.to_string(),
                sha256: self.sha256.clone(),
                matched: m
                    .strings
                    .iter()
                    .filter_map(|s| {
                        let hit = s.hits.first()?;
                        Some(format!("{} at {}: {}", s.identifier, hit.offset, hit.ascii))
                    })
                    .collect(),
            }],
            hunting: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_severities_at_the_documented_bounds() {
        assert_eq!(severity_from_score(100), Severity::Critical);
        assert_eq!(severity_from_score(90), Severity::Critical);
        assert_eq!(severity_from_score(89), Severity::High);
        assert_eq!(severity_from_score(70), Severity::High);
        assert_eq!(severity_from_score(60), Severity::Medium);
        assert_eq!(severity_from_score(40), Severity::Low);
        assert_eq!(severity_from_score(-5), Severity::Informational);
    }
}
