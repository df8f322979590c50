//! How a system named by an alert is identified.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The system an alert is about. Every field is optional: sources fill what they know,
/// and resolvers match on whatever is present (instance id first, then names, then IPs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    /// Cloud instance id, e.g. `i-0abc…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Host name (short or fully qualified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// IP addresses of the system (private and public).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub ips: Vec<IpAddr>,
    /// Cloud account or subscription id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Cloud region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Cloud provider (`aws`, `azure`, `gcp`) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    /// Resource tags (e.g. `env=prod`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Target {
    /// True when nothing identifies a system.
    pub fn is_empty(&self) -> bool {
        self.instance_id.is_none() && self.hostname.is_none() && self.ips.is_empty()
    }

    /// A short human label: the hostname, else the instance id, else the first IP.
    pub fn label(&self) -> String {
        self.hostname
            .clone()
            .or_else(|| self.instance_id.clone())
            .or_else(|| self.ips.first().map(|ip| ip.to_string()))
            .unwrap_or_else(|| "unknown target".to_string())
    }
}
