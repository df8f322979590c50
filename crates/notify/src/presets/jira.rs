//! JIRA issue creation: `POST {site}/rest/api/2/issue` with the project key and issue type
//! from the settings, authenticated with basic auth (Cloud: e-mail and API token) or a
//! bearer token (Data Center personal access token).

use super::{Preset, SettingProblem, required_text, text_setting};
use crate::template::Variables;

/// A JIRA site creating one issue per notification.
pub struct Jira;

impl Preset for Jira {
    fn name(&self) -> &'static str {
        "jira"
    }

    fn default_template(&self) -> &'static str {
        r#"{"fields": {"project": {"key": "$Project"}, "issuetype": {"name": "$IssueType"}, "summary": "[Riposte] $Event: $Title", "description": "$Details\n\nHost: $Host\nTime: $Time\n$Url", "labels": ["riposte"]}}"#
    }

    fn check_settings(&self, settings: &serde_json::Value) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        required_text(settings, "project_key", &mut problems);
        required_text(settings, "issue_type", &mut problems);
        problems
    }

    fn requires_auth(&self) -> bool {
        true
    }

    fn endpoint(&self, url: &str) -> String {
        let base = url.trim_end_matches('/');
        if base.ends_with("/rest/api/2/issue") {
            base.to_string()
        } else {
            format!("{base}/rest/api/2/issue")
        }
    }

    fn extra_variables(&self) -> &'static [&'static str] {
        &["Project", "IssueType"]
    }

    fn add_variables(&self, settings: &serde_json::Value, vars: &mut Variables) {
        vars.set("Project", text_setting(settings, "project_key"));
        vars.set("IssueType", text_setting(settings, "issue_type"));
    }
}
