//! Defender for Endpoint machine isolation: `POST {api}/api/machines/{id}/isolate` with
//! `{"Comment": …, "IsolationType": "Full"}` and `POST …/unisolate` with `{"Comment": …}`;
//! each answers with a machine action whose id is recorded. The Entra app needs the
//! `Machine.Isolate` application permission of *WindowsDefenderATP*.

use super::{ContainmentAction, ContainmentRecord, HostContainment, host_id, releasable};
use crate::poll::PollError;
use crate::poll::defender::DefenderSettings;
use crate::poll::http::{self, AuthHints, OAuthClient, RetryPolicy, Secret};
use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};

const HINTS: AuthHints = AuthHints {
    token: "check the tenant id, the application (client) id and the client secret value \
            (not its secret id), and that the secret has not expired",
    api: "check that the app registration has the WindowsDefenderATP application permission \
          Machine.Isolate and that an admin granted consent",
};

/// Isolates machines through one Defender for Endpoint tenant.
#[derive(Debug)]
pub struct DefenderContainment {
    api: String,
    oauth: OAuthClient,
}

impl DefenderContainment {
    /// Resolves host names with `resolver` (the server's outbound guard).
    pub fn with_resolver(mut self, resolver: http::Resolver) -> Result<Self, PollError> {
        self.oauth = self.oauth.with_resolver(resolver)?;
        Ok(self)
    }

    /// A client for `settings` (the same as the poller's), authenticating with
    /// `client_secret`. Fails with [`PollError::Config`] naming the unusable setting.
    pub fn new(
        settings: &DefenderSettings,
        client_secret: impl Into<String>,
    ) -> Result<Self, PollError> {
        let client_secret = client_secret.into();
        let tenant = settings.tenant_id.trim();
        http::required("tenant_id", tenant)?;
        http::required("client_id", &settings.client_id)?;
        http::required("client_secret", &client_secret)?;
        http::required("scope", &settings.scope)?;
        if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(PollError::Config(format!(
                "tenant_id {tenant:?} is not a tenant id or domain"
            )));
        }
        let login = http::trimmed(&http::base_url("login_url", &settings.login_url)?);
        let api = http::trimmed(&http::base_url("api_url", &settings.api_url)?);
        let form = vec![
            ("grant_type", Secret::new("client_credentials".into())),
            (
                "client_id",
                Secret::new(settings.client_id.trim().to_string()),
            ),
            ("client_secret", Secret::new(client_secret)),
            ("scope", Secret::new(settings.scope.trim().to_string())),
        ];
        let oauth = OAuthClient::new(format!("{login}/{tenant}/oauth2/v2.0/token"), form, HINTS)?;
        Ok(DefenderContainment { api, oauth })
    }

    /// Replaces the default backoff on HTTP 429.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.oauth.retry = retry;
        self
    }

    /// Posts `body` to the machine's `verb` endpoint; returns the machine action's id.
    async fn act(&self, id: &str, verb: &str, body: Value) -> Result<String, PollError> {
        let url = format!("{}/api/machines/{id}/{verb}", self.api);
        let response = self.oauth.send(&url, |c| c.post(&url).json(&body)).await?;
        let action = http::json(response, &url).await?;
        action
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PollError::Protocol {
                url,
                reason: "the machine action has no id".into(),
            })
    }
}

#[async_trait]
impl HostContainment for DefenderContainment {
    fn vendor(&self) -> &'static str {
        "defender"
    }

    async fn contain(&self, host: &str, comment: &str) -> Result<ContainmentRecord, PollError> {
        let id = host_id(host)?;
        let body = json!({"Comment": comment, "IsolationType": "Full"});
        let action = self.act(id, "isolate", body).await?;
        tracing::info!(machine = id, action = %action, "Defender isolation requested");
        Ok(ContainmentRecord {
            vendor: self.vendor().into(),
            host_id: id.to_string(),
            action: ContainmentAction::Contain,
            changed: true,
            previous_state: None,
            vendor_action_id: Some(action),
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
            return Ok(super::nothing_to_release(contained, comment));
        }
        let id = host_id(&contained.host_id)?;
        let action = self
            .act(id, "unisolate", json!({"Comment": comment}))
            .await?;
        tracing::info!(machine = id, action = %action, "Defender release requested");
        Ok(ContainmentRecord {
            vendor: self.vendor().into(),
            host_id: id.to_string(),
            action: ContainmentAction::Release,
            changed: true,
            previous_state: Some("isolated".into()),
            vendor_action_id: Some(action),
            comment: comment.to_string(),
            at: Utc::now(),
        })
    }
}
