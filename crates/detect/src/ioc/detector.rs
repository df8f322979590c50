//! The `ioc` detector: indicators matched against events and collected files.
//!
//! Event attributes read (absent ones are skipped):
//! - hashes: `file_hash`, `process_hash`, `parent_hash`, `hash`, `sha256`, `sha1`, `md5`
//!   (Sysmon's `SHA1=…,MD5=…,SHA256=…` lists included);
//! - addresses: `remote_ip`, `local_ip`, `source_ip`, `src_ip`, `dst_ip`, `client_ip`, `ip`;
//! - host names (domain or address): `remote_host`, `query`, `dns_query`;
//! - URLs: `url`, `referer` (the URL, its host, and domains/addresses inside it);
//! - paths and names: `file_path`, `process_path`, `parent_path`, `injector_path`, `path`;
//!   `file_name`;
//! - free text searched for domains, URLs, hashes and addresses: `cmd`, `parent_cmd`,
//!   `request`, `request_parameters`, `key_value`, `proctitle`, `exec_start`.

use super::{IocKind, IocSet};
use crate::shorten;
use rayon::prelude::*;
use riposte_model::{Alarm, AlarmFile, Event, EvidenceItem, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

const HASH_FIELDS: &[&str] = &[
    "file_hash",
    "process_hash",
    "parent_hash",
    "hash",
    "sha256",
    "sha1",
    "md5",
];
const IP_FIELDS: &[&str] = &[
    "remote_ip",
    "local_ip",
    "source_ip",
    "src_ip",
    "dst_ip",
    "client_ip",
    "ip",
];
const HOST_FIELDS: &[&str] = &["remote_host", "query", "dns_query"];
const URL_FIELDS: &[&str] = &["url", "referer"];
const PATH_FIELDS: &[&str] = &[
    "file_path",
    "process_path",
    "parent_path",
    "injector_path",
    "path",
];
const TEXT_FIELDS: &[&str] = &[
    "cmd",
    "parent_cmd",
    "request",
    "request_parameters",
    "key_value",
    "proctitle",
    "exec_start",
];

/// Settings of [`IocDetector`]; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IocDetectorConfig {
    /// Severity of an alarm whose indicator has none (default high: a known-bad value
    /// seen in evidence).
    pub default_severity: Severity,
    /// Most events one alarm references (default 50); the count is in the text.
    pub max_event_refs: usize,
}

impl Default for IocDetectorConfig {
    fn default() -> Self {
        IocDetectorConfig {
            default_severity: Severity::High,
            max_event_refs: 50,
        }
    }
}

/// Raises one alarm per indicator found in the events (or files), naming the indicator,
/// its source and what matched.
#[derive(Debug, Clone)]
pub struct IocDetector {
    set: Arc<IocSet>,
    config: IocDetectorConfig,
}

impl IocDetector {
    /// A detector over `set`.
    pub fn new(set: Arc<IocSet>, config: IocDetectorConfig) -> Self {
        IocDetector { set, config }
    }

    /// The indicators it matches.
    pub fn set(&self) -> &IocSet {
        &self.set
    }

    /// Indicators matching one event, with the attribute each came from.
    fn event_hits(&self, e: &Event) -> Vec<(usize, &'static str)> {
        let s = &self.set;
        let mut out = Vec::new();
        let mut each = |fields: &[&'static str], f: &dyn Fn(&str) -> Vec<usize>| {
            for field in fields {
                if let Some(value) = e.attr(field) {
                    out.extend(f(value).into_iter().map(|i| (i, *field)));
                }
            }
        };
        each(HASH_FIELDS, &|v| {
            v.split([',', ';', '=', ' ', ':'])
                .flat_map(|t| s.match_hash(t).iter().copied())
                .collect()
        });
        each(IP_FIELDS, &|v| {
            v.trim()
                .parse::<IpAddr>()
                .map(|ip| s.match_ip(ip))
                .unwrap_or_default()
        });
        each(HOST_FIELDS, &|v| match v.trim().parse::<IpAddr>() {
            Ok(ip) => s.match_ip(ip),
            Err(_) => s.match_domain(v),
        });
        each(URL_FIELDS, &|v| {
            let mut ids = s.match_url(v);
            ids.extend(s.match_text(v));
            ids
        });
        each(PATH_FIELDS, &|v| s.match_path(v));
        each(&["file_name"], &|v| s.match_file_name(v).to_vec());
        each(TEXT_FIELDS, &|v| s.match_text(v));
        out
    }

