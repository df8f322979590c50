//! How an EBS snapshot is read: concurrency, cache, read-ahead and retries, validated
//! with errors naming the key.

use super::EbsError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Requests in flight by default. Measured by `benches/ebs_read.rs` (512 KiB blocks,
/// 20 ms added per request, moto behind a proxy, 2 cores): 1 in flight gives 17 MB/s; from
/// 8 up every level reaches the emulator's own ceiling (80-100 MB/s, the same with no
/// added latency), and 32 stayed within 80 % of the best level in every run. Real AWS is
/// not capped by a local emulator, so the default keeps more requests in flight than
/// the emulator needs.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Options of an [`EbsSnapshotSource`](super::EbsSnapshotSource). Every field has a
/// default (`EbsReadOptions::default()`), so a config file names only what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbsReadOptions {
    /// Most `GetSnapshotBlock` requests in flight at once, demand reads and read-ahead
    /// together (1..=256; default [`DEFAULT_CONCURRENCY`]).
    pub concurrency: usize,
    /// Bytes of fetched blocks kept in memory, least recently used evicted first
    /// (default 256 MiB; at least 8 blocks).
    pub cache_bytes: u64,
    /// Most blocks fetched ahead of a sequential reader; the window starts at 2 blocks and
    /// doubles with each sequential step. 0 turns read-ahead off. Default: twice the
    /// concurrency. Clipped so the window fits in half the cache.
    pub readahead_blocks: Option<usize>,
    /// Attempts per request, the first included, when AWS throttles or fails with a 5xx
    /// (1..=20; default 8). Between attempts the SDK's standard strategy backs off
    /// exponentially with jitter.
    pub max_attempts: u32,
    /// First back-off, in milliseconds (default 100).
    pub initial_backoff_ms: u64,
    /// Longest back-off, in milliseconds (default 20 000).
    pub max_backoff_ms: u64,
    /// Time limit of one request attempt, in milliseconds (default 60 000).
    pub attempt_timeout_ms: u64,
    /// Blocks asked for per `ListSnapshotBlocks` page (100..=10 000, AWS's limits;
    /// default 10 000).
    pub list_page_size: i32,
}

impl Default for EbsReadOptions {
    fn default() -> Self {
        EbsReadOptions {
            concurrency: DEFAULT_CONCURRENCY,
            cache_bytes: 256 << 20,
            readahead_blocks: None,
            max_attempts: 8,
            initial_backoff_ms: 100,
            max_backoff_ms: 20_000,
            attempt_timeout_ms: 60_000,
            list_page_size: 10_000,
        }
    }
}

impl EbsReadOptions {
    /// Checks every field, naming the key at fault.
    pub fn validate(&self) -> Result<(), EbsError> {
        let invalid =
            |key: &'static str, problem: String| Err(EbsError::InvalidOptions { key, problem });
        if !(1..=256).contains(&self.concurrency) {
            return invalid(
                "concurrency",
                format!("{} is not in 1..=256", self.concurrency),
            );
        }
        if !(1..=20).contains(&self.max_attempts) {
            return invalid(
                "max_attempts",
                format!("{} is not in 1..=20", self.max_attempts),
            );
        }
        if self.initial_backoff_ms == 0 || self.initial_backoff_ms > self.max_backoff_ms {
            return invalid(
                "initial_backoff_ms",
                format!(
                    "{} must be positive and at most max_backoff_ms ({})",
                    self.initial_backoff_ms, self.max_backoff_ms
                ),
            );
        }
        if self.attempt_timeout_ms < 100 {
            return invalid(
                "attempt_timeout_ms",
                format!(
                    "{} ms is too short for one request",
                    self.attempt_timeout_ms
                ),
            );
        }
        if !(100..=10_000).contains(&self.list_page_size) {
            return invalid(
                "list_page_size",
                format!("{} is not in 100..=10000", self.list_page_size),
            );
        }
        Ok(())
    }

    /// Checks the cache against the snapshot's block size, naming the key at fault.
    pub(super) fn validate_for_block_size(&self, block_size: u64) -> Result<(), EbsError> {
        if self.cache_bytes < block_size.saturating_mul(8) {
            return Err(EbsError::InvalidOptions {
                key: "cache_bytes",
                problem: format!(
                    "{} bytes hold fewer than 8 blocks of {block_size} bytes",
                    self.cache_bytes
                ),
            });
        }
        Ok(())
    }

    /// The largest read-ahead window in blocks for `block_size`: the option (or twice
    /// the concurrency), clipped to half the cache.
    pub(super) fn readahead_limit(&self, block_size: u64) -> usize {
        let wanted = self
            .readahead_blocks
            .unwrap_or(self.concurrency.saturating_mul(2));
        let fits = usize::try_from(self.cache_bytes / 2 / block_size.max(1)).unwrap_or(usize::MAX);
        wanted.min(fits)
    }

    /// The first back-off.
    pub(super) fn initial_backoff(&self) -> Duration {
        Duration::from_millis(self.initial_backoff_ms)
    }

    /// The longest back-off.
    pub(super) fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms)
    }

    /// The time limit of one attempt.
    pub(super) fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key() {
        let bad = [
            (
                EbsReadOptions {
                    concurrency: 0,
                    ..Default::default()
                },
                "concurrency",
            ),
            (
                EbsReadOptions {
                    max_attempts: 0,
                    ..Default::default()
                },
                "max_attempts",
            ),
            (
                EbsReadOptions {
                    initial_backoff_ms: 30_000,
                    ..Default::default()
                },
                "initial_backoff_ms",
            ),
            (
                EbsReadOptions {
                    list_page_size: 50,
                    ..Default::default()
                },
                "list_page_size",
            ),
        ];
        for (options, key) in bad {
            let err = options.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err} should name {key}");
        }
        assert!(EbsReadOptions::default().validate().is_ok());
        let small = EbsReadOptions {
            cache_bytes: 1 << 20,
            ..Default::default()
        };
        let err = small
            .validate_for_block_size(512 << 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cache_bytes"), "{err}");
    }

    #[test]
    fn readahead_fits_in_half_the_cache() {
        let options = EbsReadOptions {
            cache_bytes: 8 << 20,
            ..Default::default()
        };
        assert_eq!(options.readahead_limit(512 << 10), 8);
        assert_eq!(options.readahead_limit(512), 2 * DEFAULT_CONCURRENCY);
        let off = EbsReadOptions {
            readahead_blocks: Some(0),
            ..Default::default()
        };
        assert_eq!(off.readahead_limit(512), 0);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<EbsReadOptions>(r#"{"concurency": 4}"#).unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        let parsed: EbsReadOptions = serde_json::from_str(r#"{"concurrency": 4}"#).unwrap();
        assert_eq!(parsed.concurrency, 4);
        assert_eq!(parsed.cache_bytes, EbsReadOptions::default().cache_bytes);
    }
}
