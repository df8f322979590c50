//! Sequential-read detection: which blocks to fetch before they are asked for.
//!
//! A few recent read streams are tracked by the last block they touched. A read that
//! continues a stream into a new block is a sequential step: the stream's window starts at
//! 2 blocks and doubles with each step up to the limit, and the blocks between what was
//! already fetched ahead and `last + window` are prefetched. A read that continues no
//! stream starts a new one (replacing the least recently used) and prefetches nothing,
//! so random access — a triage walk hopping between inodes and directories — fetches
//! only what it reads.

use std::ops::Range;

/// Streams tracked at once (a walk reading a file while it reads directories, …).
const STREAMS: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    /// The last block the stream read.
    last: u64,
    /// Blocks below this were already asked for ahead of the stream.
    ahead_to: u64,
    /// Current window in blocks (0 before the first sequential step).
    window: u64,
    /// When it was last used.
    used: u64,
}

/// The read-ahead state of one snapshot.
#[derive(Debug, Default)]
pub(super) struct Readahead {
    streams: [Stream; STREAMS],
    clock: u64,
}

impl Readahead {
    /// Records a read of blocks `first..=last` and returns the blocks to prefetch, with
    /// windows up to `limit` blocks (0: never).
    pub(super) fn observe(&mut self, first: u64, last: u64, limit: u64) -> Option<Range<u64>> {
        self.clock += 1;
        let clock = self.clock;
        let continuing = self
            .streams
            .iter_mut()
            .filter(|s| s.used > 0)
            .find(|s| first == s.last || first == s.last.saturating_add(1));
        let Some(stream) = continuing else {
            let oldest = self
                .streams
                .iter_mut()
                .min_by_key(|s| s.used)
                .expect("STREAMS is not zero");
            *oldest = Stream {
                last,
                ahead_to: last.saturating_add(1),
                window: 0,
                used: clock,
            };
            return None;
        };
        stream.used = clock;
        if last <= stream.last || limit == 0 {
            stream.last = stream.last.max(last);
            return None;
        }
        stream.window = if stream.window == 0 {
            2
        } else {
            stream.window * 2
        }
        .min(limit);
        stream.last = last;
        let start = stream.ahead_to.max(last + 1);
        let end = last.saturating_add(1).saturating_add(stream.window);
        stream.ahead_to = stream.ahead_to.max(end);
        (start < end).then_some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_reads_grow_the_window_random_reads_fetch_nothing() {
        let mut ra = Readahead::default();
        assert_eq!(ra.observe(10, 10, 8), None, "a first read starts a stream");
        assert_eq!(ra.observe(10, 10, 8), None, "same block: no step");
        assert_eq!(ra.observe(11, 11, 8), Some(12..14), "first step: 2 blocks");
        assert_eq!(
            ra.observe(12, 12, 8),
            Some(14..17),
            "then 4, minus what is ahead"
        );
        assert_eq!(ra.observe(13, 13, 8), Some(17..22), "then 8");
        assert_eq!(ra.observe(14, 14, 8), Some(22..23), "capped at 8");
        for random in [500, 90, 7000, 3, 41] {
            assert_eq!(ra.observe(random, random, 8), None, "random block {random}");
        }
    }

    #[test]
    fn interleaved_streams_and_a_zero_limit() {
        let mut ra = Readahead::default();
        ra.observe(0, 0, 8);
        ra.observe(100, 100, 8);
        assert_eq!(ra.observe(1, 2, 8), Some(3..5));
        assert_eq!(ra.observe(101, 101, 8), Some(102..104));
        let mut off = Readahead::default();
        off.observe(0, 0, 0);
        assert_eq!(off.observe(1, 1, 0), None);
    }
}
