//! Elasticsearch / OpenSearch bulk API: `POST {url}/_bulk` with NDJSON, an `index` action
//! line before each record, into the index the settings name (default `riposte`).

use super::{SiemSink, optional_text};
use crate::outbound::{OutboundRequest, OutboundResponse};
use crate::presets::SettingProblem;
use crate::retry::BodyCheck;
use serde_json::{Value, json};

/// An Elasticsearch or OpenSearch cluster.
pub struct ElasticBulk;

fn item_errors(response: &OutboundResponse) -> Option<String> {
    // `_bulk` answers 200 even when items fail; `errors` comes right after `took`, inside
    // the excerpt.
    let compact: String = response.excerpt.split_whitespace().collect();
    compact
        .contains("\"errors\":true")
        .then(|| format!("the bulk request had item errors: {}", response.excerpt))
}

impl SiemSink for ElasticBulk {
    fn kind(&self) -> &'static str {
        "elasticsearch"
    }

    fn check_settings(&self, settings: &Value) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        optional_text(settings, "index", &mut problems);
        if let Some(index) = settings.get("index").and_then(Value::as_str) {
            // Elasticsearch's index name rules: lowercase, none of these characters.
            let bad = index
                .chars()
                .any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c))
                || index.starts_with(['-', '_', '+']);
            if bad {
                problems.push((
                    "settings.index".into(),
                    "not a valid index name (lowercase; no spaces or \\ / * ? \" < > | , # :; not starting with - _ +)".into(),
                ));
            }
        }
        problems
    }

    fn request(&self, url: &str, settings: &Value, records: &[Value]) -> OutboundRequest {
        let index = settings
            .get("index")
            .and_then(Value::as_str)
            .unwrap_or("riposte");
        let action = json!({"index": {"_index": index}}).to_string();
        let mut body = Vec::new();
        for record in records {
            body.extend_from_slice(action.as_bytes());
            body.push(b'\n');
            body.extend_from_slice(record.to_string().as_bytes());
            body.push(b'\n');
        }
        let endpoint = format!("{}/_bulk", url.trim_end_matches('/'));
        OutboundRequest::post(endpoint, "application/x-ndjson", body)
    }

    fn body_check(&self) -> Option<BodyCheck> {
        Some(item_errors)
    }
}
