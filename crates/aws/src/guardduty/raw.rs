//! The raw `GetFindings` response body. The SDK's `Finding` struct only knows the fields of
//! its model version; the poller hands the parser each finding exactly as GuardDuty sent
//! it, so fields added by AWS later (or unknown to the SDK) reach the stored alert.

use aws_sdk_guardduty::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_guardduty::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_guardduty::error::BoxError;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Keeps a copy of the (already buffered) response body of one operation call. Installed
/// per call; on retries the last attempt's body wins.
#[derive(Debug, Clone, Default)]
pub(super) struct RawBody(Arc<Mutex<Option<Vec<u8>>>>);

impl RawBody {
    /// The captured body, if the call got one.
    pub(super) fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RiposteRawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Non-streaming responses are read into memory before deserialisation, so the
        // bytes are there; a streaming body would answer `None` and is not captured.
        let bytes = context.response().body().bytes().map(<[u8]>::to_vec);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = bytes;
        Ok(())
    }
}

/// The wire shape of a `GetFindings` answer.
#[derive(serde::Deserialize)]
struct FindingsBody {
    findings: Vec<Value>,
}

/// Splits a `{"findings": [...]}` body into its finding objects, ordered as `ids` (the
/// `ListFindings` order, oldest update first); findings whose id was not asked for go last.
pub(super) fn split_findings(body: &[u8], ids: &[String]) -> Result<Vec<Value>, String> {
    let parsed: FindingsBody = serde_json::from_slice(body)
        .map_err(|e| format!("GetFindings body is not {{\"findings\": [...]}}: {e}"))?;
    let rank: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut findings = parsed.findings;
    for (i, f) in findings.iter().enumerate() {
        if !f.is_object() {
            return Err(format!("GetFindings findings[{i}] is not an object"));
        }
    }
    findings.sort_by_key(|f| {
        f.get("id")
            .and_then(Value::as_str)
            .and_then(|id| rank.get(id).copied())
            .unwrap_or(usize::MAX)
    });
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_in_list_order_and_keeps_unknown_fields() {
        let body = br#"{"findings":[{"id":"b","futureField":{"x":1}},{"id":"a"}]}"#;
        let ids = vec!["a".to_string(), "b".to_string()];
        let got = split_findings(body, &ids).unwrap();
        assert_eq!(
            got,
            vec![json!({"id":"a"}), json!({"id":"b","futureField":{"x":1}})]
        );
    }

    #[test]
    fn refuses_other_shapes() {
        assert!(split_findings(b"[]", &[]).is_err());
        assert!(split_findings(br#"{"findings":[1]}"#, &[]).is_err());
    }
}
