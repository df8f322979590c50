//! The offline timeline: events are written to a scratch file as they are parsed, and
//! read back in timeline order (or by stored id) through an index of 24 bytes per event,
//! so `investigate` and `timeline` hold no event list in memory.
//!
//! Stored ids are assigned like the worker's: artifacts by original path, then events in
//! the order their parser read them; the timeline orders by time (untimed last), then id.

use anyhow::{Context, Result};
use rayon::prelude::*;
use riposte_detect::Batch;
use riposte_model::Event;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// Events written while artifacts are parsed.
pub(crate) struct SpillWriter {
    out: BufWriter<std::fs::File>,
    written: u64,
    /// Byte offset of each written event, then the end.
    offsets: Vec<u64>,
    /// Sort key (epoch µs, untimed `i64::MAX`) of each written event.
    keys: Vec<i64>,
    failed: Option<std::io::Error>,
}

impl SpillWriter {
    /// A writer into a new anonymous scratch file.
    pub(crate) fn new() -> Result<Self> {
        let file = tempfile::tempfile().context("cannot create a scratch file for the timeline")?;
        Ok(SpillWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            written: 0,
            offsets: vec![0],
            keys: Vec::new(),
            failed: None,
        })
    }

    /// Events written so far: the next one's spill index.
    pub(crate) fn len(&self) -> u32 {
        self.keys.len() as u32
    }

    /// Writes one event (a write error is kept and reported by [`SpillWriter::finish`]).
    pub(crate) fn push(&mut self, event: &Event) {
        if self.failed.is_some() {
            return;
        }
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(e) => {
                self.failed = Some(e.into());
                return;
            }
        };
        line.push(b'\n');
        if let Err(e) = self.out.write_all(&line) {
            self.failed = Some(e);
            return;
        }
        self.written += line.len() as u64;
        self.offsets.push(self.written);
        self.keys
            .push(event.time.map_or(i64::MAX, |t| t.timestamp_micros()));
    }

    /// The timeline, with stored ids given to `artifacts` (spill ranges) in that order.
    pub(crate) fn finish(self, artifacts: &[Range<u32>]) -> Result<SpilledTimeline> {
        if let Some(e) = self.failed {
            return Err(e).context("cannot write the timeline's scratch file");
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot write the timeline's scratch file")?;
        let mut spill_of: Vec<u32> = Vec::with_capacity(self.keys.len());
        for range in artifacts {
            spill_of.extend(range.clone());
        }
        let keys = &self.keys;
        let mut order: Vec<u32> = (0..spill_of.len() as u32).collect();
        order.sort_unstable_by_key(|&id| (keys[spill_of[id as usize] as usize], id));
        Ok(SpilledTimeline {
            file,
            offsets: self.offsets,
            spill_of,
            order,
        })
    }
}

/// A parsed timeline on local disk.
pub(crate) struct SpilledTimeline {
    file: std::fs::File,
    offsets: Vec<u64>,
    /// Stored id → spill index.
    spill_of: Vec<u32>,
    /// Stored ids in timeline order.
    order: Vec<u32>,
}

impl SpilledTimeline {
    /// The stored JSON of the event of stored id `id`.
    fn read(&self, id: u64) -> Result<Option<Vec<u8>>> {
        let Some(&spill) = usize::try_from(id)
            .ok()
            .and_then(|id| self.spill_of.get(id))
        else {
            return Ok(None);
        };
        let (start, end) = (
            self.offsets[spill as usize],
            self.offsets[spill as usize + 1],
        );
        let mut line = vec![0; (end - start) as usize];
        self.file
            .read_exact_at(&mut line, start)
            .context("cannot read the timeline's scratch file")?;
        Ok(Some(line))
    }

    /// The event of stored id `id`.
    pub(crate) fn get(&self, id: u64) -> Result<Option<Event>> {
        self.read(id)?
            .map(|line| serde_json::from_slice(&line).context("corrupt timeline scratch file"))
            .transpose()
    }

    /// Calls `each` with the events in timeline order, `batch` at a time.
    pub(crate) fn for_each_batch(
        &self,
        batch: usize,
        each: &mut dyn FnMut(Batch<'_>),
    ) -> Result<()> {
        for chunk in self.order.chunks(batch.max(1)) {
            let ids: Vec<u64> = chunk.iter().map(|&id| u64::from(id)).collect();
            let lines = ids
                .iter()
                .map(|&id| self.read(id)?.context("timeline index out of range"))
                .collect::<Result<Vec<Vec<u8>>>>()?;
            // Decoding is most of the cost of reading back: done in parallel.
            let events = lines
                .par_iter()
                .map(|line| serde_json::from_slice(line).context("corrupt timeline scratch file"))
                .collect::<Result<Vec<Event>>>()?;
            each(Batch::new(&ids, &events));
        }
        Ok(())
    }
}

impl riposte_worker::pipeline::EventSource for SpilledTimeline {
    type Error = anyhow::Error;

    fn for_each_batch(&mut self, each: &mut dyn FnMut(Batch<'_>)) -> Result<()> {
        SpilledTimeline::for_each_batch(self, riposte_worker::pipeline::DETECT_BATCH, each)
    }

    fn fetch(&mut self, ids: &[u64]) -> Result<Vec<(u64, Event)>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(e) = self.get(id)? {
                out.push((id, e));
            }
        }
        Ok(out)
    }
}
