//! Directory entries (`ext2_dir_entry_2`), read linearly block by block.
//!
//! htree (`dir_index`) directories are read the same way: their index blocks hold one
//! fake entry with inode 0 spanning the block, and the root block's `..` entry spans the
//! index, so a linear scan sees every real entry exactly once.

use super::{le16, le32};
use crate::fs::FileKind;

/// One directory entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawEntry {
    /// Inode number; 0 for an unused record.
    pub(super) inode: u32,
    /// Name bytes.
    pub(super) name: Vec<u8>,
    /// The `file_type` byte (0 without the `filetype` feature).
    pub(super) file_type: u8,
}

/// Decodes `rec_len`: with 64 KiB blocks a full-block record is stored as 0 or 65535.
fn rec_len(raw: u16, block_size: u32) -> usize {
    let raw = u32::from(raw);
    if block_size < 65536 {
        return raw as usize;
    }
    if raw == 65535 || raw == 0 {
        return 65536;
    }
    ((raw & 65532) | ((raw & 3) << 16)) as usize
}

/// Appends the entries of one directory block (or inline area) to `out`. Fails on a
/// record length that is under 8, unaligned, runs past the block or cannot hold its name.
/// `block_size` is the filesystem's (for `rec_len` decoding), `u32::MAX` for inline areas.
pub(super) fn parse_block(
    block: &[u8],
    filetype: bool,
    block_size: u32,
    out: &mut Vec<RawEntry>,
) -> Result<(), String> {
    let mut off = 0usize;
    // Each record is at least 8 bytes: at most len / 8 iterations.
    while off < block.len() {
        if block.len() - off < 8 {
            return Err(format!("{} stray bytes at offset {off}", block.len() - off));
        }
        let inode = le32(block, off);
        let len = rec_len(le16(block, off + 4), block_size);
        let (name_len, file_type) = if filetype {
            (usize::from(block[off + 6]), block[off + 7])
        } else {
            (usize::from(le16(block, off + 6)), 0)
        };
        if len < 8 || !len.is_multiple_of(4) || len > block.len() - off {
            return Err(format!("record length {len} invalid at offset {off}"));
        }
        if inode != 0 {
            if name_len > 255 || 8 + name_len > len {
                return Err(format!(
                    "name of {name_len} bytes does not fit record of {len} at offset {off}"
                ));
            }
            out.push(RawEntry {
                inode,
                name: block[off + 8..off + 8 + name_len].to_vec(),
                file_type,
            });
        }
        off += len;
    }
    Ok(())
}

/// The kind a directory entry's type byte names (used only when the inode's mode has no
/// type). The high bits are `dirdata` flags.
pub(super) fn kind_from_type(file_type: u8) -> FileKind {
    match file_type & 0x0F {
        1 => FileKind::File,
        2 => FileKind::Directory,
        7 => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn record(inode: u32, rec_len: u16, name: &[u8]) -> Vec<u8> {
        let mut r = inode.to_le_bytes().to_vec();
        r.extend(rec_len.to_le_bytes());
        r.push(name.len() as u8);
        r.push(1);
        r.extend(name);
        r.resize(usize::from(rec_len), 0);
        r
    }

    #[test]
    fn parses_and_skips_unused_records() {
        let mut block = record(12, 12, b"a");
        block.extend(record(0, 12, b""));
        block.extend(record(13, 40, b"longer"));
        let mut out = Vec::new();
        parse_block(&block, true, 1024, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].name, b"longer");
    }

    #[test]
    fn rejects_bad_record_lengths() {
        for bad in [0u16, 6, 13, 1024] {
            let mut block = record(12, 12, b"a");
            block[4..6].copy_from_slice(&bad.to_le_bytes());
            block.resize(64, 0);
            assert!(
                parse_block(&block, true, 1024, &mut Vec::new()).is_err(),
                "{bad}"
            );
        }
        // Name longer than its record.
        let mut block = record(12, 12, b"a");
        block[6] = 200;
        assert!(parse_block(&block, true, 1024, &mut Vec::new()).is_err());
    }

    #[test]
    fn decodes_64k_record_lengths() {
        assert_eq!(rec_len(0, 65536), 65536);
        assert_eq!(rec_len(65535, 65536), 65536);
        assert_eq!(rec_len(12, 65536), 12);
        assert_eq!(rec_len(12, 4096), 12);
    }
}
