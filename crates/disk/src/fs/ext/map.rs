//! From a file's logical blocks to the volume's blocks: extent trees, classic block maps
//! and inline data, and the streaming reader built on them.
//!
//! Mapping is done one run at a time from the inode's root (a few cached metadata
//! blocks per run), so memory does not grow with the file's size or fragmentation.
//! Every structure has a fixed or strictly decreasing depth: no chain can loop.

use super::inode::{EXTENTS_FL, I_BLOCK_LEN, INLINE_DATA_FL, Inode};
use super::{ExtFs, MAX_EXTENT_DEPTH, corrupt, le16, le32};
use crate::fs::FsError;
use std::io::{self, Read};
use std::sync::Arc;

/// `eh_magic` of an extent node.
const EXTENT_MAGIC: u16 = 0xF30A;
/// Extent lengths above this mark uninitialised (preallocated) extents.
const EXT_INIT_MAX_LEN: u16 = 32768;
/// Direct block pointers in a block map.
const DIRECT: u64 = 12;

/// Consecutive logical blocks mapped the same way (`len` ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Run {
    /// A hole or an uninitialised extent: reads as zeros.
    Zeros(u64),
    /// Volume blocks `start..start + len`.
    Data { start: u64, len: u64 },
}

impl Run {
    fn len(self) -> u64 {
        match self {
            Run::Zeros(n) | Run::Data { len: n, .. } => n,
        }
    }
}

/// How an inode's data is found.
#[derive(Debug, Clone)]
pub(super) enum DataMap {
    /// An extent tree whose root is `i_block`.
    Extents([u8; I_BLOCK_LEN]),
    /// Twelve direct pointers, then single, double and triple indirect.
    Blocks([u32; 15]),
    /// The data itself (`i_block` then the `system.data` attribute).
    Inline(Vec<u8>),
}

impl DataMap {
    /// The map of `inode` (inode number `ino`, for messages).
    pub(super) fn new(fs: &ExtFs, ino: u32, inode: &Inode) -> Result<DataMap, FsError> {
        let i_block = inode.i_block();
        if inode.flags & INLINE_DATA_FL != 0 {
            let mut data = i_block.to_vec();
            data.extend_from_slice(inode.inline_data_tail().unwrap_or(&[]));
            let size = inode.size(fs.sb.incompat & super::INCOMPAT_LARGEDIR != 0);
            if size > data.len() as u64 {
                return Err(corrupt(format!(
                    "inode {ino}: {size} bytes of inline data, only {} stored",
                    data.len()
                )));
            }
            return Ok(DataMap::Inline(data));
        }
        if inode.flags & EXTENTS_FL != 0 {
            header(&i_block).map_err(|e| corrupt(format!("inode {ino}: {e}")))?;
            return Ok(DataMap::Extents(i_block));
        }
        let mut ptrs = [0u32; 15];
        for (i, p) in ptrs.iter_mut().enumerate() {
            *p = le32(&i_block, i * 4);
        }
        Ok(DataMap::Blocks(ptrs))
    }

    /// Logical blocks this map can address at most.
    fn max_blocks(&self, block_size: u32) -> u64 {
        match self {
            DataMap::Extents(_) => 1 << 32,
            DataMap::Blocks(_) => {
                let p = u64::from(block_size / 4);
                DIRECT + p + p * p + p * p * p
            }
            DataMap::Inline(_) => 0,
        }
    }

    /// The run that starts at logical block `lblk`.
    pub(super) fn map(&self, fs: &ExtFs, lblk: u64) -> Result<Run, FsError> {
        match self {
            DataMap::Extents(root) => map_extent(fs, root, lblk),
            DataMap::Blocks(ptrs) => map_blocks(fs, ptrs, lblk),
            DataMap::Inline(_) => Err(corrupt("inline data has no blocks")),
        }
    }
}

