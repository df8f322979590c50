//! Payload templates: JSON with `$Variables`. A variable inside a JSON string is replaced by
//! its value JSON-escaped (quotes, backslashes, newlines and control characters cannot break
//! out of the string); a variable outside a string becomes a whole JSON value (a quoted
//! string, a number, or `null`). `$$` is a literal dollar sign. The result is checked to be
//! JSON before anything is sent.

use chrono::{DateTime, SecondsFormat, Utc};
use riposte_model::NotificationEvent;
use serde::Serialize;

/// Every variable a template may use, with what it holds (the README lists the same).
pub const VARIABLES: &[(&str, &str)] = &[
    ("Title", "the investigation's (or alert's) title"),
    ("Event", "the event, in words: `Processing with alarms`"),
    ("EventType", "the event's id: `processing_with_alarms`"),
    (
        "Details",
        "a summary: verdict, score, alarms, action or error",
    ),
    ("Verdict", "the verdict: `Malicious Activity Identified`, …"),
    ("Score", "the verdict's score (a number)"),
    ("Severity", "the highest alarm (or alert) severity"),
    ("Host", "the system investigated"),
    ("Url", "the investigation's page"),
    ("Investigation", "the investigation's id"),
    ("Alert", "the triggering alert's id"),
    (
        "Source",
        "the alert's source: `guardduty`, `crowdstrike`, …",
    ),
    ("Alarms", "how many alarms were raised (a number)"),
    ("Action", "the response action taken or failed"),
    ("Error", "why the action (or stage) failed"),
    ("Time", "when the event happened, RFC 3339 UTC"),
];

/// Why the occasion of a notification: an event, or a test from Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// One of the events webhooks subscribe to.
    Event(NotificationEvent),
    /// `POST /api/v1/webhooks/{id}/test`.
    Test,
}

impl Occasion {
    /// The id: `processing_with_alarms`, …, or `test`.
    pub fn id(self) -> &'static str {
        match self {
            Occasion::Event(e) => match e {
                NotificationEvent::AlertReceived => "alert_received",
                NotificationEvent::InvestigationStarted => "investigation_started",
                NotificationEvent::ProcessingComplete => "processing_complete",
                NotificationEvent::ProcessingWithAlarms => "processing_with_alarms",
                NotificationEvent::ResponseActionTaken => "response_action_taken",
                NotificationEvent::ResponseActionFailed => "response_action_failed",
                NotificationEvent::HuntCompleted => "hunt_completed",
            },
            Occasion::Test => "test",
        }
    }

    /// In words, for people.
    pub fn label(self) -> &'static str {
        match self {
            Occasion::Event(e) => match e {
                NotificationEvent::AlertReceived => "Alert received",
                NotificationEvent::InvestigationStarted => "Investigation started",
                NotificationEvent::ProcessingComplete => "Processing complete",
                NotificationEvent::ProcessingWithAlarms => "Processing with alarms",
                NotificationEvent::ResponseActionTaken => "Response action taken",
                NotificationEvent::ResponseActionFailed => "Response action failed",
                NotificationEvent::HuntCompleted => "Hunt completed",
            },
            Occasion::Test => "Test notification",
        }
    }
}

/// One alarm, as notifications and SIEM exports carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSummary {
    /// The detector that raised it.
    pub detector: String,
    /// One-line title.
    pub title: String,
    /// `low` … `critical`.
    pub severity: String,
    /// ATT&CK technique ids.
    pub mitre: Vec<String>,
}

/// What a notification is about. The caller fills what it knows; the rest stays empty
/// (an empty text inside a string, `null` outside one).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotificationContext {
    /// The investigation's (or alert's) title.
    pub title: String,
    /// A summary line or paragraph; built from the rest when empty.
    pub details: String,
    /// The verdict label.
    pub verdict: Option<String>,
    /// The verdict's score.
    pub score: Option<u32>,
    /// The highest severity.
    pub severity: Option<String>,
    /// The system investigated.
    pub host: Option<String>,
    /// The investigation's page.
    pub url: Option<String>,
    /// The investigation's id.
    pub investigation_id: Option<String>,
    /// The triggering alert's id.
    pub alert_id: Option<String>,
    /// The alert's source.
    pub source: Option<String>,
    /// The alarms raised.
    pub alarms: Vec<AlarmSummary>,
    /// The response action taken or failed.
    pub action: Option<String>,
    /// Why something failed.
    pub error: Option<String>,
    /// When it happened (`None`: now).
    pub time: Option<DateTime<Utc>>,
}

