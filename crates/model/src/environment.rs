//! Environments: named groups of systems evidence may be collected from, made of scopes,
//! and the acquisition plan a resolved target gets.

use crate::EnvironmentId;
use crate::tagged::{Tagged, deserialize_tagged};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A named group of scopes (as created in the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Environment {
    /// Riposte's id for the environment.
    pub id: EnvironmentId,
    /// Unique name.
    pub name: String,
    /// Free text for the team.
    #[serde(default)]
    pub description: String,
    /// The scopes, tried in order when resolving a target.
    pub scopes: Vec<Scope>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What a client sends to create or replace an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    /// Unique name, 1 to 100 characters.
    pub name: String,
    /// Free text for the team.
    #[serde(default)]
    pub description: String,
    /// At least one scope.
    pub scopes: Vec<Scope>,
}

/// One group of systems inside an environment (read as [`Tagged`], so a type error names
/// the field: `scopes[0].port`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// AWS EC2 instances, acquired through the EBS direct APIs.
    Aws(AwsScope),
    /// Hosts reachable over SSH, acquired agentlessly.
    Ssh(SshScope),
    /// A folder on the server's storage holding one collection (or image) per host.
    Local(LocalScope),
}

impl Tagged for Scope {
    const VARIANTS: &'static [&'static str] = &["aws", "ssh", "local"];

    fn variant<'de, D: Deserializer<'de>>(kind: &str, fields: D) -> Result<Self, D::Error> {
        match kind {
            "aws" => AwsScope::deserialize(fields).map(Scope::Aws),
            "ssh" => SshScope::deserialize(fields).map(Scope::Ssh),
            "local" => LocalScope::deserialize(fields).map(Scope::Local),
            other => Err(serde::de::Error::unknown_variant(other, Self::VARIANTS)),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_tagged(d)
    }
}

impl Scope {
    /// `aws`, `ssh` or `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Aws(_) => "aws",
            Scope::Ssh(_) => "ssh",
            Scope::Local(_) => "local",
        }
    }
}

/// Which AWS accounts a scope covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Accounts {
    /// Every account the server's credentials (or the scope's role) reach.
    #[default]
    All,
    /// Only these 12-digit account ids.
    Listed(Vec<String>),
}

impl Serialize for Accounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Accounts::All => s.serialize_str("all"),
            Accounts::Listed(ids) => ids.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Accounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected \"all\" or a list of 12-digit account ids")
        })? {
            Raw::Word(w) if w.eq_ignore_ascii_case("all") => Ok(Accounts::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected \"all\" or a list of account ids, got {w:?}"
            ))),
            Raw::List(ids) => Ok(Accounts::Listed(ids)),
        }
    }
}

/// AWS resource types a scope can cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AwsResourceType {
    /// EC2 instances.
    #[default]
    #[serde(rename = "ec2", alias = "EC2")]
    Ec2,
}

/// EC2 instances in some accounts and regions, optionally only those with given tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsScope {
    /// `"all"` or a list of account ids.
    #[serde(default)]
    #[schema(value_type = Object, example = json!("all"))]
    pub accounts: Accounts,
    /// Regions covered; empty means every region.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Tags every covered instance carries (`{"env": "prod"}`); the value `*` only asks
    /// for the tag to be present. Empty means no tag filter.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The resource type (only EC2 for now).
    #[serde(default)]
    pub resource_type: AwsResourceType,
    /// IAM role name Riposte assumes in each covered account (e.g. `RiposteResponder`);
    /// none means the server's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

/// Hosts in some networks or with some names, reached over SSH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SshScope {
    /// Networks covered (`10.0.0.0/8`, `192.168.1.7/32`).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub cidrs: Vec<IpNet>,
    /// Host name patterns, `*` and `?` wildcards, case-insensitive (`web-*.corp.example`).
    #[serde(default)]
    pub hostname_patterns: Vec<String>,
    /// Name of the SSH credential (key) Riposte logs in with.
    pub credential: String,
    /// Login user; the credential's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// SSH port.
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// The host keys the hosts must prove they hold: OpenSSH `known_hosts` lines
    /// (`web01,10.0.0.7 ssh-ed25519 AAAA…`, hashed names included) or fingerprints
    /// (`SHA256:…`, accepted for any host of the scope).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_hosts: Vec<String>,
    /// Accept the key of a host seen for the first time, remember it, and refuse a changed
    /// one later (trust on first use); off by default, recorded in the audit trail.
    #[serde(default)]
    pub trust_on_first_use: bool,
    /// Read files and run the live-state commands as root through `sudo -n` (never a
    /// password prompt); without it, as the login user.
    #[serde(default)]
    pub sudo: bool,
}

fn default_ssh_port() -> u16 {
    22
}

/// A local evidence library: a folder with one sub-folder per host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalScope {
    /// Absolute path of the folder; it must lie inside an evidence root the server was
    /// started with (`--evidence-library`).
    pub folder: String,
}

