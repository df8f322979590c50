//! A rule's matches as one alarm.

use super::SigmaRule;
use crate::shorten;
use riposte_model::Alarm;

/// Events listed in one alarm; the description gives the full count.
pub const MAX_EVENT_REFS: usize = 200;

/// One alarm for `rule` over `count` matching events, the first of which (at most
/// [`MAX_EVENT_REFS`]) are `refs`.
pub fn alarm(rule: &SigmaRule, refs: Vec<u64>, count: u64) -> Alarm {
    let listed = refs.len();
    let mut description = format!(
        "Sigma rule {} ({}) matched {} event{}",
        rule.id.as_deref().unwrap_or("without id"),
        rule.file.display(),
        count,
        if count == 1 { "" } else { "s" },
    );
    if (listed as u64) < count {
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
        event_refs: refs,
        rule_id: Some(rule_name),
        files: Vec::new(),
        hunting: rule.hunting,
    }
}
