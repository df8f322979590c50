//! The volumes of a disk: partitions from an MBR (primary and logical, through the
//! chain of extended boot records) or a GPT, or the whole disk when it holds a bare
//! filesystem. Parsed here directly, with every offset and count bounded, so a hostile
//! table can neither loop nor point a volume outside the disk.

use crate::fs::{self, FsKind};
use crate::source::{SharedSource, Slice};
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::sync::Arc;

/// Most logical partitions followed in an extended partition's chain.
const MAX_LOGICAL: usize = 128;
/// Most GPT entries read.
const MAX_GPT_ENTRIES: u32 = 4096;

/// How a disk is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionScheme {
    /// A DOS/MBR partition table.
    Mbr,
    /// A GUID partition table.
    Gpt,
    /// No partition table: the disk is one filesystem.
    None,
}

impl fmt::Display for PartitionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartitionScheme::Mbr => "mbr",
            PartitionScheme::Gpt => "gpt",
            PartitionScheme::None => "none",
        })
    }
}

/// One volume of a disk.
#[derive(Clone, Serialize)]
pub struct Volume {
    /// Its number: the partition number (MBR primaries 1–4, logicals from 5, GPT entries
    /// from 1), or 1 for a bare filesystem.
    pub index: usize,
    /// The table it comes from.
    pub scheme: PartitionScheme,
    /// Byte offset on the disk.
    pub offset: u64,
    /// Length in bytes (clipped to the disk).
    pub size: u64,
    /// The partition type as the table names it (`0x83 Linux`, `Microsoft basic data`…).
    pub description: String,
    /// The filesystem found on it, if any.
    pub filesystem: Option<FsKind>,
    /// The volume's bytes.
    #[serde(skip)]
    pub source: SharedSource,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("index", &self.index)
            .field("scheme", &self.scheme)
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("description", &self.description)
            .field("filesystem", &self.filesystem)
            .finish()
    }
}

/// Why a disk's volumes could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Reading the disk failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The partition table is inconsistent.
    #[error("invalid {scheme} partition table: {problem}")]
    Invalid {
        /// Which table.
        scheme: PartitionScheme,
        /// What is wrong.
        problem: String,
    },
}

/// The volumes of `disk`, in partition order. A disk with neither a filesystem at its
/// start nor a partition table has no volumes.
pub fn volumes(disk: &SharedSource) -> Result<Vec<Volume>, VolumeError> {
    if let Some(kind) = fs::detect(disk) {
        return Ok(vec![Volume {
            index: 1,
            scheme: PartitionScheme::None,
            offset: 0,
            size: disk.len(),
            description: "whole disk".into(),
            filesystem: Some(kind),
            source: disk.clone(),
        }]);
    }
    let mut sector = [0u8; 512];
    if disk.len() < 512 {
        return Ok(Vec::new());
    }
    disk.read_exact_at(0, &mut sector)?;
    if sector[510..512] != [0x55, 0xAA] {
        return Ok(Vec::new());
    }
    let entries = mbr_entries(&sector);
    if entries.iter().any(|e| e.kind == 0xEE) {
        for sector_size in [512u64, 4096] {
            if let Some(volumes) = gpt(disk, sector_size)? {
                return Ok(volumes);
            }
        }
        return Err(VolumeError::Invalid {
            scheme: PartitionScheme::Gpt,
            problem: "protective MBR but no \"EFI PART\" header at LBA 1".into(),
        });
    }
    mbr(disk, &entries)
}

/// A 16-byte MBR partition entry.
#[derive(Debug, Clone, Copy)]
struct MbrEntry {
    kind: u8,
    start: u32,
    sectors: u32,
}

