//! A rule's matches as one alarm.

use super::SigmaRule;
use crate::shorten;
use riposte_model::Alarm;

/// Events listed in one alarm; the description gives the full count.
pub const MAX_EVENT_REFS: usize = 200;

/// One alarm for `rule` over the events at `positions` (sorted), listing at most
/// [`MAX_EVENT_REFS`] of them.
pub fn alarm(rule: &SigmaRule, positions: &[usize]) -> Alarm {
    let listed = positions.len().min(MAX_EVENT_REFS);
    let mut description = format!(
        "Sigma rule {} ({}) matched {} event{}",
        rule.id.as_deref().unwrap_or("without id"),
        rule.file.display(),
        positions.len(),
        if positions.len() == 1 { "" } else { "s" },
    );
    if listed < positions.len() {
        description.push_str(&format!(" (the first {listed} listed)"));
    }
    if let Some(about) = rule.description.as_deref().filter(|d| !d.trim().is_empty()) {
        description.push_str(". ");
        description.push_str(about.trim());
    }
    // One detector name per rule: the verdict counts repeats of one detector once, and
    // two different rules firing are two findings.
    let rule_name = rule.id.clone().unwrap_or_else(|| {
        rule.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| rule.title.clone())
    });
    Alarm {
        detector: format!("sigma:{rule_name}"),
        // (the rule id is also `rule_id`)
        title: shorten(&rule.title, 160),
        description,
        severity: rule.severity,
        mitre: rule.mitre.clone(),
        event_refs: positions[..listed].iter().map(|&p| p as u64).collect(),
        rule_id: Some(rule_name),
        files: Vec::new(),
    }
}
