//! The pull connections Riposte can poll: one line per vendor in [`build_poller`], which
//! turns a stored connection's settings (and its opened credential) into an
//! [`AlertPoller`]. The API uses the same function to validate settings and to test a
//! connection, so what is accepted is exactly what can be polled. [`build_containment`]
//! does the same for the XDR connections that can contain a host.

use riposte_aws::{GuardDutyPoller, GuardDutySettings};
use riposte_notify::{OutboundPolicy, allow_hint, is_public};
use riposte_sources::contain::HostContainment;
use riposte_sources::contain::crowdstrike::CrowdStrikeContainment;
use riposte_sources::contain::defender::DefenderContainment;
use riposte_sources::poll::crowdstrike::{CrowdStrikePoller, CrowdStrikeSettings};
use riposte_sources::poll::defender::{DefenderPoller, DefenderSettings};
use riposte_sources::poll::{AlertPoller, PollError};
use serde::de::DeserializeOwned;

/// The vendors a connection can name, and whether each needs a stored secret.
pub const VENDORS: &[(&str, bool)] = &[
    ("crowdstrike", true),
    ("defender", true),
    ("guardduty", false),
];

/// Whether `vendor` needs a secret (`None`: unknown vendor).
pub fn needs_secret(vendor: &str) -> Option<bool> {
    VENDORS
        .iter()
        .find(|(name, _)| *name == vendor)
        .map(|(_, secret)| *secret)
}

fn settings<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, PollError> {
    serde_json::from_value(value.clone()).map_err(|e| PollError::Config(format!("settings: {e}")))
}

fn secret(vendor: &str, secret: Option<String>) -> Result<String, PollError> {
    secret.ok_or_else(|| {
        PollError::Config(format!(
            "a {vendor} connection needs its client secret (`secret`)"
        ))
    })
}

/// A poller for a stored connection. Every URL in the settings must be `https` and reach
/// a public address, unless the outbound policy allows its address (a connection's URLs
/// are user input: without this check they would let an API user probe internal services);
/// its requests resolve names through the policy's resolver, so a name re-pointed at an
/// internal address after the check is refused when the connection is made.
pub async fn build_poller(
    vendor: &str,
    value: &serde_json::Value,
    client_secret: Option<String>,
    outbound: &OutboundPolicy,
) -> Result<Box<dyn AlertPoller>, PollError> {
    match vendor {
        "crowdstrike" => {
            let s: CrowdStrikeSettings = settings(value)?;
            check_url("base_url", &s.base_url, outbound).await?;
            Ok(Box::new(
                CrowdStrikePoller::new(s, secret(vendor, client_secret)?)?
                    .with_resolver(outbound.resolver())?,
            ))
        }
        "defender" => {
            let s: DefenderSettings = settings(value)?;
            check_url("login_url", &s.login_url, outbound).await?;
            check_url("api_url", &s.api_url, outbound).await?;
            Ok(Box::new(
                DefenderPoller::new(s, secret(vendor, client_secret)?)?
                    .with_resolver(outbound.resolver())?,
            ))
        }
        "guardduty" => {
            let s: GuardDutySettings = settings(value)?;
            if let Some(url) = &s.endpoint_url {
                check_url("endpoint_url", url, outbound).await?;
            }
            Ok(Box::new(GuardDutyPoller::new(s).await?))
        }
        other => Err(PollError::Config(format!(
            "unknown vendor `{other}`; expected one of {}",
            VENDORS
                .iter()
                .map(|(v, _)| *v)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A host-containment client for a stored CrowdStrike or Defender connection (the same
/// settings and credential as its poller), with the same URL checks as [`build_poller`].
pub async fn build_containment(
    vendor: &str,
    value: &serde_json::Value,
    client_secret: Option<String>,
    outbound: &OutboundPolicy,
) -> Result<Box<dyn HostContainment>, PollError> {
    match vendor {
        "crowdstrike" => {
            let s: CrowdStrikeSettings = settings(value)?;
            check_url("base_url", &s.base_url, outbound).await?;
            Ok(Box::new(
                CrowdStrikeContainment::new(&s, secret(vendor, client_secret)?)?
                    .with_resolver(outbound.resolver())?,
            ))
        }
        "defender" => {
            let s: DefenderSettings = settings(value)?;
            check_url("login_url", &s.login_url, outbound).await?;
            check_url("api_url", &s.api_url, outbound).await?;
            Ok(Box::new(
                DefenderContainment::new(&s, secret(vendor, client_secret)?)?
                    .with_resolver(outbound.resolver())?,
            ))
        }
        other => Err(PollError::Config(format!(
            "a {other} connection cannot contain hosts; only crowdstrike and defender connections can"
        ))),
    }
}

/// Refuses URLs that are not https or that resolve to a non-public address the policy
/// does not allow. Plain http is accepted only for allowed (test, lab) addresses.
async fn check_url(field: &str, url: &str, outbound: &OutboundPolicy) -> Result<(), PollError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| PollError::Config(format!("settings.{field}: `{url}` is not a URL: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| PollError::Config(format!("settings.{field}: `{url}` has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| PollError::Unreachable {
            url: url.to_string(),
            reason: format!("cannot resolve {host}: {e}"),
        })?
        .collect();
    for addr in &addrs {
        let ip = addr.ip();
        if !is_public(ip) && !outbound.permits(ip) {
            return Err(PollError::Config(format!(
                "settings.{field}: {host} resolves to {ip}, a non-public address; allow it with --outbound-allow {} if this is intended",
                allow_hint(ip)
            )));
        }
    }
    let allowed_plain = addrs.iter().all(|a| outbound.permits(a.ip()));
    if parsed.scheme() != "https" && !allowed_plain {
        return Err(PollError::Config(format!(
            "settings.{field}: `{url}` must use https"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_must_be_https_and_public_unless_allowed() {
        let strict = OutboundPolicy::default();
        let lab = OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        };
        let cs = |url: &str| serde_json::json!({"base_url": url, "client_id": "id"});
        let err = build_poller(
            "crowdstrike",
            &cs("http://127.0.0.1:9/"),
            Some("s".into()),
            &strict,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("non-public"), "{err}");
        assert!(
            build_poller(
                "crowdstrike",
                &cs("http://127.0.0.1:9/"),
                Some("s".into()),
                &lab
            )
            .await
            .is_ok()
        );
        let err = build_poller("crowdstrike", &cs("not a url"), Some("s".into()), &lab)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        let err = build_poller("crowdstrike", &cs("http://127.0.0.1:9/"), None, &lab)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
        let err = build_poller("qradar", &cs("x"), None, &lab)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("crowdstrike, defender, guardduty"),
            "{err}"
        );
        let err = build_poller(
            "crowdstrike",
            &serde_json::json!({"client_id": "x"}),
            Some("s".into()),
            &lab,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
    }
}
