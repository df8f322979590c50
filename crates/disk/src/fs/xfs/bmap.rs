//! Block maps: the extent records of an inode's data fork, inline or in a bmap B+tree,
//! read lazily in logical order, and a streaming reader of file contents over them.

use super::inode::{DataFork, Inode};
use super::{XfsFs, be16, be64, corrupt};
use crate::fs::FsError;
use std::io::{self, Read};

/// Size of a packed extent record (`xfs_bmbt_rec`).
const REC_LEN: usize = 16;
/// Size of the in-inode B+tree root header (`xfs_bmdr_block`: level, numrecs).
const BMDR_HDR_LEN: usize = 4;
/// Size of a v4 long-form B+tree block header.
const BMBT_HDR_V4: usize = 24;
/// Size of a v5 long-form B+tree block header.
const BMBT_HDR_V5: usize = 72;
/// Deepest bmap B+tree accepted (real ones have at most 5 or so levels).
pub(super) const MAX_BTREE_LEVELS: u16 = 8;
/// Longest single read handed to the volume.
const MAX_CHUNK: usize = 1 << 20;

/// One mapping of file blocks to filesystem blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent {
    /// First logical (file) block.
    pub logical: u64,
    /// First filesystem block (AG-encoded).
    pub start: u64,
    /// Number of blocks (at least 1).
    pub count: u64,
    /// Allocated but never written: reads as zeros.
    pub unwritten: bool,
}

/// Unpacks a 128-bit extent record: flag (1 bit), startoff (54), startblock (52),
/// blockcount (21).
fn unpack(rec: &[u8]) -> Option<Extent> {
    let l0 = be64(rec, 0)?;
    let l1 = be64(rec, 8)?;
    Some(Extent {
        unwritten: l0 >> 63 != 0,
        logical: (l0 & ((1 << 63) - 1)) >> 9,
        start: ((l0 & 0x1ff) << 43) | (l1 >> 21),
        count: l1 & ((1 << 21) - 1),
    })
}

/// One interior level of a B+tree walk: the child pointers of a node, and the next one
/// to descend into.
struct Frame {
    /// Level of the node holding these pointers (children are one level lower).
    level: u16,
    /// Child block numbers, in key order.
    ptrs: Vec<u64>,
    /// Index of the next child to visit.
    next: usize,
}

/// Where extent records come from.
enum Source {
    /// Records packed in the inode's data fork.
    Inline {
        /// The fork bytes.
        fork: Vec<u8>,
        /// Number of records in the fork.
        count: usize,
        /// Index of the next record.
        next: usize,
    },
    /// A depth-first walk of a bmap B+tree, one node per level in memory.
    Btree {
        /// Interior levels, root first.
        frames: Vec<Frame>,
        /// Records of the current leaf.
        leaf: Vec<Extent>,
        /// Index of the next record in `leaf`.
        next: usize,
        /// Tree blocks read so far (bounded by the filesystem size).
        blocks_read: u64,
        /// Reusable block buffer.
        buf: Vec<u8>,
    },
}

/// The extents of one inode's data fork, in logical order. Each extent is checked as it
/// is produced: non-empty, after the previous one (which also rules out loops in the
/// tree), and inside one allocation group of the filesystem.
pub(super) struct ExtentIter<'a> {
    /// The filesystem.
    fs: &'a XfsFs,
    /// Owning inode (for messages and v5 owner checks).
    ino: u64,
    /// Record source.
    source: Source,
    /// First logical block the next extent may start at.
    next_logical: u64,
}

