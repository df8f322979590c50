//! Scope: the hosts, users, IP addresses, files and processes an incident touched, drawn
//! from the alarms' events, the events of their causality chains and the events
//! correlated with the alert, each counted once per event that names it.

use crate::observe::{self, USER_KEYS, attr};
use riposte_model::{
    Action, Alarm, CausalityChain, Correlation, Event, IncidentScope, ScopeEntry, ScopeFile,
    ScopeIp,
};
use std::collections::{BTreeSet, HashMap};

/// Most entries kept per list (the most relevant).
pub const MAX_ENTRIES: usize = 500;

/// Attributes naming a file, by the parsers' names.
const FILE_KEYS: &[&str] = &[
    "file_path",
    "Image",
    "TargetFilename",
    "ParentImage",
    "parent_path",
    "process_path",
    "injector_path",
    "NewProcessName",
    "ImageLoaded",
    "exe",
];

/// Attributes naming the image of a process that acted.
const PROCESS_KEYS: &[&str] = &[
    "Image",
    "ParentImage",
    "parent_path",
    "process_path",
    "injector_path",
    "NewProcessName",
    "exe",
];

/// Attributes holding the hashes of the event's own file (`file_path`).
const HASH_KEYS: &[&str] = &["process_hash", "Hashes", "hashes", "sha256", "sha1", "md5"];

/// Attributes naming another host (not an address).
const HOST_KEYS: &[&str] = &["remote_host", "WorkstationName"];

/// The scope of `alarms` over `events` (the list their `event_refs` index), with the
/// events of `chains` and of `correlated`.
pub fn scope(
    alarms: &[Alarm],
    events: &[Event],
    chains: &[CausalityChain],
    correlated: &Correlation,
) -> IncidentScope {
    let alarm_events: BTreeSet<usize> = alarms
        .iter()
        .flat_map(|a| &a.event_refs)
        .filter_map(|&r| usize::try_from(r).ok())
        .filter(|&r| r < events.len())
        .collect();
    let mut all = alarm_events.clone();
    for chain in chains {
        let positions = chain
            .links
            .iter()
            .filter_map(|l| l.event)
            .chain(chain.origin.event)
            .chain(chain.context.iter().filter_map(|c| c.event));
        all.extend(positions.filter_map(|p| usize::try_from(p).ok()));
    }
    all.extend(
        correlated
            .events
            .iter()
            .filter_map(|c| usize::try_from(c.event).ok()),
    );
    all.retain(|&p| p < events.len());

    let mut tally = Tally::default();
    for &pos in &all {
        tally.add(&events[pos], alarm_events.contains(&pos));
    }
    tally.finish(all.len() as u64)
}

#[derive(Default)]
struct Counts {
    shown: String,
    events: u64,
    alarm_events: u64,
}

impl Counts {
    fn bump(&mut self, shown: &str, in_alarm: bool) {
        if self.shown.is_empty() {
            self.shown = shown.to_string();
        }
        self.events += 1;
        self.alarm_events += u64::from(in_alarm);
    }
}

#[derive(Default)]
struct Tally {
    hosts: HashMap<String, Counts>,
    users: HashMap<String, Counts>,
    ips: HashMap<std::net::IpAddr, Counts>,
    files: HashMap<String, (Counts, BTreeSet<String>)>,
    processes: HashMap<String, Counts>,
}

