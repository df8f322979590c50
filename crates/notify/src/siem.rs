//! SIEM exports: alarms and verdicts as flat JSON records, pushed in batches. Each kind of
//! collector is one module implementing [`SiemSink`] and one line in [`SINKS`].

mod elastic;
mod splunk;

use crate::outbound::OutboundRequest;
use crate::presets::SettingProblem;
use crate::retry::BodyCheck;
use crate::template::{NotificationContext, Occasion};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

/// Records per request when the settings name no `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Most records per request.
pub const MAX_BATCH_SIZE: usize = 10_000;

/// A collector records are pushed to.
pub trait SiemSink: Send + Sync {
    /// The name used in the API: `splunk_hec`, `elasticsearch`.
    fn kind(&self) -> &'static str;

    /// Checks the kind's settings; every problem names its field.
    fn check_settings(&self, settings: &Value) -> Vec<SettingProblem>;

    /// One request carrying `records` to the collector at `url` (its base URL).
    fn request(&self, url: &str, settings: &Value, records: &[Value]) -> OutboundRequest;

    /// How a 2xx answer can still report a failure.
    fn body_check(&self) -> Option<BodyCheck> {
        None
    }
}

/// Every sink: adding a collector is one module plus one line here.
static SINKS: &[&dyn SiemSink] = &[&splunk::SplunkHec, &elastic::ElasticBulk];

/// The sink of kind `kind`.
pub fn sink(kind: &str) -> Option<&'static dyn SiemSink> {
    SINKS.iter().copied().find(|s| s.kind() == kind)
}

/// The kinds of every sink, for error messages.
pub fn sink_kinds() -> Vec<&'static str> {
    SINKS.iter().map(|s| s.kind()).collect()
}

/// The batch size a settings object asks for, or a problem naming `settings.batch_size`.
pub fn batch_size(settings: &Value) -> Result<usize, SettingProblem> {
    match settings.get("batch_size") {
        None | Some(Value::Null) => Ok(DEFAULT_BATCH_SIZE),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_BATCH_SIZE).contains(n))
            .ok_or_else(|| {
                (
                    "settings.batch_size".into(),
                    format!("must be a whole number, 1–{MAX_BATCH_SIZE}"),
                )
            }),
    }
}

/// An optional string setting; a problem naming it when it is present but not a string.
pub(crate) fn optional_text(settings: &Value, key: &str, problems: &mut Vec<SettingProblem>) {
    match settings.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => problems.push((
            format!("settings.{key}"),
            "must be a non-empty string".into(),
        )),
    }
}

/// The records an occasion exports: one `verdict` record, then one `alarm` record per alarm.
pub fn records(occasion: Occasion, context: &NotificationContext) -> Vec<Value> {
    let time = context
        .time
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let base = json!({
        "@timestamp": time,
        "event": occasion.id(),
        "title": context.title,
        "host": context.host,
        "investigation_id": context.investigation_id,
        "alert_id": context.alert_id,
        "source": context.source,
        "verdict": context.verdict,
        "score": context.score,
        "url": context.url,
    });
    let mut verdict = base.clone();
    verdict["kind"] = json!("verdict");
    verdict["alarm_count"] = json!(context.alarms.len());
    verdict["action"] = json!(context.action);
    verdict["error"] = json!(context.error);
    let mut out = vec![verdict];
    for alarm in &context.alarms {
        let mut record = base.clone();
        record["kind"] = json!("alarm");
        record["alarm"] = json!(alarm);
        out.push(record);
    }
    out
}
