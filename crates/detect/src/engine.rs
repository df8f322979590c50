//! The streaming detection engine: an investigation's events flow through it once, in
//! timeline order, a batch at a time, each with its stored id; memory stays bounded
//! whatever the number of events.
//!
//! - Rule-set detectors ([`StreamDetector`]: Sigma, IOCs) judge each event as it passes,
//!   the events of a batch in parallel, and keep per rule a count and the first
//!   references.
//! - The hand-written heuristics ([`Detector`]) keep the events they [`Detector::wants`]
//!   (without their raw record) in one shared window; when the window reaches its budget
//!   ([`Limits::window_bytes`]) or the stream ends, every heuristic runs over it (in
//!   parallel) and the next window starts with the last eighth of this one (so a burst
//!   cut by the boundary is still seen whole). A finding seen in more than one window
//!   raises one alarm per window, merged into one (same detector, rule and title):
//!   new references are appended up to [`MAX_MERGED_REFS`], the description is the first
//!   window's. On an ordinary host the candidates of every heuristic (command lines, SSH
//!   logons, connections to mining pools or the metadata service, …) fit one window, and
//!   the alarms are those of a pass over the whole timeline.
//!
//! Alarms reference events by their stored id (the `ids` of [`Batch`]).

use crate::{Detector, detectors};
use rayon::prelude::*;
use riposte_model::{Alarm, Event};

/// Most references of an alarm merged from several windows.
pub const MAX_MERGED_REFS: usize = 200;

/// Events flowing through the engine: `events[i]` has the stored id `ids[i]`.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// Stored ids, one per event.
    pub ids: &'a [u64],
    /// The events, in timeline order.
    pub events: &'a [Event],
}

impl<'a> Batch<'a> {
    /// A batch; `ids` and `events` have the same length.
    pub fn new(ids: &'a [u64], events: &'a [Event]) -> Self {
        debug_assert_eq!(ids.len(), events.len());
        Batch { ids, events }
    }

    /// `(id, event)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &'a Event)> + 'a {
        self.ids.iter().copied().zip(self.events.iter())
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when it holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// A detector that judges events as they pass (rule sets), so it never holds them.
pub trait StreamDetector: Send + Sync {
    /// Short stable name (e.g. `sigma`).
    fn name(&self) -> &'static str;
    /// A new pass over one timeline.
    fn start(&self) -> Box<dyn Pass + '_>;
    /// One pass over `events` (in timeline order), references being positions in it.
    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut pass = self.start();
        let ids: Vec<u64> = (0..events.len() as u64).collect();
        pass.observe(Batch::new(&ids, events));
        pass.finish()
    }
}

/// One detector's state during one pass.
pub trait Pass: Send {
    /// The next events, in timeline order.
    fn observe(&mut self, batch: Batch<'_>);
    /// The alarms, once every event has been seen; references are stored ids.
    fn finish(self: Box<Self>) -> Vec<Alarm>;
}

/// The engine's memory bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Approximate bytes of the heuristics' shared window of candidate events.
    pub window_bytes: usize,
    /// Approximate bytes of the events the story keeps for the causality chains (process
    /// creations, logons, connections, downloads, without their raw record).
    pub story_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::for_budget(1 << 30)
    }
}

impl Limits {
    /// Bounds fitting a memory budget of `bytes` for the whole detection: a fifth of it
    /// for the heuristics' window (at least 1 MiB), a fifth for the story's chain events.
    pub fn for_budget(bytes: usize) -> Self {
        Limits {
            window_bytes: (bytes / 5).max(1 << 20),
            story_bytes: (bytes / 5).max(1 << 20),
        }
    }
}

/// What an event held without its raw record (as the window and the story hold them)
/// costs, roughly: its strings, each attribute's two allocations and its share of the
/// map's nodes (an EVTX event with ~30 attributes comes to about 5 KiB).
pub fn footprint(e: &Event) -> usize {
    let attributes: usize = e
        .attributes
        .iter()
        .map(|(k, v)| k.len() + v.len() + 128)
        .sum();
    std::mem::size_of::<Event>()
        + 128
        + e.host.len()
        + e.message.len()
        + e.origin.parser.len()
        + e.origin.path.len()
        + attributes
}

/// `e` without its raw record (no heuristic reads it).
pub(crate) fn without_raw(e: &Event) -> Event {
    Event {
        time: e.time,
        host: e.host.clone(),
        entity: e.entity,
        action: e.action,
        attributes: e.attributes.clone(),
        message: e.message.clone(),
        origin: e.origin.clone(),
        raw: String::new(),
    }
}

/// The heuristics' shared window and the alarms of the windows already run; heuristics
/// that stream on their own run their pass instead.
struct Window {
    /// Per heuristic (registry order), its own pass when it streams.
    streaming: Vec<Option<Box<dyn Pass>>>,
    /// The heuristics that run over the window, with their registry position.
    windowed: Vec<(usize, &'static dyn Detector)>,
    limits: Limits,
    ids: Vec<u64>,
    events: Vec<Event>,
    bytes: usize,
    /// Per heuristic (registry order), its alarms so far.
    alarms: Vec<Vec<Alarm>>,
    windows: usize,
    /// Events added since the last run.
    fresh: usize,
}

impl Window {
    fn new(limits: Limits) -> Self {
        let heuristics = detectors();
        let streaming: Vec<Option<Box<dyn Pass>>> = heuristics.iter().map(|h| h.stream()).collect();
        let windowed = heuristics
            .iter()
            .zip(&streaming)
            .enumerate()
            .filter(|(_, (_, pass))| pass.is_none())
            .map(|(i, (h, _))| (i, *h))
            .collect();
        Window {
            streaming,
            windowed,
            limits,
            ids: Vec::new(),
            events: Vec::new(),
            bytes: 0,
            alarms: vec![Vec::new(); heuristics.len()],
            windows: 0,
            fresh: 0,
        }
    }

