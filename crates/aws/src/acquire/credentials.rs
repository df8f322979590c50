//! Credentials for acquiring in another account: `sts:AssumeRole` into the role an
//! environment's AWS scope names, with an optional external id and a session name that
//! names the investigation (so CloudTrail in the target account shows which
//! investigation made each snapshot).

use super::error::Ec2AcquireError;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ec2::error::DisplayErrorContext;

/// The role to assume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// The external id the role's trust policy asks for, if any.
    pub external_id: Option<String>,
}

/// The longest session name STS accepts.
const SESSION_NAME_MAX: usize = 64;

/// The STS session name for `investigation`: `riposte-` and the id, with characters
/// STS refuses replaced by `-`, cut to 64 characters.
pub fn session_name(investigation: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c);
    format!("riposte-{investigation}")
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(SESSION_NAME_MAX)
        .collect()
}

/// `base` (its region, endpoints and retry settings) with the credentials of `role`
/// assumed from `base`'s own. The role is assumed once here, so a refusal fails now and
/// names `sts:AssumeRole`; the credentials are renewed before they expire.
pub async fn assume_role(
    base: &SdkConfig,
    role: &AssumeRole,
    investigation: &str,
) -> Result<SdkConfig, Ec2AcquireError> {
    let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(session_name(investigation));
    if let Some(external_id) = &role.external_id {
        builder = builder.external_id(external_id.clone());
    }
    let provider = builder.configure(base).build().await;
    if let Err(err) = provider.provide_credentials().await {
        let message = DisplayErrorContext(&err).to_string();
        return Err(if message.contains("AccessDenied") {
            Ec2AcquireError::AccessDenied {
                operation: "AssumeRole",
                permission: "sts:AssumeRole",
                message: format!("{}: {message}", role.role_arn),
            }
        } else {
            Ec2AcquireError::Request {
                operation: "AssumeRole",
                code: None,
                message: format!("{}: {message}", role.role_arn),
            }
        });
    }
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}

/// The environment variable holding the external id the target accounts' roles ask for
/// (their trust policy's `sts:ExternalId` condition), if any.
pub const EXTERNAL_ID_ENV: &str = "RIPOSTE_AWS_EXTERNAL_ID";

/// The configuration an acquisition in `region` runs with: the standard AWS chain, then,
/// when the environment scope names a role, that role in `account_id` assumed for
/// `investigation` (with the external id of [`EXTERNAL_ID_ENV`] when set).
pub async fn acquisition_config(
    region: &str,
    account_id: Option<&str>,
    role_name: Option<&str>,
    investigation: &str,
) -> Result<SdkConfig, Ec2AcquireError> {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    let Some(role_name) = role_name else {
        return Ok(base);
    };
    let Some(account) = account_id else {
        return Err(Ec2AcquireError::InvalidOptions {
            key: "account_id",
            problem: format!(
                "the scope names role {role_name} but the target names no account to assume it in"
            ),
        });
    };
    let role = AssumeRole {
        role_arn: format!(
            "arn:{}:iam::{account}:role/{role_name}",
            crate::respond::partition(region)
        ),
        external_id: std::env::var(EXTERNAL_ID_ENV)
            .ok()
            .filter(|id| !id.is_empty()),
    };
    assume_role(&base, &role, investigation).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_name_the_investigation_within_what_sts_accepts() {
        assert_eq!(session_name("inv-42"), "riposte-inv-42");
        assert_eq!(session_name("a b/c:d"), "riposte-a-b-c-d");
        let long = session_name(&"x".repeat(100));
        assert_eq!(long.len(), SESSION_NAME_MAX);
        assert!(long.starts_with("riposte-x"));
    }
}
