//! ext2, ext3 and ext4, read-only and streaming, written from the on-disk format
//! (no mount, no kernel driver, no ext crate: we need inode numbers and ctime).
//!
//! What it reads: the superblock and group descriptors (32- and 64-byte, `meta_bg`),
//! inodes with their 32-bit uid/gid, 64-bit size and nanosecond / extended-epoch
//! timestamps (creation time when the inode's extra area holds it), file data through
//! extent trees (ext4), classic block maps (ext2/3: direct, single, double and triple
//! indirect) or inline data, directories by a linear scan of every directory block (which
//! also covers htree-indexed directories: their index blocks look like empty entries),
//! fast and slow symbolic links, and inodes left by deleted files ([`FileSystem::deleted`]).
//!
//! The journal is **not** replayed: like The Sleuth Kit, this reads the state that is on
//! disk, which is what a forensic reader must show (a replay would change nothing on the
//! evidence, but would mix in metadata that never reached its home location).
//!
//! Not read: encrypted files and directories (fscrypt; refused per inode with
//! [`FsError::Unsupported`]), the old e2compr compression and external journal devices
//! (refused at open), extended attributes (except the inline-data one).
//!
//! Every number read from the image is checked before use: block numbers against the
//! block count, group and inode numbers against their counts, extent depth (at most
//! [`MAX_EXTENT_DEPTH`]), directory record lengths. Metadata blocks go through a small
//! bounded cache; file contents are streamed straight into the caller's buffer.

mod dir;
mod inode;
mod map;
#[cfg(test)]
mod tests;

use super::{FileKind, FileSystem, FsEntry, FsError, FsKind, Timestamps};
use crate::source::SharedSource;
use inode::Inode;
use map::{DataMap, ExtReader};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

/// Byte offset of the primary superblock.
const SUPERBLOCK_OFFSET: u64 = 1024;
/// Size of the superblock structure read.
const SUPERBLOCK_SIZE: usize = 1024;
/// `s_magic`.
const MAGIC: u16 = 0xEF53;
/// Inode number of the root directory.
const ROOT_INO: u32 = 2;
/// Deepest extent tree accepted (the kernel never builds deeper than 5).
pub(crate) const MAX_EXTENT_DEPTH: u16 = 5;
/// Largest directory read (ext4 without `largedir` caps directories at 2 GiB).
const MAX_DIR_BYTES: u64 = 4 << 30;
/// Most deleted inodes reported by [`ExtFs::deleted`].
const MAX_DELETED: usize = 1_000_000;
/// Bytes of metadata blocks kept in the cache.
const CACHE_BYTES: usize = 1 << 20;

const COMPAT_SPARSE_SUPER2: u32 = 0x200;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
const RO_COMPAT_HUGE_FILE: u32 = 0x8;
const RO_COMPAT_GDT_CSUM: u32 = 0x10;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
const INCOMPAT_COMPRESSION: u32 = 0x1;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_EXTENTS: u32 = 0x40;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_MMP: u32 = 0x100;
const INCOMPAT_FLEX_BG: u32 = 0x200;
const INCOMPAT_EA_INODE: u32 = 0x400;
const INCOMPAT_DIRDATA: u32 = 0x1000;
const INCOMPAT_CSUM_SEED: u32 = 0x2000;
const INCOMPAT_LARGEDIR: u32 = 0x4000;
const INCOMPAT_INLINE_DATA: u32 = 0x8000;
const INCOMPAT_ENCRYPT: u32 = 0x10000;
const INCOMPAT_CASEFOLD: u32 = 0x20000;
/// Incompatible features this reader handles (or, for encryption, refuses per inode).
const INCOMPAT_KNOWN: u32 = INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | INCOMPAT_MMP
    | INCOMPAT_FLEX_BG
    | INCOMPAT_EA_INODE
    | INCOMPAT_DIRDATA
    | INCOMPAT_CSUM_SEED
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | INCOMPAT_ENCRYPT
    | INCOMPAT_CASEFOLD;