/// An extent node header: (entries, depth), checked against the node's length.
fn header(node: &[u8]) -> Result<(usize, u16), String> {
    if le16(node, 0) != EXTENT_MAGIC {
        return Err(format!("bad extent header magic {:#06x}", le16(node, 0)));
    }
    let entries = usize::from(le16(node, 2));
    let max = usize::from(le16(node, 4));
    let depth = le16(node, 6);
    if entries > max || 12 + entries * 12 > node.len() {
        return Err(format!(
            "extent node with {entries} entries (max {max}) overflows its {} bytes",
            node.len()
        ));
    }
    if depth > MAX_EXTENT_DEPTH {
        return Err(format!(
            "extent tree depth {depth} (at most {MAX_EXTENT_DEPTH})"
        ));
    }
    Ok((entries, depth))
}

/// Looks `lblk` up in an extent tree.
fn map_extent(fs: &ExtFs, root: &[u8; I_BLOCK_LEN], lblk: u64) -> Result<Run, FsError> {
    // Logical blocks in extents are 32-bit.
    let Ok(target) = u32::try_from(lblk) else {
        return Err(corrupt(format!(
            "logical block {lblk} beyond what extents address"
        )));
    };
    let target = u64::from(target);
    let mut node: Arc<[u8]> = Arc::from(&root[..]);
    // End (exclusive) of the logical range this node covers.
    let mut limit: u64 = 1 << 32;
    let mut expected_depth = None;
    for _ in 0..=MAX_EXTENT_DEPTH {
        let (entries, depth) = header(&node).map_err(corrupt)?;
        if expected_depth.is_some_and(|d| d != depth) {
            return Err(corrupt(format!(
                "extent node at depth {depth}, expected {}",
                expected_depth.unwrap_or_default()
            )));
        }
        let entry = |i: usize| &node[12 + i * 12..24 + i * 12];
        if depth == 0 {
            for i in 0..entries {
                let e = entry(i);
                let first = u64::from(le32(e, 0));
                let raw_len = le16(e, 4);
                let (len, uninit) = if raw_len > EXT_INIT_MAX_LEN {
                    (u64::from(raw_len - EXT_INIT_MAX_LEN), true)
                } else {
                    (u64::from(raw_len), false)
                };
                if len == 0 {
                    return Err(corrupt(format!("empty extent at logical block {first}")));
                }
                if first > target {
                    return Ok(Run::Zeros(first.min(limit).saturating_sub(target).max(1)));
                }
                if target < first + len {
                    let skip = target - first;
                    let start = (u64::from(le16(e, 6)) << 32) | u64::from(le32(e, 8));
                    fs.check_extent(start, len)?;
                    return Ok(if uninit {
                        Run::Zeros(len - skip)
                    } else {
                        Run::Data {
                            start: start + skip,
                            len: len - skip,
                        }
                    });
                }
            }
            return Ok(Run::Zeros(limit.saturating_sub(target).max(1)));
        }
        let mut chosen = None;
        for i in 0..entries {
            let first = u64::from(le32(entry(i), 0));
            if first <= target {
                chosen = Some(i);
            } else {
                if chosen.is_none() {
                    return Ok(Run::Zeros((first.min(limit) - target).max(1)));
                }
                limit = limit.min(first);
                break;
            }
        }
        let Some(i) = chosen else {
            return Ok(Run::Zeros(limit.saturating_sub(target).max(1)));
        };
        let e = entry(i);
        let child = (u64::from(le16(e, 8)) << 32) | u64::from(le32(e, 4));
        node = fs.read_block(child)?;
        expected_depth = Some(depth - 1);
    }
    Err(corrupt(format!(
        "extent tree deeper than {MAX_EXTENT_DEPTH}"
    )))
}

