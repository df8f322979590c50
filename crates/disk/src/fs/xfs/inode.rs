//! The inode core (`xfs_dinode`): versions 1 and 2 (v4 filesystems, 100-byte core) and
//! 3 (v5 filesystems, 176-byte core with a creation time), and its data fork.

use super::{be16, be32, be64, corrupt};
use crate::fs::{FileKind, FsError, Timestamps};
use chrono::{DateTime, Utc};

/// `IN`, the inode magic.
const INODE_MAGIC: u16 = 0x494e;
/// Core size (start of the literal area) of version 1 and 2 inodes.
const CORE_V2: usize = 100;
/// Core size of version 3 inodes.
const CORE_V3: usize = 176;
/// `di_flags`: the data lives on the realtime device.
const DIFLAG_REALTIME: u16 = 0x1;
/// `di_flags2`: timestamps are 64-bit nanosecond counters from 1901.
const DIFLAG2_BIGTIME: u64 = 1 << 3;
/// `di_flags2`: 64-bit data fork extent counter in `di_big_nextents`.
const DIFLAG2_NREXT64: u64 = 1 << 4;
/// Seconds between the bigtime epoch (1901-12-13T20:45:52Z) and the Unix epoch.
const BIGTIME_EPOCH_OFFSET: i64 = 1 << 31;

/// File type bits of `di_mode`.
const S_IFMT: u16 = 0o170000;
/// Directory.
const S_IFDIR: u16 = 0o040000;
/// Regular file.
const S_IFREG: u16 = 0o100000;
/// Symbolic link.
const S_IFLNK: u16 = 0o120000;

/// The data fork of an inode, by `di_format`.
#[derive(Debug, Clone)]
pub(super) enum DataFork {
    /// Device number (character/block devices, FIFOs, sockets): no data.
    Dev,
    /// Inline data: short-form directory, short symlink (the fork bytes).
    Local(Vec<u8>),
    /// Inline extent records (the fork bytes, `nextents` 16-byte records).
    Extents(Vec<u8>),
    /// Root of a bmap B+tree (the fork bytes, an `xfs_bmdr_block`).
    Btree(Vec<u8>),
}

/// A parsed inode.
#[derive(Debug, Clone)]
pub(super) struct Inode {
    /// Inode number.
    pub ino: u64,
    /// `di_mode`: type and permission bits.
    pub mode: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Number of data fork extents (as recorded; checked against the fork).
    pub nextents: u64,
    /// Data lives on the realtime device (not read).
    pub realtime: bool,
    /// MACB times (B only on version 3 inodes).
    pub times: Timestamps,
    /// The data fork.
    pub fork: DataFork,
}

impl Inode {
    /// Parses the inode `ino` from its on-disk bytes (one inode long).
    pub(super) fn parse(ino: u64, b: &[u8], v5: bool) -> Result<Inode, FsError> {
        let bad = |what: &str| corrupt(format!("inode {ino}: {what}"));
        if be16(b, 0) != Some(INODE_MAGIC) {
            return Err(bad("no IN magic"));
        }
        let version = *b.get(4).ok_or_else(|| bad("truncated"))?;
        let core = match (version, v5) {
            (1 | 2, false) => CORE_V2,
            (3, true) => CORE_V3,
            _ => return Err(bad(&format!("version {version} on this filesystem"))),
        };
        if b.len() <= core {
            return Err(bad("truncated"));
        }
        let field16 = |off| be16(b, off).ok_or_else(|| bad("truncated"));
        let field32 = |off| be32(b, off).ok_or_else(|| bad("truncated"));
        let field64 = |off| be64(b, off).ok_or_else(|| bad("truncated"));
        if version == 3 && field64(152)? != ino {
            return Err(bad("records another inode number (misplaced inode)"));
        }
        let mode = field16(2)?;
        let format = b[5];
        let uid = field32(8)?;
        let gid = field32(12)?;
        let size = field64(56)?;
        let forkoff = usize::from(b[82]);
        let flags = field16(90)?;
        let flags2 = if version == 3 { field64(120)? } else { 0 };
        let nextents = if flags2 & DIFLAG2_NREXT64 != 0 {
            field64(24)?
        } else {
            u64::from(field32(76)?)
        };
        let bigtime = flags2 & DIFLAG2_BIGTIME != 0;
        let time = |off| field64(off).map(|raw| decode_time(raw, bigtime));
        let times = Timestamps {
            modified: time(40)?,
            accessed: time(32)?,
            changed: time(48)?,
            born: if version == 3 { time(144)? } else { None },
        };
        let literal = b.len() - core;
        let fork_size = if forkoff == 0 { literal } else { forkoff * 8 };
        if fork_size > literal {
            return Err(bad(&format!(
                "attribute fork offset {forkoff} past the inode"
            )));
        }
        let fork_bytes = b[core..core + fork_size].to_vec();
        let fork = match format {
            0 => DataFork::Dev,
            1 => DataFork::Local(fork_bytes),
            2 => DataFork::Extents(fork_bytes),
            3 => DataFork::Btree(fork_bytes),
            other => return Err(bad(&format!("unknown data fork format {other}"))),
        };
        Ok(Inode {
            ino,
            mode,
            uid,
            gid,
            size,
            nextents,
            realtime: flags & DIFLAG_REALTIME != 0,
            times,
            fork,
        })
    }

    /// What the inode is, from its mode.
    pub(super) fn kind(&self) -> FileKind {
        match self.mode & S_IFMT {
            S_IFDIR => FileKind::Directory,
            S_IFREG => FileKind::File,
            S_IFLNK => FileKind::Symlink,
            _ => FileKind::Other,
        }
    }
}

/// Decodes an on-disk timestamp: legacy (signed 32-bit seconds, 32-bit nanoseconds) or
/// bigtime (unsigned nanoseconds since 1901). Zero (raw, or the Unix epoch once decoded)
/// and out-of-range values are `None`.
fn decode_time(raw: u64, bigtime: bool) -> Option<DateTime<Utc>> {
    if raw == 0 {
        return None;
    }
    let (secs, nanos) = if bigtime {
        let secs = i64::try_from(raw / 1_000_000_000).ok()? - BIGTIME_EPOCH_OFFSET;
        (secs, (raw % 1_000_000_000) as u32)
    } else {
        (i64::from((raw >> 32) as u32 as i32), raw as u32)
    };
    // The Unix epoch itself is how "never set" reads in either encoding.
    if secs == 0 && nanos == 0 {
        return None;
    }
    DateTime::from_timestamp(secs, nanos)
}
