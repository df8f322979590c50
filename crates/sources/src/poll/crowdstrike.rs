//! CrowdStrike Falcon Alerts API v2 poller: an OAuth2 client-credentials token from
//! `/oauth2/token`, composite ids from `GET /alerts/queries/alerts/v2` (FQL window on
//! `updated_timestamp`, oldest first, offset paging), then the alerts themselves from
//! `POST /alerts/entities/alerts/v2`. Each payload is one alert entity, as
//! [`CrowdStrikeParser`](crate::crowdstrike::CrowdStrikeParser) reads it.

use super::http::{self, AuthHints, OAuthClient, RetryPolicy, Secret};
use super::{AlertPoller, PollError, PollWindow, PolledPage};
use async_trait::async_trait;
use riposte_model::AlertSource;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use tracing::debug;

/// Where and as whom to poll one CrowdStrike Falcon tenant. The client secret is kept
/// apart (see [`CrowdStrikePoller::new`]) so these settings can be stored and shown as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrowdStrikeSettings {
    /// API base URL of the tenant's cloud region, e.g. `https://api.us-2.crowdstrike.com`.
    pub base_url: String,
    /// OAuth2 API client id (the client needs the *Alerts: Read* scope).
    pub client_id: String,
    /// Alerts per page, 1–1000 (default 500).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl CrowdStrikeSettings {
    /// Settings with the default page size.
    pub fn new(base_url: impl Into<String>, client_id: impl Into<String>) -> Self {
        CrowdStrikeSettings {
            base_url: base_url.into(),
            client_id: client_id.into(),
            page_size: default_page_size(),
        }
    }
}

fn default_page_size() -> u32 {
    500
}

/// Most composite ids `POST /alerts/entities/alerts/v2` takes at once.
const MAX_PAGE_SIZE: u32 = 1000;

/// The Alerts API refuses `offset + limit` beyond this; a window holding more alerts must
/// be split.
const MAX_OFFSET: u64 = 10_000;

const HINTS: AuthHints = AuthHints {
    token: "check the API client id and secret, and that base_url is the API URL of the \
            tenant's cloud region (us-1, us-2, eu-1, us-gov-1)",
    api: "check that the API client has the Alerts: Read scope",
};

/// Polls CrowdStrike Falcon alerts.
#[derive(Debug)]
pub struct CrowdStrikePoller {
    base: String,
    page_size: u32,
    oauth: OAuthClient,
}

impl CrowdStrikePoller {
    /// Resolves host names with `resolver` (the server's outbound guard).
    pub fn with_resolver(mut self, resolver: http::Resolver) -> Result<Self, PollError> {
        self.oauth = self.oauth.with_resolver(resolver)?;
        Ok(self)
    }

    /// A poller for `settings`, authenticating with `client_secret`. Fails with
    /// [`PollError::Config`] naming the setting that is unusable.
    pub fn new(
        settings: CrowdStrikeSettings,
        client_secret: impl Into<String>,
    ) -> Result<Self, PollError> {
        let client_secret = client_secret.into();
        http::required("client_id", &settings.client_id)?;
        http::required("client_secret", &client_secret)?;
        if !(1..=MAX_PAGE_SIZE).contains(&settings.page_size) {
            return Err(PollError::Config(format!(
                "page_size {} is out of range (1–{MAX_PAGE_SIZE})",
                settings.page_size
            )));
        }
        let base = http::trimmed(&http::base_url("base_url", &settings.base_url)?);
        let form = vec![
            (
                "client_id",
                Secret::new(settings.client_id.trim().to_string()),
            ),
            ("client_secret", Secret::new(client_secret)),
        ];
        let oauth = OAuthClient::new(format!("{base}/oauth2/token"), form, HINTS)?;
        Ok(CrowdStrikePoller {
            base,
            page_size: settings.page_size,
            oauth,
        })
    }

