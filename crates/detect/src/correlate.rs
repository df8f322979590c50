//! Correlation with the alert: the events around its time that share one of its
//! observables (IP and port, file path or name, hash, command line, user).
//!
//! One pass over the events, no index: each event's attributes are compared with the
//! alert's observables prepared once (paths normalized, hashes lowercased, the account
//! without its domain). Events without a time cannot be placed in the window and are
//! left out.

use crate::observe::{self, CMD_KEYS, USER_KEYS};
use chrono::{DateTime, TimeDelta, Utc};
use riposte_model::{Alert, CorrelatedEvent, Correlation, Event, Observable, ObservableMatch};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::IpAddr;

/// How events are correlated with an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationConfig {
    /// Minutes searched before the alert (or its first sighting) and after it (or its
    /// last sighting). Default 30.
    pub window_minutes: u32,
    /// Most events kept, the strongest matches first; `Correlation::total` counts all.
    /// Default 1,000.
    pub max_events: usize,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            window_minutes: 30,
            max_events: 1_000,
        }
    }
}

/// The events of `events` inside the alert's window that share one of its observables,
/// sorted by time, each with what it shares. Positions index `events`.
pub fn correlate(alert: &Alert, events: &[Event], config: &CorrelationConfig) -> Correlation {
    let mut correlator = Correlator::new(alert, config);
    for (pos, event) in events.iter().enumerate() {
        correlator.observe(pos as u64, event);
    }
    correlator.finish().0
}

/// The correlation computed as events pass (in timeline order), keeping at most twice
/// `max_events` candidates (and their events, without raw records) at any time.
pub(crate) struct Correlator {
    wanted: Wanted,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    alert_time: DateTime<Utc>,
    max: usize,
    total: u64,
    /// (score, arrival, match, event).
    found: Vec<(u32, u64, CorrelatedEvent, Event)>,
}

impl Correlator {
    pub(crate) fn new(alert: &Alert, config: &CorrelationConfig) -> Self {
        let (from, to) = window(alert, config);
        Correlator {
            wanted: Wanted::new(alert),
            from,
            to,
            alert_time: alert.time,
            max: config.max_events,
            total: 0,
            found: Vec::new(),
        }
    }

    /// Compares one event (with its id) with the alert.
    pub(crate) fn observe(&mut self, id: u64, event: &Event) {
        if self.wanted.is_empty() {
            return;
        }
        let Some(time) = event.time.filter(|t| (self.from..=self.to).contains(t)) else {
            return;
        };
        let matched = self.wanted.matches(event);
        if matched.is_empty() {
            return;
        }
        let score = matched.iter().map(|m| weight(m.observable)).sum();
        let arrival = self.total;
        self.total += 1;
        self.found.push((
            score,
            arrival,
            CorrelatedEvent {
                event: id,
                time: Some(time),
                matched,
            },
            crate::engine::without_raw(event),
        ));
        if self.found.len() >= self.max.saturating_mul(2).max(64) {
            self.keep_strongest();
        }
    }

    /// Keeps the `max` strongest matches: highest score, then nearest the alert, then
    /// first seen.
    fn keep_strongest(&mut self) {
        if self.found.len() <= self.max {
            return;
        }
        let alert_time = self.alert_time;
        let distance =
            |c: &CorrelatedEvent| c.time.map_or(TimeDelta::MAX, |t| (t - alert_time).abs());
        self.found.sort_by(|(sa, aa, a, _), (sb, ab, b, _)| {
            sb.cmp(sa)
                .then(distance(a).cmp(&distance(b)))
                .then(aa.cmp(ab))
        });
        self.found.truncate(self.max);
    }

    /// The correlation, and the correlated events by id.
    pub(crate) fn finish(mut self) -> (Correlation, Vec<(u64, Event)>) {
        self.keep_strongest();
        self.found.sort_by_key(|(_, _, c, _)| (c.time, c.event));
        let mut events = Vec::with_capacity(self.found.len());
        let mut kept = Vec::with_capacity(self.found.len());
        for (_, _, c, e) in self.found {
            events.push((c.event, e));
            kept.push(c);
        }
        (
            Correlation {
                from: Some(self.from),
                to: Some(self.to),
                total: self.total,
                events: kept,
            },
            events,
        )
    }
}

/// How much a match says, to keep the strongest when there are too many.
fn weight(o: Observable) -> u32 {
    match o {
        Observable::FileHash => 5,
        Observable::FilePath | Observable::CommandLine => 4,
        Observable::SourceIp | Observable::DestinationIp => 3,
        Observable::Username | Observable::FileName => 1,
        Observable::SourcePort | Observable::DestinationPort => 1,
    }
}

/// The alert's observables, prepared for comparison.
struct Wanted {
    source_ip: Option<IpAddr>,
    destination_ip: Option<IpAddr>,
    source_port: Option<String>,
    destination_port: Option<String>,
    path: Option<String>,
    name: Option<String>,
    hashes: HashSet<String>,
    cmd: Option<String>,
    user: Option<String>,
}

