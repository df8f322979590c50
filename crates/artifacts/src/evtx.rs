//! Windows XML event logs (`.evtx`): Security, System, Sysmon, PowerShell and any other
//! channel, one [`Event`] per record.
//!
//! Decoding is the [`evtx`] crate's (the parser behind Chainsaw and Hayabusa). Each record is
//! rendered to compact JSON, which becomes the event's `raw`, and flattened into attributes:
//! the `System` fields under normalized names (`event_id`, `provider`, `channel`, `computer`,
//! `record_id`, `level`, `task`, `opcode`, `keywords`, `user_sid`) and every `EventData` /
//! `UserData` field under its own name as logged (`CommandLine`, `TargetUserName`, …).
//! Well-known events also get the pipeline's normalized names and action (see
//! [`mapping`]): Sysmon 1 and Security 4688 are process runs with `cmd`, `file_path`, …;
//! 4624/4625/4634/4647 are logons, failures and logoffs with `username`, `remote_ip`, …;
//! Sysmon 3 is a network connection, 11/23/26 file events, 12/13/14 registry events, 8/10
//! process injection, and service installs (System 7045, Security 4697) registry writes.
//!
//! # Input, memory and threads
//!
//! EVTX needs random access, but artifacts arrive as a stream. The stream is read into
//! memory up to [`MAX_IN_MEMORY`] (512 MiB); a larger log is spilled to an anonymous
//! temporary file (deleted on close) and read from there, so memory stays bounded whatever
//! the size. Input that does not start with the `ElfFile\0` magic is rejected after reading
//! 8 bytes, as one [`ArtifactError::Read`] (`InvalidData`), and nothing else is produced.
//!
//! Threads: the crate decodes and renders chunks to JSON, and the rendered records are then
//! turned into events in batches of [`BATCH`] spread over rayon's pool (one thread per core;
//! batches under [`PARALLEL_MIN`] records stay on one thread). A log of more than two chunks
//! is fed by a feeder thread that owns the parser and runs the crate's chunk pipeline over
//! all cores (`ParserSettings::num_threads(0)`), handing batches of events to the iterator
//! through a bounded queue of [`QUEUE`] batches: the iterator streams a few chunks ahead of
//! the caller, and dropping it stops the work at the next batch. A log of at most two
//! chunks (most single-channel exports) is decoded on the caller's thread at its first
//! `next`, which saves the thread hand-offs that would cost more than they bring there.
//!
//! # Errors
//!
//! A record or chunk that cannot be decoded is an [`ArtifactError::Record`] and parsing
//! goes on with the next one (`record` is the record header's id when the crate knows it,
//! else that of the last good record before it; the message names the chunk and the cause).
//! Events' `record_id` and `origin.record` are `System/EventRecordID`, which is the header's
//! id except in logs exported from another log (then the header's is `header_record_id`). A
//! panic inside the decoder (which it is not supposed to do) is caught where the log is fed
//! and reported as one last error record.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use ::evtx::err::EvtxError;
use ::evtx::{EvtxParser, EvtxRecord, ParserSettings};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use riposte_model::{Event, EventOrigin};
use std::io::{self, BufRead, Read, Seek, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

mod fields;
mod mapping;

#[cfg(test)]
mod tests;

/// Largest log kept in memory; a larger one is spilled to a temporary file.
pub(crate) const MAX_IN_MEMORY: usize = 512 * 1024 * 1024;

/// The EVTX file header magic.
const MAGIC: &[u8; 8] = b"ElfFile\0";

/// The file header block, then chunks of [`CHUNK`] bytes.
const HEADER_BLOCK: usize = 4096;
const CHUNK: usize = 65536;

/// Logs up to this size (two chunks) are decoded on the caller's thread, without the
/// feeder thread and the crate's chunk pipeline, which only pay off with more chunks.
const SMALL: usize = HEADER_BLOCK + 2 * CHUNK;

/// Events per batch handed from the feeder thread to the iterator.
const BATCH: usize = 256;

/// Fewer rendered records than this are converted on the feeding thread alone.
const PARALLEL_MIN: usize = 32;

/// Batches queued ahead of the caller before the feeder thread waits.
const QUEUE: usize = 8;

/// Parser for Windows `.evtx` event logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evtx;

impl ArtifactParser for Evtx {
    fn name(&self) -> &'static str {
        "evtx"
    }

    fn claims(&self, original_path: &str) -> bool {
        let name = crate::file_name(original_path).as_bytes();
        name.len() > 5 && name[name.len() - 5..].eq_ignore_ascii_case(b".evtx")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        Box::new(Records::new(ctx, input, MAX_IN_MEMORY))
    }
}

