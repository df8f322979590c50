//! Splunk HTTP Event Collector: `POST {url}/services/collector/event` with
//! `Authorization: Splunk <token>`; a batch is several event objects one after the other.

use super::{SiemSink, optional_text};
use crate::outbound::OutboundRequest;
use crate::presets::SettingProblem;
use serde_json::{Value, json};

/// A Splunk HEC endpoint.
pub struct SplunkHec;

impl SiemSink for SplunkHec {
    fn kind(&self) -> &'static str {
        "splunk_hec"
    }

    fn check_settings(&self, settings: &Value) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        for key in ["index", "sourcetype", "source"] {
            optional_text(settings, key, &mut problems);
        }
        problems
    }

    fn request(&self, url: &str, settings: &Value, records: &[Value]) -> OutboundRequest {
        let text = |key: &str, default: &str| {
            settings
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        let mut body = Vec::new();
        for record in records {
            let time = record
                .get("@timestamp")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis() as f64 / 1000.0);
            let mut event = json!({
                "time": time,
                "host": record.get("host"),
                "source": text("source", "riposte"),
                "sourcetype": text("sourcetype", "riposte"),
                "event": record,
            });
            if let Some(index) = settings.get("index").and_then(Value::as_str) {
                event["index"] = json!(index);
            }
            if !body.is_empty() {
                body.push(b'\n');
            }
            body.extend_from_slice(event.to_string().as_bytes());
        }
        let endpoint = format!("{}/services/collector/event", url.trim_end_matches('/'));
        OutboundRequest::post(endpoint, "application/json", body)
    }
}
