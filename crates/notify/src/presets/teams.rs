//! Microsoft Teams incoming webhooks: a legacy actionable `MessageCard` (the format Teams'
//! incoming-webhook connector documents), with the investigation link as an action.

use super::Preset;

/// A Microsoft Teams incoming webhook.
pub struct Teams;

impl Preset for Teams {
    fn name(&self) -> &'static str {
        "teams"
    }

    fn default_template(&self) -> &'static str {
        r#"{"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": "$Title", "title": "$Event: $Title", "text": "$Details", "sections": [{"facts": [{"name": "Verdict", "value": "$Verdict"}, {"name": "Host", "value": "$Host"}, {"name": "Severity", "value": "$Severity"}, {"name": "Time", "value": "$Time"}]}], "potentialAction": [{"@type": "OpenUri", "name": "Open in Riposte", "targets": [{"os": "default", "uri": "$Url"}]}]}"#
    }
}