impl Tally {
    /// Counts what one event names, each name once.
    fn add(&mut self, e: &Event, in_alarm: bool) {
        let mut hosts: HashMap<String, &str> = HashMap::new();
        if !e.host.is_empty() {
            hosts.insert(e.host.to_lowercase(), &e.host);
        }
        for key in HOST_KEYS {
            if let Some(h) = attr(e, key).filter(|h| observe::ip(h).is_none()) {
                hosts.entry(h.to_lowercase()).or_insert(h);
            }
        }
        for (k, shown) in hosts {
            self.hosts.entry(k).or_default().bump(shown, in_alarm);
        }

        let mut users: HashMap<String, &str> = HashMap::new();
        for key in USER_KEYS {
            if let Some(u) = attr(e, key)
                && let Some(k) = observe::user_key(u)
            {
                users.entry(k).or_insert(u);
            }
        }
        for (k, shown) in users {
            self.users.entry(k).or_default().bump(shown, in_alarm);
        }

        let mut ips: HashMap<std::net::IpAddr, &str> = HashMap::new();
        for value in e.attributes.values() {
            if let Some(ip) = observe::ip(value).filter(|ip| observe::is_remote(*ip)) {
                ips.entry(ip).or_insert(value);
            }
        }
        for (ip, shown) in ips {
            self.ips.entry(ip).or_default().bump(shown.trim(), in_alarm);
        }

        let own_hashes: BTreeSet<String> = HASH_KEYS
            .iter()
            .filter_map(|k| attr(e, k))
            .flat_map(|v| observe::hashes(v).collect::<Vec<_>>())
            .collect();
        let own = attr(e, "file_path").and_then(observe::normalize_path);
        let mut files: HashMap<String, &str> = HashMap::new();
        for key in FILE_KEYS {
            if let Some(p) = attr(e, key)
                && let Some(k) = observe::normalize_path(p)
            {
                files.entry(k).or_insert(p);
            }
        }
        for (k, shown) in files {
            let is_own = own.as_ref() == Some(&k);
            let entry = self.files.entry(k).or_default();
            entry.0.bump(shown, in_alarm);
            if is_own {
                entry.1.extend(own_hashes.iter().cloned());
            }
        }

        let mut processes: HashMap<String, &str> = HashMap::new();
        let run = e.action == Action::ProcessRun;
        let images = PROCESS_KEYS
            .iter()
            .filter_map(|k| attr(e, k))
            .chain(attr(e, "file_path").filter(|_| run))
            .chain(attr(e, "file_name").filter(|_| run && attr(e, "file_path").is_none()));
        for image in images {
            let k = observe::normalize_path(image).unwrap_or_else(|| image.to_lowercase());
            processes.entry(k).or_insert(image);
        }
        for (k, shown) in processes {
            self.processes.entry(k).or_default().bump(shown, in_alarm);
        }
    }

    fn finish(self, events: u64) -> IncidentScope {
        let entries = |map: HashMap<String, Counts>| {
            let mut v: Vec<ScopeEntry> = map
                .into_values()
                .map(|c| ScopeEntry {
                    value: c.shown,
                    events: c.events,
                    alarm_events: c.alarm_events,
                })
                .collect();
            v.sort_by(|a, b| {
                (b.alarm_events, b.events)
                    .cmp(&(a.alarm_events, a.events))
                    .then_with(|| a.value.cmp(&b.value))
            });
            v.truncate(MAX_ENTRIES);
            v
        };
        let mut ips: Vec<ScopeIp> = self
            .ips
            .into_iter()
            .map(|(ip, c)| ScopeIp {
                ip: ip.to_string(),
                locality: observe::locality(ip),
                events: c.events,
                alarm_events: c.alarm_events,
            })
            .collect();
        ips.sort_by(|a, b| {
            // External addresses first among equals: they are what an analyst blocks.
            (b.alarm_events, b.events, b.locality)
                .cmp(&(a.alarm_events, a.events, a.locality))
                .then_with(|| a.ip.cmp(&b.ip))
        });
        ips.truncate(MAX_ENTRIES);
        let mut files: Vec<ScopeFile> = self
            .files
            .into_values()
            .map(|(c, hashes)| ScopeFile {
                path: c.shown,
                hashes: hashes.into_iter().collect(),
                events: c.events,
                alarm_events: c.alarm_events,
            })
            .collect();
        files.sort_by(|a, b| {
            (b.alarm_events, b.events)
                .cmp(&(a.alarm_events, a.events))
                .then_with(|| a.path.cmp(&b.path))
        });
        files.truncate(MAX_ENTRIES);
        IncidentScope {
            hosts: entries(self.hosts),
            users: entries(self.users),
            ips,
            files,
            processes: entries(self.processes),
            events,
        }
    }
}
