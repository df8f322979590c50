//! The settings of a GuardDuty pull connection, validated with errors naming the key.

use riposte_sources::poll::PollError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings of a GuardDuty pull connection. Credentials are not here: they come from the
/// standard AWS chain of the process running the poller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDutySettings {
    /// Regions to poll, in order (e.g. `["us-east-1", "eu-west-1"]`); at least one.
    pub regions: Vec<String>,
    /// Detector id per region. A region not listed (or all regions, when unset) has its
    /// detector discovered with `ListDetectors`.
    #[serde(default)]
    pub detector_ids: Option<BTreeMap<String, String>>,
    /// Endpoint override for every region (normally unset; `AWS_ENDPOINT_URL_GUARDDUTY`
    /// also works).
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

impl GuardDutySettings {
    /// Checks the settings, naming the key at fault.
    pub fn validate(&self) -> Result<(), PollError> {
        if self.regions.is_empty() {
            return Err(PollError::Config(
                "guardduty.regions: list at least one AWS region, e.g. \"us-east-1\"".into(),
            ));
        }
        for (i, r) in self.regions.iter().enumerate() {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(PollError::Config(format!(
                    "guardduty.regions[{i}]: {r:?} is not an AWS region name like \"us-east-1\""
                )));
            }
            if self.regions[..i].contains(r) {
                return Err(PollError::Config(format!(
                    "guardduty.regions[{i}]: {r:?} is listed twice"
                )));
            }
        }
        for (region, id) in self.detector_ids.iter().flatten() {
            if !self.regions.contains(region) {
                return Err(PollError::Config(format!(
                    "guardduty.detector_ids.{region}: region is not in guardduty.regions"
                )));
            }
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(PollError::Config(format!(
                    "guardduty.detector_ids.{region}: {id:?} is not a detector id"
                )));
            }
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(PollError::Config(format!(
                "guardduty.endpoint_url: {url:?} must start with https:// or http://"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_errors_name_the_key() {
        let mut s = GuardDutySettings {
            regions: vec![],
            detector_ids: None,
            endpoint_url: None,
        };
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("guardduty.regions"), "{err}");
        s.regions = vec!["us-east-1".into(), "US EAST".into()];
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("guardduty.regions[1]"), "{err}");
        s.regions = vec!["us-east-1".into()];
        s.detector_ids = Some(BTreeMap::from([("eu-west-1".into(), "abc".into())]));
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("guardduty.detector_ids.eu-west-1"), "{err}");
        s.detector_ids = None;
        s.endpoint_url = Some("localhost:4566".into());
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("guardduty.endpoint_url"), "{err}");
    }

    #[test]
    fn settings_read_from_json() {
        let s: GuardDutySettings = serde_json::from_value(serde_json::json!({
            "regions": ["us-east-1"],
            "detector_ids": {"us-east-1": "12abc34d567e8fa901bc2d34e56789f0"}
        }))
        .unwrap();
        assert!(s.validate().is_ok());
        assert!(s.endpoint_url.is_none());
    }
}