/// `bg_flags`: the group's inode table was never initialised.
const BG_INODE_UNINIT: u16 = 0x1;

/// True when `head` (the first bytes of a volume) holds an ext superblock magic.
pub(super) fn probe(head: &[u8]) -> bool {
    head.get(1024 + 56..1024 + 58) == Some(&MAGIC.to_le_bytes()[..])
}

/// A [`FsError::Corrupt`] for ext.
fn corrupt(problem: impl Into<String>) -> FsError {
    FsError::corrupt(FsKind::Ext, problem)
}

/// Little-endian `u16` at `off`, or 0 past the end of `b` (callers size `b` first).
fn le16(b: &[u8], off: usize) -> u16 {
    b.get(off..off.saturating_add(2))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

/// Little-endian `u32` at `off`, or 0 past the end of `b` (callers size `b` first).
fn le32(b: &[u8], off: usize) -> u32 {
    b.get(off..off.saturating_add(4))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// The superblock fields this reader uses, validated.
#[derive(Debug, Clone)]
struct Superblock {
    inodes_count: u32,
    blocks_count: u64,
    first_data_block: u32,
    block_size: u32,
    blocks_per_group: u32,
    inodes_per_group: u32,
    inode_size: u32,
    first_ino: u32,
    desc_size: u32,
    group_count: u32,
    compat: u32,
    incompat: u32,
    ro_compat: u32,
    first_meta_bg: u32,
    backup_bgs: [u32; 2],
}

impl Superblock {
    /// Parses and checks the 1024-byte superblock.
    fn parse(b: &[u8]) -> Result<Self, FsError> {
        if b.len() < SUPERBLOCK_SIZE {
            return Err(corrupt("superblock truncated"));
        }
        if le16(b, 0x38) != MAGIC {
            return Err(corrupt("bad superblock magic"));
        }
        let incompat = le32(b, 0x60);
        if incompat & INCOMPAT_COMPRESSION != 0 {
            return Err(FsError::Unsupported {
                fs: FsKind::Ext,
                feature: "e2compr compression".into(),
            });
        }
        if incompat & INCOMPAT_JOURNAL_DEV != 0 {
            return Err(FsError::Unsupported {
                fs: FsKind::Ext,
                feature: "external journal device (holds a journal, no files)".into(),
            });
        }
        let unknown = incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            return Err(FsError::Unsupported {
                fs: FsKind::Ext,
                feature: format!("incompatible feature flags {unknown:#x}"),
            });
        }
        let log_block_size = le32(b, 0x18);
        if log_block_size > 6 {
            return Err(corrupt(format!(
                "block size 2^(10+{log_block_size}) larger than 64 KiB"
            )));
        }
        let block_size = 1024u32 << log_block_size;
        let rev_level = le32(b, 0x4C);
        let (inode_size, first_ino) = if rev_level == 0 {
            (128, 11)
        } else {
            (u32::from(le16(b, 0x58)), le32(b, 0x54))
        };
        if inode_size < 128 || !inode_size.is_power_of_two() || inode_size > block_size {
            return Err(corrupt(format!("inode size {inode_size} invalid")));
        }
        let is_64bit = incompat & INCOMPAT_64BIT != 0;
        let desc_size = if is_64bit {
            u32::from(le16(b, 0xFE))
        } else {
            32
        };
        if is_64bit && (!(64..=1024).contains(&desc_size) || !desc_size.is_power_of_two()) {
            return Err(corrupt(format!(
                "group descriptor size {desc_size} invalid"
            )));
        }
        let mut blocks_count = u64::from(le32(b, 0x04));
        if is_64bit {
            blocks_count |= u64::from(le32(b, 0x150)) << 32;
        }
        let first_data_block = le32(b, 0x14);
        if first_data_block > 1 || u64::from(first_data_block) >= blocks_count {
            return Err(corrupt(format!(
                "first data block {first_data_block} invalid for {blocks_count} blocks"
            )));
        }
        let blocks_per_group = le32(b, 0x20);
        let inodes_per_group = le32(b, 0x28);
        let bits_per_block = block_size * 8;
        if blocks_per_group == 0 {
            return Err(corrupt("zero blocks per group"));
        }
        if inodes_per_group == 0 || inodes_per_group > bits_per_block {
            return Err(corrupt(format!(
                "{inodes_per_group} inodes per group (at most {bits_per_block} with {block_size}-byte blocks)"
            )));
        }
        let groups =
            (blocks_count - u64::from(first_data_block)).div_ceil(u64::from(blocks_per_group));
        let group_count =
            u32::try_from(groups).map_err(|_| corrupt(format!("{groups} block groups")))?;
        let inodes_count = le32(b, 0x00);
        if u64::from(inodes_count) != u64::from(group_count) * u64::from(inodes_per_group) {
            return Err(corrupt(format!(
                "inode count {inodes_count} is not {group_count} groups × {inodes_per_group} inodes per group \
                 (blocks count {blocks_count}, {blocks_per_group} blocks per group)"
            )));
        }
        if first_ino < 3 || first_ino > inodes_count {
            return Err(corrupt(format!("first inode {first_ino} invalid")));
        }
        Ok(Superblock {
            inodes_count,
            blocks_count,
            first_data_block,
            block_size,
            blocks_per_group,
            inodes_per_group,
            inode_size,
            first_ino,
            desc_size,
            group_count,
            compat: le32(b, 0x5C),
            incompat,
            ro_compat: le32(b, 0x64),
            first_meta_bg: le32(b, 0x104),
            backup_bgs: [le32(b, 0x24C), le32(b, 0x250)],
        })
    }

    /// True when group `group` holds a copy of the superblock (and of the classic GDT).
    fn group_has_super(&self, group: u64) -> bool {
        if group == 0 {
            return true;
        }
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return self.backup_bgs.iter().any(|&g| u64::from(g) == group);
        }
        if group <= 1 || self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        if group.is_multiple_of(2) {
            return false;
        }
        [3u64, 5, 7].iter().any(|&base| {
            let mut n = base;
            while n < group {
                n *= base;
            }
            n == group
        })
    }

    /// Block and byte offset within it of group `group`'s descriptor.
    fn descriptor_location(&self, group: u32) -> (u64, usize) {
        let per_block = self.block_size / self.desc_size;
        let meta_group = group / per_block;
        let offset = (group % per_block) * self.desc_size;
        // The superblock's own block (0 with blocks over 1 KiB, 1 with 1 KiB blocks).
        let sb_block = u64::from(1024 / self.block_size);
        let block = if self.incompat & INCOMPAT_META_BG == 0 || meta_group < self.first_meta_bg {
            sb_block + 1 + u64::from(meta_group)
        } else {
            let first_group = u64::from(meta_group) * u64::from(per_block);
            let mut has_super = u64::from(self.group_has_super(first_group));
            if self.block_size == 1024 && meta_group == 0 && self.first_data_block == 0 {
                has_super += 1;
            }
            u64::from(self.first_data_block)
                .saturating_add(first_group.saturating_mul(u64::from(self.blocks_per_group)))
                .saturating_add(has_super)
        };
        (block, offset as usize)
    }

    /// True when group descriptors carry meaningful `INODE_UNINIT`/`itable_unused`.
    fn has_group_checksums(&self) -> bool {
        self.ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM) != 0
    }

    /// Blocks taken by one group's inode table.
    fn inode_table_blocks(&self) -> u64 {
        (u64::from(self.inodes_per_group) * u64::from(self.inode_size))
            .div_ceil(u64::from(self.block_size))
    }
}

