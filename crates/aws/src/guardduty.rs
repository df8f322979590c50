//! GuardDuty pull mode: findings updated in a window, region by region and detector by
//! detector, through `ListFindings` (filtered and sorted on `updatedAt`) and `GetFindings`.
//!
//! Each payload is one finding object exactly as the `GetFindings` response carried it
//! (camelCase keys, every field kept), which `riposte_sources`' GuardDuty parser reads.
//! The page token is opaque JSON naming the region, the detector and AWS's own
//! `nextToken`, so a page can be resumed by another poller built from the same settings.

mod errors;
mod raw;
mod settings;

pub use settings::GuardDutySettings;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::config::Region;
use aws_sdk_guardduty::types::{Condition, FindingCriteria, OrderBy, SortCriteria};
use chrono::{DateTime, Utc};
use errors::Call;
use riposte_model::AlertSource;
use riposte_sources::poll::{AlertPoller, PollError, PollWindow, PolledPage};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// GuardDuty's cap on `maxResults` and on the ids of one `GetFindings` call.
const PAGE: i32 = 50;

/// One region's client.
struct Regional {
    name: String,
    client: Client,
    /// For error messages.
    endpoint: String,
    /// The configured detector, if any.
    detector: Option<String>,
}

/// Where a window's paging stands; serialised as the opaque page token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// Index into the settings' regions.
    region: usize,
    /// The region's name, to refuse a token from other settings.
    region_name: String,
    /// The detector being read; `None` for the region's first.
    #[serde(default)]
    detector: Option<String>,
    /// AWS's `nextToken` within that detector.
    #[serde(default)]
    next: Option<String>,
}

/// Polls GuardDuty findings with the AWS SDK.
pub struct GuardDutyPoller {
    regions: Vec<Regional>,
    /// Detectors discovered per region.
    discovered: Mutex<HashMap<String, Vec<String>>>,
}

impl std::fmt::Debug for GuardDutyPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let regions: Vec<&str> = self.regions.iter().map(|r| r.name.as_str()).collect();
        f.debug_struct("GuardDutyPoller")
            .field("regions", &regions)
            .finish_non_exhaustive()
    }
}

impl GuardDutyPoller {
    /// A poller using the standard AWS configuration chain (see [`crate::load_sdk_config`]).
    pub async fn new(settings: GuardDutySettings) -> Result<Self, PollError> {
        settings.validate()?;
        let sdk = crate::load_sdk_config().await;
        Self::with_sdk_config(settings, &sdk)
    }

    /// A poller on an already loaded AWS configuration (credentials, retry, timeouts,
    /// endpoint overrides); the region is set per client from the settings.
    pub fn with_sdk_config(
        settings: GuardDutySettings,
        sdk: &SdkConfig,
    ) -> Result<Self, PollError> {
        settings.validate()?;
        let regions = settings
            .regions
            .iter()
            .map(|name| {
                let mut conf =
                    aws_sdk_guardduty::config::Builder::from(sdk).region(Region::new(name.clone()));
                if let Some(url) = &settings.endpoint_url {
                    conf = conf.endpoint_url(url.clone());
                }
                // For error messages only; the SDK resolves the endpoint itself, the same way.
                let endpoint = settings
                    .endpoint_url
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL_GUARDDUTY").ok())
                    .or_else(|| sdk.endpoint_url().map(str::to_string))
                    .unwrap_or_else(|| format!("https://guardduty.{name}.amazonaws.com"));
                let detector = settings
                    .detector_ids
                    .as_ref()
                    .and_then(|ids| ids.get(name).cloned());
                Regional {
                    name: name.clone(),
                    client: Client::from_conf(conf.build()),
                    endpoint,
                    detector,
                }
            })
            .collect();
        Ok(GuardDutyPoller {
            regions,
            discovered: Mutex::new(HashMap::new()),
        })
    }