    /// Replaces the default backoff on HTTP 429.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.oauth.retry = retry;
        self
    }

    /// One page of composite ids: `(ids, total)`.
    async fn query(
        &self,
        filter: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<String>, Option<u64>), PollError> {
        let url = format!("{}/alerts/queries/alerts/v2", self.base);
        let mut params = vec![
            ("sort", "updated_timestamp.asc".to_string()),
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
        ];
        if let Some(f) = filter {
            params.push(("filter", f.to_string()));
        }
        let response = self
            .oauth
            .send(&url, |c| c.get(&url).query(&params))
            .await?;
        let body: QueryResponse = parse(http::json(response, &url).await?, &url)?;
        Ok((body.resources, body.meta.pagination.total))
    }

    /// The alert entities for `ids`, in the order of `ids`.
    async fn entities(&self, ids: &[String]) -> Result<Vec<Value>, PollError> {
        let url = format!("{}/alerts/entities/alerts/v2", self.base);
        let request = json!({ "composite_ids": ids });
        let response = self
            .oauth
            .send(&url, |c| c.post(&url).json(&request))
            .await?;
        let body: EntitiesResponse = parse(http::json(response, &url).await?, &url)?;
        let order: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut alerts = body.resources;
        if let Some(bad) = alerts.iter().position(|a| !a.is_object()) {
            return Err(PollError::Protocol {
                url,
                reason: format!("resources[{bad}] is not an object"),
            });
        }
        alerts.sort_by_key(|a| {
            a.get("composite_id")
                .and_then(Value::as_str)
                .and_then(|id| order.get(id).copied())
                .unwrap_or(usize::MAX)
        });
        if alerts.len() != ids.len() {
            // Deleted or hidden between the query and the fetch; the next window has the rest.
            debug!(
                asked = ids.len(),
                got = alerts.len(),
                "CrowdStrike returned fewer alerts than ids"
            );
        }
        Ok(alerts)
    }
}

/// The FQL filter selecting alerts updated within `window`.
fn window_filter(window: &PollWindow) -> String {
    format!(
        "updated_timestamp:>='{}'+updated_timestamp:<'{}'",
        http::timestamp(window.since),
        http::timestamp(window.until)
    )
}

/// `GET /alerts/queries/alerts/v2` response (the parts used).
#[derive(Debug, Deserialize)]
struct QueryResponse {
    #[serde(default)]
    meta: Meta,
    #[serde(default)]
    resources: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    pagination: Pagination,
}

#[derive(Debug, Default, Deserialize)]
struct Pagination {
    total: Option<u64>,
}

/// `POST /alerts/entities/alerts/v2` response (the parts used).
#[derive(Debug, Deserialize)]
struct EntitiesResponse {
    #[serde(default)]
    resources: Vec<Value>,
}

/// Reads a response body into `T`, or says what did not match.
fn parse<T: serde::de::DeserializeOwned>(body: Value, url: &str) -> Result<T, PollError> {
    serde_json::from_value(body).map_err(|e| PollError::Protocol {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl AlertPoller for CrowdStrikePoller {
    fn source(&self) -> AlertSource {
        AlertSource::CrowdStrike
    }

    async fn test(&self) -> Result<(), PollError> {
        self.query(None, 1, 0).await.map(|_| ())
    }

    async fn fetch(
        &self,
        window: &PollWindow,
        page: Option<&str>,
    ) -> Result<PolledPage, PollError> {
        let offset = match page {
            None => 0,
            Some(p) => p.parse::<u64>().map_err(|_| PollError::Protocol {
                url: self.base.clone(),
                reason: format!("page token {p:?} is not a CrowdStrike offset"),
            })?,
        };
        if offset >= MAX_OFFSET {
            return Err(PollError::Protocol {
                url: self.base.clone(),
                reason: format!(
                    "more than {MAX_OFFSET} alerts were updated in {} – {}; the Alerts API \
                     cannot page further, poll shorter windows",
                    window.since, window.until
                ),
            });
        }
        let limit = u64::from(self.page_size).min(MAX_OFFSET - offset);
        let (ids, total) = self
            .query(Some(&window_filter(window)), limit, offset)
            .await?;
        if ids.is_empty() {
            return Ok(PolledPage::default());
        }
        let next = offset + ids.len() as u64;
        let more = total.map_or(ids.len() as u64 == limit, |t| next < t);
        let payloads = self.entities(&ids).await?;
        debug!(
            offset,
            count = payloads.len(),
            more,
            "CrowdStrike alerts page"
        );
        Ok(PolledPage {
            payloads,
            next_page: more.then(|| next.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_window_becomes_a_half_open_fql_filter() {
        let window = PollWindow {
            since: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap(),
            until: Utc.with_ymd_and_hms(2024, 5, 1, 10, 5, 0).unwrap(),
        };
        assert_eq!(
            window_filter(&window),
            "updated_timestamp:>='2024-05-01T10:00:00Z'+updated_timestamp:<'2024-05-01T10:05:00Z'"
        );
    }

    #[test]
    fn settings_are_checked_and_the_secret_stays_out_of_debug() {
        let settings = CrowdStrikeSettings::new("https://api.us-2.crowdstrike.com", "id");
        let poller = CrowdStrikePoller::new(settings.clone(), "s3cr3t-value").unwrap();
        assert!(!format!("{poller:?}").contains("s3cr3t-value"));
        let e = CrowdStrikePoller::new(settings.clone(), "").unwrap_err();
        assert!(e.to_string().contains("client_secret"), "{e}");
        let mut bad = settings;
        bad.page_size = 0;
        assert!(CrowdStrikePoller::new(bad, "s").is_err());
    }
}