fn mbr_entries(sector: &[u8; 512]) -> [MbrEntry; 4] {
    std::array::from_fn(|i| {
        let e = &sector[446 + i * 16..446 + (i + 1) * 16];
        MbrEntry {
            kind: e[4],
            start: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
            sectors: u32::from_le_bytes([e[12], e[13], e[14], e[15]]),
        }
    })
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

fn volume(
    disk: &SharedSource,
    index: usize,
    scheme: PartitionScheme,
    offset: u64,
    size: u64,
    description: String,
) -> Volume {
    let source: SharedSource = Arc::new(Slice::new(disk.clone(), offset, size));
    Volume {
        index,
        scheme,
        offset,
        size: source.len(),
        description,
        filesystem: fs::detect(&source),
        source,
    }
}

fn mbr(disk: &SharedSource, entries: &[MbrEntry; 4]) -> Result<Vec<Volume>, VolumeError> {
    let mut volumes = Vec::new();
    let mut extended = None;
    for (i, entry) in entries.iter().enumerate() {
        if entry.kind == 0 || entry.sectors == 0 {
            continue;
        }
        if is_extended(entry.kind) {
            extended.get_or_insert(*entry);
            continue;
        }
        volumes.push(volume(
            disk,
            i + 1,
            PartitionScheme::Mbr,
            u64::from(entry.start) * 512,
            u64::from(entry.sectors) * 512,
            mbr_type_name(entry.kind),
        ));
    }
    let Some(extended) = extended else {
        return Ok(volumes);
    };
    // Each EBR holds one logical partition (relative to the EBR) and a link to the next
    // EBR (relative to the extended partition's start).
    let base = u64::from(extended.start);
    let mut next = 0u64;
    let mut seen = HashSet::new();
    for number in 5..5 + MAX_LOGICAL {
        let ebr_lba = base + next;
        if !seen.insert(ebr_lba) {
            return Err(VolumeError::Invalid {
                scheme: PartitionScheme::Mbr,
                problem: format!("extended boot records loop back to sector {ebr_lba}"),
            });
        }
        let mut sector = [0u8; 512];
        if disk.read_exact_at(ebr_lba * 512, &mut sector).is_err() || sector[510..] != [0x55, 0xAA]
        {
            if next == 0 {
                break; // An empty extended partition need not hold an EBR.
            }
            return Err(VolumeError::Invalid {
                scheme: PartitionScheme::Mbr,
                problem: format!("no extended boot record at sector {ebr_lba}"),
            });
        }
        let [logical, link, ..] = mbr_entries(&sector);
        if logical.kind != 0 && logical.sectors != 0 {
            volumes.push(volume(
                disk,
                number,
                PartitionScheme::Mbr,
                (ebr_lba + u64::from(logical.start)) * 512,
                u64::from(logical.sectors) * 512,
                mbr_type_name(logical.kind),
            ));
        }
        if link.kind == 0 || link.start == 0 {
            return Ok(volumes);
        }
        next = u64::from(link.start);
    }
    Ok(volumes)
}

fn gpt(disk: &SharedSource, sector_size: u64) -> Result<Option<Vec<Volume>>, VolumeError> {
    let mut header = [0u8; 92];
    if disk.read_exact_at(sector_size, &mut header).is_err() || !header.starts_with(b"EFI PART") {
        return Ok(None);
    }
    let le_u32 = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let le_u64 = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let invalid = |problem: String| VolumeError::Invalid {
        scheme: PartitionScheme::Gpt,
        problem,
    };
    let entries_lba = le_u64(72);
    let count = le_u32(80);
    let entry_size = le_u32(84);
    if count > MAX_GPT_ENTRIES {
        return Err(invalid(format!(
            "{count} entries (at most {MAX_GPT_ENTRIES})"
        )));
    }
    if !(128..=4096).contains(&entry_size) || entry_size % 8 != 0 {
        return Err(invalid(format!("entry size {entry_size}")));
    }
    let table_offset = entries_lba
        .checked_mul(sector_size)
        .filter(|o| *o < disk.len())
        .ok_or_else(|| invalid(format!("entry table at LBA {entries_lba} is past the disk")))?;
    let mut table = vec![0u8; count as usize * entry_size as usize];
    disk.read_exact_at(table_offset, &mut table)
        .map_err(|e| invalid(format!("entry table: {e}")))?;
    let mut volumes = Vec::new();
    for (i, entry) in table.chunks_exact(entry_size as usize).enumerate() {
        let type_guid = &entry[0..16];
        if type_guid.iter().all(|b| *b == 0) {
            continue;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&entry[32..40]);
        let first = u64::from_le_bytes(b);
        b.copy_from_slice(&entry[40..48]);
        let last = u64::from_le_bytes(b);
        if last < first {
            return Err(invalid(format!(
                "entry {}: last LBA {last} before first {first}",
                i + 1
            )));
        }
        let name: Vec<u16> = entry[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|c| *c != 0)
            .collect();
        let name = String::from_utf16_lossy(&name);
        let kind = gpt_type_name(type_guid);
        let description = if name.is_empty() {
            kind
        } else {
            format!("{kind} \"{name}\"")
        };
        volumes.push(volume(
            disk,
            i + 1,
            PartitionScheme::Gpt,
            first.saturating_mul(sector_size),
            (last - first).saturating_add(1).saturating_mul(sector_size),
            description,
        ));
    }
    Ok(Some(volumes))
}

fn mbr_type_name(kind: u8) -> String {
    let name = match kind {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0E => "FAT16",
        0x07 => "NTFS/exFAT",
        0x0B | 0x0C => "FAT32",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x8E => "Linux LVM",
        0xEF => "EFI system",
        0xFD => "Linux RAID",
        _ => "unknown",
    };
    format!("0x{kind:02x} {name}")
}

/// The GUID in its usual text form (the first three fields are little-endian on disk).
fn guid_text(g: &[u8]) -> String {
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        g[3],
        g[2],
        g[1],
        g[0],
        g[5],
        g[4],
        g[7],
        g[6],
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

fn gpt_type_name(guid: &[u8]) -> String {
    let text = guid_text(guid);
    let name = match text.as_str() {
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        _ => return text,
    };
    name.to_string()
}
