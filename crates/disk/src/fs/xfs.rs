//! XFS (v4 and v5), read-only and streaming.
//!
//! Nothing is loaded whole: the superblock is parsed once, inodes are read one at a time
//! from their inode number, file contents are streamed extent by extent, and the bmap
//! B+tree of a fragmented file is walked lazily, one node per level in memory.
//!
//! All on-disk structures are big-endian. Every number read from the image is checked
//! before use (allocation group and block ranges, B+tree depth and order, directory entry
//! lengths, short-form counts), so a corrupt image yields [`FsError`], never a panic or an
//! endless loop. CRCs of v5 metadata are not verified: a damaged checksum does not hide
//! otherwise readable evidence.

mod bmap;
mod dir;
mod inode;
#[cfg(test)]
mod tests;

use super::{FileKind, FileSystem, FsEntry, FsError, FsKind};
use crate::source::SharedSource;
use bmap::{Extent, ExtentIter, FileReader};
use inode::{DataFork, Inode};
use std::io::{self, Read};

/// `XFSB`, the superblock magic at offset 0 of the volume.
const SB_MAGIC: &[u8; 4] = b"XFSB";
/// `sb_features2` bit: directory entries carry a file type byte (v4).
const SB_VERSION2_FTYPE: u32 = 0x200;
/// `sb_features_incompat` bit: directory entries carry a file type byte (v5).
const SB_INCOMPAT_FTYPE: u32 = 0x1;
/// Longest symbolic link target XFS stores (`XFS_SYMLINK_MAXLEN`).
const SYMLINK_MAXLEN: u64 = 1024;
/// Magic of a v5 remote symlink block header (`XSLM`).
const SYMLINK_MAGIC: &[u8; 4] = b"XSLM";
/// Size of a v5 remote symlink block header.
const SYMLINK_HDR_LEN: usize = 56;

/// Builds a [`FsError::Corrupt`] for XFS.
fn corrupt(problem: impl Into<String>) -> FsError {
    FsError::corrupt(FsKind::Xfs, problem)
}

