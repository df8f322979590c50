//! Directories: short-form (inline in the inode) and block, leaf, node and B+tree forms.
//!
//! For listing, every form beyond short-form is read the same way: the data blocks mapped
//! below `XFS_DIR2_LEAF_OFFSET` (32 GiB into the directory) hold all the entries; the
//! leaf, node and free-index blocks above it only index them and are not needed.

use super::bmap::Extent;
use super::inode::{DataFork, Inode};
use super::{XfsFs, be16, be32, be64, corrupt};
use crate::fs::{FileKind, FsError};

/// Byte offset where the leaf (hash index) space of a directory starts.
const LEAF_OFFSET: u64 = 1 << 35;
/// Most entries read from one directory (bounds memory on a hostile image).
const MAX_ENTRIES: usize = 1 << 21;
/// Most data extents of one directory kept in memory.
const MAX_EXTENTS: usize = 1 << 20;
/// Free-space tag opening an unused region of a data block.
const FREE_TAG: u16 = 0xffff;
/// Header size of a v4 data block (`xfs_dir2_data_hdr`).
const DATA_HDR_V4: usize = 16;
/// Header size of a v5 data block (`xfs_dir3_data_hdr`).
const DATA_HDR_V5: usize = 64;
/// Size of the tail of a single-block directory (leaf count and stale count).
const BLOCK_TAIL_LEN: usize = 8;
/// `XFS_DIR3_FT_REG_FILE`.
const FT_REG_FILE: u8 = 1;
/// `XFS_DIR3_FT_DIR`.
const FT_DIR: u8 = 2;
/// `XFS_DIR3_FT_SYMLINK`.
const FT_SYMLINK: u8 = 7;

/// A directory entry: raw name, inode number, file type byte (0 when not recorded).
pub(super) type RawEntry = (Vec<u8>, u64, u8);