    /// One alarm per indicator that matched a collected file's SHA-256 or original path.
    pub fn detect_files(&self, files: &[EvidenceItem]) -> Vec<Alarm> {
        let mut by_ioc: BTreeMap<usize, Vec<&EvidenceItem>> = BTreeMap::new();
        for file in files {
            let path = &file.provenance.original_path;
            for i in self.set.match_file(path, &[file.sha256.as_str()]) {
                by_ioc.entry(i).or_default().push(file);
            }
        }
        by_ioc
            .into_iter()
            .map(|(i, files)| {
                let list: Vec<String> = files
                    .iter()
                    .take(20)
                    .map(|f| {
                        format!(
                            "{} on {} (SHA-256 {})",
                            f.provenance.original_path, f.provenance.host, f.sha256
                        )
                    })
                    .collect();
                let mut alarm = self.alarm(
                    i,
                    &format!("{} collected file(s):\n{}", files.len(), list.join("\n")),
                    Vec::new(),
                );
                let indicator = &self.set.indicators()[i].value;
                alarm.files = files
                    .iter()
                    .take(200)
                    .map(|f| AlarmFile {
                        path: f.provenance.original_path.clone(),
                        sha256: Some(f.sha256.clone()),
                        matched: vec![indicator.clone()],
                    })
                    .collect();
                alarm
            })
            .collect()
    }

    fn alarm(&self, i: usize, what: &str, event_refs: Vec<u64>) -> Alarm {
        let ioc = &self.set.indicators()[i];
        let kind = match ioc.kind {
            IocKind::Sha256 => "SHA-256",
            IocKind::Sha1 => "SHA-1",
            IocKind::Md5 => "MD5",
            IocKind::Ip => "IP",
            IocKind::Domain => "domain",
            IocKind::Url => "URL",
            IocKind::FilePath => "file path",
            IocKind::FileName => "file name",
        };
        let about = if ioc.description.is_empty() {
            String::new()
        } else {
            format!("{}\n", ioc.description)
        };
        Alarm {
            detector: "ioc".to_string(),
            title: shorten(&format!("IOC {kind} {} ({})", ioc.value, ioc.source), 160),
            description: format!(
                "{about}Indicator {kind} `{}` from {} matched {what}",
                ioc.value, ioc.source
            ),
            severity: ioc.severity.unwrap_or(self.config.default_severity),
            mitre: Vec::new(),
            event_refs,
            rule_id: Some(ioc.value.clone()),
            files: Vec::new(),
            hunting: false,
        }
    }
}

impl crate::StreamDetector for IocDetector {
    fn name(&self) -> &'static str {
        "ioc"
    }

    fn start(&self) -> Box<dyn crate::Pass + '_> {
        Box::new(IocPass {
            detector: self,
            by_ioc: BTreeMap::new(),
        })
    }
}

/// What one indicator matched so far in a pass.
#[derive(Default)]
struct Hits {
    /// Events matched.
    count: u64,
    /// The first events matched (at most `max_event_refs`).
    refs: Vec<u64>,
    /// The first event's message.
    first: Option<String>,
    /// The last event matched.
    last: Option<u64>,
    fields: BTreeSet<&'static str>,
}

/// One pass of the indicators over a timeline.
struct IocPass<'d> {
    detector: &'d IocDetector,
    by_ioc: BTreeMap<usize, Hits>,
}

impl crate::Pass for IocPass<'_> {
    fn observe(&mut self, batch: crate::Batch<'_>) {
        if self.detector.set.is_empty() {
            return;
        }
        let found: Vec<Vec<(usize, &'static str)>> = batch
            .events
            .par_iter()
            .map(|e| self.detector.event_hits(e))
            .collect();
        let max = self.detector.config.max_event_refs;
        for ((id, e), hits) in batch.iter().zip(found) {
            for (i, field) in hits {
                let h = self.by_ioc.entry(i).or_default();
                if h.first.is_none() {
                    h.first = Some(e.message.clone());
                }
                // A second field of the same event counts the event once.
                if h.last != Some(id) {
                    h.last = Some(id);
                    h.count += 1;
                    if h.refs.len() < max {
                        h.refs.push(id);
                    }
                }
                h.fields.insert(field);
            }
        }
    }

    fn finish(self: Box<Self>) -> Vec<Alarm> {
        let detector = self.detector;
        self.by_ioc
            .into_iter()
            .map(|(i, hits)| {
                let fields: Vec<_> = hits.fields.into_iter().collect();
                let what = format!(
                    "{} event(s) in {}; first: {}",
                    hits.count,
                    fields.join(", "),
                    hits.first.as_deref().unwrap_or("")
                );
                detector.alarm(i, &what, hits.refs)
            })
            .collect()
    }
}
