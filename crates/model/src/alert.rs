//! Normalized alerts, aligned with the OCSF Detection Finding class (class_uid 2004).

use crate::{AlertId, Severity, Target, UnknownValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertSource {
    /// The generic alert API (`POST /api/v1/alerts`).
    Generic,
    /// The SECDO-compatible enrichment API.
    Secdo,
    /// AWS GuardDuty.
    GuardDuty,
    /// CrowdStrike Falcon.
    CrowdStrike,
    /// Microsoft Defender for Endpoint.
    Defender,
    /// SentinelOne.
    SentinelOne,
    /// Wiz.
    Wiz,
}

impl AlertSource {
    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSource::Generic => "generic",
            AlertSource::Secdo => "secdo",
            AlertSource::GuardDuty => "guardduty",
            AlertSource::CrowdStrike => "crowdstrike",
            AlertSource::Defender => "defender",
            AlertSource::SentinelOne => "sentinelone",
            AlertSource::Wiz => "wiz",
        }
    }

    /// True for sources where one endpoint receives alerts of several vendors and
    /// products (SECDO's enrichment API, the generic API): their event ids are unique only
    /// per vendor and product, so deduplication must include both.
    pub fn receives_many_vendors(self) -> bool {
        matches!(self, AlertSource::Generic | AlertSource::Secdo)
    }
}

impl fmt::Display for AlertSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertSource {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "generic" => Ok(AlertSource::Generic),
            "secdo" => Ok(AlertSource::Secdo),
            "guardduty" => Ok(AlertSource::GuardDuty),
            "crowdstrike" => Ok(AlertSource::CrowdStrike),
            "defender" => Ok(AlertSource::Defender),
            "sentinelone" => Ok(AlertSource::SentinelOne),
            "wiz" => Ok(AlertSource::Wiz),
            _ => Err(UnknownValue {
                kind: "alert source",
                value: s.to_string(),
                expected: "generic, secdo, guardduty, crowdstrike, defender, sentinelone, wiz",
            }),
        }
    }
}

/// Indicators an alert carries, used to correlate it with collected events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Observables {
    /// Source IP of a network alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub source_ip: Option<IpAddr>,
    /// Source port of a network alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    /// Destination IP of a network alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub destination_ip: Option<IpAddr>,
    /// Destination port of a network alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    /// Full path of a file the alert is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// Hashes of that file (MD5, SHA-1 or SHA-256, lowercase hex).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_hashes: Vec<String>,
    /// Command line of the process involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// User account involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// An alert after normalization. The vendor's payload is kept verbatim in `raw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Riposte's id for this alert.
    pub id: AlertId,
    /// Which integration delivered it.
    pub source: AlertSource,
    /// Vendor of the product that raised it (e.g. "Palo Alto Networks").
    pub vendor: String,
    /// Product that raised it (e.g. "PAN-OS").
    pub product: String,
    /// The vendor's own id for the alert; with `source` it deduplicates alerts.
    pub vendor_event_id: Option<String>,
    /// One-line title.
    pub title: String,
    /// Longer description, when the vendor gives one.
    #[serde(default)]
    pub description: String,
    /// Vendor severity mapped onto Riposte's scale.
    pub severity: Severity,
    /// Vendor finding type or category (e.g. `OutgoingConnectionEvent`, `Backdoor:EC2/C&CActivity.B`).
    #[serde(default)]
    pub finding_type: String,
    /// When the vendor says the activity happened.
    pub time: DateTime<Utc>,
    /// When the vendor says the activity was first observed (e.g. GuardDuty
    /// `service.eventFirstSeen`); `None` when the vendor does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the vendor says the activity was last observed (e.g. GuardDuty
    /// `service.eventLastSeen`); `None` when the vendor does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// When Riposte accepted the alert.
    pub received_at: DateTime<Utc>,
    /// The system the alert is about.
    pub target: Target,
    /// Indicators carried by the alert.
    #[serde(default)]
    pub observables: Observables,
    /// The payload exactly as received (credentials removed).
    #[schema(value_type = Object)]
    pub raw: Value,
}