/// The fields of a group descriptor this reader uses.
#[derive(Debug, Clone, Copy)]
struct GroupDesc {
    inode_table: u64,
    flags: u16,
    itable_unused: u32,
}

/// A bounded cache of metadata blocks, least recently used evicted first.
#[derive(Debug)]
struct BlockCache {
    blocks: HashMap<u64, (u64, Arc<[u8]>)>,
    tick: u64,
    capacity: usize,
}

impl BlockCache {
    fn get(&mut self, block: u64) -> Option<Arc<[u8]>> {
        self.tick += 1;
        let tick = self.tick;
        self.blocks.get_mut(&block).map(|(used, data)| {
            *used = tick;
            data.clone()
        })
    }

    fn insert(&mut self, block: u64, data: Arc<[u8]>) {
        if self.blocks.len() >= self.capacity {
            let oldest = self
                .blocks
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(&b, _)| b);
            if let Some(oldest) = oldest {
                self.blocks.remove(&oldest);
            }
        }
        self.tick += 1;
        self.blocks.insert(block, (self.tick, data));
    }
}

/// An ext2/3/4 filesystem, read-only.
pub(super) struct ExtFs {
    volume: SharedSource,
    sb: Superblock,
    cache: Mutex<BlockCache>,
}

impl ExtFs {
    /// Reads and checks the superblock and the first group descriptor.
    pub(super) fn open(volume: SharedSource) -> Result<ExtFs, FsError> {
        let mut raw = vec![0u8; SUPERBLOCK_SIZE];
        volume
            .read_exact_at(SUPERBLOCK_OFFSET, &mut raw)
            .map_err(|e| corrupt(format!("cannot read the superblock: {e}")))?;
        let sb = Superblock::parse(&raw)?;
        let fs_bytes = sb.blocks_count.saturating_mul(u64::from(sb.block_size));
        if volume.len() < fs_bytes {
            tracing::warn!(
                volume = volume.len(),
                filesystem = fs_bytes,
                "ext volume shorter than its filesystem: truncated image?"
            );
        }
        let capacity = (CACHE_BYTES / sb.block_size as usize).clamp(16, 256);
        let fs = ExtFs {
            volume,
            sb,
            cache: Mutex::new(BlockCache {
                blocks: HashMap::new(),
                tick: 0,
                capacity,
            }),
        };
        fs.group_desc(0)?;
        Ok(fs)
    }

