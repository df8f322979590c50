//! Timeline events: batched inserts and a filtered, cursor-paged timeline.

use crate::{Backend, Conn, Result, Store, corrupt};
use riposte_model::{Action, EntityKind, Event, EventQuery, InvestigationId};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

/// Rows per multi-row INSERT. Measured on SQLite (200k events): 50 rows inserts 26k events/s,
/// 400 rows 9.5k/s and 2000 rows 3.2k/s — the cost per statement grows faster than its size.
const BATCH: usize = 50;
/// Sort key of events without a reliable time: after every timed event.
const NO_TIME: i64 = i64::MAX;

/// Filters and paging for a timeline read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimelineQuery {
    /// Only events at or after this time (epoch microseconds).
    pub from_us: Option<i64>,
    /// Only events before this time (epoch microseconds).
    pub to_us: Option<i64>,
    /// Only this entity.
    pub entity: Option<EntityKind>,
    /// Only this action.
    pub action: Option<Action>,
    /// Only this host.
    pub host: Option<String>,
    /// Only events about this user.
    pub username: Option<String>,
    /// Only events whose message or attribute values contain this text (ignoring case).
    pub text: Option<String>,
    /// Newest first instead of oldest first.
    #[serde(default)]
    pub descending: bool,
    /// The cursor returned with the previous page.
    pub cursor: Option<String>,
    /// Page size (1–1000, default 100).
    pub limit: Option<i64>,
}

/// An event with its stored id in the investigation (what alarms' `event_refs` point at).
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    /// Stored id: the event's number in the order artifacts were read (by original path,
    /// then record); the timeline is ordered by time, then this id.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// One page of a timeline.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    /// Events in order.
    pub events: Vec<TimelineEvent>,
    /// Pass this as `cursor` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn event_time(e: &Event) -> Option<i64> {
    e.time.map(|t| t.timestamp_micros())
}

/// What free-text search looks in: the message and every attribute value, one per line,
/// lower-cased (NULs dropped: Postgres text cannot hold them).
fn search_text(e: &Event) -> String {
    let mut text = e.message.to_lowercase();
    for value in e.attributes.values() {
        text.push('\n');
        text.push_str(&value.to_lowercase());
    }
    text.retain(|c| c != '\0');
    text
}

/// A search term as a `LIKE` pattern matching it anywhere, with `\` as escape character.
fn like_pattern(term: &str) -> String {
    format!(
        "%{}%",
        term.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The distinct trigrams of a search term (characters, not bytes).
fn trigrams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    let mut out: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        let trigram: String = window.iter().collect();
        if !out.contains(&trigram) {
            out.push(trigram);
        }
    }
    out
}

/// A trigram as an FTS5 string (quoted, inner quotes doubled).
fn fts_token(trigram: &str) -> String {
    format!("\"{}\"", trigram.replace('"', "\"\""))
}

/// Terms whose trigrams are all together in more events than this (across the database)
/// are searched by walking the timeline index and testing each row, which fills a page of
/// a frequent term quickly; rarer terms start from the trigram index.
const FTS_RARE_LIMIT: i64 = 20_000;

/// How a free-text term is searched on SQLite.
enum SearchPlan {
    /// No event holds all the term's trigrams: nothing can match.
    Nothing,
    /// Start from the events holding all the term's trigrams (an FTS5 query).
    Index(String),
    /// Test every row along the timeline index.
    Scan,
}