/// The kind a directory entry's file type byte announces.
pub(super) fn ftype_kind(ftype: u8) -> FileKind {
    match ftype {
        FT_REG_FILE => FileKind::File,
        FT_DIR => FileKind::Directory,
        FT_SYMLINK => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// The entries of directory `dir`, without `.` and `..`, in on-disk order.
pub(super) fn read_entries(fs: &XfsFs, dir: &Inode) -> Result<Vec<RawEntry>, FsError> {
    match &dir.fork {
        DataFork::Local(fork) => short_form(fs, dir, fork),
        DataFork::Extents(_) | DataFork::Btree(_) => block_form(fs, dir),
        DataFork::Dev => Err(corrupt(format!(
            "directory inode {} has a device fork",
            dir.ino
        ))),
    }
}

/// Checks a name read from disk: non-empty, no `/`, no NUL.
fn check_name(ino: u64, name: &[u8]) -> Result<(), FsError> {
    if name.is_empty() || name.contains(&b'/') || name.contains(&0) {
        return Err(corrupt(format!(
            "directory inode {ino}: invalid entry name {:?}",
            String::from_utf8_lossy(name)
        )));
    }
    Ok(())
}

/// Parses a short-form directory from the inode's data fork.
fn short_form(fs: &XfsFs, dir: &Inode, fork: &[u8]) -> Result<Vec<RawEntry>, FsError> {
    let ino = dir.ino;
    let bad = |what: &str| corrupt(format!("short-form directory inode {ino}: {what}"));
    let b = usize::try_from(dir.size)
        .ok()
        .and_then(|size| fork.get(..size))
        .ok_or_else(|| {
            bad(&format!(
                "size {} exceeds its data fork of {} bytes",
                dir.size,
                fork.len()
            ))
        })?;
    let count = *b.first().ok_or_else(|| bad("empty"))?;
    let i8count = *b.get(1).ok_or_else(|| bad("truncated header"))?;
    let inum_len = if i8count > 0 { 8 } else { 4 };
    let mut p = 2 + inum_len;
    if p > b.len() {
        return Err(bad("truncated header"));
    }
    let ft_len = usize::from(fs.sb.ftype);
    let mut entries = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let overrun = || bad(&format!("entry {i} of {count} runs past the fork"));
        let namelen = usize::from(*b.get(p).ok_or_else(overrun)?);
        // namelen, 2-byte offset, name, optional file type, inode number.
        let name_at = p + 3;
        let name = b.get(name_at..name_at + namelen).ok_or_else(overrun)?;
        check_name(ino, name)?;
        let ftype = if ft_len == 1 {
            *b.get(name_at + namelen).ok_or_else(overrun)?
        } else {
            0
        };
        let inum_at = name_at + namelen + ft_len;
        let child = if inum_len == 8 {
            be64(b, inum_at)
        } else {
            be32(b, inum_at).map(u64::from)
        }
        .ok_or_else(overrun)?;
        p = inum_at + inum_len;
        if name != b"." && name != b".." {
            entries.push((name.to_vec(), child, ftype));
        }
    }
    Ok(entries)
}

/// Reads the data blocks of a directory in extents or B+tree format.
fn block_form(fs: &XfsFs, dir: &Inode) -> Result<Vec<RawEntry>, FsError> {
    let ino = dir.ino;
    let sb = &fs.sb;
    let bs = u64::from(sb.block_size);
    let dblk_log = u32::from(sb.dir_blk_log);
    // Data blocks lie below both the leaf space and the directory size.
    let size_blocks = dir.size.div_ceil(bs);
    let limit = (LEAF_OFFSET >> sb.block_log).min(size_blocks);
    let mut extents = Vec::new();
    let mut iter = fs.extents(dir)?;
    while let Some(extent) = iter.next_extent()? {
        if extent.logical >= limit {
            break;
        }
        if extents.len() >= MAX_EXTENTS {
            return Err(corrupt(format!(
                "directory inode {ino}: more than {MAX_EXTENTS} data extents"
            )));
        }
        extents.push(extent);
    }
    let dblk_len = (sb.block_size as usize) << dblk_log;
    let mut block = vec![0u8; dblk_len];
    let mut entries = Vec::new();
    let mut last = None;
    for extent in &extents {
        let end = (extent.logical + extent.count).min(limit);
        let mut lblk = extent.logical;
        while lblk < end {
            let dblk = lblk >> dblk_log;
            if last != Some(dblk) {
                last = Some(dblk);
                if read_dir_block(fs, &extents, dblk << dblk_log, &mut block)? {
                    parse_data_block(fs, ino, dblk, &block, &mut entries)?;
                }
            }
            lblk = (dblk + 1) << dblk_log;
        }
    }
    Ok(entries)
}

/// Reads the directory block starting at file block `first` into `buf`; `false` when
/// part of it is a hole or unwritten (not a data block).
fn read_dir_block(
    fs: &XfsFs,
    extents: &[Extent],
    first: u64,
    buf: &mut [u8],
) -> Result<bool, FsError> {
    let bs = fs.sb.block_size as usize;
    for (i, chunk) in buf.chunks_mut(bs).enumerate() {
        let lblk = first + i as u64;
        let at = extents.partition_point(|e| e.logical + e.count <= lblk);
        let Some(extent) = extents
            .get(at)
            .filter(|e| e.logical <= lblk && !e.unwritten)
        else {
            return Ok(false);
        };
        fs.read_block(extent.start + (lblk - extent.logical), chunk)?;
    }
    Ok(true)
}

/// Parses the entries of one directory data block (`XD2D`/`XDD3`, or the single block
/// `XD2B`/`XDB3` of a block directory) into `entries`.
fn parse_data_block(
    fs: &XfsFs,
    ino: u64,
    dblk: u64,
    b: &[u8],
    entries: &mut Vec<RawEntry>,
) -> Result<(), FsError> {
    let bad = |what: String| corrupt(format!("directory inode {ino}, block {dblk}: {what}"));
    let (hdr, single) = match (b.get(..4), fs.sb.v5) {
        (Some(b"XD2D"), false) => (DATA_HDR_V4, false),
        (Some(b"XD2B"), false) => (DATA_HDR_V4, true),
        (Some(b"XDD3"), true) => (DATA_HDR_V5, false),
        (Some(b"XDB3"), true) => (DATA_HDR_V5, true),
        _ => return Err(bad("no directory data block magic".into())),
    };
    if fs.sb.v5 && be64(b, 40) != Some(ino) {
        return Err(bad("belongs to another inode".into()));
    }
    let end = if single {
        // The leaf array and tail close a single-block directory.
        let tail_at = b.len() - BLOCK_TAIL_LEN;
        let leaves = be32(b, tail_at).ok_or_else(|| bad("truncated".into()))?;
        usize::try_from(leaves)
            .ok()
            .and_then(|n| n.checked_mul(8))
            .and_then(|n| tail_at.checked_sub(n))
            .filter(|&end| end >= hdr)
            .ok_or_else(|| bad(format!("{leaves} leaf entries do not fit")))?
    } else {
        b.len()
    };
    let ft_len = usize::from(fs.sb.ftype);
    let mut p = hdr;
    while p < end {
        if be16(b, p) == Some(FREE_TAG) {
            let len = usize::from(be16(b, p + 2).ok_or_else(|| bad("truncated".into()))?);
            if len < 8 || len % 8 != 0 || p + len > end {
                return Err(bad(format!("unused region of {len} bytes at {p}")));
            }
            p += len;
            continue;
        }
        let child = be64(b, p).filter(|_| p + 9 <= end);
        let namelen = b.get(p + 8).map(|&n| usize::from(n));
        let (Some(child), Some(namelen)) = (child, namelen) else {
            return Err(bad(format!("entry at {p} runs past the data")));
        };
        // inode number, namelen, name, optional file type, tag; 8-byte aligned.
        let len = (8 + 1 + namelen + ft_len + 2).next_multiple_of(8);
        if p + len > end {
            return Err(bad(format!(
                "entry of {len} bytes at {p} runs past the data"
            )));
        }
        let name = &b[p + 9..p + 9 + namelen];
        check_name(ino, name)?;
        let ftype = if ft_len == 1 { b[p + 9 + namelen] } else { 0 };
        p += len;
        if name == b"." || name == b".." {
            continue;
        }
        if entries.len() >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        entries.push((name.to_vec(), child, ftype));
    }
    Ok(())
}
