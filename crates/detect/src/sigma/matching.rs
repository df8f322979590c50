//! Running a rule set over events: one rsigma-eval engine per (event class, field map),
//! built the first time an event of that class is seen and kept, events matched in
//! parallel with rayon.

use super::fields::{MappedEvent, Prepared};
use super::logsource::{EventClass, FieldMap};
use super::{SigmaRules, alarm};
use crate::engine::{Batch, Pass, StreamDetector};
use rayon::prelude::*;
use riposte_model::{Alarm, Event};
use rsigma_eval::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The custom attribute carrying a rule's position in the set through the engine.
const RULE_INDEX: &str = "riposte.rule_index";

/// The engines for one event class: one per field map its rules use.
type ClassEngines = Vec<(FieldMap, Engine)>;

/// The Sigma detector: a loaded rule set, matched over an investigation's events.
pub struct Sigma {
    rules: Arc<SigmaRules>,
    engines: Mutex<HashMap<EventClass, Arc<ClassEngines>>>,
}

impl Sigma {
    /// A detector running `rules`.
    pub fn new(rules: impl Into<Arc<SigmaRules>>) -> Sigma {
        Sigma {
            rules: rules.into(),
            engines: Mutex::new(HashMap::new()),
        }
    }

    /// The rule set it runs.
    pub fn rules(&self) -> &SigmaRules {
        &self.rules
    }

    /// `(rule index, event position)` for every match, in event order.
    pub fn matches(&self, events: &[Event]) -> Vec<(usize, usize)> {
        let classes: Vec<Option<EventClass>> = events.par_iter().map(EventClass::of).collect();
        let mut engines: HashMap<&EventClass, Arc<ClassEngines>> = HashMap::new();
        for class in classes.iter().flatten() {
            if !engines.contains_key(class) {
                engines.insert(class, self.engines_for(class));
            }
        }
        events
            .par_iter()
            .zip(classes.par_iter())
            .enumerate()
            .flat_map_iter(|(position, (event, class))| {
                let mut hits = Vec::new();
                if let Some(class_engines) = class.as_ref().and_then(|c| engines.get(c)) {
                    let prepared = class
                        .as_ref()
                        .map(|c| Prepared::of(event, c.product))
                        .unwrap_or_default();
                    for (map, engine) in class_engines.iter() {
                        let view = MappedEvent::new(event, *map, &prepared);
                        for result in engine.evaluate(&view) {
                            if let Some(rule) = result
                                .header
                                .custom_attributes
                                .get(RULE_INDEX)
                                .and_then(Value::as_u64)
                            {
                                hits.push((rule as usize, position));
                            }
                        }
                    }
                }
                hits
            })
            .collect()
    }

    /// The engines for `class`, built on first use.
    fn engines_for(&self, class: &EventClass) -> Arc<ClassEngines> {
        if let Some(found) = self
            .engines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(class)
        {
            return found.clone();
        }
        let built = Arc::new(self.build(class));
        self.engines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(class.clone())
            .or_insert(built)
            .clone()
    }

    fn build(&self, class: &EventClass) -> ClassEngines {
        let mut by_map: BTreeMap<FieldMap, Vec<rsigma_eval::CompiledRule>> = BTreeMap::new();
        for (index, rule) in self.rules.rules.iter().enumerate() {
            if !rule.scope.applies_to(class) {
                continue;
            }
            let mut compiled = rule.compiled.clone();
            Arc::make_mut(&mut compiled.custom_attributes)
                .insert(RULE_INDEX.to_string(), Value::from(index));
            by_map
                .entry(rule.scope.field_map(class))
                .or_default()
                .push(compiled);
        }
        tracing::debug!(
            ?class,
            rules = by_map.values().map(Vec::len).sum::<usize>(),
            "Sigma engines built"
        );
        by_map
            .into_iter()
            .map(|(map, rules)| {
                let mut engine = Engine::new();
                engine.extend_compiled_rules(rules);
                (map, engine)
            })
            .collect()
    }
}

impl StreamDetector for Sigma {
    fn name(&self) -> &'static str {
        "sigma"
    }

    fn start(&self) -> Box<dyn Pass + '_> {
        Box::new(SigmaPass {
            sigma: self,
            by_rule: BTreeMap::new(),
            correlations: super::correlate::CorrelationPass::new(&self.rules.correlations),
        })
    }
}

/// One pass of the rule set: per rule, how many events matched and the first ones.
struct SigmaPass<'s> {
    sigma: &'s Sigma,
    by_rule: BTreeMap<usize, (u64, Vec<u64>)>,
    correlations: super::correlate::CorrelationPass,
}

impl Pass for SigmaPass<'_> {
    fn observe(&mut self, batch: Batch<'_>) {
        // Matches come in event order, as the correlations need them.
        for (rule, position) in self.sigma.matches(batch.events) {
            let (count, refs) = self.by_rule.entry(rule).or_default();
            *count += 1;
            if refs.len() < alarm::MAX_EVENT_REFS {
                refs.push(batch.ids[position]);
            }
            self.correlations.observe(
                &self.sigma.rules.correlations,
                rule,
                &batch.events[position],
                batch.ids[position],
            );
        }
    }

    fn finish(self: Box<Self>) -> Vec<Alarm> {
        let set = &self.sigma.rules;
        // Rules a correlation references raise no alarm of their own unless it says
        // `generate: true` (the Sigma specification's default).
        let quiet: std::collections::HashSet<usize> = set
            .correlations
            .iter()
            .filter(|c| !c.generate)
            .flat_map(|c| c.rules.iter().copied())
            .collect();
        let loud: std::collections::HashSet<usize> = set
            .correlations
            .iter()
            .filter(|c| c.generate)
            .flat_map(|c| c.rules.iter().copied())
            .collect();
        let mut alarms: Vec<Alarm> = self
            .by_rule
            .into_iter()
            .filter(|(index, _)| !quiet.contains(index) || loud.contains(index))
            .filter_map(|(index, (count, refs))| {
                Some(alarm::alarm(set.rules.get(index)?, refs, count))
            })
            .collect();
        alarms.extend(self.correlations.finish(&set.correlations));
        alarms
    }
}
