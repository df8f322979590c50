//! Webhook presets: what a receiver expects (its payload shape, its endpoint, the settings
//! and credential it needs). Each preset is one module implementing [`Preset`] and one
//! line in [`PRESETS`].

mod custom;
mod jira;
mod slack;
mod teams;

use crate::template::{TemplateValue, Variables};

/// One setting that is missing or wrong: (field path, problem).
pub type SettingProblem = (String, String);

/// What a kind of receiver needs.
pub trait Preset: Send + Sync {
    /// The name used in the API: `custom`, `slack`, `teams`, `jira`.
    fn name(&self) -> &'static str;

    /// The payload template used when the webhook has none.
    fn default_template(&self) -> &'static str;

    /// Checks the preset's settings; every problem names its field (`settings.project_key`).
    fn check_settings(&self, _settings: &serde_json::Value) -> Vec<SettingProblem> {
        Vec::new()
    }

    /// Whether an `Authorization` credential is required.
    fn requires_auth(&self) -> bool {
        false
    }

    /// The URL requests go to, from the webhook's configured URL.
    fn endpoint(&self, url: &str) -> String {
        url.to_string()
    }

    /// Variables the preset adds from its settings (`$Project`, `$IssueType`).
    fn extra_variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Sets the values of [`extra_variables`](Self::extra_variables) from `settings`.
    fn add_variables(&self, _settings: &serde_json::Value, _vars: &mut Variables) {}
}

/// Every preset: adding a receiver is one module plus one line here.
static PRESETS: &[&dyn Preset] = &[&custom::Custom, &slack::Slack, &teams::Teams, &jira::Jira];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static dyn Preset> {
    PRESETS.iter().copied().find(|p| p.name() == name)
}

/// The names of every preset, for error messages.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name()).collect()
}

/// A required, non-empty string setting; pushes a problem naming it when absent.
pub(crate) fn required_text(
    settings: &serde_json::Value,
    key: &str,
    problems: &mut Vec<SettingProblem>,
) -> Option<String> {
    match settings
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
    {
        Some(v) if !v.is_empty() => Some(v.to_string()),
        _ => {
            problems.push((
                format!("settings.{key}"),
                "missing: a non-empty string".into(),
            ));
            None
        }
    }
}

/// A string setting as a template value (empty when absent).
pub(crate) fn text_setting(settings: &serde_json::Value, key: &str) -> TemplateValue {
    TemplateValue::Text(
        settings
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_is_valid_with_its_variables() {
        for p in PRESETS {
            assert_eq!(preset(p.name()).map(|q| q.name()), Some(p.name()));
            crate::template::check(p.default_template(), p.extra_variables())
                .unwrap_or_else(|e| panic!("{}: {e}", p.name()));
        }
        assert!(preset("pagerduty").is_none());
    }
}
