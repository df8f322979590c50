//! Any JSON receiver: the template is the user's; the default carries every variable.

use super::Preset;

/// A receiver of the user's own JSON.
pub struct Custom;

impl Preset for Custom {
    fn name(&self) -> &'static str {
        "custom"
    }

    fn default_template(&self) -> &'static str {
        r#"{"event": "$EventType", "title": "$Title", "details": "$Details", "verdict": $Verdict, "score": $Score, "severity": $Severity, "host": $Host, "url": $Url, "investigation_id": $Investigation, "alert_id": $Alert, "source": $Source, "alarms": $Alarms, "action": $Action, "error": $Error, "time": "$Time"}"#
    }
}
