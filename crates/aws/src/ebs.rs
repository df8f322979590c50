//! An EBS snapshot read in place through the EBS direct APIs, as a [`ByteSource`] for the
//! `riposte-disk` readers: nothing is copied to local disk.
//!
//! [`EbsSnapshotSource::open`] lists the snapshot's written blocks once
//! (`ListSnapshotBlocks`, every page, with the block and volume sizes AWS reports); reads
//! then fetch the blocks they touch with `GetSnapshotBlock`, verify each one's SHA-256
//! checksum, and keep them in a bounded LRU cache. Blocks never written read as zeros
//! without a request. Many requests run at once: a read spanning several blocks fetches
//! them in parallel, and a sequential reader gets the following blocks fetched ahead
//! (only sequential access triggers read-ahead, so a triage hopping between inodes fetches
//! what it reads), up to [`EbsReadOptions::concurrency`] requests in flight. Throttling
//! and 5xx answers are retried by the SDK's standard strategy (exponential back-off with
//! jitter, bounded attempts); what still fails is an [`EbsError`] naming the snapshot, the
//! block and, for `AccessDenied`, the IAM permission missing.
//!
//! Memory is bounded by [`EbsReadOptions::cache_bytes`], plus the blocks in flight
//! (concurrency × block size) and the listing (one token, ~100 bytes, per written block).
//! Block tokens are used as listed: AWS keeps them valid for seven days, and a read that
//! outlived them would fail with AWS's validation error rather than list again. AWS may
//! hand out new tokens whenever the snapshot is listed again, so open one source per
//! snapshot and clone it for every reader (clones share the listing and the cache).
//!
//! # Threads
//! [`ByteSource::read_at`] is synchronous: it hands the requests to the tokio runtime the
//! source was opened on and blocks its own thread until the blocks arrive. Call it from a
//! blocking thread — `tokio::task::spawn_blocking`, a rayon or plain std thread — never
//! from an async task: there it would stall a runtime worker, and on a current-thread
//! runtime (whose only thread would be the one waiting) it would never return. The
//! runtime must outlive the reads; if it shuts down, pending reads fail with
//! [`EbsError::Cancelled`].

mod cache;
mod error;
mod fetch;
mod listing;
mod options;
mod readahead;

pub use error::{EbsError, GET_SNAPSHOT_BLOCK, LIST_SNAPSHOT_BLOCKS};
pub use options::{DEFAULT_CONCURRENCY, EbsReadOptions};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use bytes::Bytes;
use cache::BlockCache;
use fetch::BlockRequest;
use listing::BlockMap;
use readahead::Readahead;
use riposte_disk::ByteSource;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Counters of one source since it was opened, to compare what a triage and a full read
/// cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EbsReadStats {
    /// Written blocks in the snapshot's listing.
    pub blocks_listed: u64,
    /// `ListSnapshotBlocks` pages requested.
    pub list_pages: u64,
    /// Blocks fetched and verified (`GetSnapshotBlock` successes).
    pub blocks_fetched: u64,
    /// Of those, blocks fetched ahead of a read (read-ahead and [`EbsSnapshotSource::prefetch`]).
    pub blocks_prefetched: u64,
    /// Bytes fetched.
    pub bytes_fetched: u64,
    /// Fetches that failed (after the SDK's retries).
    pub fetch_failures: u64,
    /// Block reads answered from the cache.
    pub cache_hits: u64,
    /// Block reads that waited for a fetch already in flight (usually read-ahead).
    pub inflight_hits: u64,
    /// Block reads that started a fetch.
    pub cache_misses: u64,
    /// Block reads of never-written blocks, answered with zeros.
    pub zero_block_reads: u64,
    /// Bytes held in the block cache now.
    pub cache_bytes: u64,
}

