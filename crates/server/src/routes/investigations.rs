//! `GET /api/v1/investigations[/{id}[/timeline]]`.

use super::alerts::Page;
use crate::openapi::ErrorBody;
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use riposte_model::{
    Action, ActionRecord, Alarm, EntityKind, Event, EvidenceItem, Investigation, InvestigationId,
    InvestigationStatus, Verdict,
};
use riposte_store::{Role, TimelineQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// One line of the investigation list.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::InvestigationSummary`
pub(crate) struct InvestigationSummary {
    /// Id.
    id: InvestigationId,
    /// Title.
    title: String,
    /// Status.
    status: InvestigationStatus,
    /// Host key.
    host: String,
    /// Verdict, when reached.
    verdict: Option<Verdict>,
    /// Verdict score, when reached.
    score: Option<i64>,
    /// Creation time.
    created_at: DateTime<Utc>,
}

/// A page of investigations, newest first.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct InvestigationList {
    /// The investigations of this page.
    investigations: Vec<InvestigationSummary>,
    /// The page size used.
    limit: i64,
    /// The offset used.
    offset: i64,
}

/// An event with its stored id in the investigation (what alarms' `event_refs` point at).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::TimelineEvent`
pub(crate) struct TimelineEvent {
    /// Stored id: the event's number in the order artifacts were read (by original path,
    /// then record); the timeline is ordered by time, then this id.
    seq: u64,
    /// The event.
    #[serde(flatten)]
    event: Event,
}

/// One page of a timeline.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::EventPage`
pub(crate) struct TimelinePage {
    /// Events in order.
    events: Vec<TimelineEvent>,
    /// Pass this as `cursor` to read the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Everything about one investigation.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct InvestigationDetail {
    /// The investigation, with its verdict once reached.
    investigation: Investigation,
    /// What detections found.
    alarms: Vec<Alarm>,
    /// The evidence collected.
    evidence: Vec<EvidenceItem>,
    /// How many events were parsed from the evidence.
    events_count: i64,
    /// The first 50 timeline events.
    timeline: TimelinePage,
    /// The investigation's jobs and their progress.
    #[schema(value_type = Vec<Object>)]
    jobs: Vec<Value>,
    /// How parsing each evidence item went.
    #[schema(value_type = Vec<Object>)]
    parse_reports: Vec<Value>,
    /// The audit trail, oldest first.
    #[schema(value_type = Vec<Object>)]
    audit: Vec<Value>,
    /// The response actions taken (or rehearsed, or failed) on its target, newest first.
    actions: Vec<ActionRecord>,
}

/// Timeline filters and paging.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::TimelineQuery`
pub(crate) struct TimelineParams {
    /// Only events at or after this time (epoch microseconds).
    from_us: Option<i64>,
    /// Only events before this time (epoch microseconds).
    to_us: Option<i64>,
    /// Only this entity.
    #[param(inline)]
    entity: Option<EntityKind>,
    /// Only this action.
    #[param(inline)]
    action: Option<Action>,
    /// Only this host.
    host: Option<String>,
    /// Only events about this user.
    username: Option<String>,
    /// Only events whose message contains this text (case-insensitive).
    text: Option<String>,
    /// Newest first instead of oldest first (default false).
    descending: Option<bool>,
    /// The `next_cursor` returned with the previous page.
    cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

fn parse_id(id: &str) -> Result<InvestigationId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not an investigation id (a UUID)")))
}