/// Looks `lblk` up in a classic block map.
fn map_blocks(fs: &ExtFs, ptrs: &[u32; 15], lblk: u64) -> Result<Run, FsError> {
    let p = u64::from(fs.block_size() / 4);
    if lblk < DIRECT {
        let rest = ptrs.get(lblk as usize..DIRECT as usize).unwrap_or(&[]);
        return run_from(fs, rest.iter().copied());
    }
    let mut rel = lblk - DIRECT;
    let mut level = 1u32;
    let mut span = p; // blocks covered by the pointer at this level
    loop {
        if rel < span {
            break;
        }
        rel -= span;
        level += 1;
        if level > 3 {
            return Err(corrupt(format!(
                "logical block {lblk} beyond the triple-indirect map"
            )));
        }
        span = span.saturating_mul(p);
    }
    let mut ptr = ptrs[DIRECT as usize + level as usize - 1];
    while level > 0 {
        if ptr == 0 {
            return Ok(Run::Zeros(span - rel));
        }
        let block = fs.read_block(u64::from(ptr))?;
        span /= p;
        let index = (rel / span) as usize;
        rel %= span;
        level -= 1;
        if level == 0 {
            let rest = block.get(index * 4..).unwrap_or(&[]);
            return run_from(fs, rest.chunks_exact(4).map(|c| le32(c, 0)));
        }
        ptr = le32(&block, index * 4);
    }
    Err(corrupt("block map walk ended early"))
}

/// The run starting at the first of `ptrs` (consecutive pointers in one map block).
fn run_from(fs: &ExtFs, mut ptrs: impl Iterator<Item = u32>) -> Result<Run, FsError> {
    let Some(first) = ptrs.next() else {
        return Err(corrupt("empty block map run"));
    };
    if first == 0 {
        return Ok(Run::Zeros(1 + ptrs.take_while(|&q| q == 0).count() as u64));
    }
    let start = u64::from(first);
    let mut len = 1u64;
    for q in ptrs {
        if u64::from(q) != start + len {
            break;
        }
        len += 1;
    }
    fs.check_extent(start, len)?;
    Ok(Run::Data { start, len })
}

/// A streaming reader over an inode's data: each `read` maps at most one run and reads
/// straight into the caller's buffer.
pub(super) struct ExtReader<'a> {
    fs: &'a ExtFs,
    map: DataMap,
    size: u64,
    pos: u64,
    /// The run in use: its first logical block and the run.
    run: Option<(u64, Run)>,
}

impl<'a> ExtReader<'a> {
    /// A reader over `size` bytes mapped by `map`.
    pub(super) fn new(fs: &'a ExtFs, map: DataMap, size: u64) -> Result<Self, FsError> {
        let max = map
            .max_blocks(fs.block_size())
            .saturating_mul(u64::from(fs.block_size()));
        if !matches!(map, DataMap::Inline(_)) && size > max {
            return Err(corrupt(format!(
                "file size {size} larger than its block map can address"
            )));
        }
        Ok(ExtReader {
            fs,
            map,
            size,
            pos: 0,
            run: None,
        })
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> Result<usize, FsError> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let left = self.size - self.pos;
        if let DataMap::Inline(data) = &self.map {
            let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
            let src = data.get(start..).unwrap_or(&[]);
            let n = src
                .len()
                .min(buf.len())
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            buf[..n].copy_from_slice(&src[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let bs = u64::from(self.fs.block_size());
        let lblk = self.pos / bs;
        let within = self.pos % bs;
        let (first, run) = match self.run {
            Some((first, run)) if lblk >= first && lblk - first < run.len() => (first, run),
            _ => {
                let run = self.map.map(self.fs, lblk)?;
                self.run = Some((lblk, run));
                (lblk, run)
            }
        };
        let skip = lblk - first;
        let avail = (run.len() - skip).saturating_mul(bs) - within;
        let n = usize::try_from(avail.min(left))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let out = &mut buf[..n];
        match run {
            Run::Zeros(_) => out.fill(0),
            Run::Data { start, .. } => {
                let offset = self.fs.block_offset(start + skip)?.saturating_add(within);
                self.fs.volume.read_exact_at(offset, out)?;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Read for ExtReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf).map_err(|e| match e {
            FsError::Io(io) => io,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        })
    }
}