impl<'a> ExtentIter<'a> {
    /// The extents of `inode`, whose data fork must be in extents or B+tree format.
    pub(super) fn new(fs: &'a XfsFs, inode: &Inode) -> Result<ExtentIter<'a>, FsError> {
        let ino = inode.ino;
        let source = match &inode.fork {
            DataFork::Extents(fork) => {
                let count = usize::try_from(inode.nextents)
                    .ok()
                    .filter(|&n| n <= fork.len() / REC_LEN)
                    .ok_or_else(|| {
                        corrupt(format!(
                            "inode {ino}: {} extents do not fit its data fork of {} bytes",
                            inode.nextents,
                            fork.len()
                        ))
                    })?;
                Source::Inline {
                    fork: fork.clone(),
                    count,
                    next: 0,
                }
            }
            DataFork::Btree(fork) => {
                let root = |what: &str| corrupt(format!("inode {ino}: bmap B+tree root {what}"));
                let level = be16(fork, 0).ok_or_else(|| root("truncated"))?;
                let numrecs = usize::from(be16(fork, 2).ok_or_else(|| root("truncated"))?);
                if level == 0 || level > MAX_BTREE_LEVELS {
                    return Err(root(&format!(
                        "has {level} levels (1 to {MAX_BTREE_LEVELS} accepted)"
                    )));
                }
                let maxrecs = fork.len().saturating_sub(BMDR_HDR_LEN) / 16;
                if numrecs == 0 || numrecs > maxrecs {
                    return Err(root(&format!("holds {numrecs} of at most {maxrecs} keys")));
                }
                let ptrs_at = BMDR_HDR_LEN + maxrecs * 8;
                let ptrs = (0..numrecs)
                    .map(|i| be64(fork, ptrs_at + i * 8).ok_or_else(|| root("truncated")))
                    .collect::<Result<Vec<_>, _>>()?;
                Source::Btree {
                    frames: vec![Frame {
                        level,
                        ptrs,
                        next: 0,
                    }],
                    leaf: Vec::new(),
                    next: 0,
                    blocks_read: 0,
                    buf: vec![0u8; fs.sb.block_size as usize],
                }
            }
            DataFork::Local(_) | DataFork::Dev => {
                return Err(corrupt(format!("inode {ino}: data fork holds no extents")));
            }
        };
        Ok(ExtentIter {
            fs,
            ino,
            source,
            next_logical: 0,
        })
    }

    /// The next extent, or `None` after the last.
    pub(super) fn next_extent(&mut self) -> Result<Option<Extent>, FsError> {
        let Some(extent) = self.next_raw()? else {
            return Ok(None);
        };
        let ino = self.ino;
        if extent.count == 0 || extent.logical < self.next_logical {
            return Err(corrupt(format!(
                "inode {ino}: extent at file block {} ({} blocks) is empty, overlapping or \
                 out of order",
                extent.logical, extent.count
            )));
        }
        self.fs.block_offset(extent.start, extent.count)?;
        // logical < 2^54 and count < 2^21: no overflow.
        self.next_logical = extent.logical + extent.count;
        Ok(Some(extent))
    }

    /// The next record, unchecked, reading B+tree blocks as needed.
    fn next_raw(&mut self) -> Result<Option<Extent>, FsError> {
        let fs = self.fs;
        let ino = self.ino;
        match &mut self.source {
            Source::Inline { fork, count, next } => {
                if *next >= *count {
                    return Ok(None);
                }
                let at = *next * REC_LEN;
                *next += 1;
                let rec = fork.get(at..at + REC_LEN).and_then(unpack);
                rec.map(Some)
                    .ok_or_else(|| corrupt(format!("inode {ino}: extent record truncated")))
            }
            Source::Btree {
                frames,
                leaf,
                next,
                blocks_read,
                buf,
            } => loop {
                if let Some(extent) = leaf.get(*next) {
                    *next += 1;
                    return Ok(Some(*extent));
                }
                // Find the deepest node with a child left to visit.
                let (ptr, level) = loop {
                    let Some(top) = frames.last_mut() else {
                        return Ok(None);
                    };
                    if let Some(&ptr) = top.ptrs.get(top.next) {
                        top.next += 1;
                        break (ptr, top.level - 1);
                    }
                    frames.pop();
                };
                *blocks_read += 1;
                if *blocks_read > fs.sb.dblocks {
                    return Err(corrupt(format!(
                        "inode {ino}: bmap B+tree has more blocks than the filesystem"
                    )));
                }
                fs.read_block(ptr, buf)?;
                let (ptrs, recs) = parse_bmbt_block(fs, ino, ptr, buf, level)?;
                if level == 0 {
                    *leaf = recs;
                    *next = 0;
                } else {
                    frames.push(Frame {
                        level,
                        ptrs,
                        next: 0,
                    });
                }
            },
        }
    }
}

/// Checks a long-form bmap B+tree block at `level` and returns its child pointers (a
/// node) or records (a leaf).
fn parse_bmbt_block(
    fs: &XfsFs,
    ino: u64,
    fsb: u64,
    b: &[u8],
    level: u16,
) -> Result<(Vec<u64>, Vec<Extent>), FsError> {
    let bad = |what: String| corrupt(format!("inode {ino}: bmap B+tree block {fsb:#x}: {what}"));
    let (magic, hdr) = if fs.sb.v5 {
        (b"BMA3", BMBT_HDR_V5)
    } else {
        (b"BMAP", BMBT_HDR_V4)
    };
    if b.get(..4) != Some(magic.as_slice()) {
        return Err(bad("bad magic".into()));
    }
    let found_level = be16(b, 4).ok_or_else(|| bad("truncated".into()))?;
    if found_level != level {
        return Err(bad(format!("level {found_level} where {level} expected")));
    }
    if fs.sb.v5 && be64(b, 56) != Some(ino) {
        return Err(bad("belongs to another inode".into()));
    }
    let numrecs = usize::from(be16(b, 6).ok_or_else(|| bad("truncated".into()))?);
    let maxrecs = b.len().saturating_sub(hdr) / 16;
    if numrecs == 0 || numrecs > maxrecs {
        return Err(bad(format!("holds {numrecs} of at most {maxrecs} entries")));
    }
    if level == 0 {
        let recs = (0..numrecs)
            .map(|i| {
                let at = hdr + i * REC_LEN;
                b.get(at..at + REC_LEN)
                    .and_then(unpack)
                    .ok_or_else(|| bad("truncated".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Vec::new(), recs))
    } else {
        let ptrs_at = hdr + maxrecs * 8;
        let ptrs = (0..numrecs)
            .map(|i| be64(b, ptrs_at + i * 8).ok_or_else(|| bad("truncated".into())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((ptrs, Vec::new()))
    }
}

/// Converts a filesystem error into an I/O error for [`Read`].
fn to_io(error: FsError) -> io::Error {
    match error {
        FsError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// Streams a file's contents: extent by extent, holes and unwritten extents as zeros,
/// never holding more than one B+tree path and the caller's buffer.
pub(super) struct FileReader<'a> {
    /// The filesystem.
    fs: &'a XfsFs,
    /// The file's extents.
    extents: ExtentIter<'a>,
    /// File size in bytes.
    size: u64,
    /// Current position.
    pos: u64,
    /// The extent covering or following `pos`, if any.
    current: Option<Extent>,
    /// No extents remain after `current`.
    exhausted: bool,
}

impl<'a> FileReader<'a> {
    /// A reader of `size` bytes mapped by `extents`.
    pub(super) fn new(fs: &'a XfsFs, extents: ExtentIter<'a>, size: u64) -> Self {
        FileReader {
            fs,
            extents,
            size,
            pos: 0,
            current: None,
            exhausted: false,
        }
    }

    /// Byte position of file block `block` (saturating: past any real size).
    fn byte(&self, block: u64) -> u64 {
        block.saturating_mul(u64::from(self.fs.sb.block_size))
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        // Skip extents that end at or before the position.
        while !self.exhausted
            && self
                .current
                .is_none_or(|e| self.byte(e.logical.saturating_add(e.count)) <= self.pos)
        {
            self.current = self.extents.next_extent().map_err(to_io)?;
            self.exhausted = self.current.is_none();
        }
        let want = (self.size - self.pos)
            .min(buf.len() as u64)
            .min(MAX_CHUNK as u64) as usize;
        let n = match self.current {
            Some(e) if self.byte(e.logical) <= self.pos => {
                let end = self.byte(e.logical + e.count);
                let n = want.min(usize::try_from(end - self.pos).unwrap_or(usize::MAX));
                let out = &mut buf[..n];
                if e.unwritten {
                    out.fill(0);
                    n
                } else {
                    let phys = self.fs.block_offset(e.start, e.count).map_err(to_io)?
                        + (self.pos - self.byte(e.logical));
                    let got = self.fs.volume.read_at(phys, out)?;
                    if got == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("XFS file data at byte {phys} lies past the end of the image"),
                        ));
                    }
                    got
                }
            }
            // A hole: up to the next extent, or to the end of the file.
            next => {
                let hole_end = next.map_or(u64::MAX, |e| self.byte(e.logical));
                let n = want.min(usize::try_from(hole_end - self.pos).unwrap_or(usize::MAX));
                buf[..n].fill(0);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}
