//! Sigma correlation rules (`event_count`, `value_count`, `temporal`, `temporal_ordered`)
//! over the matches of the rules they reference, as the events stream in timeline order.
//!
//! State is bounded: per correlation, at most [`MAX_GROUPS`] `group-by` groups (expired
//! ones go first, then the least recently hit) and at most [`MAX_WINDOW`] matches per
//! group's sliding window. A correlation that fires empties its group's window, so one
//! burst is one firing; each firing's events are listed in the alarm (at most
//! [`super::alarm::MAX_EVENT_REFS`]). The referenced rules' own alarms are kept only when
//! the correlation says `generate: true`, as the Sigma specification asks.

use super::{SigmaRule, Unsupported, UnsupportedReason};
use crate::shorten;
use riposte_model::{Alarm, Event, MitreTechnique, Severity};
use rsigma_parser::{ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

/// Most groups one correlation keeps.
pub const MAX_GROUPS: usize = 10_000;
/// Most matches one group's window keeps.
pub const MAX_WINDOW: usize = 10_000;

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorrelationKind {
    /// Matches in the window.
    EventCount,
    /// Different values of a field in the window.
    ValueCount(String),
    /// Every referenced rule matched in the window, in any order.
    Temporal,
    /// Every referenced rule matched in the window, in the order listed.
    TemporalOrdered,
}

/// A loaded correlation rule, its references resolved to rules of the set.
#[derive(Debug, Clone)]
pub struct SigmaCorrelation {
    /// Its title.
    pub title: String,
    /// Its id, or name.
    pub id: Option<String>,
    /// Its level as a severity.
    pub severity: Severity,
    /// ATT&CK from its tags.
    pub mitre: Vec<MitreTechnique>,
    /// Its description.
    pub description: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// What it counts.
    pub kind: CorrelationKind,
    /// The referenced rules (positions in the set), in the order listed.
    pub rules: Vec<usize>,
    /// Fields whose values group the matches.
    pub group_by: Vec<String>,
    /// The window, in seconds.
    pub timespan: i64,
    /// For counts: every (operator, value) must hold.
    pub predicates: Vec<(ConditionOperator, u64)>,
    /// Whether the referenced rules keep their own alarms.
    pub generate: bool,
    /// A hunting-tier correlation (tagged `detection.threat-hunting`).
    pub hunting: bool,
}

/// Resolves parsed correlations against the loaded rules (by id or name); what cannot be
/// run is reported with its reason.
pub(super) fn resolve(
    parsed: Vec<(PathBuf, CorrelationRule)>,
    rules: &[SigmaRule],
    unsupported: &mut Vec<Unsupported>,
) -> Vec<SigmaCorrelation> {
    let mut out = Vec::new();
    for (file, c) in parsed {
        let mut leave_out = |why: String| {
            unsupported.push(Unsupported {
                file: file.clone(),
                title: Some(c.title.clone()),
                reason: UnsupportedReason::Correlation(why),
            })
        };
        let (predicates, field) = match &c.condition {
            CorrelationCondition::Threshold {
                predicates, field, ..
            } => (
                predicates.clone(),
                field.as_ref().and_then(|f| f.first().cloned()),
            ),
            CorrelationCondition::Extended(_) => {
                leave_out("extended (boolean) conditions are not evaluated".into());
                continue;
            }
        };
        let kind = match c.correlation_type {
            CorrelationType::EventCount => CorrelationKind::EventCount,
            CorrelationType::ValueCount => match field {
                Some(f) => CorrelationKind::ValueCount(f),
                None => {
                    leave_out("value_count without a condition field".into());
                    continue;
                }
            },
            CorrelationType::Temporal => CorrelationKind::Temporal,
            CorrelationType::TemporalOrdered => CorrelationKind::TemporalOrdered,
            other => {
                leave_out(format!("{} correlations are not evaluated", other.as_str()));
                continue;
            }
        };
        let mut referenced = Vec::new();
        let mut missing = Vec::new();
        for reference in &c.rules {
            match rules.iter().position(|r| {
                r.id.as_deref() == Some(reference) || r.name.as_deref() == Some(reference)
            }) {
                Some(i) => referenced.push(i),
                None => missing.push(reference.clone()),
            }
        }
        if !missing.is_empty() || referenced.is_empty() {
            leave_out(format!(
                "references rules not in the set: {}",
                missing.join(", ")
            ));
            continue;
        }
        if c.timespan.seconds == 0 {
            leave_out("a zero timespan".into());
            continue;
        }
        out.push(SigmaCorrelation {
            title: c.title.clone(),
            id: c.id.clone().or(c.name.clone()),
            severity: super::load::severity(c.level),
            mitre: super::mitre::mitre_from_tags(&c.tags),
            description: c.description.clone(),
            file,
            kind,
            rules: referenced,
            group_by: c.group_by.clone(),
            timespan: i64::try_from(c.timespan.seconds).unwrap_or(i64::MAX / 4),
            predicates,
            generate: c.generate,
            hunting: c
                .tags
                .iter()
                .any(|t| t.eq_ignore_ascii_case(super::load::HUNTING_TAG)),
        });
    }
    out
}

/// Whether `n` satisfies every predicate.
fn holds(predicates: &[(ConditionOperator, u64)], n: u64) -> bool {
    predicates.iter().all(|(op, v)| match op {
        ConditionOperator::Lt => n < *v,
        ConditionOperator::Lte => n <= *v,
        ConditionOperator::Gt => n > *v,
        ConditionOperator::Gte => n >= *v,
        ConditionOperator::Eq => n == *v,
        ConditionOperator::Neq => n != *v,
    })
}

/// One match in a window.
#[derive(Debug, Clone)]
struct Hit {
    time: i64,
    seq: u64,
    rule: usize,
    value: Option<String>,
}

/// The correlations' state over one timeline.
#[derive(Default)]
pub(super) struct CorrelationPass {
    /// Correlations by referenced rule.
    by_rule: HashMap<usize, Vec<usize>>,
    windows: Vec<HashMap<Vec<String>, VecDeque<Hit>>>,
    fired: HashMap<usize, (u64, Vec<u64>)>,
}

impl CorrelationPass {
    pub(super) fn new(correlations: &[SigmaCorrelation]) -> Self {
        let mut by_rule: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, c) in correlations.iter().enumerate() {
            for &r in &c.rules {
                by_rule.entry(r).or_default().push(i);
            }
        }
        CorrelationPass {
            by_rule,
            windows: vec![HashMap::new(); correlations.len()],
            fired: HashMap::new(),
        }
    }

    /// A match of `rule` on `event` (stored id `seq`), in timeline order.
    pub(super) fn observe(
        &mut self,
        correlations: &[SigmaCorrelation],
        rule: usize,
        event: &Event,
        seq: u64,
    ) {
        let Some(list) = self.by_rule.get(&rule) else {
            return;
        };
        let Some(time) = event.time.map(|t| t.timestamp()) else {
            return;
        };
        for &ci in list {
            let c = &correlations[ci];
            let key: Vec<String> = c
                .group_by
                .iter()
                .map(|f| event.attr(f).unwrap_or_default().to_string())
                .collect();
            let windows = &mut self.windows[ci];
            if !windows.contains_key(&key) && windows.len() >= MAX_GROUPS {
                windows.retain(|_, w| w.back().is_some_and(|h| time - h.time <= c.timespan));
                if windows.len() >= MAX_GROUPS
                    && let Some(oldest) = windows
                        .iter()
                        .min_by_key(|(_, w)| w.back().map_or(i64::MIN, |h| h.time))
                        .map(|(k, _)| k.clone())
                {
                    windows.remove(&oldest);
                }
            }
            let window = windows.entry(key).or_default();
            let value = match &c.kind {
                CorrelationKind::ValueCount(field) => event.attr(field).map(str::to_string),
                _ => None,
            };
            window.push_back(Hit {
                time,
                seq,
                rule,
                value,
            });
            while window.front().is_some_and(|h| time - h.time > c.timespan)
                || window.len() > MAX_WINDOW
            {
                window.pop_front();
            }
            let met = match &c.kind {
                CorrelationKind::EventCount => holds(&c.predicates, window.len() as u64),
                CorrelationKind::ValueCount(_) => {
                    let distinct: HashSet<&str> =
                        window.iter().filter_map(|h| h.value.as_deref()).collect();
                    holds(&c.predicates, distinct.len() as u64)
                }
                CorrelationKind::Temporal => {
                    let seen: HashSet<usize> = window.iter().map(|h| h.rule).collect();
                    c.rules.iter().all(|r| seen.contains(r))
                }
                CorrelationKind::TemporalOrdered => {
                    let mut wanted = c.rules.iter().peekable();
                    for h in window.iter() {
                        if wanted.peek() == Some(&&h.rule) {
                            wanted.next();
                        }
                    }
                    wanted.peek().is_none()
                }
            };
            if met {
                let (count, refs) = self.fired.entry(ci).or_default();
                *count += 1;
                for h in window.drain(..) {
                    if refs.len() < super::alarm::MAX_EVENT_REFS {
                        refs.push(h.seq);
                    }
                }
            }
        }
    }

    /// One alarm per correlation that fired.
    pub(super) fn finish(self, correlations: &[SigmaCorrelation]) -> Vec<Alarm> {
        let mut fired: Vec<(usize, (u64, Vec<u64>))> = self.fired.into_iter().collect();
        fired.sort_by_key(|(i, _)| *i);
        fired
            .into_iter()
            .map(|(i, (count, refs))| {
                let c = &correlations[i];
                let name = c.id.clone().unwrap_or_else(|| c.title.clone());
                let mut description = format!(
                    "Sigma correlation {name} ({}) fired {count} time{} over {} event{} (window {} s{})",
                    c.file.display(),
                    if count == 1 { "" } else { "s" },
                    refs.len(),
                    if refs.len() == 1 { "" } else { "s" },
                    c.timespan,
                    if c.group_by.is_empty() {
                        String::new()
                    } else {
                        format!(", grouped by {}", c.group_by.join(", "))
                    }
                );
                if let Some(about) = c.description.as_deref().filter(|d| !d.trim().is_empty()) {
                    description.push_str(". ");
                    description.push_str(about.trim());
                }
                Alarm {
                    detector: format!("sigma:{name}"),
                    title: shorten(&c.title, 160),
                    description,
                    severity: c.severity,
                    mitre: c.mitre.clone(),
                    event_refs: refs,
                    rule_id: Some(name),
                    files: Vec::new(),
                    hunting: c.hunting,
                }
            })
            .collect()
    }
}
