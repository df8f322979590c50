//! On-disk inodes: mode, owners, size, timestamps, flags and the 60-byte `i_block` area.

use super::{le16, le32};
use crate::fs::FileKind;
use chrono::{DateTime, Utc};

/// `i_flags`: the file is encrypted (fscrypt).
const ENCRYPT_FL: u32 = 0x800;
/// `i_flags`: directory has an htree index.
#[cfg(test)]
pub(super) const INDEX_FL: u32 = 0x1000;
/// `i_flags`: `i_blocks` counts filesystem blocks, not 512-byte sectors.
const HUGE_FILE_FL: u32 = 0x40000;
/// `i_flags`: data mapped by an extent tree.
pub(super) const EXTENTS_FL: u32 = 0x80000;
/// `i_flags`: data stored in the inode (and its `system.data` attribute).
pub(super) const INLINE_DATA_FL: u32 = 0x1000_0000;

/// Size of the classic inode and of `i_block`.
const GOOD_OLD_INODE_SIZE: usize = 128;
/// Offset and size of `i_block`.
const I_BLOCK: usize = 0x28;
pub(super) const I_BLOCK_LEN: usize = 60;
/// `h_magic` of the in-inode extended attribute area.
const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Attribute name index of `system.*`.
const XATTR_INDEX_SYSTEM: u8 = 7;

/// One inode, parsed; the raw bytes are kept for the extra area.
#[derive(Debug, Clone)]
pub(super) struct Inode {
    pub(super) mode: u16,
    pub(super) uid: u32,
    pub(super) gid: u32,
    size_lo: u32,
    size_hi: u32,
    pub(super) dtime: u32,
    pub(super) links_count: u16,
    blocks: u64,
    pub(super) flags: u32,
    file_acl: u64,
    raw: Vec<u8>,
    /// Bytes of the extra area in use (`i_extra_isize`), 0 when absent or invalid.
    extra: usize,
}

impl Inode {
    /// Parses an inode from its on-disk bytes (`inode_size` long, at least 128).
    pub(super) fn parse(raw: &[u8]) -> Inode {
        let mut extra = 0;
        if raw.len() > GOOD_OLD_INODE_SIZE {
            let e = usize::from(le16(raw, 0x80));
            if e.is_multiple_of(4) && GOOD_OLD_INODE_SIZE + e <= raw.len() {
                extra = e;
            }
        }
        Inode {
            mode: le16(raw, 0x00),
            uid: u32::from(le16(raw, 0x02)) | (u32::from(le16(raw, 0x78)) << 16),
            gid: u32::from(le16(raw, 0x18)) | (u32::from(le16(raw, 0x7A)) << 16),
            size_lo: le32(raw, 0x04),
            size_hi: le32(raw, 0x6C),
            dtime: le32(raw, 0x14),
            links_count: le16(raw, 0x1A),
            blocks: u64::from(le32(raw, 0x1C)) | (u64::from(le16(raw, 0x74)) << 32),
            flags: le32(raw, 0x20),
            file_acl: u64::from(le32(raw, 0x68)) | (u64::from(le16(raw, 0x76)) << 32),
            raw: raw.to_vec(),
            extra,
        }
    }

    /// What the mode says this is; `None` when the type bits are 0 or unknown-invalid.
    pub(super) fn kind(&self) -> Option<FileKind> {
        match self.mode & 0xF000 {
            0 => None,
            0x8000 => Some(FileKind::File),
            0x4000 => Some(FileKind::Directory),
            0xA000 => Some(FileKind::Symlink),
            _ => Some(FileKind::Other),
        }
    }

    /// Size in bytes; the high 32 bits count for regular files, and for directories
    /// with `largedir` (as the kernel reads it).
    pub(super) fn size(&self, largedir: bool) -> u64 {
        let high = self.kind() == Some(FileKind::File)
            || (largedir && self.kind() == Some(FileKind::Directory));
        let hi = if high {
            u64::from(self.size_hi) << 32
        } else {
            0
        };
        hi | u64::from(self.size_lo)
    }

    /// The 60-byte `i_block` area (block map, extent root, fast link or inline data).
    pub(super) fn i_block(&self) -> [u8; I_BLOCK_LEN] {
        let mut out = [0u8; I_BLOCK_LEN];
        if let Some(src) = self.raw.get(I_BLOCK..I_BLOCK + I_BLOCK_LEN) {
            out.copy_from_slice(src);
        }
        out
    }

    /// True for an fscrypt-encrypted inode.
    pub(super) fn is_encrypted(&self) -> bool {
        self.flags & ENCRYPT_FL != 0
    }

