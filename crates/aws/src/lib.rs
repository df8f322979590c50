//! Riposte's one home for the AWS SDK. Everything that talks to AWS APIs lives here, so
//! the SDK's large crates are compiled once, in one leaf crate, and a change elsewhere in
//! the workspace never rebuilds them.
//!
//! - [`guardduty`]: pull mode for GuardDuty findings (an [`AlertPoller`]).
//!
//! Credentials always come from the standard AWS chain (environment, shared profile,
//! web identity, container or instance role); Riposte stores no AWS secrets. Endpoints
//! follow the standard overrides too (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`),
//! which is how tests point the SDK at local fakes.
//!
//! [`AlertPoller`]: riposte_sources::poll::AlertPoller

#![warn(missing_docs)]

pub mod guardduty;

pub use aws_config::SdkConfig;
pub use guardduty::{GuardDutyPoller, GuardDutySettings};

/// Loads the shared AWS configuration the standard way: region, credentials, retry and
/// endpoint settings from the environment, the shared config files and the instance.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
