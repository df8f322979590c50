//! Microsoft Defender for Endpoint alerts poller: an Entra ID client-credentials token from
//! `{login}/{tenant}/oauth2/v2.0/token`, then `GET {api}/api/alerts` with an OData window on
//! `lastUpdateTime` and `$expand=evidence`, following `@odata.nextLink`. Each payload is one
//! alert, as [`DefenderParser`](crate::defender::DefenderParser) reads it.

use super::http::{self, AuthHints, OAuthClient, RetryPolicy, Secret};
use super::{AlertPoller, PollError, PollWindow, PolledPage};
use async_trait::async_trait;
use reqwest::Url;
use riposte_model::AlertSource;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;

/// Where and as whom to poll one Defender for Endpoint tenant. The client secret is kept
/// apart (see [`DefenderPoller::new`]) so these settings can be stored and shown as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefenderSettings {
    /// Entra ID tenant (directory) id or domain.
    pub tenant_id: String,
    /// Application (client) id of the app registration; it needs the `Alert.Read.All`
    /// application permission of *WindowsDefenderATP*, with admin consent.
    pub client_id: String,
    /// Entra ID login base URL (default `https://login.microsoftonline.com`).
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// Defender API base URL (default `https://api.securitycenter.microsoft.com`; regional
    /// hosts such as `https://eu.api.security.microsoft.com` work too).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// OAuth2 scope requested (default `https://api.securitycenter.microsoft.com/.default`).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Alerts per page, 1–10000 (default 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl DefenderSettings {
    /// Settings for the public cloud with the default page size.
    pub fn new(tenant_id: impl Into<String>, client_id: impl Into<String>) -> Self {
        DefenderSettings {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            login_url: default_login_url(),
            api_url: default_api_url(),
            scope: default_scope(),
            page_size: default_page_size(),
        }
    }
}

fn default_login_url() -> String {
    "https://login.microsoftonline.com".into()
}

fn default_api_url() -> String {
    "https://api.securitycenter.microsoft.com".into()
}

fn default_scope() -> String {
    "https://api.securitycenter.microsoft.com/.default".into()
}

fn default_page_size() -> u32 {
    1000
}

/// The alerts API's largest `$top`.
const MAX_PAGE_SIZE: u32 = 10_000;

const HINTS: AuthHints = AuthHints {
    token: "check the tenant id, the application (client) id and the client secret value \
            (not its secret id), and that the secret has not expired",
    api: "check that the app registration has the WindowsDefenderATP application permission \
          Alert.Read.All and that an admin granted consent",
};

/// Polls Microsoft Defender for Endpoint alerts.
#[derive(Debug)]
pub struct DefenderPoller {
    api: Url,
    page_size: u32,
    oauth: OAuthClient,
}

impl DefenderPoller {
    /// Resolves host names with `resolver` (the server's outbound guard).
    pub fn with_resolver(mut self, resolver: http::Resolver) -> Result<Self, PollError> {
        self.oauth = self.oauth.with_resolver(resolver)?;
        Ok(self)
    }

