//! AWS SDK errors as [`PollError`]s whose messages name the region and what to check.

use aws_sdk_guardduty::config::http::HttpResponse;
use aws_sdk_guardduty::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use riposte_sources::poll::PollError;
use std::time::Duration;

/// Error codes that mean the credentials (or their permissions) were refused.
const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnauthorizedOperation",
];

/// Error codes of throttling (the SDK's standard retry already backed off on these).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// How long to ask the caller to wait when AWS gave no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where a call went, for error messages.
pub(super) struct Call<'a> {
    /// The operation, e.g. `ListFindings`.
    pub op: &'static str,
    /// The AWS region.
    pub region: &'a str,
    /// The endpoint, for `Unreachable` and `Http` errors.
    pub endpoint: &'a str,
}

/// What to check when AWS refuses the credentials.
fn auth_hint(region: &str) -> String {
    format!(
        "check the AWS credentials Riposte runs with (environment, profile or instance role) \
         and that they allow guardduty:ListDetectors, guardduty:ListFindings and \
         guardduty:GetFindings in {region}"
    )
}

/// Maps an SDK error of any GuardDuty operation.
pub(super) fn map<E>(call: &Call<'_>, err: SdkError<E, HttpResponse>) -> PollError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let Call {
        op,
        region,
        endpoint,
    } = *call;
    match &err {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            let status = raw.status().as_u16();
            let code = service.err().code().unwrap_or("");
            let message = service.err().message().unwrap_or("");
            if AUTH_CODES.contains(&code) || status == 401 || status == 403 {
                let hint = auth_hint(region);
                return PollError::Auth(format!(
                    "GuardDuty {op} in region {region} was refused ({code}: {message}); {hint}"
                ));
            }
            if THROTTLING_CODES.contains(&code) || status == 429 {
                let retry_after = raw
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs);
                tracing::warn!(op, region, code, "GuardDuty still throttling after retries");
                return PollError::RateLimited { retry_after };
            }
            PollError::Http {
                url: endpoint.to_string(),
                status,
                body: format!("GuardDuty {op} in region {region}: {code}: {message}"),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let reason = DisplayErrorContext(&err).to_string();
            if mentions_credentials(&reason) {
                return no_credentials(region, &reason);
            }
            PollError::Unreachable {
                url: endpoint.to_string(),
                reason: format!("GuardDuty {op} in region {region}: {reason}"),
            }
        }
        SdkError::ResponseError(_) => PollError::Protocol {
            url: endpoint.to_string(),
            reason: format!(
                "GuardDuty {op} in region {region}: {}",
                DisplayErrorContext(&err)
            ),
        },
        // Construction failures are local: no credentials found, a bad endpoint, a bad
        // input. Credential problems are the common one and need a person.
        _ => {
            let reason = DisplayErrorContext(&err).to_string();
            if mentions_credentials(&reason) {
                return no_credentials(region, &reason);
            }
            PollError::Config(format!("GuardDuty {op} in region {region}: {reason}"))
        }
    }
}

/// Whether an error chain is about resolving credentials (never their values: the SDK's
/// messages name the providers tried, not the secrets).
fn mentions_credentials(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("credential") || lower.contains("identity")
}

fn no_credentials(region: &str, reason: &str) -> PollError {
    let hint = auth_hint(region);
    PollError::Auth(format!(
        "no usable AWS credentials for GuardDuty in region {region} ({reason}); {hint}"
    ))
}