impl NotificationContext {
    /// The summary `$Details` holds: the caller's, or one built from the verdict, the
    /// alarms, the action and the error.
    pub fn details_text(&self) -> String {
        if !self.details.is_empty() {
            return self.details.clone();
        }
        let mut parts = Vec::new();
        if let Some(v) = &self.verdict {
            match self.score {
                Some(s) => parts.push(format!("Verdict: {v} (score {s})")),
                None => parts.push(format!("Verdict: {v}")),
            }
        }
        if !self.alarms.is_empty() {
            let titles: Vec<String> = self
                .alarms
                .iter()
                .map(|a| format!("{} [{}]", a.title, a.severity))
                .collect();
            parts.push(format!("Alarms: {}", titles.join("; ")));
        }
        if let Some(a) = &self.action {
            parts.push(format!("Action: {a}"));
        }
        if let Some(e) = &self.error {
            parts.push(format!("Error: {e}"));
        }
        parts.join("\n")
    }
}

/// A variable's value.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    /// Text.
    Text(String),
    /// A number.
    Number(i64),
    /// Nothing known.
    Null,
}

impl TemplateValue {
    fn text(value: Option<&String>) -> Self {
        value.map_or(TemplateValue::Null, |v| TemplateValue::Text(v.clone()))
    }

    /// Inside a JSON string: escaped text without quotes.
    fn in_string(&self) -> String {
        let text = match self {
            TemplateValue::Text(t) => t.clone(),
            TemplateValue::Number(n) => n.to_string(),
            TemplateValue::Null => String::new(),
        };
        let quoted = serde_json::Value::String(text).to_string();
        quoted[1..quoted.len() - 1].to_string()
    }

    /// Outside a string: a JSON value.
    fn as_json(&self) -> String {
        match self {
            TemplateValue::Text(t) => serde_json::Value::String(t.clone()).to_string(),
            TemplateValue::Number(n) => n.to_string(),
            TemplateValue::Null => "null".into(),
        }
    }
}

/// The values of every variable for one notification, plus any a preset adds.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: Vec<(String, TemplateValue)>,
}

impl Variables {
    /// The standard variables for `context` on `occasion`.
    pub fn new(occasion: Occasion, context: &NotificationContext) -> Self {
        use TemplateValue::{Number, Text};
        let time = context.time.unwrap_or_else(Utc::now);
        let highest = context
            .severity
            .clone()
            .or_else(|| highest_severity(&context.alarms));
        let values = vec![
            ("Title", Text(context.title.clone())),
            ("Event", Text(occasion.label().into())),
            ("EventType", Text(occasion.id().into())),
            ("Details", Text(context.details_text())),
            ("Verdict", TemplateValue::text(context.verdict.as_ref())),
            (
                "Score",
                context
                    .score
                    .map_or(TemplateValue::Null, |s| Number(i64::from(s))),
            ),
            ("Severity", TemplateValue::text(highest.as_ref())),
            ("Host", TemplateValue::text(context.host.as_ref())),
            ("Url", TemplateValue::text(context.url.as_ref())),
            (
                "Investigation",
                TemplateValue::text(context.investigation_id.as_ref()),
            ),
            ("Alert", TemplateValue::text(context.alert_id.as_ref())),
            ("Source", TemplateValue::text(context.source.as_ref())),
            (
                "Alarms",
                Number(i64::try_from(context.alarms.len()).unwrap_or(i64::MAX)),
            ),
            ("Action", TemplateValue::text(context.action.as_ref())),
            ("Error", TemplateValue::text(context.error.as_ref())),
            (
                "Time",
                Text(time.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ),
        ];
        Variables {
            values: values
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
        }
    }

    /// Adds (or replaces) a variable, e.g. a preset's `$Project`.
    pub fn set(&mut self, name: &str, value: TemplateValue) {
        self.values.retain(|(n, _)| n != name);
        self.values.push((name.to_string(), value));
    }

    /// The longest variable name `rest` starts with, and its value.
    fn longest_prefix(&self, rest: &str) -> Option<(&str, &TemplateValue)> {
        self.values
            .iter()
            .filter(|(n, _)| rest.starts_with(n.as_str()))
            .max_by_key(|(n, _)| n.len())
            .map(|(n, v)| (n.as_str(), v))
    }
}

/// The highest severity among `alarms` (severities are compared by their model order).
fn highest_severity(alarms: &[AlarmSummary]) -> Option<String> {
    alarms
        .iter()
        .filter_map(|a| a.severity.parse::<riposte_model::Severity>().ok())
        .max()
        .map(|s| s.to_string())
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `$Name` where no variable of that name exists.
    #[error(
        "unknown variable `${name}` at character {at}; known: {known}; write `$$` for a literal dollar sign"
    )]
    UnknownVariable {
        /// The name as written.
        name: String,
        /// Character offset of the `$`.
        at: usize,
        /// The variables known.
        known: String,
    },
    /// The rendered payload is not JSON.
    #[error("the payload is not valid JSON once rendered: {0}")]
    InvalidJson(String),
}

/// Renders `template` with `vars`. Unknown `$Names` are kept as written (templates are
/// checked with [`check`] when saved).
pub fn render(template: &str, vars: &Variables) -> Result<String, TemplateError> {
    let text = substitute(template, vars, &mut |_, _| {});
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| TemplateError::InvalidJson(e.to_string()))?;
    Ok(text)
}