    /// A poller for `settings`, authenticating with `client_secret`. Fails with
    /// [`PollError::Config`] naming the setting that is unusable.
    pub fn new(
        settings: DefenderSettings,
        client_secret: impl Into<String>,
    ) -> Result<Self, PollError> {
        let client_secret = client_secret.into();
        let tenant = settings.tenant_id.trim();
        http::required("tenant_id", tenant)?;
        http::required("client_id", &settings.client_id)?;
        http::required("client_secret", &client_secret)?;
        http::required("scope", &settings.scope)?;
        // The tenant goes into the token URL's path.
        if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(PollError::Config(format!(
                "tenant_id {tenant:?} is not a tenant id or domain"
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&settings.page_size) {
            return Err(PollError::Config(format!(
                "page_size {} is out of range (1–{MAX_PAGE_SIZE})",
                settings.page_size
            )));
        }
        let login = http::trimmed(&http::base_url("login_url", &settings.login_url)?);
        let api = http::base_url("api_url", &settings.api_url)?;
        let form = vec![
            ("grant_type", Secret::new("client_credentials".into())),
            (
                "client_id",
                Secret::new(settings.client_id.trim().to_string()),
            ),
            ("client_secret", Secret::new(client_secret)),
            ("scope", Secret::new(settings.scope.trim().to_string())),
        ];
        let token_url = format!("{login}/{tenant}/oauth2/v2.0/token");
        let oauth = OAuthClient::new(token_url, form, HINTS)?;
        Ok(DefenderPoller {
            api,
            page_size: settings.page_size,
            oauth,
        })
    }

    /// Replaces the default backoff on HTTP 429.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.oauth.retry = retry;
        self
    }

    /// `{api}/api/alerts` with `params`.
    fn alerts_url(&self, params: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        let path = format!("{}/api/alerts", self.api.path().trim_end_matches('/'));
        url.set_path(&path);
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// Checks that a next link stays on the API's origin: it carries no credential itself,
    /// but the bearer token is sent with it.
    fn same_origin(&self, link: &str) -> Result<Url, PollError> {
        let refuse = |reason: String| PollError::Protocol {
            url: self.api.to_string(),
            reason,
        };
        let url = Url::parse(link)
            .map_err(|e| refuse(format!("@odata.nextLink {link:?} is not a URL ({e})")))?;
        if url.origin() != self.api.origin() {
            return Err(refuse(format!(
                "@odata.nextLink points to {}, not to the API host {}; refusing to send the \
                 token there",
                url.origin().ascii_serialization(),
                self.api.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// GETs one alerts page.
    async fn get(&self, url: Url) -> Result<AlertsResponse, PollError> {
        let shown = url.to_string();
        let response = self.oauth.send(&shown, |c| c.get(url.clone())).await?;
        let body = http::json(response, &shown).await?;
        serde_json::from_value(body).map_err(|e| PollError::Protocol {
            url: shown,
            reason: e.to_string(),
        })
    }
}

/// The OData filter selecting alerts updated within `window`.
fn window_filter(window: &PollWindow) -> String {
    format!(
        "lastUpdateTime ge {} and lastUpdateTime lt {}",
        http::timestamp(window.since),
        http::timestamp(window.until)
    )
}

/// `GET /api/alerts` response (the parts used).
#[derive(Debug, Deserialize)]
struct AlertsResponse {
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[async_trait]
impl AlertPoller for DefenderPoller {
    fn source(&self) -> AlertSource {
        AlertSource::Defender
    }

    async fn test(&self) -> Result<(), PollError> {
        self.get(self.alerts_url(&[("$top", "1")]))
            .await
            .map(|_| ())
    }

    async fn fetch(
        &self,
        window: &PollWindow,
        page: Option<&str>,
    ) -> Result<PolledPage, PollError> {
        let url = match page {
            Some(link) => self.same_origin(link)?,
            None => {
                let top = self.page_size.to_string();
                self.alerts_url(&[
                    ("$filter", &window_filter(window)),
                    ("$expand", "evidence"),
                    ("$top", &top),
                ])
            }
        };
        let shown = url.to_string();
        let body = self.get(url).await?;
        if let Some(bad) = body.value.iter().position(|a| !a.is_object()) {
            return Err(PollError::Protocol {
                url: shown,
                reason: format!("value[{bad}] is not an object"),
            });
        }
        // Refuse a foreign link now, while the response that carried it is at hand.
        if let Some(link) = &body.next_link {
            self.same_origin(link)?;
        }
        debug!(
            count = body.value.len(),
            more = body.next_link.is_some(),
            "Defender alerts page"
        );
        Ok(PolledPage {
            payloads: body.value,
            next_page: body.next_link,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_window_becomes_a_half_open_odata_filter() {
        let window = PollWindow {
            since: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap(),
            until: Utc.with_ymd_and_hms(2024, 5, 1, 10, 5, 0).unwrap(),
        };
        assert_eq!(
            window_filter(&window),
            "lastUpdateTime ge 2024-05-01T10:00:00Z and lastUpdateTime lt 2024-05-01T10:05:00Z"
        );
    }

    #[test]
    fn next_links_must_stay_on_the_api_host() {
        let poller =
            DefenderPoller::new(DefenderSettings::new("contoso.onmicrosoft.com", "id"), "s")
                .unwrap();
        let ok = "https://api.securitycenter.microsoft.com/api/alerts?$skip=10";
        assert!(poller.same_origin(ok).is_ok());
        for bad in [
            "https://evil.example/api/alerts?$skip=10",
            "http://api.securitycenter.microsoft.com/api/alerts",
            "https://api.securitycenter.microsoft.com:8443/api/alerts",
            "/api/alerts?$skip=10",
        ] {
            assert!(
                matches!(poller.same_origin(bad), Err(PollError::Protocol { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn settings_are_checked_and_the_secret_stays_out_of_debug() {
        let settings = DefenderSettings::new("tenant", "id");
        let poller = DefenderPoller::new(settings.clone(), "s3cr3t-value").unwrap();
        assert!(!format!("{poller:?}").contains("s3cr3t-value"));
        let mut bad = settings;
        bad.tenant_id = "a/../b".into();
        let e = DefenderPoller::new(bad, "s").unwrap_err();
        assert!(e.to_string().contains("tenant_id"), "{e}");
    }
}