    /// Block size in bytes.
    fn block_size(&self) -> u32 {
        self.sb.block_size
    }

    /// Byte offset of block `block`, checked against the block count.
    fn block_offset(&self, block: u64) -> Result<u64, FsError> {
        if block >= self.sb.blocks_count {
            return Err(corrupt(format!(
                "block {block} beyond the filesystem ({} blocks)",
                self.sb.blocks_count
            )));
        }
        block
            .checked_mul(u64::from(self.sb.block_size))
            .ok_or_else(|| corrupt(format!("block {block} offset overflows")))
    }

    /// Checks that `count` blocks from `start` lie inside the filesystem.
    fn check_extent(&self, start: u64, count: u64) -> Result<(), FsError> {
        match start.checked_add(count) {
            Some(end) if end <= self.sb.blocks_count && count > 0 => Ok(()),
            _ => Err(corrupt(format!(
                "blocks {start}+{count} beyond the filesystem ({} blocks)",
                self.sb.blocks_count
            ))),
        }
    }

    /// A metadata block, through the cache.
    fn read_block(&self, block: u64) -> Result<Arc<[u8]>, FsError> {
        let offset = self.block_offset(block)?;
        if let Some(data) = self.lock_cache().get(block) {
            return Ok(data);
        }
        let mut buf = vec![0u8; self.sb.block_size as usize];
        self.volume.read_exact_at(offset, &mut buf)?;
        let data: Arc<[u8]> = buf.into();
        self.lock_cache().insert(block, data.clone());
        Ok(data)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, BlockCache> {
        // The cache holds only copies of image bytes: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Group descriptor `group`.
    fn group_desc(&self, group: u32) -> Result<GroupDesc, FsError> {
        if group >= self.sb.group_count {
            return Err(corrupt(format!(
                "group {group} beyond the group count {}",
                self.sb.group_count
            )));
        }
        let (block, offset) = self.sb.descriptor_location(group);
        let data = self.read_block(block)?;
        let raw = data
            .get(offset..offset + self.sb.desc_size as usize)
            .ok_or_else(|| corrupt(format!("group descriptor {group} outside its block")))?;
        let mut inode_table = u64::from(le32(raw, 0x08));
        let mut itable_unused = u32::from(le16(raw, 0x1C));
        if self.sb.desc_size >= 64 {
            inode_table |= u64::from(le32(raw, 0x28)) << 32;
            itable_unused |= u32::from(le16(raw, 0x32)) << 16;
        }
        let table_blocks = self.sb.inode_table_blocks();
        if inode_table == 0
            || inode_table
                .checked_add(table_blocks)
                .is_none_or(|end| end > self.sb.blocks_count)
        {
            return Err(corrupt(format!(
                "group {group}: inode table at block {inode_table} ({table_blocks} blocks) beyond the filesystem"
            )));
        }
        Ok(GroupDesc {
            inode_table,
            flags: le16(raw, 0x12),
            itable_unused,
        })
    }

    /// Inode number `ino`.
    fn inode(&self, ino: u32) -> Result<Inode, FsError> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(corrupt(format!(
                "inode {ino} out of range (1..={})",
                self.sb.inodes_count
            )));
        }
        let group = (ino - 1) / self.sb.inodes_per_group;
        let index = (ino - 1) % self.sb.inodes_per_group;
        let desc = self.group_desc(group)?;
        let byte = u64::from(index) * u64::from(self.sb.inode_size);
        let block = desc.inode_table + byte / u64::from(self.sb.block_size);
        let offset = (byte % u64::from(self.sb.block_size)) as usize;
        let data = self.read_block(block)?;
        let raw = data
            .get(offset..offset + self.sb.inode_size as usize)
            .ok_or_else(|| corrupt(format!("inode {ino} outside its block")))?;
        Ok(Inode::parse(raw))
    }