impl Alert {
    /// The alert as an OCSF 1.x Detection Finding (class_uid 2004) object.
    pub fn to_ocsf(&self) -> Value {
        let mut observables = Vec::new();
        let mut push = |name: &str, type_id: u8, value: String| {
            observables.push(json!({"name": name, "type_id": type_id, "value": value}));
        };
        if let Some(h) = &self.target.hostname {
            push("device.hostname", 1, h.clone());
        }
        for ip in &self.target.ips {
            push("device.ip", 2, ip.to_string());
        }
        if let Some(ip) = self.observables.source_ip {
            push("src_endpoint.ip", 2, ip.to_string());
        }
        if let Some(ip) = self.observables.destination_ip {
            push("dst_endpoint.ip", 2, ip.to_string());
        }
        if let Some(p) = &self.observables.file_path {
            push("file.path", 7, p.clone());
        }
        for h in &self.observables.file_hashes {
            push("file.hashes", 8, h.clone());
        }
        json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "activity_id": 1,
            "type_uid": 200401,
            "severity_id": self.severity.ocsf_id(),
            "severity": self.severity.as_str(),
            "time": self.time.timestamp_millis(),
            "metadata": {
                "uid": self.id.to_string(),
                "product": {"name": self.product, "vendor_name": self.vendor},
                "original_time": self.time.to_rfc3339(),
                "logged_time": self.received_at.timestamp_millis(),
            },
            "finding_info": {
                "uid": self.vendor_event_id.clone().unwrap_or_else(|| self.id.to_string()),
                "title": self.title,
                "desc": self.description,
                "types": [self.finding_type],
                "first_seen_time": self.first_seen.map(|t| t.timestamp_millis()),
                "last_seen_time": self.last_seen.map(|t| t.timestamp_millis()),
            },
            "device": {
                "hostname": self.target.hostname,
                "instance_uid": self.target.instance_id,
                "ip": self.target.ips.first().map(|ip| ip.to_string()),
                "region": self.target.region,
            },
            "cloud": {
                "provider": self.target.cloud_provider,
                "account": {"uid": self.target.account_id},
                "region": self.target.region,
            },
            "observables": observables,
            "unmapped": {"riposte_source": self.source.as_str()},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocsf_detection_finding_carries_class_severity_and_observables() {
        let alert = Alert {
            id: AlertId::new(),
            source: AlertSource::Secdo,
            vendor: "Check Point".into(),
            product: "FireWall-1 GX".into(),
            vendor_event_id: Some("1674573196751".into()),
            title: "OutgoingConnectionEvent".into(),
            description: String::new(),
            severity: Severity::High,
            finding_type: "OutgoingConnectionEvent".into(),
            time: DateTime::from_timestamp_millis(1_493_209_485_000).unwrap(),
            first_seen: DateTime::from_timestamp_millis(1_493_209_000_000),
            last_seen: None,
            received_at: Utc::now(),
            target: Target::default(),
            observables: Observables {
                destination_ip: Some("137.254.120.31".parse().unwrap()),
                ..Default::default()
            },
            raw: Value::Null,
        };
        let o = alert.to_ocsf();
        assert_eq!(o["class_uid"], 2004);
        assert_eq!(o["severity_id"], 4);
        assert_eq!(o["time"], 1_493_209_485_000_i64);
        assert_eq!(o["finding_info"]["uid"], "1674573196751");
        assert_eq!(o["observables"][0]["value"], "137.254.120.31");
        assert_eq!(o["finding_info"]["first_seen_time"], 1_493_209_000_000_i64);
        assert!(o["finding_info"]["last_seen_time"].is_null());
    }

    #[test]
    fn first_and_last_seen_are_optional_in_json() {
        let alert = Alert {
            id: AlertId::new(),
            source: AlertSource::Generic,
            vendor: "v".into(),
            product: "p".into(),
            vendor_event_id: None,
            title: "t".into(),
            description: String::new(),
            severity: Severity::Low,
            finding_type: String::new(),
            time: DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
            first_seen: None,
            last_seen: None,
            received_at: DateTime::from_timestamp_millis(1_700_000_001_000).unwrap(),
            target: Target::default(),
            observables: Observables::default(),
            raw: Value::Null,
        };
        let mut json = serde_json::to_value(&alert).unwrap();
        assert!(json.get("first_seen").is_none() && json.get("last_seen").is_none());
        // Alerts stored before the fields existed still load.
        let back: Alert = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, alert);
        json["last_seen"] = "2023-11-14T22:13:30Z".into();
        let back: Alert = serde_json::from_value(json).unwrap();
        assert_eq!(
            back.last_seen,
            DateTime::from_timestamp_millis(1_700_000_010_000)
        );
    }

    #[test]
    fn sources_round_trip() {
        for s in [
            "generic",
            "secdo",
            "guardduty",
            "crowdstrike",
            "defender",
            "sentinelone",
            "wiz",
        ] {
            assert_eq!(s.parse::<AlertSource>().unwrap().as_str(), s);
        }
        assert!("splunk".parse::<AlertSource>().is_err());
    }
}
