//! ShimCache (AppCompatCache): the executables Windows checked for compatibility shims,
//! most recent first, in `SYSTEM\ControlSet00N\Control\Session Manager\AppCompatCache`.
//! Formats (after Mandiant's ShimCacheParser and libyal's documentation):
//!
//! - Windows 7 / 2008 R2: magic `0xBADC0FEE`, entry count at 4, entries from 0x80 of 48
//!   bytes (x64) or 32 bytes (x86): path length, path offset, FILETIME, insert flags.
//! - Windows 8.0 (`00ts` entries) and 8.1 (`10ts` entries) after a 0x80-byte header:
//!   path, package name, insert flags, shim flags, FILETIME, data.
//! - Windows 10 / 11: header size (0x30 or 0x34) at 0, `10ts` entries: path, FILETIME,
//!   data. No insert flag.
//!
//! The insert flag's bit 2 (`0x2`) is set when the file was executed (Windows 7/8 only).

use super::Emitter;
use super::regf::Hive;
use super::services::current_control_set;
use riposte_model::Action;

/// Most entries read from one cache (Windows keeps at most 1024).
const MAX_ENTRIES: usize = 4096;
const WIN7_MAGIC: u32 = 0xBADC_0FEE;
const EXECUTED: u32 = 0x2;

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The file's path as Windows recorded it.
    pub path: String,
    /// The file's last modification time (FILETIME), 0 when unset.
    pub modified: u64,
    /// Whether the insert flag marks it executed (Windows 7/8); `None` when the format has none.
    pub executed: Option<bool>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Which layout a cache uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Windows7x64,
    Windows7x86,
    Windows8,
    Windows81,
    Windows10,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Windows7x64 => "windows7_x64",
            Format::Windows7x86 => "windows7_x86",
            Format::Windows8 => "windows8",
            Format::Windows81 => "windows8.1",
            Format::Windows10 => "windows10",
        }
    }
}

/// Decodes a cache: its format and entries, or why it cannot. A damaged entry ends the
/// list; the entries before it are kept and the error is returned beside them.
pub(crate) fn decode(data: &[u8]) -> Result<(Format, Vec<Entry>, Option<String>), String> {
    let first = u32_at(data, 0).ok_or("AppCompatCache value is too short")?;
    match first {
        WIN7_MAGIC => Ok(decode_win7(data)),
        0x80 => match data.get(0x80..0x84) {
            Some(b"00ts") => Ok(decode_ts(data, 0x80, Format::Windows8)),
            Some(b"10ts") => Ok(decode_ts(data, 0x80, Format::Windows81)),
            _ => Err("Windows 8 AppCompatCache without a 00ts/10ts entry".into()),
        },
        0x30 | 0x34 if data.get(first as usize..first as usize + 4) == Some(b"10ts") => {
            Ok(decode_ts(data, first as usize, Format::Windows10))
        }
        // An empty Windows 10 cache is just its header.
        0x30 | 0x34 if data.len() <= first as usize => Ok((Format::Windows10, Vec::new(), None)),
        0xBADC_0FFE => Err("Windows Vista/2003 AppCompatCache is not supported".into()),
        0xDEAD_BEEF => Err("Windows XP AppCompatCache is not supported".into()),
        other => Err(format!("unknown AppCompatCache format (header {other:#x})")),
    }
}

fn decode_win7(data: &[u8]) -> (Format, Vec<Entry>, Option<String>) {
    let count = u32_at(data, 4).unwrap_or(0) as usize;
    // In x86 entries the path offset follows the lengths; in x64 four zero bytes do.
    let x64 = u32_at(data, 0x80 + 4) == Some(0);
    let (format, size) = if x64 {
        (Format::Windows7x64, 48)
    } else {
        (Format::Windows7x86, 32)
    };
    let mut entries = Vec::new();
    for i in 0..count.min(MAX_ENTRIES) {
        let at = 0x80 + i * size;
        let fields = if x64 {
            (
                u16_at(data, at),
                u64_at(data, at + 8),
                u64_at(data, at + 16),
                u32_at(data, at + 24),
            )
        } else {
            (
                u16_at(data, at),
                u32_at(data, at + 4).map(u64::from),
                u64_at(data, at + 8),
                u32_at(data, at + 16),
            )
        };
        let (Some(len), Some(offset), Some(modified), Some(flags)) = fields else {
            return (
                format,
                entries,
                Some(format!("entry {i} of {count} is truncated")),
            );
        };
        let path = usize::try_from(offset)
            .ok()
            .and_then(|o| data.get(o..o.checked_add(len as usize)?));
        let Some(path) = path else {
            return (
                format,
                entries,
                Some(format!("entry {i}: path outside the value")),
            );
        };
        entries.push(Entry {
            path: utf16(path),
            modified,
            executed: Some(flags & EXECUTED != 0),
        });
    }
    (format, entries, None)
}

