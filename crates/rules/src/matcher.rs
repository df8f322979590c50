//! Evaluating an alert against every rule, with the reason for each outcome.

use crate::pattern::PatternError;
use crate::{FieldProblem, PatternSet};
use riposte_model::{Alert, DetectionRule, RuleFilters, RuleOutcome, Target};
use std::collections::BTreeMap;

/// How an alert arrived, for rules bound to one XDR connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertOrigin<'a> {
    /// The pull connection that fetched it, if any.
    pub connection_id: Option<&'a str>,
}

/// A rule's filters compiled: each pattern list built once into one matcher.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompiledFilters {
    finding_types: Option<PatternSet>,
    titles: Option<PatternSet>,
}

impl CompiledFilters {
    /// Compiles the pattern lists of `filters`, exactly as triage evaluates them. The
    /// error names the field at fault (`filters.titles`, `filters.finding_types[3]`).
    pub(crate) fn new(filters: &RuleFilters) -> Result<Self, FieldProblem> {
        let compile = |field: &str, patterns: &[String]| {
            if patterns.is_empty() {
                return Ok(None);
            }
            PatternSet::new(patterns).map(Some).map_err(|e| {
                let at = match &e {
                    PatternError::Pattern { index, .. } => format!("{field}[{index}]"),
                    PatternError::TooLarge { .. } => field.to_string(),
                };
                FieldProblem::new(at, e.to_string())
            })
        };
        Ok(CompiledFilters {
            finding_types: compile("filters.finding_types", &filters.finding_types)?,
            titles: compile("filters.titles", &filters.titles)?,
        })
    }
}

/// One rule compiled: its patterns built once, or why they cannot be.
#[derive(Debug, Clone)]
struct Compiled {
    rule: DetectionRule,
    /// `Err(why)` for an enabled rule that cannot be compiled: it is skipped.
    filters: Result<CompiledFilters, String>,
}

/// Every rule, compiled and in evaluation order (priority, then name).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Compiled>,
}

/// What one rule says about one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch<'a> {
    /// The rule.
    pub rule: &'a DetectionRule,
    /// [`RuleOutcome::Matched`], [`RuleOutcome::NotMatched`], [`RuleOutcome::Disabled`]
    /// or [`RuleOutcome::Invalid`].
    pub outcome: RuleOutcome,
    /// Why: the first filter that failed, what matched, or why the rule was skipped.
    pub reason: String,
}