    /// The target of a fast symbolic link (stored in `i_block`), or `None` for a slow one
    /// (or inline data, read through the data map): size under 60 bytes and no data
    /// blocks besides an extended attribute block.
    pub(super) fn fast_symlink(&self, block_size: u32, huge_file: bool) -> Option<Vec<u8>> {
        if self.flags & (INLINE_DATA_FL | ENCRYPT_FL) != 0 {
            return None;
        }
        let size = usize::try_from(self.size(false)).ok()?;
        if size >= I_BLOCK_LEN {
            return None;
        }
        let sectors_per_block = u64::from(block_size / 512);
        let sectors = if huge_file && self.flags & HUGE_FILE_FL != 0 {
            self.blocks.saturating_mul(sectors_per_block)
        } else {
            self.blocks
        };
        let acl_sectors = if self.file_acl != 0 {
            sectors_per_block
        } else {
            0
        };
        if sectors.saturating_sub(acl_sectors) != 0 {
            return None;
        }
        Some(self.i_block().get(..size)?.to_vec())
    }

    /// A 32-bit field of the extra area at absolute offset `off`, if the area holds it.
    fn extra_field(&self, off: usize) -> Option<u32> {
        (GOOD_OLD_INODE_SIZE + self.extra >= off + 4).then(|| le32(&self.raw, off))
    }

    /// Last modification (M).
    pub(super) fn mtime(&self) -> Option<DateTime<Utc>> {
        time(le32(&self.raw, 0x10), self.extra_field(0x88))
    }

    /// Last access (A).
    pub(super) fn atime(&self) -> Option<DateTime<Utc>> {
        time(le32(&self.raw, 0x08), self.extra_field(0x8C))
    }

    /// Last inode change (C).
    pub(super) fn ctime(&self) -> Option<DateTime<Utc>> {
        time(le32(&self.raw, 0x0C), self.extra_field(0x84))
    }

    /// Creation (B), only in inodes whose extra area holds it.
    pub(super) fn crtime(&self) -> Option<DateTime<Utc>> {
        time(self.extra_field(0x90)?, self.extra_field(0x94))
    }

    /// The value of the in-inode `system.data` attribute (inline data past `i_block`).
    pub(super) fn inline_data_tail(&self) -> Option<&[u8]> {
        let start = GOOD_OLD_INODE_SIZE + self.extra;
        if self.extra == 0 || le32(&self.raw, start) != XATTR_MAGIC {
            return None;
        }
        let first = start + 4;
        let region = self.raw.get(first..)?;
        let mut off = 0usize;
        // Each entry is at least 16 bytes: the loop ends within the inode.
        while off + 16 <= region.len() {
            if le32(region, off) == 0 {
                break;
            }
            let name_len = usize::from(*region.get(off)?);
            let index = *region.get(off + 1)?;
            let value_offs = usize::from(le16(region, off + 2));
            let value_inum = le32(region, off + 4);
            let value_size = le32(region, off + 8) as usize;
            let name = region.get(off + 16..off + 16 + name_len)?;
            if index == XATTR_INDEX_SYSTEM && name == b"data" && value_inum == 0 {
                return region.get(value_offs..value_offs.checked_add(value_size)?);
            }
            off += (16 + name_len + 3) & !3;
        }
        None
    }
}

/// An inode timestamp: signed 32-bit seconds, plus (with an extra field) two epoch bits
/// and nanoseconds. Zero is "not recorded".
fn time(seconds: u32, extra: Option<u32>) -> Option<DateTime<Utc>> {
    let mut secs = i64::from(seconds as i32);
    let mut nanos = 0;
    if let Some(extra) = extra {
        secs += i64::from(extra & 3) << 32;
        nanos = extra >> 2;
        if nanos >= 1_000_000_000 {
            nanos = 0;
        }
    }
    if secs == 0 && nanos == 0 {
        return None;
    }
    DateTime::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn times_decode_epoch_and_nanoseconds() {
        assert_eq!(time(0, None), None);
        assert_eq!(time(0, Some(0)), None);
        let t = time(1_000_000_000, Some(123 << 2)).unwrap();
        assert_eq!(t.timestamp(), 1_000_000_000);
        assert_eq!(t.timestamp_subsec_nanos(), 123);
        // Before 1970: negative 32-bit seconds.
        assert_eq!(time(u32::MAX, None).unwrap().timestamp(), -1);
        // Epoch bit 1: past 2038.
        assert_eq!(time(0, Some(1)).unwrap().timestamp(), 1 << 32);
        // Invalid nanoseconds are dropped, not a panic.
        assert_eq!(time(5, Some(!3)).unwrap().timestamp_subsec_nanos(), 0);
    }
}