/// What every record of one log shares.
pub(crate) struct Meta {
    pub host: String,
    pub path: String,
}

impl Meta {
    pub(crate) fn record_error(&self, record: u64, message: String) -> ArtifactError {
        ArtifactError::Record {
            path: self.path.clone(),
            record,
            message,
        }
    }

    fn read_error(&self, source: io::Error) -> ArtifactError {
        ArtifactError::Read {
            path: self.path.clone(),
            record: 0,
            source,
        }
    }
}

type Item = Result<Event, ArtifactError>;

struct Records<'r> {
    state: State<'r>,
    meta: Arc<Meta>,
    /// Largest log kept in memory ([`MAX_IN_MEMORY`]; smaller in tests).
    cap: usize,
}

impl<'r> Records<'r> {
    fn new(ctx: &ArtifactContext, input: Box<dyn BufRead + Send + 'r>, cap: usize) -> Self {
        Records {
            state: State::Pending(input),
            meta: Arc::new(Meta {
                host: ctx.host.clone(),
                path: ctx.original_path.clone(),
            }),
            cap,
        }
    }
}

enum State<'r> {
    /// Not started: the input is read on the first `next`.
    Pending(Box<dyn BufRead + Send + 'r>),
    /// A small log, already decoded.
    Ready(std::vec::IntoIter<Item>),
    /// The feeder thread is decoding; `batch` is being handed out.
    Running {
        rx: Receiver<Vec<Item>>,
        batch: std::vec::IntoIter<Item>,
    },
    Done,
}

impl Iterator for Records<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            match &mut self.state {
                State::Pending(_) => {
                    let State::Pending(input) = std::mem::replace(&mut self.state, State::Done)
                    else {
                        return None;
                    };
                    match start(input, &self.meta, self.cap) {
                        Ok(state) => self.state = state,
                        Err(e) => return Some(Err(e)),
                    }
                }
                State::Running { rx, batch } => {
                    if let Some(item) = batch.next() {
                        return Some(item);
                    }
                    match rx.recv() {
                        Ok(next) => *batch = next.into_iter(),
                        Err(_) => {
                            self.state = State::Done;
                            return None;
                        }
                    }
                }
                State::Ready(items) => {
                    let item = items.next();
                    if item.is_none() {
                        self.state = State::Done;
                    }
                    return item;
                }
                State::Done => return None,
            }
        }
    }
}

/// Reads the log (into memory, or a temporary file past [`MAX_IN_MEMORY`]) and starts the
/// feeder thread.
fn start<'r>(
    mut input: Box<dyn BufRead + Send + 'r>,
    meta: &Arc<Meta>,
    cap: usize,
) -> Result<State<'r>, ArtifactError> {
    let mut data = Vec::new();
    (&mut input)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut data)
        .map_err(|e| meta.read_error(e))?;
    if data != MAGIC {
        return Err(meta.read_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an EVTX file: it does not start with the `ElfFile\\0` magic",
        )));
    }
    (&mut input)
        .take((cap.max(MAGIC.len()) + 1 - MAGIC.len()) as u64)
        .read_to_end(&mut data)
        .map_err(|e| meta.read_error(e))?;
    if data.len() <= cap {
        if data.len() < HEADER_BLOCK {
            return Err(meta.read_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "truncated EVTX file: {} bytes, less than its {HEADER_BLOCK}-byte header block",
                    data.len()
                ),
            )));
        }
        let len = data.len() as u64;
        let truncated = pad_last_chunk(&mut data, len);
        let small = data.len() <= SMALL;
        let parser = EvtxParser::from_buffer(data).map_err(|e| header_error(meta, &e))?;
        if small {
            // No chunks to spread over threads: decode here, convert on all cores.
            let mut items = Vec::new();
            feed(
                parser.with_configuration(settings(1)),
                truncated,
                meta,
                |batch| {
                    items.extend(batch);
                    true
                },
            );
            return Ok(State::Ready(items.into_iter()));
        }
        return spawn_feeder(parser, truncated, meta);
    }
    let (file, truncated) = spill(data, input).map_err(|e| {
        meta.read_error(io::Error::new(
            e.kind(),
            format!("spilling a log over {cap} bytes to a temporary file: {e}"),
        ))
    })?;
    let parser = EvtxParser::from_read_seek(file).map_err(|e| header_error(meta, &e))?;
    spawn_feeder(parser, truncated, meta)
}