/// List investigations.
///
/// `GET /api/v1/investigations` (viewer): newest first, with status and verdict.
#[utoipa::path(
    get,
    path = "/api/v1/investigations",
    tag = "investigations",
    operation_id = "list_investigations",
    security(("api_key" = [])),
    params(Page),
    responses(
        (status = 200, description = "A page of investigations", body = InvestigationList),
        (status = 400, description = "`limit` or `offset` is not an integer"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let (limit, offset) = page.bounds();
    let items = state.store.list_investigations(limit, offset).await?;
    Ok(Json(
        json!({"investigations": items, "limit": limit, "offset": offset}),
    ))
}

/// Get an investigation.
///
/// `GET /api/v1/investigations/{id}` (viewer): status, verdict, alarms, evidence, event
/// count, the first timeline page, job progress, parse reports, the audit trail and the
/// response actions.
#[utoipa::path(
    get,
    path = "/api/v1/investigations/{id}",
    tag = "investigations",
    operation_id = "get_investigation",
    security(("api_key" = [])),
    params(("id" = InvestigationId, Path, description = "The investigation's id")),
    responses(
        (status = 200, description = "The investigation and everything about it", body = InvestigationDetail),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such investigation", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = parse_id(&id)?;
    let store = &state.store;
    let inv = store
        .get_investigation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("investigation {id} not found")))?;
    let timeline = store
        .timeline(
            id,
            &TimelineQuery {
                limit: Some(50),
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(json!({
        "investigation": inv,
        "alarms": store.list_alarms(id).await?,
        "story": store.get_story(id).await?,
        "evidence": store.list_evidence(id).await?,
        "events_count": store.count_events(id).await?,
        "timeline": timeline,
        "jobs": store.investigation_jobs(id).await?,
        "parse_reports": store.parse_reports(id).await?,
        "audit": store.audit_trail(id).await?,
        "actions": store.list_action_records(Some(id), 100, 0).await?,
    })))
}

/// Read an investigation's timeline.
///
/// `GET /api/v1/investigations/{id}/timeline` (viewer): filtered, cursor-paged events.
#[utoipa::path(
    get,
    path = "/api/v1/investigations/{id}/timeline",
    tag = "investigations",
    operation_id = "get_investigation_timeline",
    security(("api_key" = [])),
    params(("id" = InvestigationId, Path, description = "The investigation's id"), TimelineParams),
    responses(
        (status = 200, description = "One page of events", body = TimelinePage),
        (status = 400, description = "The id is not a UUID, or a filter or cursor is invalid", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such investigation", body = ErrorBody),
    ),
)]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = parse_id(&id)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(format!("bad timeline query: {e}")))?;
    if state.store.get_investigation(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("investigation {id} not found")));
    }
    let page = state.store.timeline(id, &q).await?;
    Ok(Json(json!(page)))
}

/// Which stored events to read.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventIds {
    /// Stored event ids (`seq`), comma-separated, at most 100: an alarm's `event_refs`.
    seq: String,
}

/// Read events by id.
///
/// `GET /api/v1/investigations/{id}/events?seq=12,40` (viewer): the events an alarm
/// references (its `event_refs`), with their raw records and origins, in the order given;
/// ids that name no event are left out.
#[utoipa::path(
    get,
    path = "/api/v1/investigations/{id}/events",
    tag = "investigations",
    operation_id = "get_investigation_events",
    security(("api_key" = [])),
    params(("id" = InvestigationId, Path, description = "The investigation's id"), EventIds),
    responses(
        (status = 200, description = "The events found", body = Object),
        (status = 400, description = "The id is not a UUID, or `seq` is not a list of up to 100 numbers", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "No such investigation", body = ErrorBody),
    ),
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<EventIds>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = parse_id(&id)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(format!("give `seq`: {e}")))?;
    let seqs: Vec<u64> = q
        .seq
        .split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::BadRequest(format!("`seq` must list event ids (numbers): {:?}", q.seq))
        })?;
    if seqs.is_empty() || seqs.len() > 100 {
        return Err(ApiError::BadRequest(
            "`seq` lists 1 to 100 event ids".into(),
        ));
    }
    if state.store.get_investigation(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("investigation {id} not found")));
    }
    let mut conn = state
        .store
        .pool()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let found = riposte_store::Store::events_by_seq(&mut conn, id, &seqs).await?;
    let events: Vec<Value> = found
        .into_iter()
        .map(|(seq, event)| json!(riposte_store::TimelineEvent { seq, event }))
        .collect();
    Ok(Json(json!({"events": events})))
}