#[derive(Default)]
struct Counters {
    blocks_fetched: AtomicU64,
    blocks_prefetched: AtomicU64,
    bytes_fetched: AtomicU64,
    fetch_failures: AtomicU64,
    cache_hits: AtomicU64,
    inflight_hits: AtomicU64,
    cache_misses: AtomicU64,
    zero_block_reads: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A reader waiting for blocks: each finished fetch sends it `(index, result)`.
type Waiter = mpsc::Sender<(u64, Result<Bytes, EbsError>)>;

/// What reads and fetches share under one lock.
struct State {
    cache: BlockCache,
    /// Blocks being fetched → the readers waiting for them.
    inflight: HashMap<u64, Vec<Waiter>>,
    readahead: Readahead,
}

struct Shared {
    client: aws_sdk_ebs::Client,
    snapshot: String,
    region: String,
    map: BlockMap,
    options: EbsReadOptions,
    readahead_limit: u64,
    runtime: Handle,
    permits: Semaphore,
    state: Mutex<State>,
    counters: Counters,
}

/// An EBS snapshot as a read-only [`ByteSource`] of the whole volume. Cheap to clone;
/// clones share the cache, the counters and the requests in flight.
#[derive(Clone)]
pub struct EbsSnapshotSource {
    shared: Arc<Shared>,
}

impl fmt::Debug for EbsSnapshotSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EbsSnapshotSource")
            .field("snapshot", &self.shared.snapshot)
            .field("region", &self.shared.region)
            .field("block_size", &self.shared.map.block_size)
            .field("volume_bytes", &self.shared.map.volume_bytes)
            .field("blocks_listed", &self.shared.map.len())
            .finish()
    }
}

impl EbsSnapshotSource {
    /// Opens `snapshot_id` with the credentials, region and endpoint of `config` and lists
    /// its blocks. Must be awaited on the tokio runtime that will run the reads (its
    /// handle is kept); see the module doc for the threads reads may come from.
    ///
    /// Needs `ebs:ListSnapshotBlocks` now and `ebs:GetSnapshotBlock` (plus `kms:Decrypt`
    /// for an encrypted snapshot) for the reads.
    pub async fn open(
        config: &SdkConfig,
        snapshot_id: &str,
        options: EbsReadOptions,
    ) -> Result<Self, EbsError> {
        options.validate()?;
        let runtime = Handle::try_current().map_err(|_| EbsError::InvalidOptions {
            key: "runtime",
            problem: "EbsSnapshotSource::open must run inside a tokio runtime".into(),
        })?;
        let region = config
            .region()
            .map_or_else(|| "(no region configured)".to_string(), |r| r.to_string());
        let timeouts = config
            .timeout_config()
            .map_or_else(TimeoutConfig::builder, TimeoutConfig::to_builder)
            .operation_attempt_timeout(options.attempt_timeout())
            .build();
        let retry = RetryConfig::standard()
            .with_max_attempts(options.max_attempts)
            .with_initial_backoff(options.initial_backoff())
            .with_max_backoff(options.max_backoff());
        let client_config = aws_sdk_ebs::config::Builder::from(config)
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        let client = aws_sdk_ebs::Client::from_conf(client_config);
        let map = listing::list_blocks(
            &client,
            snapshot_id,
            &region,
            options.list_page_size,
            options.max_attempts,
        )
        .await?;
        options.validate_for_block_size(map.block_size)?;
        let readahead_limit = options.readahead_limit(map.block_size) as u64;
        tracing::info!(
            snapshot = snapshot_id,
            %region,
            blocks = map.len(),
            block_size = map.block_size,
            volume_bytes = map.volume_bytes,
            "EBS snapshot opened"
        );
        Ok(EbsSnapshotSource {
            shared: Arc::new(Shared {
                client,
                snapshot: snapshot_id.to_string(),
                region,
                permits: Semaphore::new(options.concurrency),
                state: Mutex::new(State {
                    cache: BlockCache::new(options.cache_bytes),
                    inflight: HashMap::new(),
                    readahead: Readahead::default(),
                }),
                map,
                options,
                readahead_limit,
                runtime,
                counters: Counters::default(),
            }),
        })
    }

    /// The snapshot's id.
    pub fn snapshot_id(&self) -> &str {
        &self.shared.snapshot
    }

    /// The region it is read from.
    pub fn region(&self) -> &str {
        &self.shared.region
    }

    /// Bytes per block, as AWS reported it (524 288 on AWS).
    pub fn block_size(&self) -> u64 {
        self.shared.map.block_size
    }

    /// The name evidence read from this snapshot is recorded under:
    /// `ebs-snapshot:REGION/SNAPSHOT`.
    pub fn image_name(&self) -> String {
        format!(
            "ebs-snapshot:{}/{}",
            self.shared.region, self.shared.snapshot
        )
    }