/// A log that ends inside a chunk (a truncated copy) is padded with zeros to a whole chunk,
/// so that the records before the cut are still read (the crate ignores a partial last
/// chunk); returns the size of the partial chunk, reported as an error after the records.
fn pad_last_chunk(data: &mut impl Write, len: u64) -> Option<u64> {
    let partial = len.checked_sub(HEADER_BLOCK as u64)? % CHUNK as u64;
    if partial == 0 {
        return None;
    }
    let zeros = [0u8; 4096];
    let mut missing = CHUNK as u64 - partial;
    while missing > 0 {
        let n = missing.min(zeros.len() as u64) as usize;
        data.write_all(&zeros[..n]).ok()?;
        missing -= n as u64;
    }
    Some(partial)
}

/// Writes what was read and the rest of the input to an anonymous temporary file.
fn spill(
    head: Vec<u8>,
    mut rest: impl Read,
) -> io::Result<(io::BufReader<std::fs::File>, Option<u64>)> {
    let mut file = tempfile::tempfile()?;
    file.write_all(&head)?;
    let len = head.len() as u64 + io::copy(&mut rest, &mut file)?;
    drop(head);
    let truncated = pad_last_chunk(&mut file, len);
    file.rewind()?;
    Ok((io::BufReader::new(file), truncated))
}

fn header_error(meta: &Meta, e: &EvtxError) -> ArtifactError {
    meta.read_error(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unreadable EVTX file header: {}", error_chain(e)),
    ))
}

/// An error and its sources, `outer: inner: innermost`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The crate's settings; `threads` 0 is one per core.
fn settings(threads: usize) -> ParserSettings {
    ParserSettings::new()
        .num_threads(threads)
        .separate_json_attributes(false)
        .indent(false)
        .validate_checksums(false)
}

fn spawn_feeder<T>(
    parser: EvtxParser<T>,
    truncated: Option<u64>,
    meta: &Arc<Meta>,
) -> Result<State<'static>, ArtifactError>
where
    T: Read + Seek + Send + 'static,
{
    let (tx, rx) = sync_channel(QUEUE);
    let meta = Arc::clone(meta);
    let spawned_meta = Arc::clone(&meta);
    std::thread::Builder::new()
        .name("evtx-feeder".into())
        .spawn(move || {
            feed(
                parser.with_configuration(settings(0)),
                truncated,
                &spawned_meta,
                |batch| tx.send(batch).is_ok(),
            )
        })
        .map_err(|e| meta.read_error(e))?;
    Ok(State::Running {
        rx,
        batch: Vec::new().into_iter(),
    })
}

/// One record as the crate's workers hand it over: rendered, not yet an event.
struct Rendered {
    /// The record header's id.
    id: u64,
    header_time: Option<DateTime<Utc>>,
    json: String,
}