/// Big-endian `u16` at `off`, if the slice holds it.
fn be16(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

/// Big-endian `u32` at `off`, if the slice holds it.
fn be32(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// Big-endian `u64` at `off`, if the slice holds it.
fn be64(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// True when `head` starts with the XFS superblock magic.
pub(super) fn probe(head: &[u8]) -> bool {
    head.get(..4) == Some(SB_MAGIC.as_slice())
}

/// The superblock fields the reader uses, validated against each other.
#[derive(Debug, Clone)]
struct Superblock {
    /// Filesystem block size in bytes (512..=65536, a power of two).
    block_size: u32,
    /// log2 of `block_size`.
    block_log: u8,
    /// Total data blocks.
    dblocks: u64,
    /// Inode size in bytes (256..=2048, a power of two).
    inode_size: u32,
    /// log2 of the inodes per block.
    inop_log: u8,
    /// Blocks per allocation group (the last one may be shorter).
    ag_blocks: u32,
    /// Number of allocation groups.
    ag_count: u32,
    /// log2 of `ag_blocks`, rounded up: the AG-relative bits of a block number.
    ag_blk_log: u8,
    /// log2 of the directory block size in filesystem blocks.
    dir_blk_log: u8,
    /// Root directory inode.
    root_ino: u64,
    /// True on a v5 (CRC, self-describing metadata) filesystem.
    v5: bool,
    /// Directory entries carry a file type byte.
    ftype: bool,
}

impl Superblock {
    /// Parses and cross-checks the primary superblock (its first 264 bytes).
    fn parse(b: &[u8]) -> Result<Superblock, FsError> {
        if !probe(b) {
            return Err(corrupt("no XFS superblock magic (XFSB) at offset 0"));
        }
        let short = || corrupt("superblock truncated");
        let block_size = be32(b, 4).ok_or_else(short)?;
        let dblocks = be64(b, 8).ok_or_else(short)?;
        let root_ino = be64(b, 56).ok_or_else(short)?;
        let ag_blocks = be32(b, 84).ok_or_else(short)?;
        let ag_count = be32(b, 88).ok_or_else(short)?;
        let version = be16(b, 100).ok_or_else(short)?;
        let sect_size = be16(b, 102).ok_or_else(short)?;
        let inode_size = be16(b, 104).ok_or_else(short)?;
        let inop_block = be16(b, 106).ok_or_else(short)?;
        let logs = b.get(120..125).ok_or_else(short)?;
        let (block_log, inode_log, inop_log, ag_blk_log) = (logs[0], logs[2], logs[3], logs[4]);
        let dir_blk_log = *b.get(192).ok_or_else(short)?;
        let features2 = be32(b, 200).ok_or_else(short)?;
        let incompat = be32(b, 216).ok_or_else(short)?;

        let v5 = match version & 0xf {
            4 => false,
            5 => true,
            other => {
                return Err(FsError::Unsupported {
                    fs: FsKind::Xfs,
                    feature: format!("superblock version {other}"),
                });
            }
        };
        let pow2_in = |v: u32, lo: u32, hi: u32| v.is_power_of_two() && (lo..=hi).contains(&v);
        if !pow2_in(block_size, 512, 65536) || 1u32 << block_log.min(31) != block_size {
            return Err(corrupt(format!(
                "superblock: bad block size {block_size} (log {block_log})"
            )));
        }
        if !pow2_in(u32::from(sect_size), 512, 32768) {
            return Err(corrupt(format!("superblock: bad sector size {sect_size}")));
        }
        let inode_size = u32::from(inode_size);
        if !pow2_in(inode_size, 256, 2048)
            || inode_size > block_size
            || 1u32 << inode_log.min(31) != inode_size
        {
            return Err(corrupt(format!(
                "superblock: bad inode size {inode_size} (log {inode_log})"
            )));
        }
        if u32::from(inop_block) != block_size / inode_size
            || 1u32 << inop_log.min(31) != u32::from(inop_block)
        {
            return Err(corrupt(format!(
                "superblock: {inop_block} inodes per block (log {inop_log}) do not match the \
                 block and inode sizes"
            )));
        }
        if ag_blocks < 8
            || ag_blk_log > 31
            || u64::from(ag_blocks) > 1u64 << ag_blk_log
            || u64::from(ag_blocks) <= (1u64 << ag_blk_log) >> 1
        {
            return Err(corrupt(format!(
                "superblock: bad AG size {ag_blocks} blocks (log {ag_blk_log})"
            )));
        }
        // The last AG may be short, but it cannot be empty nor the volume larger than
        // its AGs: this bounds agcount by the volume size.
        let full = u64::from(ag_count).checked_mul(u64::from(ag_blocks));
        let all_but_last = u64::from(ag_count.saturating_sub(1)) * u64::from(ag_blocks);
        if ag_count == 0
            || full.is_none_or(|full| dblocks > full)
            || dblocks <= all_but_last
            || dblocks.checked_mul(u64::from(block_size)).is_none()
        {
            return Err(corrupt(format!(
                "superblock: {ag_count} AGs of {ag_blocks} blocks do not match {dblocks} blocks"
            )));
        }
        if u32::from(block_log) + u32::from(dir_blk_log) > 16 {
            return Err(corrupt(format!(
                "superblock: directory block log {dir_blk_log} too large"
            )));
        }
        let ftype = if v5 {
            incompat & SB_INCOMPAT_FTYPE != 0
        } else {
            features2 & SB_VERSION2_FTYPE != 0
        };
        Ok(Superblock {
            block_size,
            block_log,
            dblocks,
            inode_size,
            inop_log,
            ag_blocks,
            ag_count,
            ag_blk_log,
            dir_blk_log,
            root_ino,
            v5,
            ftype,
        })
    }
}

/// An XFS filesystem on a volume.
pub(super) struct XfsFs {
    /// The volume.
    volume: SharedSource,
    /// Validated superblock geometry.
    sb: Superblock,
}

impl XfsFs {
    /// Reads the superblock and the root inode of the XFS filesystem on `volume`.
    pub(super) fn open(volume: SharedSource) -> Result<XfsFs, FsError> {
        let mut head = [0u8; 512];
        let n = volume.read_at(0, &mut head)?;
        let head = head.get(..n).unwrap_or_default();
        let sb = Superblock::parse(head)?;
        if volume.len() / u64::from(sb.block_size) < sb.dblocks {
            tracing::warn!(
                "XFS volume is {} bytes, shorter than its {} blocks of {}",
                volume.len(),
                sb.dblocks,
                sb.block_size
            );
        }
        let fs = XfsFs { volume, sb };
        let root = fs.read_inode(fs.sb.root_ino)?;
        if root.kind() != FileKind::Directory {
            return Err(corrupt(format!(
                "root inode {} is not a directory",
                fs.sb.root_ino
            )));
        }
        Ok(fs)
    }

    /// Byte offset of filesystem block `fsb` (AG-encoded: `agno << agblklog | agbno`)
    /// holding `count` blocks, after checking the run lies inside one AG and the volume.
    fn block_offset(&self, fsb: u64, count: u64) -> Result<u64, FsError> {
        let agno = fsb >> self.sb.ag_blk_log;
        let agbno = fsb & ((1u64 << self.sb.ag_blk_log) - 1);
        let linear = agno
            .checked_mul(u64::from(self.sb.ag_blocks))
            .and_then(|b| b.checked_add(agbno));
        let fits = agno < u64::from(self.sb.ag_count)
            && agbno
                .checked_add(count)
                .is_some_and(|end| end <= u64::from(self.sb.ag_blocks))
            && linear
                .and_then(|l| l.checked_add(count))
                .is_some_and(|end| end <= self.sb.dblocks);
        match linear {
            Some(linear) if fits => Ok(linear << self.sb.block_log),
            _ => Err(corrupt(format!(
                "block run {fsb:#x}+{count} (AG {agno}, block {agbno}) lies outside the filesystem"
            ))),
        }
    }

    /// Reads the whole filesystem block `fsb` into `buf` (one block long).
    fn read_block(&self, fsb: u64, buf: &mut [u8]) -> Result<(), FsError> {
        let off = self.block_offset(fsb, 1)?;
        self.volume.read_exact_at(off, buf)?;
        Ok(())
    }

    /// Reads and parses inode `ino`.
    fn read_inode(&self, ino: u64) -> Result<Inode, FsError> {
        let sb = &self.sb;
        let agino_bits = u32::from(sb.ag_blk_log) + u32::from(sb.inop_log);
        let agno = ino.checked_shr(agino_bits).unwrap_or(0);
        let agino = ino & ((1u64 << agino_bits) - 1);
        let agbno = agino >> sb.inop_log;
        let index = agino & ((1u64 << sb.inop_log) - 1);
        if ino == 0 || agno >= u64::from(sb.ag_count) || agbno >= u64::from(sb.ag_blocks) {
            return Err(corrupt(format!(
                "inode number {ino} lies outside the filesystem"
            )));
        }
        let fsb = (agno << sb.ag_blk_log) | agbno;
        let off = self.block_offset(fsb, 1)? + index * u64::from(sb.inode_size);
        let mut buf = vec![0u8; sb.inode_size as usize];
        self.volume.read_exact_at(off, &mut buf)?;
        Inode::parse(ino, &buf, sb.v5)
    }

    /// The entry for inode `ino` named `name` at `path`.
    fn entry(&self, inode: &Inode, name: String, path: String) -> FsEntry {
        FsEntry {
            name,
            path,
            id: inode.ino,
            kind: inode.kind(),
            size: inode.size,
            mode: Some(u32::from(inode.mode)),
            uid: Some(inode.uid),
            gid: Some(inode.gid),
            times: inode.times,
            streams: Vec::new(),
            deleted: false,
        }
    }

    /// Reads the inode of `entry` and checks it is of kind `kind`.
    fn inode_of(&self, entry: &FsEntry, kind: FileKind, problem: &str) -> Result<Inode, FsError> {
        let inode = self.read_inode(entry.id)?;
        if inode.kind() != kind {
            return Err(FsError::WrongKind {
                path: entry.path.clone(),
                problem: problem.into(),
            });
        }
        Ok(inode)
    }

    /// The extents of an inode's data fork, in logical order, validated lazily.
    fn extents<'a>(&'a self, inode: &Inode) -> Result<ExtentIter<'a>, FsError> {
        ExtentIter::new(self, inode)
    }
}

impl FileSystem for XfsFs {
    fn kind(&self) -> FsKind {
        FsKind::Xfs
    }

    fn root(&self) -> Result<FsEntry, FsError> {
        let inode = self.read_inode(self.sb.root_ino)?;
        if inode.kind() != FileKind::Directory {
            return Err(corrupt(format!(
                "root inode {} is not a directory",
                self.sb.root_ino
            )));
        }
        Ok(self.entry(&inode, String::new(), "/".into()))
    }

    fn read_dir(&self, dir: &FsEntry) -> Result<Vec<FsEntry>, FsError> {
        let inode = self.inode_of(dir, FileKind::Directory, "is not a directory")?;
        let names = dir::read_entries(self, &inode)?;
        let mut entries = Vec::with_capacity(names.len());
        for (name, ino, ftype) in names {
            let name = String::from_utf8_lossy(&name).into_owned();
            let path = FsEntry::child_path(&dir.path, &name);
            match self.read_inode(ino) {
                Ok(child) => entries.push(self.entry(&child, name, path)),
                Err(error) => {
                    // Keep the name: it is evidence even when its inode is unreadable.
                    tracing::warn!("{path}: inode {ino} unreadable: {error}");
                    entries.push(FsEntry {
                        name,
                        path,
                        id: ino,
                        kind: dir::ftype_kind(ftype),
                        size: 0,
                        mode: None,
                        uid: None,
                        gid: None,
                        times: Default::default(),
                        streams: Vec::new(),
                        deleted: false,
                    });
                }
            }
        }
        Ok(entries)
    }

    fn open(&self, file: &FsEntry) -> Result<Box<dyn Read + '_>, FsError> {
        let inode = self.inode_of(file, FileKind::File, "is not a regular file")?;
        if inode.realtime {
            return Err(FsError::Unsupported {
                fs: FsKind::Xfs,
                feature: format!("{}: data on the realtime device", file.path),
            });
        }
        match &inode.fork {
            DataFork::Local(data) => {
                let len = usize::try_from(inode.size).unwrap_or(usize::MAX);
                let data = data.get(..len).ok_or_else(|| {
                    corrupt(format!(
                        "inode {}: inline data shorter than its size {}",
                        inode.ino, inode.size
                    ))
                })?;
                Ok(Box::new(io::Cursor::new(data.to_vec())))
            }
            DataFork::Extents(_) | DataFork::Btree(_) => {
                let extents = self.extents(&inode)?;
                Ok(Box::new(FileReader::new(self, extents, inode.size)))
            }
            DataFork::Dev => Err(corrupt(format!(
                "inode {}: regular file with a device fork",
                inode.ino
            ))),
        }
    }

    fn read_link(&self, link: &FsEntry) -> Result<String, FsError> {
        let inode = self.inode_of(link, FileKind::Symlink, "is not a symbolic link")?;
        if inode.size == 0 || inode.size > SYMLINK_MAXLEN {
            return Err(corrupt(format!(
                "inode {}: symbolic link of {} bytes",
                inode.ino, inode.size
            )));
        }
        let len = inode.size as usize;
        let target = match &inode.fork {
            DataFork::Local(data) => data
                .get(..len)
                .ok_or_else(|| {
                    corrupt(format!(
                        "inode {}: inline link target shorter than its size {len}",
                        inode.ino
                    ))
                })?
                .to_vec(),
            DataFork::Extents(_) | DataFork::Btree(_) => self.remote_link(&inode, len)?,
            DataFork::Dev => {
                return Err(corrupt(format!(
                    "inode {}: symbolic link with a device fork",
                    inode.ino
                )));
            }
        };
        Ok(String::from_utf8_lossy(&target).into_owned())
    }
}

