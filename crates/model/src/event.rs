//! Timeline events: one model for everything parsed out of evidence.
//!
//! Entities and actions follow the SECDO query builder (process, file, registry,
//! network, host) extended with user and cloud activity. Attribute names are the
//! builder's (`file_name`, `file_path`, `cmd`, `username`, `remote_ip`, …).

use crate::UnknownValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What an event is about.
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
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A process.
    Process,
    /// A file.
    File,
    /// A registry key or value.
    Registry,
    /// A network connection.
    Network,
    /// A user account or session.
    User,
    /// The host itself.
    Host,
    /// A cloud control-plane call.
    Cloud,
}

impl EntityKind {
    /// The lowercase name used in the API and the query builder.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Process => "process",
            EntityKind::File => "file",
            EntityKind::Registry => "registry",
            EntityKind::Network => "network",
            EntityKind::User => "user",
            EntityKind::Host => "host",
            EntityKind::Cloud => "cloud",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "process" => EntityKind::Process,
            "file" => EntityKind::File,
            "registry" => EntityKind::Registry,
            "network" => EntityKind::Network,
            "user" => EntityKind::User,
            "host" => EntityKind::Host,
            "cloud" => EntityKind::Cloud,
            _ => {
                return Err(UnknownValue {
                    kind: "entity",
                    value: s.to_string(),
                    expected: "process, file, registry, network, user, host, cloud",
                });
            }
        })
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal, $entity:ident;)*) => {
        /// What happened to the entity. Names are the SECDO query builder's where it has one.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
        )]
        pub enum Action {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name used in the API and the query builder.
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }

            /// The entity this action belongs to.
            pub fn entity(self) -> EntityKind {
                match self { $(Action::$variant => EntityKind::$entity,)* }
            }
        }
    };
}

actions! {
    /// A process ran (a command was executed).
    ProcessRun => "run", Process;
    /// A process is the parent of another.
    ProcessParent => "parent", Process;
    /// A process is the child of another.
    ProcessChild => "child", Process;
    /// Code was injected into a process.
    ProcessInjection => "injection", Process;
    /// A process injected code into another.
    ProcessInjector => "injector", Process;
    /// A file exists (seen on disk).
    FileExists => "exists", File;
    /// A file was created.
    FileCreate => "create_file", File;
    /// A file was written.
    FileWrite => "write_file", File;
    /// A file was read.
    FileRead => "read_file", File;
    /// A file was deleted.
    FileDelete => "delete_file", File;
    /// A file was renamed.
    FileRename => "rename_file", File;
    /// A registry key or value exists.
    RegistryExists => "exists_registry", Registry;
    /// A registry value was written.
    RegistryWrite => "write_registry", Registry;
    /// A registry key was renamed.
    RegistryRename => "rename_registry", Registry;
    /// A registry key or value was deleted.
    RegistryDelete => "delete_registry", Registry;
    /// An outgoing network connection.
    NetworkOutgoing => "outgoing_network", Network;
    /// An incoming network connection.
    NetworkIncoming => "incoming_network", Network;
    /// A failed network connection.
    NetworkFailed => "failed_network", Network;
    /// A user logged on.
    UserLogon => "logon", User;
    /// A user logged off.
    UserLogoff => "logoff", User;
    /// A logon attempt failed.
    UserLogonFailed => "failed_logon", User;
    /// A user account was created.
    UserCreate => "create_user", User;
    /// A user account was changed (password, groups, shell).
    UserModify => "modify_user", User;
    /// A user gained privileges (sudo, su).
    UserPrivilege => "privilege", User;
    /// A fact about the host (name, IP, boot, service state).
    HostInfo => "host", Host;
    /// A cloud API call.
    CloudApiCall => "api_call", Cloud;
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownValue {
                kind: "action",
                value: s.to_string(),
                expected: "run, parent, child, injection, injector, exists, create_file, write_file, read_file, delete_file, rename_file, exists_registry, write_registry, rename_registry, delete_registry, outgoing_network, incoming_network, failed_network, logon, logoff, failed_logon, create_user, modify_user, privilege, host, api_call",
            })
    }
}

/// Where in the evidence an event was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventOrigin {
    /// The parser that produced the event (e.g. `auth_log`).
    pub parser: String,
    /// The path of the artifact on the original system.
    pub path: String,
    /// Line number (1-based) or record number inside the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
}

/// One timeline event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// When it happened, in UTC. `None` when the artifact has no reliable time
    /// (e.g. a shell history without timestamps); such events sort last.
    pub time: Option<DateTime<Utc>>,
    /// The host the event happened on.
    pub host: String,
    /// What the event is about.
    pub entity: EntityKind,
    /// What happened.
    pub action: Action,
    /// Normalized attributes (`username`, `remote_ip`, `cmd`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// A one-line human description.
    pub message: String,
    /// Where the event was read from.
    pub origin: EventOrigin,
    /// The source record as it was (a log line, a JSON record).
    #[serde(default)]
    pub raw: String,
}

impl Event {
    /// An event with no attributes; the entity is implied by the action.
    pub fn new(
        time: Option<DateTime<Utc>>,
        host: impl Into<String>,
        action: Action,
        message: impl Into<String>,
        origin: EventOrigin,
    ) -> Self {
        Event {
            time,
            host: host.into(),
            entity: action.entity(),
            action,
            attributes: BTreeMap::new(),
            message: message.into(),
            origin,
            raw: String::new(),
        }
    }

    /// Adds an attribute (builder style).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    /// Sets the raw record (builder style).
    pub fn with_raw(mut self, raw: impl Into<String>) -> Self {
        self.raw = raw.into();
        self
    }

    /// An attribute's value, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(
                seen.insert(a.as_str()),
                "duplicate action name {}",
                a.as_str()
            );
            assert_eq!(a.as_str().parse::<Action>().unwrap(), *a);
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(Action::UserLogonFailed.entity(), EntityKind::User);
        assert!("teleport".parse::<Action>().is_err());
    }
}