impl Wanted {
    fn new(alert: &Alert) -> Self {
        let o = &alert.observables;
        let unmap = |ip: IpAddr| observe::ip(&ip.to_string()).unwrap_or(ip);
        Wanted {
            source_ip: o.source_ip.map(unmap),
            destination_ip: o.destination_ip.map(unmap),
            source_port: o.source_port.map(|p| p.to_string()),
            destination_port: o.destination_port.map(|p| p.to_string()),
            path: o.file_path.as_deref().and_then(observe::normalize_path),
            name: o.file_path.as_deref().and_then(observe::file_name_key),
            hashes: o
                .file_hashes
                .iter()
                .flat_map(|h| observe::hashes(h))
                .collect(),
            cmd: o
                .command_line
                .as_deref()
                .map(cmd_key)
                .filter(|c| !c.is_empty()),
            user: o.username.as_deref().and_then(observe::user_key),
        }
    }

    fn is_empty(&self) -> bool {
        self.source_ip.is_none()
            && self.destination_ip.is_none()
            && self.path.is_none()
            && self.name.is_none()
            && self.hashes.is_empty()
            && self.cmd.is_none()
            && self.user.is_none()
    }

    fn matches(&self, event: &Event) -> Vec<ObservableMatch> {
        let mut out: Vec<ObservableMatch> = Vec::new();
        // One entry per observable: the first attribute (in name order) that holds it.
        let mut push = |observable, key: &str, value: &str| {
            if !out.iter().any(|m| m.observable == observable) {
                out.push(ObservableMatch {
                    observable,
                    attribute: key.to_string(),
                    value: value.to_string(),
                });
            }
        };
        let any_ip = self.source_ip.is_some() || self.destination_ip.is_some();
        let mut ip_matched = false;
        for (key, value) in &event.attributes {
            if any_ip && let Some(ip) = observe::ip(value) {
                if Some(ip) == self.source_ip {
                    push(Observable::SourceIp, key, value);
                    ip_matched = true;
                }
                if Some(ip) == self.destination_ip {
                    push(Observable::DestinationIp, key, value);
                    ip_matched = true;
                }
            }
            if self.path.is_some() || self.name.is_some() {
                self.match_path(key, value, &mut push);
            }
            if !self.hashes.is_empty()
                && value.len() >= 32
                && observe::hashes(value).any(|h| self.hashes.contains(&h))
            {
                push(Observable::FileHash, key, value);
            }
            if let Some(cmd) = &self.cmd
                && CMD_KEYS.contains(&key.as_str())
                && cmd_key(value) == *cmd
            {
                push(Observable::CommandLine, key, value);
            }
            if let Some(user) = &self.user
                && USER_KEYS.contains(&key.as_str())
                && observe::user_key(value).as_ref() == Some(user)
            {
                push(Observable::Username, key, value);
            }
        }
        // A port means something only beside the address it belongs with.
        if ip_matched {
            for (key, value) in &event.attributes {
                if !key.to_ascii_lowercase().ends_with("port") {
                    continue;
                }
                if self.source_port.as_deref() == Some(value.trim()) {
                    push(Observable::SourcePort, key, value);
                }
                if self.destination_port.as_deref() == Some(value.trim()) {
                    push(Observable::DestinationPort, key, value);
                }
            }
        }
        // A file name alone is weak: drop it when the full path matched too.
        if out.iter().any(|m| m.observable == Observable::FilePath) {
            out.retain(|m| m.observable != Observable::FileName);
        }
        out.sort_by_key(|m| std::cmp::Reverse(weight(m.observable)));
        out
    }

    fn match_path(&self, key: &str, value: &str, push: &mut impl FnMut(Observable, &str, &str)) {
        let is_cmd = CMD_KEYS.contains(&key);
        if let Some(path) = &self.path {
            if observe::normalize_path(value).as_ref() == Some(path) {
                return push(Observable::FilePath, key, value);
            }
            if is_cmd && path.starts_with('\\') {
                let lowered = value.replace('/', "\\").to_lowercase();
                if lowered.contains(path.as_str()) {
                    return push(Observable::FilePath, key, value);
                }
            } else if is_cmd && value.contains(path.as_str()) {
                return push(Observable::FilePath, key, value);
            }
        }
        if let Some(name) = &self.name
            && !is_cmd
            && (value.contains('\\') || value.contains('/'))
            && observe::file_name_key(value).as_ref() == Some(name)
        {
            push(Observable::FileName, key, value);
        }
    }
}

/// A command line compared without case and with runs of whitespace as one space.
fn cmd_key(cmd: &str) -> String {
    cmd.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The time window searched for `alert`: its first to last sighting, widened by the
/// configured minutes on each side.
pub fn window(alert: &Alert, config: &CorrelationConfig) -> (DateTime<Utc>, DateTime<Utc>) {
    let window = TimeDelta::minutes(i64::from(config.window_minutes));
    let first = alert.first_seen.map_or(alert.time, |t| t.min(alert.time));
    let last = alert.last_seen.map_or(alert.time, |t| t.max(alert.time));
    (first - window, last + window)
}
