//! `GET /api/v1/events`: one event query across every investigation, with SECDO's URL
//! query semantics (`entity`, `action`, `attr`), so a link a SIEM builds for SECDO keeps
//! working with the host name changed.

use crate::openapi::ErrorBody;
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use riposte_model::{EventQuery, InvestigationId};
use riposte_store::{EventSearch, Role};
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::IntoParams;

/// The query parameters (SECDO's, plus time, investigation and paging).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only; read from the raw query string
pub(crate) struct EventQueryParams {
    /// `process`, `registry`, `file`, `network` or `host`.
    entity: String,
    /// Comma-separated actions of the entity (any of them): `run`, `parent`, `child`,
    /// `injection`, `injector`; `exists`, `write_registry`, `rename_registry`,
    /// `delete_registry`; `exists`, `create_file`, `write_file`, `read_file`,
    /// `delete_file`, `rename_file`; `outgoing_network`, `incoming_network`,
    /// `failed_network`. Default: all.
    action: Option<String>,
    /// Comma-separated `name:value` conditions, all of which must hold; `|` between
    /// alternatives, `*` wildcards, case-insensitive (e.g. `remote_ip:8.8.8.8|8.8.4.4`).
    attr: Option<String>,
    /// Only events at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Only this investigation.
    investigation: Option<String>,
    /// The cursor of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<i64>,
}

/// Query events across investigations.
///
/// `GET /api/v1/events?entity=network&action=outgoing_network,incoming_network&attr=remote_ip:8.8.8.8|8.8.4.4`
/// (viewer): matching events newest first, each with its investigation, host and verdict;
/// cursor-paged. Spaces around separators and in parameter names are tolerated, as in
/// SECDO's own examples. An attribute Riposte does not record yet (`country`, `CGN`, …)
/// is a 400 saying so.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "investigations",
    operation_id = "query_events",
    security(("api_key" = [])),
    params(EventQueryParams),
    responses(
        (status = 200, description = "One page of matching events, newest first", body = Object),
        (status = 400, description = "A part of the query is invalid; the message names it", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn query(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (query, search) =
        parse_event_query(raw.as_deref().unwrap_or_default()).map_err(ApiError::BadRequest)?;
    let hits = state.store.query_events(&query, &search).await?;
    // Each investigation's verdict, read once per page.
    let mut verdicts: HashMap<InvestigationId, Value> = HashMap::new();
    let mut events = Vec::with_capacity(hits.events.len());
    for hit in hits.events {
        let verdict = match verdicts.get(&hit.investigation_id) {
            Some(v) => v.clone(),
            None => {
                let v = state
                    .store
                    .get_investigation(hit.investigation_id)
                    .await?
                    .and_then(|i| i.verdict)
                    .map_or(Value::Null, |v| json!(v.verdict));
                verdicts.insert(hit.investigation_id, v.clone());
                v
            }
        };
        let mut item = json!(hit);
        item["verdict"] = verdict;
        events.push(item);
    }
    Ok(Json(json!({
        "query": query.to_string(),
        "events": events,
        "examined": hits.examined,
        "next_cursor": hits.next_cursor,
    })))
}

/// Parses an event query string (`entity=…&action=…&attr=…`, plus `since`, `until`,
/// `investigation`, `cursor`, `limit`) as `GET /api/v1/events` and `riposte query` take
/// it: URL-encoded or not, spaces around names and separators tolerated. The error names
/// the part at fault.
pub fn parse_event_query(raw: &str) -> Result<(EventQuery, EventSearch), String> {
    let mut params: HashMap<String, String> = HashMap::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if params
            .insert(key.trim().to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!(
                "{}: given twice; join values with commas",
                key.trim()
            ));
        }
    }
    let entity = params.get("entity").ok_or_else(|| {
        "entity: missing; use process, registry, file, network or host".to_string()
    })?;
    let query = EventQuery::parse(
        entity,
        params.get("action").map(String::as_str),
        params.get("attr").map(String::as_str),
    )
    .map_err(|e| e.to_string())?;
    let time = |name: &str| -> Result<Option<i64>, String> {
        params
            .get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.timestamp_micros())
                    .map_err(|e| format!("{name}: not an RFC 3339 time ({e})"))
            })
            .transpose()
    };
    let investigation = params
        .get("investigation")
        .map(|v| {
            v.trim()
                .parse::<InvestigationId>()
                .map_err(|_| format!("investigation: {v:?} is not an investigation id"))
        })
        .transpose()?;
    let limit = params
        .get("limit")
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| "limit: not a number".to_string())
        })
        .transpose()?;
    let search = EventSearch {
        since_us: time("since")?,
        until_us: time("until")?,
        investigation,
        cursor: params.get("cursor").cloned(),
        limit,
    };
    Ok((query, search))
}