    /// Inode number of an entry, checked.
    fn entry_ino(entry: &FsEntry) -> Result<u32, FsError> {
        u32::try_from(entry.id).map_err(|_| FsError::NotFound {
            path: entry.path.clone(),
        })
    }

    /// How to find an inode's data.
    fn data_map(&self, ino: u32, inode: &Inode, path: &str) -> Result<DataMap, FsError> {
        if inode.is_encrypted() {
            return Err(FsError::Unsupported {
                fs: FsKind::Ext,
                feature: format!("{path}: encrypted inode {ino} (fscrypt)"),
            });
        }
        DataMap::new(self, ino, inode)
    }

    /// The metadata of inode `ino` as an entry.
    fn entry(&self, ino: u32, inode: &Inode, name: String, path: String, deleted: bool) -> FsEntry {
        FsEntry {
            name,
            path,
            id: u64::from(ino),
            kind: inode.kind().unwrap_or(FileKind::Other),
            size: inode.size(self.sb.incompat & INCOMPAT_LARGEDIR != 0),
            mode: Some(u32::from(inode.mode)),
            uid: Some(inode.uid),
            gid: Some(inode.gid),
            times: Timestamps {
                modified: inode.mtime(),
                accessed: inode.atime(),
                changed: inode.ctime(),
                born: inode.crtime(),
            },
            streams: Vec::new(),
            deleted,
        }
    }

