//! A small read-only reader of Windows registry hive files (REGF), enough for the
//! registry and Amcache parsers: the base block, hive bins, key (`nk`) and value (`vk`)
//! cells, `lf`/`lh`/`li`/`ri` subkey lists and `db` big data.
//!
//! Every offset read from the file is checked against the file before use; a bad cell is
//! an error for that key or value only, so the rest of the hive is still read. Transaction
//! logs (`.LOG1`/`.LOG2`) are not replayed: a dirty hive (its two sequence numbers differ)
//! is read as it is on disk, and [`Hive::dirty`] says so.

use std::fmt;

/// The hive bins start after the 4 KiB base block; cell offsets are relative to this.
const BINS_START: usize = 4096;
/// `ri` lists point at other lists; Windows nests them one level, allow a little more.
const MAX_LIST_DEPTH: usize = 4;
/// Most subkeys or values read from one key.
const MAX_ITEMS: usize = 1 << 20;
/// Largest value data assembled from `db` segments.
const MAX_VALUE: usize = 16 * 1024 * 1024;
/// Largest segment of a `db` big-data value.
const DB_SEGMENT: usize = 16344;

/// What was wrong in the hive, with the cell offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hive cell {offset:#x}: {message}")]
pub(crate) struct RegfError {
    /// The cell offset (relative to the first hive bin).
    pub offset: u32,
    /// What was wrong.
    pub message: String,
}

fn fail<T>(offset: u32, message: impl Into<String>) -> Result<T, RegfError> {
    Err(RegfError {
        offset,
        message: message.into(),
    })
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

/// A hive file held in memory.
pub(crate) struct Hive<'a> {
    data: &'a [u8],
    root: u32,
    /// The base block's sequence numbers differ: writes were pending in the logs.
    pub dirty: bool,
    /// Format version (major, minor), e.g. (1, 5).
    pub version: (u32, u32),
}

/// A registry key (`nk` cell).
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// The key's own name (not its path).
    pub name: String,
    /// Last-write time as a FILETIME.
    pub last_written: u64,
    offset: u32,
    subkey_count: u32,
    subkey_list: u32,
    value_count: u32,
    value_list: u32,
}

/// A registry value (`vk` cell) with its data.
#[derive(Clone)]
pub(crate) struct Value {
    /// The value's name (`""` for the default value).
    pub name: String,
    /// The registry type (`REG_SZ` = 1, `REG_BINARY` = 3, `REG_DWORD` = 4, …).
    pub kind: u32,
    /// The data bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.display())
    }
}

/// Registry value types this reader gives a meaning to.
pub(crate) const REG_SZ: u32 = 1;
pub(crate) const REG_EXPAND_SZ: u32 = 2;
pub(crate) const REG_DWORD: u32 = 4;
pub(crate) const REG_MULTI_SZ: u32 = 7;
pub(crate) const REG_QWORD: u32 = 11;

