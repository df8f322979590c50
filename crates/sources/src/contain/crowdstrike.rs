//! CrowdStrike Falcon network containment: `POST /devices/entities/devices-actions/v2`
//! with `action_name=contain` or `lift_containment` and `{"ids": [device id]}`. The device's
//! `status` (`GET /devices/entities/devices/v2?ids=…`) is read first, so a host that is
//! already contained is recorded as unchanged and never released by Riposte. The API client
//! needs the *Hosts: Read* and *Hosts: Write* scopes.

use super::{
    ContainmentAction, ContainmentRecord, HostContainment, host_id, nothing_to_release, releasable,
};
use crate::poll::PollError;
use crate::poll::crowdstrike::CrowdStrikeSettings;
use crate::poll::http::{self, AuthHints, OAuthClient, RetryPolicy, Secret};
use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};

const HINTS: AuthHints = AuthHints {
    token: "check the API client id and secret, and that base_url is the API URL of the \
            tenant's cloud region (us-1, us-2, eu-1, us-gov-1)",
    api: "check that the API client has the Hosts: Read and Hosts: Write scopes",
};

/// States in which a device is contained or about to be.
const CONTAINED: &[&str] = &["contained", "containment_pending"];

/// Contains hosts through one Falcon tenant.
#[derive(Debug)]
pub struct CrowdStrikeContainment {
    base: String,
    oauth: OAuthClient,
}

impl CrowdStrikeContainment {
    /// Resolves host names with `resolver` (the server's outbound guard).
    pub fn with_resolver(mut self, resolver: http::Resolver) -> Result<Self, PollError> {
        self.oauth = self.oauth.with_resolver(resolver)?;
        Ok(self)
    }

    /// A client for `settings` (the same as the poller's), authenticating with
    /// `client_secret`. Fails with [`PollError::Config`] naming the unusable setting.
    pub fn new(
        settings: &CrowdStrikeSettings,
        client_secret: impl Into<String>,
    ) -> Result<Self, PollError> {
        let client_secret = client_secret.into();
        http::required("client_id", &settings.client_id)?;
        http::required("client_secret", &client_secret)?;
        let base = http::trimmed(&http::base_url("base_url", &settings.base_url)?);
        let form = vec![
            (
                "client_id",
                Secret::new(settings.client_id.trim().to_string()),
            ),
            ("client_secret", Secret::new(client_secret)),
        ];
        let oauth = OAuthClient::new(format!("{base}/oauth2/token"), form, HINTS)?;
        Ok(CrowdStrikeContainment { base, oauth })
    }

    /// Replaces the default backoff on HTTP 429.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.oauth.retry = retry;
        self
    }

    /// The device's `status` (`normal`, `contained`, `containment_pending`, …).
    async fn status(&self, id: &str) -> Result<String, PollError> {
        let url = format!("{}/devices/entities/devices/v2", self.base);
        let response = self
            .oauth
            .send(&url, |c| c.get(&url).query(&[("ids", id)]))
            .await?;
        let body = http::json(response, &url).await?;
        let device = body
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| {
                r.iter()
                    .find(|d| d.get("device_id").and_then(Value::as_str) == Some(id))
            })
            .ok_or_else(|| PollError::Protocol {
                url: url.clone(),
                reason: format!("no device {id} in the tenant"),
            })?;
        device
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PollError::Protocol {
                url,
                reason: format!("device {id} has no status"),
            })
    }

    /// Runs `action_name` on the device.
    async fn act(&self, id: &str, action_name: &str) -> Result<(), PollError> {
        let url = format!("{}/devices/entities/devices-actions/v2", self.base);
        let body = json!({ "ids": [id] });
        let response = self
            .oauth
            .send(&url, |c| {
                c.post(&url)
                    .query(&[("action_name", action_name)])
                    .json(&body)
            })
            .await?;
        let answer = http::json(response, &url).await?;
        let acted = answer
            .get("resources")
            .and_then(Value::as_array)
            .is_some_and(|r| {
                r.iter()
                    .any(|d| d.get("id").and_then(Value::as_str) == Some(id))
            });
        if !acted {
            return Err(PollError::Protocol {
                url,
                reason: format!("the {action_name} answer does not name device {id}"),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl HostContainment for CrowdStrikeContainment {
    fn vendor(&self) -> &'static str {
        "crowdstrike"
    }

    async fn contain(&self, host: &str, comment: &str) -> Result<ContainmentRecord, PollError> {
        let id = host_id(host)?;
        let before = self.status(id).await?;
        let changed = !CONTAINED.contains(&before.as_str());
        if changed {
            self.act(id, "contain").await?;
        }
        tracing::info!(device = id, previous = %before, changed, "CrowdStrike containment");
        Ok(ContainmentRecord {
            vendor: self.vendor().into(),
            host_id: id.to_string(),
            action: ContainmentAction::Contain,
            changed,
            previous_state: Some(before),
            vendor_action_id: None,
            comment: comment.to_string(),
            at: Utc::now(),
        })
    }

    async fn release(
        &self,
        contained: &ContainmentRecord,
        comment: &str,
    ) -> Result<ContainmentRecord, PollError> {
        releasable(self.vendor(), contained)?;
        if !contained.changed {
            return Ok(nothing_to_release(contained, comment));
        }
        let id = host_id(&contained.host_id)?;
        self.act(id, "lift_containment").await?;
        tracing::info!(device = id, "CrowdStrike containment lifted");
        Ok(ContainmentRecord {
            vendor: self.vendor().into(),
            host_id: id.to_string(),
            action: ContainmentAction::Release,
            changed: true,
            previous_state: Some("contained".into()),
            vendor_action_id: None,
            comment: comment.to_string(),
            at: Utc::now(),
        })
    }
}