impl RuleSet {
    /// Compiles `rules`. A rule that cannot be compiled never takes the others down: it
    /// is kept, listed by [`RuleSet::invalid`] and evaluated as [`RuleOutcome::Invalid`].
    /// Disabled rules are kept (to be reported) but not compiled.
    pub fn new(rules: Vec<DetectionRule>) -> Self {
        let mut compiled: Vec<Compiled> = rules
            .into_iter()
            .map(|rule| {
                let filters = if rule.enabled {
                    CompiledFilters::new(&rule.spec.filters)
                        .map_err(|p| format!("{}: {}", p.field, p.problem))
                } else {
                    Ok(CompiledFilters::default())
                };
                Compiled { rule, filters }
            })
            .collect();
        compiled.sort_by(|a, b| {
            (a.rule.spec.priority, &a.rule.spec.name)
                .cmp(&(b.rule.spec.priority, &b.rule.spec.name))
        });
        RuleSet { rules: compiled }
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The enabled rules that cannot be compiled, with why; they are skipped.
    pub fn invalid(&self) -> impl Iterator<Item = (&DetectionRule, &str)> {
        self.rules
            .iter()
            .filter_map(|c| c.filters.as_ref().err().map(|why| (&c.rule, why.as_str())))
    }

    /// Every rule's outcome for `alert`, in evaluation order.
    pub fn evaluate(&self, alert: &Alert, origin: AlertOrigin<'_>) -> Vec<RuleMatch<'_>> {
        self.rules
            .iter()
            .map(|c| {
                let (outcome, reason) = match &c.filters {
                    _ if !c.rule.enabled => {
                        (RuleOutcome::Disabled, "the rule is disabled".to_string())
                    }
                    Err(why) => (
                        RuleOutcome::Invalid,
                        format!("skipped: the rule cannot be compiled ({why})"),
                    ),
                    Ok(filters) => match c.check(filters, alert, origin, true) {
                        Ok(why) => (RuleOutcome::Matched, why),
                        Err(why) => (RuleOutcome::NotMatched, why),
                    },
                };
                RuleMatch {
                    rule: &c.rule,
                    outcome,
                    reason,
                }
            })
            .collect()
    }

    /// The enabled rules that match `alert`, in evaluation order (no reasons built).
    pub fn matching(&self, alert: &Alert, origin: AlertOrigin<'_>) -> Vec<&DetectionRule> {
        self.rules
            .iter()
            .filter(|c| {
                c.rule.enabled
                    && c.filters
                        .as_ref()
                        .is_ok_and(|f| c.check(f, alert, origin, false).is_ok())
            })
            .map(|c| &c.rule)
            .collect()
    }
}

impl Compiled {
    /// `Ok(what matched)` or `Err(the first filter that failed)`; the texts are built only
    /// when `explain` is set (the match-only path allocates nothing).
    fn check(
        &self,
        compiled: &CompiledFilters,
        alert: &Alert,
        origin: AlertOrigin<'_>,
        explain: bool,
    ) -> Result<String, String> {
        let spec = &self.rule.spec;
        let why = |text: &dyn Fn() -> String| if explain { text() } else { String::new() };
        if !spec.source.covers(alert.source) {
            return Err(why(&|| {
                format!(
                    "source is {}; the rule takes {} alerts",
                    alert.source,
                    spec.source.as_str()
                )
            }));
        }
        if let Some(wanted) = &spec.connection_id
            && origin.connection_id != Some(wanted.as_str())
        {
            return Err(why(&|| match origin.connection_id {
                Some(other) => format!(
                    "the alert came from connection {other}; the rule takes connection {wanted}"
                ),
                None => format!(
                    "the alert was not pulled by a connection; the rule takes connection {wanted}"
                ),
            }));
        }
        let filters = &spec.filters;
        if let Some(min) = filters.min_severity
            && alert.severity < min
        {
            return Err(why(&|| {
                format!(
                    "severity {} is below the rule's minimum {min}",
                    alert.severity
                )
            }));
        }
        if let Some(types) = &compiled.finding_types
            && !types.matches(&alert.finding_type)
        {
            return Err(why(&|| {
                format!(
                    "finding type {:?} matches none of {}",
                    alert.finding_type,
                    types.texts().join(", ")
                )
            }));
        }
        if let Some(titles) = &compiled.titles
            && !titles.matches(&alert.title)
        {
            return Err(why(&|| {
                format!(
                    "title {:?} matches none of {}",
                    alert.title,
                    titles.texts().join(", ")
                )
            }));
        }
        if !filters.tags.is_empty() {
            missing_tag(&alert.target, &filters.tags).map_err(|e| why(&|| e.clone()))?;
        }
        if !explain {
            return Ok(String::new());
        }
        let mut matched = vec![format!("source {}", alert.source)];
        if let Some(p) = compiled
            .finding_types
            .as_ref()
            .and_then(|t| t.first_match(&alert.finding_type))
        {
            matched.push(format!("finding type {} ({p})", alert.finding_type));
        }
        if let Some(p) = compiled
            .titles
            .as_ref()
            .and_then(|t| t.first_match(&alert.title))
        {
            matched.push(format!("title ({p})"));
        }
        if !filters.tags.is_empty() {
            matched.push("tags".into());
        }
        if let Some(min) = filters.min_severity {
            matched.push(format!("severity {} ≥ {min}", alert.severity));
        }
        Ok(format!("matched on {}", matched.join(", ")))
    }
}

/// `Err(reason)` when the target lacks one of `wanted` (a value of `*` asks only for the
/// tag to be present).
pub(crate) fn missing_tag(
    target: &Target,
    wanted: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (key, value) in wanted {
        match target.tags.get(key) {
            None => return Err(format!("the target has no tag {key}")),
            Some(v) if value != "*" && v != value => {
                return Err(format!("the target's tag {key} is {v:?}, not {value:?}"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
