//! Slack incoming webhooks: `POST` of `{"text": …}` to the hook URL Slack issued.

use super::Preset;

/// A Slack incoming webhook.
pub struct Slack;

impl Preset for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    /// The payload the Slack recipe of the product's documentation uses.
    fn default_template(&self) -> &'static str {
        r#"{"text": "$Title\nDetails: $Event"}"#
    }
}