    /// Every detector id `ListDetectors` reports in a region.
    async fn list_detectors(&self, r: &Regional) -> Result<Vec<String>, PollError> {
        let call = Call {
            op: "ListDetectors",
            region: &r.name,
            endpoint: &r.endpoint,
        };
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = r
                .client
                .list_detectors()
                .max_results(PAGE)
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| errors::map(&call, e))?;
            ids.extend(out.detector_ids().iter().cloned());
            match out.next_token().filter(|t| !t.is_empty()) {
                Some(t) if Some(t) != next.as_deref() => next = Some(t.to_string()),
                _ => break,
            }
        }
        // An empty answer is not cached: GuardDuty may be enabled there later.
        if !ids.is_empty() {
            self.discovered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(r.name.clone(), ids.clone());
        }
        Ok(ids)
    }

    /// The detectors to read in a region: the configured one, else the discovered ones.
    async fn detectors(&self, r: &Regional) -> Result<Vec<String>, PollError> {
        if let Some(id) = &r.detector {
            return Ok(vec![id.clone()]);
        }
        let cached = self
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r.name)
            .cloned();
        match cached {
            Some(ids) => Ok(ids),
            None => self.list_detectors(r).await,
        }
    }

    /// One `ListFindings` page: ids in update order, and AWS's next token.
    async fn list_findings(
        &self,
        r: &Regional,
        detector: &str,
        (since, until): (i64, i64),
        next: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), PollError> {
        let call = Call {
            op: "ListFindings",
            region: &r.name,
            endpoint: &r.endpoint,
        };
        let updated = Condition::builder()
            .greater_than_or_equal(since)
            .less_than(until)
            .build();
        let criteria = FindingCriteria::builder()
            .criterion("updatedAt", updated)
            .build();
        let sort = SortCriteria::builder()
            .attribute_name("updatedAt")
            .order_by(OrderBy::Asc)
            .build();
        let out = r
            .client
            .list_findings()
            .detector_id(detector)
            .finding_criteria(criteria)
            .sort_criteria(sort)
            .max_results(PAGE)
            .set_next_token(next.map(str::to_string))
            .send()
            .await
            .map_err(|e| errors::map(&call, e))?;
        let token = out.next_token().filter(|t| !t.is_empty());
        if token.is_some() && token == next {
            return Err(PollError::Protocol {
                url: r.endpoint.clone(),
                reason: format!(
                    "GuardDuty ListFindings in region {} returned the same nextToken again",
                    r.name
                ),
            });
        }
        Ok((out.finding_ids().to_vec(), token.map(str::to_string)))
    }

    /// `GetFindings` for up to 50 ids, each finding as raw JSON.
    async fn get_findings(
        &self,
        r: &Regional,
        detector: &str,
        ids: &[String],
    ) -> Result<Vec<serde_json::Value>, PollError> {
        let call = Call {
            op: "GetFindings",
            region: &r.name,
            endpoint: &r.endpoint,
        };
        let protocol = |reason: String| PollError::Protocol {
            url: r.endpoint.clone(),
            reason: format!("GuardDuty GetFindings in region {}: {reason}", r.name),
        };
        let body = raw::RawBody::default();
        let out = r
            .client
            .get_findings()
            .detector_id(detector)
            .set_finding_ids(Some(ids.to_vec()))
            .customize()
            .interceptor(body.clone())
            .send()
            .await
            .map_err(|e| errors::map(&call, e))?;
        let bytes = body
            .take()
            .ok_or_else(|| protocol("the response body was not captured".into()))?;
        let findings = raw::split_findings(&bytes, ids).map_err(protocol)?;
        if findings.len() != out.findings().len() {
            return Err(protocol(format!(
                "{} raw findings but the SDK read {}",
                findings.len(),
                out.findings().len()
            )));
        }
        Ok(findings)
    }

    fn decode(&self, token: &str) -> Result<Cursor, PollError> {
        let bad = |why: &str| PollError::Config(format!("invalid GuardDuty page token: {why}"));
        let cursor: Cursor = serde_json::from_str(token).map_err(|e| bad(&e.to_string()))?;
        match self.regions.get(cursor.region) {
            Some(r) if r.name == cursor.region_name => Ok(cursor),
            _ => Err(bad("it names a region these settings do not poll")),
        }
    }

    fn region_start(&self, region: usize) -> Cursor {
        Cursor {
            region,
            region_name: self
                .regions
                .get(region)
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            detector: None,
            next: None,
        }
    }
}