    /// A reader over inode `ino`'s data, `size` bytes long.
    fn reader(&self, ino: u32, inode: &Inode, path: &str) -> Result<ExtReader<'_>, FsError> {
        let map = self.data_map(ino, inode, path)?;
        let size = inode.size(self.sb.incompat & INCOMPAT_LARGEDIR != 0);
        ExtReader::new(self, map, size)
    }

    /// Raw directory entries of directory inode `ino`.
    fn dir_entries(
        &self,
        ino: u32,
        inode: &Inode,
        path: &str,
    ) -> Result<Vec<dir::RawEntry>, FsError> {
        let filetype = self.sb.incompat & INCOMPAT_FILETYPE != 0;
        let map = self.data_map(ino, inode, path)?;
        let mut out = Vec::new();
        if let DataMap::Inline(bytes) = &map {
            // First 4 bytes: the parent's inode number; then entries, in i_block and then
            // in the `system.data` attribute, each area parsed on its own.
            let (ibody, tail) = bytes.split_at(bytes.len().min(60));
            dir::parse_block(ibody.get(4..).unwrap_or(&[]), filetype, u32::MAX, &mut out)
                .map_err(|e| corrupt(format!("directory inode {ino} (inline): {e}")))?;
            dir::parse_block(tail, filetype, u32::MAX, &mut out)
                .map_err(|e| corrupt(format!("directory inode {ino} (inline attribute): {e}")))?;
            return Ok(out);
        }
        let size = inode.size(self.sb.incompat & INCOMPAT_LARGEDIR != 0);
        if size > MAX_DIR_BYTES {
            return Err(corrupt(format!(
                "directory inode {ino} claims {size} bytes"
            )));
        }
        let bs = u64::from(self.block_size());
        let blocks = size.div_ceil(bs);
        let mut buf = vec![0u8; self.block_size() as usize];
        let mut lblk = 0u64;
        while lblk < blocks {
            match map.map(self, lblk)? {
                map::Run::Zeros(n) => lblk = lblk.saturating_add(n),
                map::Run::Data { start, len } => {
                    let len = len.min(blocks - lblk);
                    for i in 0..len {
                        let block = start + i;
                        self.volume
                            .read_exact_at(self.block_offset(block)?, &mut buf)?;
                        dir::parse_block(&buf, filetype, self.block_size(), &mut out).map_err(
                            |e| {
                                corrupt(format!(
                                    "directory inode {ino}, logical block {}: {e}",
                                    lblk + i
                                ))
                            },
                        )?;
                    }
                    lblk += len;
                }
            }
        }
        Ok(out)
    }

    /// Reads one group's inode table and adds its deleted inodes to `out`.
    fn deleted_in_group(&self, group: u32, out: &mut Vec<FsEntry>) -> Result<(), FsError> {
        let desc = self.group_desc(group)?;
        let mut used = self.sb.inodes_per_group;
        if self.sb.has_group_checksums() {
            if desc.flags & BG_INODE_UNINIT != 0 {
                return Ok(());
            }
            used = used.saturating_sub(desc.itable_unused);
        }
        let isz = self.sb.inode_size as usize;
        let per_block = self.block_size() / self.sb.inode_size;
        let blocks = used.div_ceil(per_block);
        let mut buf = vec![0u8; self.block_size() as usize];
        for b in 0..blocks {
            let block = desc.inode_table + u64::from(b);
            self.volume
                .read_exact_at(self.block_offset(block)?, &mut buf)?;
            for (i, raw) in buf.chunks_exact(isz).enumerate() {
                let index = b * per_block + i as u32;
                if index >= used {
                    break;
                }
                let ino = group * self.sb.inodes_per_group + index + 1;
                if ino < self.sb.first_ino {
                    continue;
                }
                let inode = Inode::parse(raw);
                if inode.mode != 0 && inode.links_count == 0 && inode.dtime != 0 {
                    if out.len() >= MAX_DELETED {
                        tracing::warn!("more than {MAX_DELETED} deleted ext inodes; list cut");
                        return Ok(());
                    }
                    let name = ino.to_string();
                    let path = FsEntry::child_path("/$deleted", &name);
                    out.push(self.entry(ino, &inode, name, path, true));
                }
            }
        }
        Ok(())
    }
}

impl FileSystem for ExtFs {
    fn kind(&self) -> FsKind {
        FsKind::Ext
    }

    fn root(&self) -> Result<FsEntry, FsError> {
        let inode = self.inode(ROOT_INO)?;
        let entry = self.entry(ROOT_INO, &inode, String::new(), "/".into(), false);
        if entry.kind != FileKind::Directory {
            return Err(corrupt(format!("root inode has mode {:#o}", inode.mode)));
        }
        Ok(entry)
    }