/// Checks a template before it is saved: every `$Name` is a known variable (or one of
/// `extra`), and the result is valid JSON even for values full of quotes, backslashes,
/// newlines and non-ASCII characters.
pub fn check(template: &str, extra: &[&str]) -> Result<(), TemplateError> {
    let hostile = "quote \" backslash \\ newline \n tab \t nul \u{0} unicode é ✓ 😀 </script>";
    let context = NotificationContext {
        title: hostile.into(),
        details: hostile.into(),
        verdict: Some(hostile.into()),
        score: Some(7),
        severity: Some("high".into()),
        host: Some(hostile.into()),
        url: Some("https://riposte.example/investigations/x?a=1&b=\"2\"".into()),
        investigation_id: Some(hostile.into()),
        alert_id: Some(hostile.into()),
        source: Some(hostile.into()),
        alarms: Vec::new(),
        action: Some(hostile.into()),
        error: Some(hostile.into()),
        time: None,
    };
    let mut vars = Variables::new(Occasion::Test, &context);
    for name in extra {
        vars.set(name, TemplateValue::Text(hostile.into()));
    }
    let mut unknown = None;
    let text = substitute(template, &vars, &mut |name, at| {
        if unknown.is_none() {
            unknown = Some((name.to_string(), at));
        }
    });
    if let Some((name, at)) = unknown {
        let mut known: Vec<String> = VARIABLES.iter().map(|(n, _)| format!("${n}")).collect();
        known.extend(extra.iter().map(|n| format!("${n}")));
        return Err(TemplateError::UnknownVariable {
            name,
            at,
            known: known.join(", "),
        });
    }
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| TemplateError::InvalidJson(e.to_string()))?;
    Ok(())
}

/// The substitution itself; `unknown` hears of every `$Name` that matched no variable.
fn substitute(template: &str, vars: &Variables, unknown: &mut dyn FnMut(&str, usize)) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut in_string = false;
    let mut escaped = false;
    let mut skip_to = 0;
    for (i, c) in template.char_indices() {
        if i < skip_to {
            continue;
        }
        if c == '$' {
            let rest = &template[i + 1..];
            if rest.starts_with('$') {
                out.push('$');
                skip_to = i + 2;
                continue;
            }
            if !escaped && let Some((name, value)) = vars.longest_prefix(rest) {
                out.push_str(&if in_string {
                    value.in_string()
                } else {
                    value.as_json()
                });
                skip_to = i + 1 + name.len();
                continue;
            }
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if word.starts_with(|c: char| c.is_ascii_alphabetic()) {
                unknown(&word, template[..i].chars().count());
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(title: &str) -> Variables {
        let context = NotificationContext {
            title: title.into(),
            score: Some(42),
            ..Default::default()
        };
        Variables::new(
            Occasion::Event(NotificationEvent::ProcessingWithAlarms),
            &context,
        )
    }

    #[test]
    fn hostile_values_stay_inside_their_json_string() {
        let title = "a \"quoted\" \\ back\nslash\ttab \u{1} é ✓ 😀 \", \"injected\": \"x";
        let out = render(r#"{"text": "$Title!", "n": 1}"#, &vars(title)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["text"], format!("{title}!"));
        assert_eq!(v.as_object().unwrap().len(), 2, "no key was injected");
    }

    #[test]
    fn variables_outside_strings_become_json_values() {
        let out = render(
            r#"{"t": $Title, "score": $Score, "verdict": $Verdict, "n": $Alarms}"#,
            &vars("x\"y"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["t"], "x\"y");
        assert_eq!(v["score"], 42);
        assert!(v["verdict"].is_null());
        assert_eq!(v["n"], 0);
    }

    #[test]
    fn the_slack_seed_template_reads_title_then_event() {
        // The seed's template: `{"text": "$Title\nDetails: $Event"}`.
        let out = render(
            r#"{"text": "$Title\nDetails: $Event"}"#,
            &vars("Crypto miner"),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["text"], "Crypto miner\nDetails: Processing with alarms");
    }

    #[test]
    fn the_longest_name_wins_and_dollars_can_be_literal() {
        let out = render(r#"{"a": "$EventType $Event $$Title $Titles"}"#, &vars("T")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["a"],
            "processing_with_alarms Processing with alarms $Title Ts"
        );
    }

    #[test]
    fn check_names_unknown_variables_and_broken_json() {
        let e = check(r#"{"a": "$Titel"}"#, &[]).unwrap_err();
        assert!(
            matches!(&e, TemplateError::UnknownVariable { name, at: 7, .. } if name == "Titel"),
            "{e}"
        );
        assert!(matches!(
            check(r#"{"a": "$Title}"#, &[]),
            Err(TemplateError::InvalidJson(_))
        ));
        assert!(check(r#"{"price": "$$5", "p": "$Project"}"#, &["Project"]).is_ok());
        assert!(check(r#"{"a": $Title}"#, &[]).is_ok());
    }
}