/// Epoch milliseconds at or after `t`: GuardDuty times have millisecond precision, so
/// `updatedAt >= ceil(since)` and `updatedAt < ceil(until)` are exactly the half-open window.
fn ceil_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms + 1
    }
}

#[async_trait]
impl AlertPoller for GuardDutyPoller {
    fn source(&self) -> AlertSource {
        AlertSource::GuardDuty
    }

    async fn test(&self) -> Result<(), PollError> {
        for r in &self.regions {
            let found = self.list_detectors(r).await?;
            if found.is_empty() {
                return Err(PollError::Config(format!(
                    "no GuardDuty detector in region {0}: enable GuardDuty in {0} or remove it \
                     from guardduty.regions",
                    r.name
                )));
            }
            if let Some(id) = &r.detector
                && !found.contains(id)
            {
                return Err(PollError::Config(format!(
                    "guardduty.detector_ids.{}: detector {id} does not exist there (found: {})",
                    r.name,
                    found.join(", ")
                )));
            }
            tracing::debug!(region = %r.name, detectors = found.len(), "GuardDuty reachable");
        }
        Ok(())
    }

    async fn fetch(
        &self,
        window: &PollWindow,
        page: Option<&str>,
    ) -> Result<PolledPage, PollError> {
        let bounds = (ceil_ms(window.since), ceil_ms(window.until));
        if bounds.0 >= bounds.1 {
            return Ok(PolledPage::default());
        }
        let mut cursor = match page {
            None => self.region_start(0),
            Some(token) => self.decode(token)?,
        };
        // Walk regions and detectors until a page has findings or everything is read.
        loop {
            let Some(r) = self.regions.get(cursor.region) else {
                return Ok(PolledPage::default());
            };
            let detectors = self.detectors(r).await?;
            let at = match &cursor.detector {
                None => 0,
                Some(d) => detectors.iter().position(|x| x == d).ok_or_else(|| {
                    PollError::Config(format!(
                        "invalid GuardDuty page token: detector {d} is not in region {}",
                        r.name
                    ))
                })?,
            };
            let Some(detector) = detectors.get(at) else {
                tracing::warn!(region = %r.name, "no GuardDuty detector in region; skipped");
                cursor = self.region_start(cursor.region + 1);
                continue;
            };
            let (ids, next) = self
                .list_findings(r, detector, bounds, cursor.next.as_deref())
                .await?;
            let following = match (next, detectors.get(at + 1)) {
                (Some(next), _) => Cursor {
                    detector: Some(detector.clone()),
                    next: Some(next),
                    ..cursor.clone()
                },
                (None, Some(d)) => Cursor {
                    detector: Some(d.clone()),
                    next: None,
                    ..cursor.clone()
                },
                (None, None) => self.region_start(cursor.region + 1),
            };
            let payloads = if ids.is_empty() {
                Vec::new()
            } else {
                self.get_findings(r, detector, &ids).await?
            };
            tracing::debug!(
                region = %r.name,
                detector = %detector,
                listed = ids.len(),
                fetched = payloads.len(),
                "GuardDuty findings page"
            );
            let done = following.region >= self.regions.len();
            if !payloads.is_empty() || done {
                let next_page = if done {
                    None
                } else {
                    let token = serde_json::to_string(&following).map_err(|e| {
                        PollError::Config(format!("cannot encode the page token: {e}"))
                    })?;
                    Some(token)
                };
                return Ok(PolledPage {
                    payloads,
                    next_page,
                });
            }
            cursor = following;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_bounds_round_up_to_milliseconds() {
        let t = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();
        assert_eq!(ceil_ms(t), 1_700_000_000_123);
        let t = t + chrono::Duration::microseconds(1);
        assert_eq!(ceil_ms(t), 1_700_000_000_124);
    }
}