impl Store {
    /// Removes an investigation's events (so a retried processing stage starts clean).
    pub async fn delete_events(conn: &mut Conn, inv: InvestigationId) -> Result<()> {
        sqlx::query("DELETE FROM events WHERE investigation_id = $1")
            .bind(inv.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Inserts events numbered from `first_seq`, in multi-row batches.
    pub async fn insert_events(
        conn: &mut Conn,
        inv: InvestigationId,
        first_seq: u64,
        events: &[Event],
    ) -> Result<()> {
        const COLUMNS: usize = 12;
        let inv = inv.to_string();
        for (chunk_no, chunk) in events.chunks(BATCH).enumerate() {
            let sql = format!(
                "INSERT INTO events (investigation_id, seq, time_us, sort_us, host, entity, action, username, remote_ip, message, body, search) VALUES {}",
                crate::values_placeholders(chunk.len(), COLUMNS)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (i, e) in chunk.iter().enumerate() {
                let seq = first_seq + (chunk_no * BATCH + i) as u64;
                let body = serde_json::to_string(e).map_err(|err| corrupt("event", err))?;
                q = q
                    .bind(inv.clone())
                    .bind(seq as i64)
                    .bind(event_time(e))
                    .bind(event_time(e).unwrap_or(NO_TIME))
                    .bind(e.host.clone())
                    .bind(e.entity.as_str())
                    .bind(e.action.as_str())
                    .bind(e.attr("username").map(str::to_string))
                    .bind(e.attr("remote_ip").map(str::to_string))
                    .bind(e.message.clone())
                    .bind(body)
                    .bind(search_text(e));
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// How many events an investigation has.
    pub async fn count_events(&self, inv: InvestigationId) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE investigation_id = $1")
                .bind(inv.to_string())
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Up to `limit` events of an investigation in timeline order (time, untimed last,
    /// then stored id) after the position `after` (`(sort key, seq)` of the last event
    /// read; `None` from the start), each as `(seq, sort key, event)`. Walks the timeline
    /// index, so reading a whole timeline page by page costs one pass.
    pub async fn events_after(
        conn: &mut Conn,
        inv: InvestigationId,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<(u64, i64, Event)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = match after {
            None => sqlx::query(
                "SELECT seq, sort_us, body FROM events WHERE investigation_id = $1 ORDER BY sort_us, seq LIMIT $2",
            )
            .bind(inv.to_string())
            .bind(limit),
            Some((sort, seq)) => sqlx::query(
                "SELECT seq, sort_us, body FROM events WHERE investigation_id = $1 AND (sort_us, seq) > ($2, $3) ORDER BY sort_us, seq LIMIT $4",
            )
            .bind(inv.to_string())
            .bind(sort)
            .bind(seq as i64)
            .bind(limit),
        };
        let rows = query.fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let sort: i64 = r.try_get("sort_us")?;
                let body: String = r.try_get("body")?;
                let event = serde_json::from_str(&body).map_err(|e| corrupt("events.body", e))?;
                Ok((seq as u64, sort, event))
            })
            .collect()
    }

    /// The events of an investigation with these stored ids (`seq`), those that exist.
    pub async fn events_by_seq(
        conn: &mut Conn,
        inv: InvestigationId,
        seqs: &[u64],
    ) -> Result<Vec<(u64, Event)>> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(500) {
            let list: Vec<String> = chunk.iter().map(|s| s.to_string()).collect();
            // Integers only: safe to inline.
            let sql = format!(
                "SELECT seq, body FROM events WHERE investigation_id = $1 AND seq IN ({})",
                list.join(",")
            );
            let rows = sqlx::query(AssertSqlSafe(sql))
                .bind(inv.to_string())
                .fetch_all(&mut *conn)
                .await?;
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                let body: String = r.try_get("body")?;
                let event = serde_json::from_str(&body).map_err(|e| corrupt("events.body", e))?;
                out.push((seq as u64, event));
            }
        }
        Ok(out)
    }

    /// One page of the timeline, ordered by time (events without time last), then position.
    pub async fn timeline(&self, inv: InvestigationId, q: &TimelineQuery) -> Result<EventPage> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut sql =
            String::from("SELECT seq, sort_us, body FROM events WHERE investigation_id = $1");
        let mut binds: Vec<Bind> = vec![Bind::Text(inv.to_string())];
        let mut push = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        // Untimed events sort after every time, so a range on the sort key never
        // includes them (`from` alone is capped below the untimed key).
        if let Some(v) = q.from_us {
            push(&mut sql, " AND sort_us >= ?", Bind::Int(v));
            if q.to_us.is_none() {
                push(&mut sql, " AND sort_us < ?", Bind::Int(NO_TIME));
            }
        }
        if let Some(v) = q.to_us {
            push(&mut sql, " AND sort_us < ?", Bind::Int(v));
        }
        if let Some(v) = q.entity {
            push(&mut sql, " AND entity = ?", Bind::Text(v.as_str().into()));
        }
        if let Some(v) = q.action {
            push(&mut sql, " AND action = ?", Bind::Text(v.as_str().into()));
        }
        if let Some(v) = &q.host {
            push(&mut sql, " AND host = ?", Bind::Text(v.clone()));
        }
        if let Some(v) = &q.username {
            push(&mut sql, " AND username = ?", Bind::Text(v.clone()));
        }
        if let Some(v) = &q.text {
            let term = v.to_lowercase();
            // SQLite: a rare term is looked up in the trigram index, then checked exactly
            // (the index keeps no positions); a frequent one is tested row by row along
            // the timeline index, where a page fills up fast. Postgres' planner makes the
            // same choice itself from the pg_trgm index statistics.
            if self.backend() == Backend::Sqlite {
                match self.search_plan(&term).await? {
                    SearchPlan::Nothing => {
                        return Ok(EventPage {
                            events: Vec::new(),
                            next_cursor: None,
                        });
                    }
                    // The candidates drive the query (a few thousand rowid lookups, then a
                    // sort); `+` keeps the planner from walking the whole investigation
                    // along its index and probing the candidate list per row instead.
                    SearchPlan::Index(query) => {
                        sql = sql.replacen("WHERE investigation_id", "WHERE +investigation_id", 1);
                        push(
                            &mut sql,
                            " AND rowid IN (SELECT rowid FROM events_search WHERE events_search MATCH ?)",
                            Bind::Text(query),
                        )
                    }
                    SearchPlan::Scan => {}
                }
            }
            push(
                &mut sql,
                " AND search LIKE ? ESCAPE '\\'",
                Bind::Text(like_pattern(&term)),
            );
        }
        let (cmp, dir) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(cursor) = &q.cursor {
            // A row-value comparison: both backends answer it with one index range scan.
            let (k, s) = parse_cursor(cursor)?;
            push(
                &mut sql,
                &format!(" AND (sort_us, seq) {cmp} (?"),
                Bind::Int(k),
            );
            push(&mut sql, ", ?)", Bind::Int(s));
        }
        sql.push_str(&format!(
            " ORDER BY sort_us {dir}, seq {dir} LIMIT {}",
            limit + 1
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut last = None;
        for r in rows.iter().take(limit as usize) {
            let seq: i64 = r.try_get("seq")?;
            let k: i64 = r.try_get("sort_us")?;
            let body: String = r.try_get("body")?;
            let e: Event = serde_json::from_str(&body).map_err(|e| corrupt("events.body", e))?;
            events.push(TimelineEvent {
                seq: seq as u64,
                event: e,
            });
            last = Some((k, seq));
        }
        let next_cursor = if rows.len() as i64 > limit {
            last.map(|(k, s)| format!("{k}.{s}"))
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }
}

impl Store {
    /// Chooses how to search `term` from the trigram index: the events holding every one
    /// of its trigrams (up to 24; FTS5 intersects the lists by seeking, so the rarest
    /// trigram sets the cost) are the candidates, counted up to just past
    /// [`FTS_RARE_LIMIT`] so the cost stays bounded however large the database.
    async fn search_plan(&self, term: &str) -> Result<SearchPlan> {
        let trigrams = trigrams(term);
        if trigrams.is_empty() {
            return Ok(SearchPlan::Scan);
        }
        let query = trigrams
            .iter()
            .take(24)
            .map(|t| fts_token(t))
            .collect::<Vec<_>>()
            .join(" AND ");
        self.search_plan_query(&query).await
    }
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

fn parse_cursor(cursor: &str) -> Result<(i64, i64)> {
    let bad = || crate::StoreError::InvalidCursor(cursor.to_string());
    let (k, s) = cursor.split_once('.').ok_or_else(bad)?;
    Ok((k.parse().map_err(|_| bad())?, s.parse().map_err(|_| bad())?))
}

/// Where and how far an [`EventQuery`] across investigations looks.
#[derive(Debug, Clone, Default)]
pub struct EventSearch {
    /// Only events at or after this time (epoch microseconds).
    pub since_us: Option<i64>,
    /// Only events before this time (epoch microseconds).
    pub until_us: Option<i64>,
    /// Only this investigation.
    pub investigation: Option<InvestigationId>,
    /// The cursor returned with the previous page.
    pub cursor: Option<String>,
    /// Page size (1–500, default 100).
    pub limit: Option<i64>,
}

/// An event found by an [`EventQuery`], with the investigation it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct EventHit {
    /// The investigation.
    pub investigation_id: InvestigationId,
    /// Its position in the investigation's event list.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// One page of an event query, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct EventHits {
    /// The matching events.
    pub events: Vec<EventHit>,
    /// Rows examined to fill the page.
    pub examined: u64,
    /// Pass this as `cursor` to read on; absent when nothing is left.
    pub next_cursor: Option<String>,
}

/// Rows fetched per round while filling a page of an event query.
const QUERY_BATCH: i64 = 2_000;
/// Most rows one page of an event query examines; past it the page ends early with a
/// cursor, so no request scans the whole database.
const QUERY_MAX_EXAMINED: u64 = 200_000;

impl Store {
    /// Events across investigations answering `query`, newest first (untimed events
    /// last), cursor-paged. The store narrows candidates by entity, action, time,
    /// investigation and the query's literal text (through the same trigram index as the
    /// timeline search); [`EventQuery::matches`] decides each candidate.
    pub async fn query_events(
        &self,
        query: &EventQuery,
        search: &EventSearch,
    ) -> Result<EventHits> {
        let limit = search.limit.unwrap_or(100).clamp(1, 500) as usize;
        let mut sql = String::from(
            "SELECT investigation_id, seq, sort_us, body FROM events WHERE entity = $1",
        );
        let mut binds: Vec<Bind> = vec![Bind::Text(query.entity.as_str().into())];
        let mut push = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if !query.actions.is_empty() {
            sql.push_str(" AND action IN (");
            for (i, action) in query.actions.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                push(&mut sql, "?", Bind::Text(action.as_str().into()));
            }
            sql.push(')');
        }
        if let Some(v) = search.since_us {
            push(&mut sql, " AND sort_us >= ?", Bind::Int(v));
            if search.until_us.is_none() {
                push(&mut sql, " AND sort_us < ?", Bind::Int(NO_TIME));
            }
        }
        if let Some(v) = search.until_us {
            push(&mut sql, " AND sort_us < ?", Bind::Int(v));
        }
        if let Some(inv) = search.investigation {
            push(
                &mut sql,
                " AND investigation_id = ?",
                Bind::Text(inv.to_string()),
            );
        }
        let hints = query.text_hints();
        if !hints.is_empty() {
            if self.backend() == Backend::Sqlite {
                let any = hints
                    .iter()
                    .map(|h| {
                        let all: Vec<String> =
                            trigrams(h).iter().take(24).map(|t| fts_token(t)).collect();
                        format!("({})", all.join(" AND "))
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                match self.search_plan_query(&any).await? {
                    SearchPlan::Nothing => {
                        return Ok(EventHits {
                            events: Vec::new(),
                            examined: 0,
                            next_cursor: None,
                        });
                    }
                    SearchPlan::Index(fts) => push(
                        &mut sql,
                        " AND rowid IN (SELECT rowid FROM events_search WHERE events_search MATCH ?)",
                        Bind::Text(fts),
                    ),
                    SearchPlan::Scan => {}
                }
            }
            sql.push_str(" AND (");
            for (i, hint) in hints.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                push(
                    &mut sql,
                    "search LIKE ? ESCAPE '\\'",
                    Bind::Text(like_pattern(hint)),
                );
            }
            sql.push(')');
        }
        let mut cursor = match &search.cursor {
            Some(c) => Some(parse_hit_cursor(c)?),
            None => None,
        };
        let mut events = Vec::new();
        let mut examined = 0u64;
        loop {
            let mut page_sql = sql.clone();
            let mut page_binds = binds.clone();
            if let Some((k, inv, s)) = &cursor {
                let n = page_binds.len();
                page_sql.push_str(&format!(
                    " AND (sort_us, investigation_id, seq) < (${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3
                ));
                page_binds.push(Bind::Int(*k));
                page_binds.push(Bind::Text(inv.clone()));
                page_binds.push(Bind::Int(*s));
            }
            page_sql.push_str(&format!(
                " ORDER BY sort_us DESC, investigation_id DESC, seq DESC LIMIT {QUERY_BATCH}"
            ));
            let mut q = sqlx::query(AssertSqlSafe(page_sql));
            for b in page_binds {
                q = match b {
                    Bind::Text(t) => q.bind(t),
                    Bind::Int(i) => q.bind(i),
                };
            }
            let rows = q.fetch_all(self.pool()).await?;
            let exhausted = (rows.len() as i64) < QUERY_BATCH;
            for (n, r) in rows.iter().enumerate() {
                examined += 1;
                let inv: String = r.try_get("investigation_id")?;
                let seq: i64 = r.try_get("seq")?;
                let k: i64 = r.try_get("sort_us")?;
                cursor = Some((k, inv.clone(), seq));
                let body: String = r.try_get("body")?;
                let event: Event =
                    serde_json::from_str(&body).map_err(|e| corrupt("events.body", e))?;
                if query.matches(&event) {
                    events.push(EventHit {
                        investigation_id: inv
                            .parse()
                            .map_err(|e| corrupt("events.investigation_id", e))?,
                        seq: seq as u64,
                        event,
                    });
                    if events.len() == limit {
                        // More may follow unless this was the last row there is.
                        let more = !(exhausted && n + 1 == rows.len());
                        return Ok(EventHits {
                            events,
                            examined,
                            next_cursor: cursor.as_ref().filter(|_| more).map(hit_cursor),
                        });
                    }
                }
            }
            if exhausted {
                return Ok(EventHits {
                    events,
                    examined,
                    next_cursor: None,
                });
            }
            if examined >= QUERY_MAX_EXAMINED {
                return Ok(EventHits {
                    events,
                    examined,
                    next_cursor: cursor.as_ref().map(hit_cursor),
                });
            }
        }
    }

    /// [`Store::search_plan`] for a ready FTS5 query.
    async fn search_plan_query(&self, query: &str) -> Result<SearchPlan> {
        let candidates: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT rowid FROM events_search WHERE events_search MATCH $1 LIMIT $2)",
        )
        .bind(query)
        .bind(FTS_RARE_LIMIT + 1)
        .fetch_one(self.pool())
        .await?;
        Ok(match candidates {
            0 => SearchPlan::Nothing,
            n if n <= FTS_RARE_LIMIT => SearchPlan::Index(query.to_string()),
            _ => SearchPlan::Scan,
        })
    }
}

/// The cursor of an event query after the row at `(sort key, investigation, seq)`.
fn hit_cursor((k, inv, s): &(i64, String, i64)) -> String {
    format!("{k}.{inv}.{s}")
}

fn parse_hit_cursor(cursor: &str) -> Result<(i64, String, i64)> {
    let bad = || crate::StoreError::InvalidCursor(cursor.to_string());
    let mut parts = cursor.splitn(3, '.');
    let k = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let inv = parts
        .next()
        .filter(|i| i.parse::<InvestigationId>().is_ok())
        .ok_or_else(bad)?
        .to_string();
    let s = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    Ok((k, inv, s))
}
