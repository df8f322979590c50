//! Microsoft VHD (Virtual PC, Azure page blobs): a fixed disk is the raw bytes followed by
//! a 512-byte footer; a dynamic disk maps 2 MiB blocks through a block allocation table.
//! Read directly rather than through a library that loads the whole file into memory.
//! Differencing disks need their parent and are refused.

use crate::source::{ByteSource, FileSource};
use std::io;

/// Largest block allocation table accepted (16 Mi entries: 32 TiB of 2 MiB blocks).
const MAX_BAT_ENTRIES: u32 = 1 << 24;
/// Largest block size accepted (256 MiB).
const MAX_BLOCK_SIZE: u32 = 1 << 28;
const UNALLOCATED: u32 = 0xFFFF_FFFF;

/// Why a VHD cannot be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum VhdError {
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The footer or dynamic header is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// A fixed or dynamic VHD.
pub(super) struct VhdSource {
    file: FileSource,
    size: u64,
    layout: Layout,
}

enum Layout {
    Fixed,
    Dynamic {
        block_size: u64,
        bitmap_size: u64,
        bat: Vec<u32>,
    },
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}

impl VhdSource {
    /// Reads the footer (and for dynamic disks the header and table).
    pub(super) fn open(file: FileSource) -> Result<Self, VhdError> {
        let len = file.len();
        if len < 512 {
            return Err(VhdError::Invalid(format!(
                "{len} bytes is too short for a VHD footer"
            )));
        }
        let mut footer = [0u8; 512];
        file.read_exact_at(len - 512, &mut footer)?;
        if !footer.starts_with(b"conectix") {
            // Dynamic disks keep a copy of the footer at the start.
            file.read_exact_at(0, &mut footer)?;
            if !footer.starts_with(b"conectix") {
                return Err(VhdError::Invalid("no \"conectix\" footer".into()));
            }
        }
        let data_offset = be_u64(&footer, 16);
        let size = be_u64(&footer, 48);
        let disk_type = be_u32(&footer, 60);
        let layout = match disk_type {
            2 => {
                if size > len - 512 {
                    return Err(VhdError::Invalid(format!(
                        "fixed disk of {size} bytes in a file of {len} bytes"
                    )));
                }
                Layout::Fixed
            }
            3 => Self::dynamic(&file, data_offset, size)?,
            4 => {
                return Err(VhdError::Invalid(
                    "differencing VHD: it needs its parent image, which is not supported; \
                     merge it first (qemu-img convert)"
                        .into(),
                ));
            }
            other => return Err(VhdError::Invalid(format!("unknown disk type {other}"))),
        };
        Ok(VhdSource { file, size, layout })
    }

    fn dynamic(file: &FileSource, header_offset: u64, size: u64) -> Result<Layout, VhdError> {
        let mut header = [0u8; 1024];
        file.read_exact_at(header_offset, &mut header)
            .map_err(|e| VhdError::Invalid(format!("dynamic header at {header_offset}: {e}")))?;
        if !header.starts_with(b"cxsparse") {
            return Err(VhdError::Invalid(format!(
                "no \"cxsparse\" dynamic header at {header_offset}"
            )));
        }
        let table_offset = be_u64(&header, 16);
        let entries = be_u32(&header, 28);
        let block_size = be_u32(&header, 32);
        if !block_size.is_power_of_two() || !(512..=MAX_BLOCK_SIZE).contains(&block_size) {
            return Err(VhdError::Invalid(format!("block size {block_size}")));
        }
        if entries > MAX_BAT_ENTRIES {
            return Err(VhdError::Invalid(format!(
                "{entries} table entries (at most {MAX_BAT_ENTRIES})"
            )));
        }
        let needed = size.div_ceil(u64::from(block_size));
        if needed > u64::from(entries) {
            return Err(VhdError::Invalid(format!(
                "{entries} table entries cannot map {size} bytes"
            )));
        }
        let mut raw = vec![0u8; entries as usize * 4];
        file.read_exact_at(table_offset, &mut raw)
            .map_err(|e| VhdError::Invalid(format!("block table at {table_offset}: {e}")))?;
        let bat = raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let sectors_per_block = u64::from(block_size) / 512;
        let bitmap_size = sectors_per_block.div_ceil(8).div_ceil(512) * 512;
        Ok(Layout::Dynamic {
            block_size: u64::from(block_size),
            bitmap_size,
            bat,
        })
    }
}

impl ByteSource for VhdSource {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.size - offset).unwrap_or(usize::MAX));
        match &self.layout {
            Layout::Fixed => self.file.read_at(offset, &mut buf[..want]),
            Layout::Dynamic {
                block_size,
                bitmap_size,
                bat,
            } => {
                let block = offset / block_size;
                let within = offset % block_size;
                let n = want.min(usize::try_from(block_size - within).unwrap_or(usize::MAX));
                let entry = usize::try_from(block)
                    .ok()
                    .and_then(|b| bat.get(b))
                    .copied()
                    .unwrap_or(UNALLOCATED);
                if entry == UNALLOCATED {
                    buf[..n].fill(0);
                    return Ok(n);
                }
                let position = u64::from(entry) * 512 + bitmap_size + within;
                self.file.read_exact_at(position, &mut buf[..n])?;
                Ok(n)
            }
        }
    }
}