impl XfsFs {
    /// A symbolic link target of `len` bytes (≤ 1024) stored in blocks.
    fn remote_link(&self, inode: &Inode, len: usize) -> Result<Vec<u8>, FsError> {
        let bs = self.sb.block_size as usize;
        let mut target = Vec::with_capacity(len);
        let mut block = vec![0u8; bs];
        let mut next_logical = 0u64;
        let mut extents = self.extents(inode)?;
        while target.len() < len {
            let Some(Extent {
                logical,
                start,
                count,
                unwritten,
            }) = extents.next_extent()?
            else {
                break;
            };
            if logical != next_logical || unwritten {
                return Err(corrupt(format!(
                    "inode {}: symbolic link blocks are not contiguous from 0",
                    inode.ino
                )));
            }
            next_logical = logical.saturating_add(count);
            for i in 0..count {
                if target.len() >= len {
                    break;
                }
                self.read_block(start + i, &mut block)?;
                // v5 blocks open with an XSLM header; mkfs.xfs -p (xfsprogs ≤ 6.1 at
                // least) writes them without one, so a missing header means raw bytes.
                let hdr = if self.sb.v5 && block.get(..4) == Some(SYMLINK_MAGIC.as_slice()) {
                    SYMLINK_HDR_LEN
                } else {
                    0
                };
                let take = (bs - hdr).min(len - target.len());
                target.extend_from_slice(block.get(hdr..hdr + take).unwrap_or_default());
            }
        }
        if target.len() < len {
            return Err(corrupt(format!(
                "inode {}: symbolic link target shorter than its size {len}",
                inode.ino
            )));
        }
        Ok(target)
    }
}
