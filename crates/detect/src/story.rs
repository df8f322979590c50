//! The story of an investigation drawn from a stream of events: the correlation with the
//! alert is computed as events pass, the events the causality chains may walk through
//! (process creations and exits, logons, connections, downloads) are kept without their
//! raw record, and the alarms' own events are fetched by id at the end. The chains and
//! the scope are then computed over that small timeline, exactly as over the whole one.
//!
//! Memory: chain events up to [`crate::Limits::story_bytes`] (beyond, the later ones are
//! left out of the chains and a warning is logged), `2 × max_events` correlation
//! candidates, and the alarms' events.

use crate::correlate::Correlator;
use crate::engine::{Batch, footprint, without_raw};
use crate::{CorrelationConfig, chain};
use riposte_model::{Alarm, Alert, Correlation, Event, InvestigationStory};
use std::collections::HashMap;

/// Sort key of an event in a timeline: its time (untimed last), then its id.
fn timeline_key(id: u64, e: &Event) -> (i64, u64) {
    (e.time.map_or(i64::MAX, |t| t.timestamp_micros()), id)
}

/// Builds an investigation's story while its events stream past.
pub struct StoryBuilder {
    correlator: Option<Correlator>,
    chain_events: Vec<(u64, Event)>,
    chain_bytes: usize,
    max_chain_bytes: usize,
    left_out: u64,
}

impl StoryBuilder {
    /// A builder for `alert`'s investigation (without alert, no correlation), keeping
    /// about `max_chain_bytes` of events for the chains.
    pub fn new(alert: Option<&Alert>, config: &CorrelationConfig, max_chain_bytes: usize) -> Self {
        StoryBuilder {
            correlator: alert.map(|a| Correlator::new(a, config)),
            chain_events: Vec::new(),
            chain_bytes: 0,
            max_chain_bytes,
            left_out: 0,
        }
    }

    /// The next events, in timeline order.
    pub fn observe(&mut self, batch: Batch<'_>) {
        for (id, e) in batch.iter() {
            if let Some(c) = &mut self.correlator {
                c.observe(id, e);
            }
            if chain::index::relevant(e) {
                // Kept without its raw record: sized, and copied only when it fits.
                let size = footprint(e);
                if self.chain_bytes + size <= self.max_chain_bytes {
                    self.chain_bytes += size;
                    self.chain_events.push((id, without_raw(e)));
                } else {
                    self.left_out += 1;
                }
            }
        }
    }

    /// The story of `alarms` (references are stored ids); `fetch` reads the events of
    /// the given ids that the builder did not keep (the alarms' own).
    pub fn finish<E>(
        self,
        alarms: &[Alarm],
        fetch: impl FnOnce(&[u64]) -> Result<Vec<(u64, Event)>, E>,
    ) -> Result<InvestigationStory, E> {
        if self.left_out > 0 {
            tracing::warn!(
                kept = self.chain_events.len(),
                left_out = self.left_out,
                "too many process, logon and connection events: the last ones are left out of the causality chains"
            );
        }
        let (correlation, correlated) = match self.correlator {
            Some(c) => {
                let (correlation, events) = c.finish();
                (Some(correlation), events)
            }
            None => (None, Vec::new()),
        };
        let mut events: Vec<(u64, Event)> = self.chain_events;
        events.extend(correlated);
        let held: std::collections::HashSet<u64> = events.iter().map(|(id, _)| *id).collect();
        let mut missing: Vec<u64> = alarms
            .iter()
            .flat_map(|a| a.event_refs.iter().copied())
            .filter(|id| !held.contains(id))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            events.extend(fetch(&missing)?);
        }
        // One copy of each event, in timeline order.
        events.sort_by_key(|(id, e)| timeline_key(*id, e));
        events.dedup_by_key(|(id, _)| *id);
        let (ids, events): (Vec<u64>, Vec<Event>) = events.into_iter().unzip();
        Ok(story_over(alarms, correlation, &ids, &events))
    }
}

/// The story over a partial timeline: `events` (in timeline order) have the ids `ids`;
/// alarms and the correlation reference ids.
fn story_over(
    alarms: &[Alarm],
    correlation: Option<Correlation>,
    ids: &[u64],
    events: &[Event],
) -> InvestigationStory {
    let position: HashMap<u64, u64> = ids
        .iter()
        .enumerate()
        .map(|(pos, &id)| (id, pos as u64))
        .collect();
    let to_position = |id: u64| position.get(&id).copied();
    let to_id = |pos: u64| usize::try_from(pos).ok().and_then(|p| ids.get(p)).copied();
    let local_alarms: Vec<Alarm> = alarms
        .iter()
        .map(|a| Alarm {
            event_refs: a
                .event_refs
                .iter()
                .filter_map(|&r| to_position(r))
                .collect(),
            ..a.clone()
        })
        .collect();
    let local_correlation = correlation.as_ref().map(|c| Correlation {
        events: c
            .events
            .iter()
            .filter_map(|e| {
                Some(riposte_model::CorrelatedEvent {
                    event: to_position(e.event)?,
                    ..e.clone()
                })
            })
            .collect(),
        ..c.clone()
    });
    let mut chains = crate::chains(&local_alarms, events);
    let empty = Correlation::default();
    let scope = crate::scope(
        &local_alarms,
        events,
        &chains,
        local_correlation.as_ref().unwrap_or(&empty),
    );
    for chain in &mut chains {
        let map = |e: &mut Option<u64>| *e = e.and_then(to_id);
        chain.links.iter_mut().for_each(|l| map(&mut l.event));
        map(&mut chain.origin.event);
        chain.context.iter_mut().for_each(|c| map(&mut c.event));
    }
    InvestigationStory {
        correlation,
        chains,
        scope,
    }
}