    /// The counters so far.
    pub fn stats(&self) -> EbsReadStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EbsReadStats {
            blocks_listed: self.shared.map.len(),
            list_pages: self.shared.map.pages,
            blocks_fetched: get(&c.blocks_fetched),
            blocks_prefetched: get(&c.blocks_prefetched),
            bytes_fetched: get(&c.bytes_fetched),
            fetch_failures: get(&c.fetch_failures),
            cache_hits: get(&c.cache_hits),
            inflight_hits: get(&c.inflight_hits),
            cache_misses: get(&c.cache_misses),
            zero_block_reads: get(&c.zero_block_reads),
            cache_bytes: self.shared.lock().cache.used(),
        }
    }

    /// Starts fetching the written blocks of `offset..offset + len` without waiting for
    /// them (a hint from a reader that knows what it will read next, e.g. a file's
    /// extents). At most half the cache is asked for; returns how many fetches started.
    /// Does not block, so it may be called from async code too.
    pub fn prefetch(&self, offset: u64, len: u64) -> usize {
        let bs = self.shared.map.block_size;
        let end = offset.saturating_add(len).min(self.len());
        if offset >= end {
            return 0;
        }
        let budget =
            usize::try_from(self.shared.options.cache_bytes / 2 / bs).unwrap_or(usize::MAX);
        let blocks: Vec<u64> = self
            .shared
            .map
            .listed_in(offset / bs, end.div_ceil(bs))
            .take(budget)
            .collect();
        let started = {
            let mut state = self.shared.lock();
            claim_unfetched(&mut state, blocks)
        };
        let count = started.len();
        self.shared.spawn_fetches(started, true);
        count
    }
}

/// The blocks of `candidates` neither cached nor in flight, now marked in flight with no
/// reader waiting.
fn claim_unfetched(state: &mut State, candidates: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut claimed = Vec::new();
    for index in candidates {
        if !state.cache.contains(index) && !state.inflight.contains_key(&index) {
            state.inflight.insert(index, Vec::new());
            claimed.push(index);
        }
    }
    claimed
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the cache or the waiter lists half-updated in a
        // way that matters: at worst a block is fetched again.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts one fetch task per block (already marked in flight).
    fn spawn_fetches(self: &Arc<Self>, blocks: Vec<u64>, ahead: bool) {
        for index in blocks {
            let fetch = Fetch {
                shared: self.clone(),
                index,
                done: false,
            };
            // If the runtime is gone, the future is dropped unpolled and `Fetch::drop`
            // tells the waiting readers.
            drop(self.runtime.spawn(fetch.run(ahead)));
        }
    }

    /// Records a finished fetch and hands its result to every reader waiting for it.
    fn finish(&self, index: u64, result: Result<Bytes, EbsError>) {
        let waiters = {
            let mut state = self.lock();
            if let Ok(data) = &result {
                state.cache.insert(index, data.clone());
            }
            state.inflight.remove(&index).unwrap_or_default()
        };
        for waiter in waiters {
            // A reader that already failed on another block has gone: nothing to tell.
            let _ = waiter.send((index, result.clone()));
        }
    }
}

/// One block being fetched. Dropped without finishing (runtime shut down), it fails the
/// waiting readers instead of leaving them blocked.
struct Fetch {
    shared: Arc<Shared>,
    index: u64,
    done: bool,
}

impl Fetch {
    async fn run(mut self, ahead: bool) {
        let shared = self.shared.clone();
        let result = match shared.permits.acquire().await {
            Ok(_permit) => {
                let token = shared.map.token(self.index).unwrap_or_default();
                let request = BlockRequest {
                    snapshot: &shared.snapshot,
                    region: &shared.region,
                    index: self.index,
                    token,
                    block_size: shared.map.block_size,
                    attempts: shared.options.max_attempts,
                };
                fetch::fetch_block(&shared.client, &request).await
            }
            Err(_) => Err(self.cancelled()),
        };
        let c = &shared.counters;
        match &result {
            Ok(data) => {
                bump(&c.blocks_fetched, 1);
                bump(&c.bytes_fetched, data.len() as u64);
                if ahead {
                    bump(&c.blocks_prefetched, 1);
                }
            }
            Err(e) => {
                bump(&c.fetch_failures, 1);
                tracing::warn!(snapshot = %shared.snapshot, block = self.index, ahead, error = %e, "EBS: block fetch failed");
            }
        }
        self.done = true;
        shared.finish(self.index, result);
    }