    fn read_dir(&self, dir: &FsEntry) -> Result<Vec<FsEntry>, FsError> {
        let ino = Self::entry_ino(dir)?;
        let inode = self.inode(ino)?;
        if inode.kind() != Some(FileKind::Directory) {
            return Err(FsError::WrongKind {
                path: dir.path.clone(),
                problem: "is not a directory".into(),
            });
        }
        let raw = self.dir_entries(ino, &inode, &dir.path)?;
        let mut entries = Vec::with_capacity(raw.len());
        for e in raw {
            if e.inode == 0 || e.name.is_empty() || e.name == b"." || e.name == b".." {
                continue;
            }
            let child = match self.inode(e.inode) {
                Ok(child) => child,
                Err(FsError::Corrupt { problem, .. }) => {
                    return Err(corrupt(format!(
                        "{}: entry {:?}: {problem}",
                        dir.path,
                        String::from_utf8_lossy(&e.name)
                    )));
                }
                Err(other) => return Err(other),
            };
            let name = String::from_utf8_lossy(&e.name).into_owned();
            let path = FsEntry::child_path(&dir.path, &name);
            let mut entry = self.entry(e.inode, &child, name, path, false);
            if child.kind().is_none() {
                entry.kind = dir::kind_from_type(e.file_type);
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    fn open(&self, file: &FsEntry) -> Result<Box<dyn Read + '_>, FsError> {
        let ino = Self::entry_ino(file)?;
        let inode = self.inode(ino)?;
        match inode.kind() {
            Some(FileKind::File) => {}
            Some(FileKind::Directory) => {
                return Err(FsError::WrongKind {
                    path: file.path.clone(),
                    problem: "is a directory".into(),
                });
            }
            _ => {
                return Err(FsError::WrongKind {
                    path: file.path.clone(),
                    problem: "is not a regular file".into(),
                });
            }
        }
        Ok(Box::new(self.reader(ino, &inode, &file.path)?))
    }

    fn read_link(&self, link: &FsEntry) -> Result<String, FsError> {
        let ino = Self::entry_ino(link)?;
        let inode = self.inode(ino)?;
        if inode.kind() != Some(FileKind::Symlink) {
            return Err(FsError::WrongKind {
                path: link.path.clone(),
                problem: "is not a symbolic link".into(),
            });
        }
        let size = inode.size(false);
        if size > u64::from(self.block_size()) {
            return Err(corrupt(format!(
                "{}: link target of {size} bytes (more than a block)",
                link.path
            )));
        }
        let target = if let Some(fast) = inode.fast_symlink(
            self.block_size(),
            self.sb.ro_compat & RO_COMPAT_HUGE_FILE != 0,
        ) {
            fast
        } else {
            let mut target = Vec::with_capacity(size as usize);
            self.reader(ino, &inode, &link.path)?
                .take(size)
                .read_to_end(&mut target)?;
            target
        };
        Ok(String::from_utf8_lossy(&target).into_owned())
    }

    /// Inodes of deleted files: in use once (mode set), now unlinked (no links) and freed
    /// (deletion time set). Their metadata is as the kernel left it, usually with size 0;
    /// [`FileSystem::open`] on one reads whatever blocks the inode still maps (nothing
    /// for ext4 and ext3, which clear the map on delete; possibly reused blocks).
    /// Reads every used inode table sequentially, at most [`MAX_DELETED`] entries.
    fn deleted(&self) -> Result<Vec<FsEntry>, FsError> {
        let mut out = Vec::new();
        for group in 0..self.sb.group_count {
            match self.deleted_in_group(group, &mut out) {
                Ok(()) => {}
                // A bad descriptor or an inode table past the end of a truncated image
                // loses that group only.
                Err(e @ FsError::Corrupt { .. }) => {
                    tracing::warn!(group, error = %e, "ext inode table skipped")
                }
                Err(FsError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    tracing::warn!(group, error = %e, "ext inode table skipped")
                }
                Err(other) => return Err(other),
            }
            if out.len() >= MAX_DELETED {
                break;
            }
        }
        Ok(out)
    }
}