/// UTF-16LE up to the first NUL.
pub(crate) fn utf16_z(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

impl Value {
    /// The data as text for string types (up to the first NUL), `None` for other types.
    pub fn as_string(&self) -> Option<String> {
        match self.kind {
            REG_SZ | REG_EXPAND_SZ => Some(utf16_z(&self.data)),
            REG_MULTI_SZ => Some(
                self.data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>()
                    .split(|u| *u == 0)
                    .filter(|s| !s.is_empty())
                    .map(String::from_utf16_lossy)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        }
    }

    /// The data as a number for `REG_DWORD`/`REG_QWORD` (little-endian).
    pub fn as_u64(&self) -> Option<u64> {
        match self.kind {
            REG_DWORD => u32_at(&self.data, 0).map(u64::from),
            REG_QWORD => u64_at(&self.data, 0),
            _ => None,
        }
    }

    /// A readable rendering: text, a number, or hex for anything else.
    pub fn display(&self) -> String {
        if let Some(s) = self.as_string() {
            return s;
        }
        if let Some(n) = self.as_u64() {
            return n.to_string();
        }
        let shown = self.data.len().min(256);
        let mut hex: String = self.data[..shown]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if shown < self.data.len() {
            hex.push('…');
        }
        hex
    }
}

impl<'a> Hive<'a> {
    /// Reads the base block; fails when the file is not a hive at all.
    pub fn parse(data: &'a [u8]) -> Result<Self, RegfError> {
        if data.get(0..4) != Some(b"regf") {
            return fail(0, "not a registry hive (no regf signature)");
        }
        let field = |at| {
            u32_at(data, at).ok_or_else(|| RegfError {
                offset: 0,
                message: "base block truncated".into(),
            })
        };
        let hive = Hive {
            data,
            root: field(36)?,
            dirty: field(4)? != field(8)?,
            version: (field(20)?, field(24)?),
        };
        if data.len() <= BINS_START {
            return fail(0, "no hive bins after the base block");
        }
        Ok(hive)
    }

    /// When the file is shorter than the hive bins its base block declares, says so:
    /// keys and values stored past the end are missing, without another sign.
    pub fn truncation(&self) -> Option<String> {
        let declared = u32_at(self.data, 40)? as usize;
        let present = self.data.len().saturating_sub(BINS_START);
        (present < declared).then(|| {
            format!(
                "the hive is truncated: {present} of the {declared} bytes of hive bins its \
                 base block declares are present; keys and values past the end are missing"
            )
        })
    }

    /// The data of the allocated cell at `offset` (without its size field).
    fn cell(&self, offset: u32) -> Result<&'a [u8], RegfError> {
        let at = BINS_START
            .checked_add(offset as usize)
            .filter(|at| *at < self.data.len())
            .ok_or_else(|| RegfError {
                offset,
                message: "cell offset beyond the end of the hive".into(),
            })?;
        let Some(size) = u32_at(self.data, at).map(|s| s as i32) else {
            return fail(offset, "cell header truncated");
        };
        if size >= 0 {
            return fail(offset, "cell is free (not allocated)");
        }
        let len = size.unsigned_abs() as usize;
        if len < 4 {
            return fail(offset, format!("cell size {len} is too small"));
        }
        match self.data.get(at + 4..at + len) {
            Some(cell) => Ok(cell),
            None => fail(
                offset,
                format!("cell of {len} bytes runs past the hive end"),
            ),
        }
    }

    /// The root key.
    pub fn root(&self) -> Result<Key, RegfError> {
        self.key(self.root)
    }

    fn key(&self, offset: u32) -> Result<Key, RegfError> {
        let cell = self.cell(offset)?;
        if cell.get(0..2) != Some(b"nk") {
            return fail(offset, "not a key (nk) cell");
        }
        let field = |at| {
            u32_at(cell, at).ok_or_else(|| RegfError {
                offset,
                message: "key cell truncated".into(),
            })
        };
        let flags = u16_at(cell, 2).unwrap_or(0);
        let name_len = u16_at(cell, 0x48).unwrap_or(0) as usize;
        let Some(raw_name) = cell.get(0x4c..0x4c + name_len) else {
            return fail(offset, "key name runs past its cell");
        };
        let name = if flags & 0x20 != 0 {
            latin1(raw_name)
        } else {
            utf16_z(raw_name)
        };
        Ok(Key {
            name,
            last_written: u64_at(cell, 4).unwrap_or(0),
            offset,
            subkey_count: field(0x14)?,
            subkey_list: field(0x1c)?,
            value_count: field(0x24)?,
            value_list: field(0x28)?,
        })
    }

    /// The key's subkeys; a bad list or key cell is an `Err` item, the others are read.
    pub fn subkeys(&self, key: &Key) -> Vec<Result<Key, RegfError>> {
        if key.subkey_count == 0 || key.subkey_list == u32::MAX {
            return Vec::new();
        }
        let mut offsets = Vec::new();
        let mut errors = Vec::new();
        self.list_offsets(key.subkey_list, 0, &mut offsets, &mut errors);
        errors
            .into_iter()
            .map(Err)
            .chain(offsets.into_iter().map(|o| self.key(o)))
            .collect()
    }

    fn list_offsets(
        &self,
        list: u32,
        depth: usize,
        out: &mut Vec<u32>,
        errors: &mut Vec<RegfError>,
    ) {
        if depth > MAX_LIST_DEPTH {
            errors.push(RegfError {
                offset: list,
                message: "subkey lists nested too deeply".into(),
            });
            return;
        }
        let cell = match self.cell(list) {
            Ok(cell) => cell,
            Err(e) => return errors.push(e),
        };
        let count = u16_at(cell, 2).unwrap_or(0) as usize;
        let (stride, nested) = match cell.get(0..2) {
            Some(b"lf" | b"lh") => (8, false),
            Some(b"li") => (4, false),
            Some(b"ri") => (4, true),
            _ => {
                return errors.push(RegfError {
                    offset: list,
                    message: "not a subkey list (lf/lh/li/ri) cell".into(),
                });
            }
        };
        for i in 0..count {
            if out.len() >= MAX_ITEMS {
                return;
            }
            let Some(offset) = u32_at(cell, 4 + i * stride) else {
                return errors.push(RegfError {
                    offset: list,
                    message: format!("subkey list says {count} entries but holds {i}"),
                });
            };
            if nested {
                self.list_offsets(offset, depth + 1, out, errors);
            } else {
                out.push(offset);
            }
        }
    }

    /// The subkey with this name (case-insensitive, as Windows compares them).
    pub fn subkey(&self, key: &Key, name: &str) -> Option<Key> {
        self.subkeys(key)
            .into_iter()
            .flatten()
            .find(|k| k.name.eq_ignore_ascii_case(name))
    }

    /// The key at a `\`-separated path below `key`.
    pub fn open(&self, key: &Key, path: &str) -> Option<Key> {
        path.split('\\')
            .filter(|p| !p.is_empty())
            .try_fold(key.clone(), |k, part| self.subkey(&k, part))
    }

    /// The key's values; a bad value cell is an `Err` item, the others are read.
    pub fn values(&self, key: &Key) -> Vec<Result<Value, RegfError>> {
        if key.value_count == 0 || key.value_list == u32::MAX {
            return Vec::new();
        }
        let list = match self.cell(key.value_list) {
            Ok(list) => list,
            Err(e) => return vec![Err(e)],
        };
        let count = (key.value_count as usize).min(MAX_ITEMS);
        let mut values = Vec::new();
        for i in 0..count {
            match u32_at(list, i * 4) {
                Some(offset) => values.push(self.value_at(offset)),
                None => {
                    values.push(fail(
                        key.offset,
                        format!("value list says {count} values but holds {i}"),
                    ));
                    break;
                }
            }
        }
        values
    }

    /// The value with this name (case-insensitive).
    pub fn value(&self, key: &Key, name: &str) -> Option<Value> {
        self.values(key)
            .into_iter()
            .flatten()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    fn value_at(&self, offset: u32) -> Result<Value, RegfError> {
        let cell = self.cell(offset)?;
        if cell.get(0..2) != Some(b"vk") {
            return fail(offset, "not a value (vk) cell");
        }
        let name_len = u16_at(cell, 2).unwrap_or(0) as usize;
        let size = u32_at(cell, 4).unwrap_or(0);
        let data_offset = u32_at(cell, 8).unwrap_or(0);
        let kind = u32_at(cell, 12).unwrap_or(0);
        let flags = u16_at(cell, 16).unwrap_or(0);
        let Some(raw_name) = cell.get(20..20 + name_len) else {
            return fail(offset, "value name runs past its cell");
        };
        let name = if flags & 1 != 0 {
            latin1(raw_name)
        } else {
            utf16_z(raw_name)
        };
        let len = (size & 0x7fff_ffff) as usize;
        let data = if size & 0x8000_0000 != 0 {
            // Resident: up to four bytes stored in the data-offset field itself.
            data_offset.to_le_bytes()[..len.min(4)].to_vec()
        } else if len == 0 {
            Vec::new()
        } else {
            self.value_data(data_offset, len)?
        };
        Ok(Value { name, kind, data })
    }

    fn value_data(&self, offset: u32, len: usize) -> Result<Vec<u8>, RegfError> {
        if len > MAX_VALUE {
            return fail(
                offset,
                format!("value of {len} bytes is larger than allowed"),
            );
        }
        let cell = self.cell(offset)?;
        let big = len > DB_SEGMENT && self.version >= (1, 4) && cell.get(0..2) == Some(b"db");
        if !big {
            return match cell.get(..len) {
                Some(data) => Ok(data.to_vec()),
                None => fail(
                    offset,
                    format!("value data of {len} bytes runs past its cell"),
                ),
            };
        }
        let segments = u16_at(cell, 2).unwrap_or(0) as usize;
        let list = self.cell(u32_at(cell, 4).unwrap_or(u32::MAX))?;
        let mut data = Vec::with_capacity(len);
        for i in 0..segments {
            let Some(segment) = u32_at(list, i * 4) else {
                return fail(offset, "big-data segment list truncated");
            };
            let chunk = self.cell(segment)?;
            let want = (len - data.len()).min(DB_SEGMENT).min(chunk.len());
            data.extend_from_slice(&chunk[..want]);
            if data.len() >= len {
                break;
            }
        }
        if data.len() < len {
            return fail(
                offset,
                format!("big data holds {} of {len} bytes", data.len()),
            );
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_a_hive() {
        assert!(Hive::parse(b"").is_err());
        assert!(Hive::parse(b"regf").is_err());
        let mut block = vec![0u8; 4096];
        block[..4].copy_from_slice(b"regf");
        assert!(Hive::parse(&block).is_err(), "no bins");
    }

    #[test]
    fn cells_outside_the_file_are_errors() {
        let mut data = vec![0u8; 8192];
        data[..4].copy_from_slice(b"regf");
        data[36..40].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let hive = Hive::parse(&data).unwrap();
        assert!(hive.root().is_err());
        // A free cell (positive size) is not a key either.
        data[36..40].copy_from_slice(&0x20u32.to_le_bytes());
        data[4096 + 0x20..4096 + 0x24].copy_from_slice(&0x60i32.to_le_bytes());
        assert!(Hive::parse(&data).unwrap().root().is_err());
    }

    #[test]
    fn string_values_stop_at_the_first_nul() {
        let v = Value {
            name: "x".into(),
            kind: REG_SZ,
            data: b"a\0b\0\0\0z\0".to_vec(),
        };
        assert_eq!(v.as_string().as_deref(), Some("ab"));
        let v = Value {
            name: "x".into(),
            kind: REG_MULTI_SZ,
            data: b"a\0\0\0b\0\0\0\0\0".to_vec(),
        };
        assert_eq!(v.as_string().as_deref(), Some("a\nb"));
    }
}