fn decode_ts(data: &[u8], start: usize, format: Format) -> (Format, Vec<Entry>, Option<String>) {
    let mut entries = Vec::new();
    let mut at = start;
    while at < data.len() && entries.len() < MAX_ENTRIES {
        match decode_ts_entry(data, at, format) {
            Ok((entry, next)) => {
                entries.push(entry);
                at = next;
            }
            Err(e) => return (format, entries, Some(format!("entry at {at:#x}: {e}"))),
        }
    }
    (format, entries, None)
}

fn decode_ts_entry(data: &[u8], at: usize, format: Format) -> Result<(Entry, usize), String> {
    let signature = data.get(at..at + 4).ok_or("truncated")?;
    if signature != b"00ts" && signature != b"10ts" {
        return Err("no 00ts/10ts signature".into());
    }
    let size = u32_at(data, at + 8).ok_or("truncated")? as usize;
    let next = at
        .checked_add(12)
        .and_then(|n| n.checked_add(size))
        .filter(|n| *n <= data.len())
        .ok_or("entry runs past the value")?;
    let body = &data[at + 12..next];
    let path_len = u16_at(body, 0).ok_or("truncated")? as usize;
    let path = body
        .get(2..2 + path_len)
        .ok_or("path runs past the entry")?;
    let mut p = 2 + path_len;
    let mut executed = None;
    if matches!(format, Format::Windows8 | Format::Windows81) {
        // Both 8.0 and 8.1 entries name the (possibly empty) app package after the path.
        let package = u16_at(body, p).ok_or("truncated")? as usize;
        p += 2 + package;
        let flags = u32_at(body, p).ok_or("truncated")?;
        executed = Some(flags & EXECUTED != 0);
        p += 8; // insert flags, shim flags
    }
    let modified = u64_at(body, p).ok_or("truncated")?;
    Ok((
        Entry {
            path: utf16(path),
            modified,
            executed,
        },
        next,
    ))
}

/// One `exists` (file) event per entry of the current control set's cache.
pub(super) fn entries(hive: &Hive, out: &mut Emitter) {
    let Some(root) = out.keep(vec![hive.root()]).pop() else {
        return;
    };
    let Some((set_name, set)) = current_control_set(hive, &root) else {
        return;
    };
    let relative = "Control\\Session Manager\\AppCompatCache";
    let Some(key) = hive.open(&set, relative) else {
        return;
    };
    let Some(value) = hive.value(&key, "AppCompatCache") else {
        return;
    };
    let key_name = format!("HKLM\\SYSTEM\\{set_name}\\{relative}");
    let (format, list, damage) = match decode(&value.data) {
        Ok(decoded) => decoded,
        Err(e) => return out.error(format!("{key_name}: {e}")),
    };
    for (position, entry) in list.iter().enumerate() {
        let file_name = entry.path.rsplit(['\\', '/']).next().unwrap_or(&entry.path);
        let modified = crate::mft::filetime(entry.modified)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        let message = format!(
            "ShimCache #{position}: {}{}",
            entry.path,
            match entry.executed {
                Some(true) => " (executed)",
                _ => "",
            }
        );
        let raw = serde_json::json!({
            "position": position, "path": entry.path, "modified": entry.modified,
            "executed": entry.executed, "format": format.as_str(),
        })
        .to_string();
        let mut attributes = vec![
            ("file_path", entry.path.clone()),
            ("file_name", file_name.to_string()),
            ("key_name", key_name.clone()),
            ("shimcache_position", position.to_string()),
            ("shimcache_format", format.as_str().to_string()),
            ("file_modified", modified.unwrap_or_default()),
        ];
        if let Some(executed) = entry.executed {
            attributes.push(("executed", executed.to_string()));
        }
        let own = (entry.modified != 0).then_some((entry.modified, "file_modified"));
        out.event(
            Action::FileExists,
            own,
            key.last_written,
            message,
            attributes,
            raw,
        );
    }
    if let Some(damage) = damage {
        out.error(format!("{key_name}: {damage}"));
    }
}