/// Runs the crate's record pipeline (decoding and rendering chunks on its workers), turns
/// the rendered records into events in parallel batches, and sends them on; stops when the
/// receiver is gone.
fn feed<T>(
    mut parser: EvtxParser<T>,
    truncated: Option<u64>,
    meta: &Arc<Meta>,
    mut send: impl FnMut(Vec<Item>) -> bool,
) where
    T: Read + Seek + Send + 'static,
{
    let mut last_id = 0;
    let mut tail = Vec::new();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut records = parser.serialized_records(render).peekable();
        let mut pending: Vec<Result<Rendered, EvtxError>> = Vec::with_capacity(BATCH);
        while records.peek().is_some() {
            pending.clear();
            pending.extend(records.by_ref().take(BATCH));
            let convert = |item: Result<Rendered, EvtxError>| match item {
                Ok(r) => build_event(r.json, r.id, r.header_time, meta)
                    .map_err(|message| meta.record_error(r.id, message)),
                Err(e) => {
                    Err(meta.record_error(failed_record_id(&e).unwrap_or(0), error_chain(&e)))
                }
            };
            let batch: Vec<Item> = if pending.len() >= PARALLEL_MIN {
                pending
                    .par_drain(..)
                    .with_min_len(16)
                    .map(convert)
                    .collect()
            } else {
                pending.drain(..).map(convert).collect()
            };
            // Errors without a record id of their own take the last good one before them.
            let batch = batch
                .into_iter()
                .map(|item| match item {
                    Ok(event) => {
                        last_id = header_id(&event).unwrap_or(last_id);
                        Ok(event)
                    }
                    Err(ArtifactError::Record {
                        path,
                        record: 0,
                        message,
                    }) => Err(ArtifactError::Record {
                        path,
                        record: last_id,
                        message,
                    }),
                    Err(e) => Err(e),
                })
                .collect();
            if !send(batch) {
                return;
            }
        }
    }));
    if let Err(panic) = run {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tail.push(Err(meta.record_error(
            last_id,
            format!("the EVTX decoder panicked ({what}); the rest of the log is skipped"),
        )));
    }
    if let Some(partial) = truncated {
        tail.push(Err(meta.record_error(
            last_id,
            format!(
                "truncated EVTX file: it ends {partial} bytes into its last {CHUNK}-byte chunk; \
                 the records after the cut are lost"
            ),
        )));
    }
    if !tail.is_empty() {
        send(tail);
    }
}

/// The record header's id of an event (see [`build_event`]).
fn header_id(event: &Event) -> Option<u64> {
    event
        .attr("header_record_id")
        .or(event.attr("record_id"))
        .and_then(|id| id.parse().ok())
}

/// The record id an error is about, when the crate says.
fn failed_record_id(e: &EvtxError) -> Option<u64> {
    match e {
        EvtxError::FailedToParseRecord { record_id, .. } => Some(*record_id),
        _ => None,
    }
}

/// Renders one record to compact JSON, on a worker thread.
fn render(record: ::evtx::err::Result<EvtxRecord<'_>>) -> ::evtx::err::Result<Rendered> {
    let record = record?;
    let id = record.event_record_id;
    let header_time = DateTime::from_timestamp(
        record.timestamp.as_second(),
        u32::try_from(record.timestamp.subsec_nanosecond()).unwrap_or(0),
    );
    let json = record.into_json()?.data;
    Ok(Rendered {
        id,
        header_time,
        json,
    })
}

/// The event for one record rendered as JSON (which becomes its `raw`); `id` is the
/// record header's id.
pub(crate) fn build_event(
    raw: String,
    id: u64,
    header_time: Option<DateTime<Utc>>,
    meta: &Meta,
) -> Result<Event, String> {
    let record = fields::Record::from_json(&raw)
        .map_err(|e| format!("rendered record is not valid JSON: {e}"))?;
    let time = record
        .system_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mapped = mapping::map(&record);
    let record_id = record.record_id.unwrap_or(id);
    let origin = EventOrigin {
        parser: "evtx".into(),
        path: meta.path.clone(),
        record: Some(record_id),
    };
    let mut event = Event::new(
        time.or(header_time),
        meta.host.as_str(),
        mapped.action,
        mapped.message,
        origin,
    );
    let mut attributes = record.data;
    for (key, value) in record.system {
        attributes.insert(key.to_string(), value);
    }
    attributes.insert("record_id".into(), record_id.to_string());
    if record_id != id {
        attributes.insert("header_record_id".into(), id.to_string());
    }
    if time.is_none() && header_time.is_some() {
        attributes.insert("time_source".into(), "record_header".into());
    }
    for (key, value) in mapped.attrs {
        attributes.insert(key.to_string(), value);
    }
    event.attributes = attributes;
    Ok(event.with_raw(raw))
}