    fn observe(&mut self, batch: Batch<'_>) {
        for pass in self.streaming.iter_mut().flatten() {
            pass.observe(batch);
        }
        let windowed = &self.windowed;
        let wanted: Vec<bool> = batch
            .events
            .par_iter()
            .map(|e| windowed.iter().any(|(_, h)| h.wants(e)))
            .collect();
        for ((id, e), wanted) in batch.iter().zip(wanted) {
            if !wanted {
                continue;
            }
            self.bytes += footprint(e);
            self.fresh += 1;
            self.ids.push(id);
            self.events.push(without_raw(e));
            if self.bytes >= self.limits.window_bytes {
                self.run();
            }
        }
    }

    /// Runs every heuristic over the window and empties it.
    fn run(&mut self) {
        if self.events.is_empty() {
            return;
        }
        self.windows += 1;
        self.fresh = 0;
        if self.windows == 2 {
            tracing::info!(
                window_bytes = self.limits.window_bytes,
                "the heuristics' candidate events exceed one window: findings are merged across windows"
            );
        }
        let (ids, events) = (&self.ids, &self.events);
        let found: Vec<(usize, Vec<Alarm>)> = self
            .windowed
            .par_iter()
            .map(|&(i, h)| {
                let mut alarms = h.detect(events);
                for alarm in &mut alarms {
                    to_ids(alarm, ids);
                }
                (i, alarms)
            })
            .collect();
        for (i, new) in found {
            merge(&mut self.alarms[i], new);
        }
        // The next window starts with the last eighth of this one, so a burst (a brute
        // force, a download then its execution) cut by the boundary is still seen whole.
        let mut tail = 0;
        let mut tail_bytes = 0;
        for e in self.events.iter().rev() {
            let size = footprint(e);
            if tail_bytes + size > self.limits.window_bytes / 8 {
                break;
            }
            tail_bytes += size;
            tail += 1;
        }
        let cut = self.events.len() - tail;
        self.ids.drain(..cut);
        self.events.drain(..cut);
        self.bytes = tail_bytes;
    }

    fn finish(mut self) -> Vec<Alarm> {
        // What is left: new events, or only the previous window's tail (already run).
        if self.fresh > 0 {
            self.run();
        }
        self.alarms
            .into_iter()
            .zip(self.streaming)
            .flat_map(|(windowed, pass)| match pass {
                Some(pass) => pass.finish(),
                None => windowed,
            })
            .collect()
    }
}

/// Turns an alarm's positions in a window into the events' stored ids.
fn to_ids(alarm: &mut Alarm, ids: &[u64]) {
    alarm.event_refs = alarm
        .event_refs
        .iter()
        .filter_map(|&p| usize::try_from(p).ok().and_then(|p| ids.get(p)).copied())
        .collect();
}

/// Adds a window's alarms to a heuristic's: the same finding (detector, rule, title)
/// gains the new references; a new one is appended.
fn merge(kept: &mut Vec<Alarm>, new: Vec<Alarm>) {
    if kept.is_empty() {
        *kept = new;
        return;
    }
    for alarm in new {
        let same = kept.iter_mut().find(|k| {
            k.detector == alarm.detector && k.rule_id == alarm.rule_id && k.title == alarm.title
        });
        match same {
            Some(k) => {
                for id in alarm.event_refs {
                    if k.event_refs.len() >= MAX_MERGED_REFS {
                        break;
                    }
                    // Windows overlap: an event seen in both is listed once.
                    if !k.event_refs.contains(&id) {
                        k.event_refs.push(id);
                    }
                }
                if alarm.severity > k.severity {
                    k.severity = alarm.severity;
                }
            }
            None => kept.push(alarm),
        }
    }
}

/// One pass of a [`crate::DetectionEngine`] over a timeline.
pub struct EngineRun<'e> {
    window: Window,
    passes: Vec<Box<dyn Pass + 'e>>,
    events: u64,
}

impl<'e> EngineRun<'e> {
    pub(crate) fn new(
        configured: impl IntoIterator<Item = &'e dyn StreamDetector>,
        limits: Limits,
    ) -> Self {
        EngineRun {
            window: Window::new(limits),
            passes: configured.into_iter().map(|d| d.start()).collect(),
            events: 0,
        }
    }

    /// The next events, in timeline order: the rule sets match them (in parallel) while
    /// the heuristics' candidates are kept.
    pub fn observe(&mut self, batch: Batch<'_>) {
        self.events += batch.len() as u64;
        let (window, passes) = (&mut self.window, &mut self.passes);
        rayon::join(
            || window.observe(batch),
            || passes.iter_mut().for_each(|p| p.observe(batch)),
        );
    }

    /// How many events were observed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The alarms: the heuristics' in registry order, then the configured detectors' in
    /// the order they were added.
    pub fn finish(self) -> Vec<Alarm> {
        let mut alarms = self.window.finish();
        for pass in self.passes {
            alarms.extend(pass.finish());
        }
        alarms
    }
}