/// How a resolved target is acquired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Acquisition {
    /// Snapshot the instance's EBS volumes and read them through the EBS direct APIs.
    Ec2 {
        /// The account, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_id: Option<String>,
        /// The region.
        region: String,
        /// The instance.
        instance_id: String,
        /// The role to assume in the account, if the scope names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_name: Option<String>,
    },
    /// Read an existing EBS snapshot in place through the EBS direct APIs (an import by
    /// snapshot id). Riposte did not make it, so it is never deleted.
    EbsSnapshot {
        /// The account, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_id: Option<String>,
        /// The region.
        region: String,
        /// The snapshot, `snap-…`.
        snapshot_id: String,
        /// The role to assume in the account, if the scope names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_name: Option<String>,
    },
    /// Read a triage package or a raw disk image stored in S3 in place, with range
    /// requests (an import by `s3://` address).
    S3 {
        /// The account, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account_id: Option<String>,
        /// The bucket's region.
        region: String,
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// The role to assume in the account, if the scope names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role_name: Option<String>,
    },
    /// Log in over SSH and collect the triage artifacts.
    Ssh {
        /// Address or host name to connect to.
        address: String,
        /// Port.
        port: u16,
        /// Login user, if the scope names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The credential's name.
        credential: String,
        /// The host keys the host must prove it holds (the scope's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        known_hosts: Vec<String>,
        /// Trust a key seen for the first time (the scope's choice).
        #[serde(default)]
        trust_on_first_use: bool,
        /// Run as root through `sudo -n` (the scope's choice).
        #[serde(default)]
        sudo: bool,
    },
    /// Read a host's collection in a local evidence library.
    Library {
        /// The library folder.
        folder: String,
        /// The host's key (its folder name).
        host: String,
        /// The host's folder (its `/`).
        host_root: String,
    },
}

impl Acquisition {
    /// Identifies the system acquired, so alerts on the same system can join one
    /// investigation: `aws:ACCOUNT:REGION:INSTANCE` (or `…:SNAPSHOT`), `s3://BUCKET/KEY`,
    /// `ssh:ADDRESS`, `library:FOLDER`.
    pub fn target_key(&self) -> String {
        match self {
            Acquisition::Ec2 {
                account_id,
                region,
                instance_id,
                ..
            } => format!(
                "aws:{}:{region}:{instance_id}",
                account_id.as_deref().unwrap_or("-")
            ),
            Acquisition::EbsSnapshot {
                account_id,
                region,
                snapshot_id,
                ..
            } => format!(
                "aws:{}:{region}:{snapshot_id}",
                account_id.as_deref().unwrap_or("-")
            ),
            Acquisition::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
            Acquisition::Ssh { address, .. } => format!("ssh:{}", address.to_ascii_lowercase()),
            Acquisition::Library { host_root, .. } => format!("library:{host_root}"),
        }
    }

    /// A short label for titles: the instance id, snapshot id, object name, address or
    /// host key.
    pub fn host_label(&self) -> &str {
        match self {
            Acquisition::Ec2 { instance_id, .. } => instance_id,
            Acquisition::EbsSnapshot { snapshot_id, .. } => snapshot_id,
            Acquisition::S3 { key, .. } => key.rsplit('/').next().unwrap_or(key),
            Acquisition::Ssh { address, .. } => address,
            Acquisition::Library { host, .. } => host,
        }
    }

    /// `ec2`, `ebs_snapshot`, `s3`, `ssh` or `library`.
    pub fn method(&self) -> &'static str {
        match self {
            Acquisition::Ec2 { .. } => "ec2",
            Acquisition::EbsSnapshot { .. } => "ebs_snapshot",
            Acquisition::S3 { .. } => "s3",
            Acquisition::Ssh { .. } => "ssh",
            Acquisition::Library { .. } => "library",
        }
    }
}

/// Where a target was found: the environment, the scope and how it will be acquired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScopeMatch {
    /// The environment.
    pub environment_id: EnvironmentId,
    /// Its name.
    pub environment: String,
    /// Index of the scope in the environment.
    pub scope_index: usize,
    /// How it is acquired.
    pub acquisition: Acquisition,
    /// What matched, e.g. `instance i-0abc in account 123456789012, region us-east-1`.
    pub matched_on: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_by_kind_and_refuse_unknown_fields() {
        let s: Scope = serde_json::from_value(serde_json::json!({
            "kind": "aws", "accounts": ["123456789012"], "regions": ["us-east-1"], "tags": {"env": "prod"}
        }))
        .unwrap();
        let Scope::Aws(aws) = s else {
            panic!("not aws")
        };
        assert_eq!(aws.accounts, Accounts::Listed(vec!["123456789012".into()]));
        assert_eq!(aws.resource_type, AwsResourceType::Ec2);
        let all: Scope =
            serde_json::from_value(serde_json::json!({"kind": "aws", "accounts": "all"})).unwrap();
        assert_eq!(serde_json::to_value(&all).unwrap()["accounts"], "all");
        let ssh: Scope = serde_json::from_value(serde_json::json!({
            "kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "ir-key"
        }))
        .unwrap();
        assert!(matches!(ssh, Scope::Ssh(SshScope { port: 22, .. })));
        let err = serde_json::from_value::<Scope>(
            serde_json::json!({"kind": "local", "folder": "/x", "colour": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = serde_json::from_value::<Scope>(serde_json::json!({"kind": "gcp"})).unwrap_err();
        assert!(err.to_string().contains("gcp"), "{err}");
        let err =
            serde_json::from_value::<Scope>(serde_json::json!({"kind": "aws", "accounts": "some"}))
                .unwrap_err();
        assert!(err.to_string().contains("all"), "{err}");
    }

    #[test]
    fn target_keys_identify_the_system() {
        let a = Acquisition::Ec2 {
            account_id: Some("123456789012".into()),
            region: "us-east-1".into(),
            instance_id: "i-1".into(),
            role_name: None,
        };
        assert_eq!(a.target_key(), "aws:123456789012:us-east-1:i-1");
        let s = Acquisition::Ssh {
            address: "Web01.corp".into(),
            port: 22,
            user: None,
            credential: "k".into(),
            known_hosts: Vec::new(),
            trust_on_first_use: false,
            sudo: false,
        };
        assert_eq!(s.target_key(), "ssh:web01.corp");
    }
}
