//! The story around alarms: events correlated with the alert, causality chains back to
//! the root cause, and the scope (hosts, users, IPs, files, processes) involved.
//!
//! Events (`event`) are referenced by their stored id in the investigation (the `seq` of
//! its timeline), as in [`crate::Alarm::event_refs`]; alarm positions index its alarm list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which of an alert's observables an event shares.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Observable {
    /// The alert's source IP, in any attribute of the event.
    SourceIp,
    /// The alert's source port, beside a matching IP.
    SourcePort,
    /// The alert's destination IP, in any attribute of the event.
    DestinationIp,
    /// The alert's destination port, beside a matching IP.
    DestinationPort,
    /// The alert's file path (case-insensitive for Windows paths, drive or device prefix ignored).
    FilePath,
    /// The alert file's name alone, in another folder: a weaker match.
    FileName,
    /// One of the alert's file hashes (any case).
    FileHash,
    /// The alert's process command line.
    CommandLine,
    /// The alert's user account (domain and case ignored).
    Username,
}

impl Observable {
    /// Weak matches (a file name alone) link an event only as a hint.
    pub fn is_weak(self) -> bool {
        matches!(self, Observable::FileName)
    }
}

/// One observable an event shares with the alert, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObservableMatch {
    /// Which observable.
    pub observable: Observable,
    /// The event attribute holding it (e.g. `remote_ip`, `TargetFilename`).
    pub attribute: String,
    /// The attribute's value as logged.
    pub value: String,
}

/// An event linked to the alert: inside its time window and sharing an observable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CorrelatedEvent {
    /// The event's stored id in the investigation (`seq`).
    pub event: u64,
    /// When it happened.
    pub time: Option<DateTime<Utc>>,
    /// The observables it shares with the alert, strongest first.
    pub matched: Vec<ObservableMatch>,
}

/// The events correlated with an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correlation {
    /// Start of the window searched.
    pub from: Option<DateTime<Utc>>,
    /// End of the window searched.
    pub to: Option<DateTime<Utc>>,
    /// How many events matched, before the list was bounded.
    pub total: u64,
    /// The matching events kept (the strongest when there were too many), sorted by time.
    pub events: Vec<CorrelatedEvent>,
}

/// What a causality chain starts from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OriginKind {
    /// A logon (Windows 4624, SSH, audit USER_LOGIN); remote when it has a source IP.
    Logon,
    /// A network connection made or accepted by a process of the chain.
    NetworkConnection,
    /// A file downloaded (Zone.Identifier, curl/wget) and then run or opened by the chain.
    FileDownload,
    /// The oldest process found; what started it was not logged.
    Process,
}

/// The root cause of a chain, or one of its candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainOrigin {
    /// What kind of origin.
    pub kind: OriginKind,
    /// The event showing it, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<u64>,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// The remote address (logon source, connection peer, download host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// The account (logon) or the user of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The Windows logon type (`3`, `10`, …), for logons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_type: Option<String>,
    /// The chain link it belongs to: the logon link, the process that connected, the
    /// process that ran or opened the downloaded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<u64>,
    /// One line: "RDP logon (type 10) from 10.0.0.5 as bob".
    pub description: String,
}

/// What a chain link is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A logon session.
    Logon,
    /// A process (its creation event, or a parent known only from its child's event).
    Process,
    /// Another event (the alarm's event when it is not a process creation).
    Event,
}

/// How a link leads to the next one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// The next processes ran in this logon session.
    LogonSession,
    /// This process started the next one.
    ParentOf,
    /// This process did the next event (a connection, a file write, …).
    Performed,
}

/// One step of a causality chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainLink {
    /// The event behind it; `None` for a parent known only from its child's event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<u64>,
    /// When it happened (process start, logon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// What the link is.
    pub kind: LinkKind,
    /// How it leads to the next link; `None` on the last one (the alarm's event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<LinkRelation>,
    /// The process image (path), for processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// The command line, for processes and commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The process id, as logged in decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// The account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The host.
    pub host: String,
    /// The remote address, for logons and connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// One line for people.
    pub description: String,
}

/// A causality chain: from the origin to the event an alarm fired on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CausalityChain {
    /// The alarms (positions in the alarm list) whose events end this chain.
    pub alarms: Vec<u64>,
    /// The host the chain ran on.
    pub host: String,
    /// The root cause.
    pub origin: ChainOrigin,
    /// The links, from the origin (or the oldest process found) to the alarm's event.
    pub links: Vec<ChainLink>,
    /// Network connections and downloads of the chain's processes before the alarm's
    /// event: the candidate origins besides the logon (one of them may be `origin`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ChainOrigin>,
    /// One line: "RDP logon (type 10) from 10.0.0.5 as bob → cmd.exe → powershell -enc … (alarm: …)".
    pub summary: String,
    /// The walk stopped at the depth bound (or on a cycle) before reaching an origin.
    #[serde(default)]
    pub truncated: bool,
}

/// Whether an address is on the investigated network.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IpLocality {
    /// Private, loopback, link-local, shared (CGNAT) or unique-local.
    Internal,
    /// Anything else.
    External,
}

/// A host, user or process of the scope, with how often it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeEntry {
    /// The name (host name, account, process image).
    pub value: String,
    /// Events of the scope that name it.
    pub events: u64,
    /// Of those, events alarms fired on.
    pub alarm_events: u64,
}

/// An IP address of the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeIp {
    /// The address.
    pub ip: String,
    /// Internal or external.
    pub locality: IpLocality,
    /// Events of the scope that name it.
    pub events: u64,
    /// Of those, events alarms fired on.
    pub alarm_events: u64,
}

/// A file of the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeFile {
    /// The path as first logged.
    pub path: String,
    /// Hashes logged for it, lowercase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<String>,
    /// Events of the scope that name it.
    pub events: u64,
    /// Of those, events alarms fired on.
    pub alarm_events: u64,
}

/// What an incident touched: from the alarms' events, their chains and the events
/// correlated with the alert. Each list is sorted by relevance (alarm events first, then
/// all events, then name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentScope {
    /// Hosts.
    pub hosts: Vec<ScopeEntry>,
    /// User accounts.
    pub users: Vec<ScopeEntry>,
    /// IP addresses.
    pub ips: Vec<ScopeIp>,
    /// Files.
    pub files: Vec<ScopeFile>,
    /// Processes (by image).
    pub processes: Vec<ScopeEntry>,
    /// How many distinct events the scope was drawn from.
    pub events: u64,
}

/// How an investigation's alarms came about: the events correlated with its alert, the
/// causality chains from each alarm back to its root cause, and the scope of the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvestigationStory {
    /// The events linked to the alert (none without an alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Correlation>,
    /// One chain per distinct ancestry of the alarms' events.
    pub chains: Vec<CausalityChain>,
    /// The hosts, users, addresses, files and processes involved.
    pub scope: IncidentScope,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_in_json() {
        assert_eq!(
            serde_json::to_value(Observable::DestinationIp).unwrap(),
            "destination_ip"
        );
        assert_eq!(
            serde_json::to_value(OriginKind::NetworkConnection).unwrap(),
            "network_connection"
        );
        assert_eq!(
            serde_json::to_value(LinkRelation::LogonSession).unwrap(),
            "logon_session"
        );
        assert!(Observable::FileName.is_weak() && !Observable::FileHash.is_weak());
    }
}