    fn cancelled(&self) -> EbsError {
        EbsError::Cancelled {
            snapshot: self.shared.snapshot.clone(),
            block: self.index,
        }
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if !self.done {
            self.shared.finish(self.index, Err(self.cancelled()));
        }
    }
}

impl ByteSource for EbsSnapshotSource {
    fn len(&self) -> u64 {
        self.shared.map.volume_bytes
    }

    /// Reads from the snapshot, blocking this thread until the blocks arrive: call it from
    /// a blocking thread, never from an async task (see the module doc). One call reads at
    /// most a quarter of the cache, so a huge buffer comes back short and the caller loops.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let shared = &self.shared;
        let bs = shared.map.block_size;
        if offset >= self.len() || buf.is_empty() {
            return Ok(0);
        }
        let cap = (shared.options.cache_bytes / 4).max(bs);
        let want = (buf.len() as u64).min(self.len() - offset).min(cap);
        let Ok(want_len) = usize::try_from(want) else {
            return Ok(0);
        };
        let buf = &mut buf[..want_len];
        let first = offset / bs;
        let last = (offset + want - 1) / bs;
        let (tx, rx) = mpsc::channel();
        let mut pending = 0usize;
        let mut misses = Vec::new();
        let ahead = {
            let mut state = shared.lock();
            for index in first..=last {
                if shared.map.token(index).is_none() {
                    bump(&shared.counters.zero_block_reads, 1);
                    copy_block(buf, offset, index, bs, None);
                } else if let Some(data) = state.cache.get(index) {
                    bump(&shared.counters.cache_hits, 1);
                    copy_block(buf, offset, index, bs, Some(&data));
                } else if let Some(waiters) = state.inflight.get_mut(&index) {
                    bump(&shared.counters.inflight_hits, 1);
                    waiters.push(tx.clone());
                    pending += 1;
                } else {
                    bump(&shared.counters.cache_misses, 1);
                    state.inflight.insert(index, vec![tx.clone()]);
                    misses.push(index);
                    pending += 1;
                }
            }
            match state.readahead.observe(first, last, shared.readahead_limit) {
                Some(range) => {
                    let listed: Vec<u64> = shared.map.listed_in(range.start, range.end).collect();
                    claim_unfetched(&mut state, listed)
                }
                None => Vec::new(),
            }
        };
        drop(tx);
        shared.spawn_fetches(misses, false);
        shared.spawn_fetches(ahead, true);
        for _ in 0..pending {
            match rx.recv() {
                Ok((index, Ok(data))) => copy_block(buf, offset, index, bs, Some(&data)),
                Ok((_, Err(e))) => return Err(e.into()),
                Err(_) => {
                    return Err(EbsError::Cancelled {
                        snapshot: shared.snapshot.clone(),
                        block: first,
                    }
                    .into());
                }
            }
        }
        Ok(want_len)
    }
}

/// Copies the part of block `index` (`None`: zeros) that overlaps the read of `buf` at
/// `offset`.
fn copy_block(buf: &mut [u8], offset: u64, index: u64, block_size: u64, data: Option<&Bytes>) {
    let block_start = index * block_size;
    let start = offset.max(block_start);
    let end = (offset + buf.len() as u64).min(block_start + block_size);
    if start >= end {
        return;
    }
    // Both differences are below buf.len(), so they fit in usize.
    let out = &mut buf[(start - offset) as usize..(end - offset) as usize];
    match data {
        Some(data) => {
            let from = (start - block_start) as usize;
            let available = data.len().saturating_sub(from).min(out.len());
            out[..available].copy_from_slice(&data[from..from + available]);
            out[available..].fill(0);
        }
        None => out.fill(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_overlap_of_a_block_with_a_read() {
        let block = Bytes::from((0u8..8).collect::<Vec<_>>());
        let mut buf = [0xffu8; 6];
        // The read covers bytes 6..12; block 1 holds bytes 8..16.
        copy_block(&mut buf, 6, 1, 8, Some(&block));
        assert_eq!(buf, [0xff, 0xff, 0, 1, 2, 3]);
        copy_block(&mut buf, 6, 0, 8, None);
        assert_eq!(buf, [0, 0, 0, 1, 2, 3]);
        copy_block(&mut buf, 6, 5, 8, Some(&block));
        assert_eq!(
            buf,
            [0, 0, 0, 1, 2, 3],
            "a block outside the read changes nothing"
        );
    }
}
