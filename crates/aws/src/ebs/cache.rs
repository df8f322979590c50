//! A byte-bounded cache of fetched blocks, least recently used evicted first.

use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Fetched blocks by index, holding at most `capacity` bytes.
#[derive(Debug)]
pub(super) struct BlockCache {
    capacity: u64,
    used: u64,
    clock: u64,
    /// Block index → (data, last use).
    entries: HashMap<u64, (Bytes, u64)>,
    /// Last use → block index, oldest first.
    by_age: BTreeMap<u64, u64>,
}

impl BlockCache {
    /// An empty cache of `capacity` bytes.
    pub(super) fn new(capacity: u64) -> Self {
        BlockCache {
            capacity,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    /// The block, marked as just used.
    pub(super) fn get(&mut self, index: u64) -> Option<Bytes> {
        self.clock += 1;
        let clock = self.clock;
        let (data, used) = self.entries.get_mut(&index)?;
        self.by_age.remove(used);
        *used = clock;
        self.by_age.insert(clock, index);
        Some(data.clone())
    }

    /// Whether the block is cached (its age is left alone).
    pub(super) fn contains(&self, index: u64) -> bool {
        self.entries.contains_key(&index)
    }

    /// Adds (or replaces) a block, evicting the least recently used ones to make room.
    /// A block larger than the whole cache is not kept.
    pub(super) fn insert(&mut self, index: u64, data: Bytes) {
        let size = data.len() as u64;
        if size > self.capacity {
            return;
        }
        if let Some((old, used)) = self.entries.remove(&index) {
            self.by_age.remove(&used);
            self.used -= old.len() as u64;
        }
        while self.used + size > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = self.entries.remove(&oldest) {
                self.used -= evicted.len() as u64;
            }
        }
        self.clock += 1;
        self.by_age.insert(self.clock, index);
        self.entries.insert(index, (data, self.clock));
        self.used += size;
    }

    /// Bytes held.
    pub(super) fn used(&self) -> u64 {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(byte: u8) -> Bytes {
        Bytes::from(vec![byte; 10])
    }

    #[test]
    fn evicts_the_least_recently_used_within_its_bytes() {
        let mut cache = BlockCache::new(30);
        cache.insert(1, block(1));
        cache.insert(2, block(2));
        cache.insert(3, block(3));
        assert_eq!(cache.get(1).unwrap()[0], 1, "1 becomes the most recent");
        cache.insert(4, block(4));
        assert!(!cache.contains(2), "2 was the least recently used");
        assert!(cache.contains(1) && cache.contains(3) && cache.contains(4));
        assert_eq!(cache.used(), 30);
        cache.insert(4, block(9));
        assert_eq!(cache.get(4).unwrap()[0], 9);
        assert_eq!(cache.used(), 30);
        cache.insert(5, Bytes::from(vec![0u8; 31]));
        assert!(!cache.contains(5), "larger than the cache");
        assert_eq!(cache.used(), 30);
    }
}
