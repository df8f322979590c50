//! Windows prefetch files (`Windows\Prefetch\*.pf`): one per program, written by the
//! cache manager when the program runs. Versions 17 (XP/2003), 23 (Vista/7), 26 (8.1)
//! and 30/31 (10/11, compressed in a `MAM` container with LZXPRESS Huffman, [MS-XCA]
//! §2.2.4, decompressed by the `xpress-huffman` crate with a bounded output size).
//!
//! Layout (libyal's "Windows Prefetch File (PF) format"): the header holds the version,
//! `SCCA`, the executable's name and the prefetch hash; the file information block the
//! offsets of the file-name strings and the volumes, the last run time(s) (1 before
//! version 26, then 8) and the run count. Every last run time becomes a `run` event with
//! `file_name`, `file_path` (the executable's entry among the referenced files),
//! `prefetch_hash`, `run_count`, `run_index` (1 = most recent), the first volume's
//! `volume_path`, `volume_serial` and `volume_created`, and the referenced files
//! (`referenced_files`, one per line, bounded). A file with no run time gives one
//! untimed event.

use crate::{ArtifactContext, ArtifactError, ArtifactParser};
use riposte_model::{Action, Event, EventOrigin};
use std::io::{BufRead, Read};

const PARSER: &str = "prefetch";
/// Prefetch files are tens of KB; the decompressed payload of a real one under 1 MiB.
const MAX_FILE: u64 = 16 * 1024 * 1024;
const MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;
/// Referenced files kept in the `referenced_files` attribute.
const MAX_FILES_KEPT: usize = 512;
const MAX_FILES_BYTES: usize = 64 * 1024;

/// Parser for Windows prefetch files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prefetch;

impl ArtifactParser for Prefetch {
    fn name(&self) -> &'static str {
        PARSER
    }

    fn claims(&self, original_path: &str) -> bool {
        let slashed = original_path.replace('\\', "/").to_ascii_lowercase();
        slashed.ends_with(".pf") && slashed.contains("/windows/prefetch/")
    }

    fn parse<'r>(
        &self,
        ctx: &ArtifactContext,
        mut input: Box<dyn BufRead + Send + 'r>,
    ) -> Box<dyn Iterator<Item = Result<Event, ArtifactError>> + Send + 'r> {
        let mut bytes = Vec::new();
        let results = match (&mut input).take(MAX_FILE).read_to_end(&mut bytes) {
            Ok(_) => match read_prefetch(&bytes) {
                Ok(pf) => events(ctx, &pf),
                Err(message) => vec![Err(ArtifactError::Record {
                    path: ctx.original_path.clone(),
                    record: 1,
                    message,
                })],
            },
            Err(source) => vec![Err(ArtifactError::Read {
                path: ctx.original_path.clone(),
                record: 0,
                source,
            })],
        };
        Box::new(results.into_iter())
    }
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

/// A volume the program's files were on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Volume {
    pub device_path: String,
    pub serial: u32,
    pub created: u64,
}

/// What a prefetch file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrefetchFile {
    pub version: u32,
    pub executable: String,
    pub hash: u32,
    pub run_count: u32,
    /// Last run times (FILETIME), most recent first, unset ones dropped.
    pub last_runs: Vec<u64>,
    pub files: Vec<String>,
    pub volumes: Vec<Volume>,
    /// Was the file MAM-compressed?
    pub compressed: bool,
}

/// Undoes the Windows 10 `MAM` compression when present.
fn decompress(bytes: &[u8]) -> Result<(Vec<u8>, bool), String> {
    if bytes.get(0..3) != Some(b"MAM") {
        return Ok((bytes.to_vec(), false));
    }
    let kind = bytes.get(3).copied().unwrap_or(0);
    if kind & 0x0f != 4 {
        return Err(format!(
            "MAM container with unsupported compression {kind:#x}"
        ));
    }
    let size = u32_at(bytes, 4).ok_or("MAM header truncated")? as usize;
    if size > MAX_DECOMPRESSED {
        return Err(format!(
            "MAM payload claims {size} bytes, more than allowed"
        ));
    }
    // With the high bit set a CRC32 follows the size.
    let start = if kind & 0x80 != 0 { 12 } else { 8 };
    let payload = bytes.get(start..).ok_or("MAM header truncated")?;
    let plain = xpress_huffman::decompress(payload, size)
        .map_err(|e| format!("MAM payload does not decompress: {e:?}"))?;
    if plain.len() != size {
        return Err(format!(
            "MAM payload decompressed to {} of {size} bytes",
            plain.len()
        ));
    }
    Ok((plain, true))
}

/// UTF-16LE strings separated by NULs.
fn utf16_strings(b: &[u8]) -> Vec<String> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    units
        .split(|u| *u == 0)
        .filter(|s| !s.is_empty())
        .map(String::from_utf16_lossy)
        .collect()
}

/// Reads a prefetch file (compressed or not).
pub(crate) fn read_prefetch(bytes: &[u8]) -> Result<PrefetchFile, String> {
    let (data, compressed) = decompress(bytes)?;
    let data = data.as_slice();
    if data.get(4..8) != Some(b"SCCA") {
        return Err("not a prefetch file (no SCCA signature)".into());
    }
    let version = u32_at(data, 0).ok_or("header truncated")?;
    let field = |at: usize| u32_at(data, at).ok_or(format!("file information truncated at {at}"));
    let name = data.get(16..76).ok_or("header truncated")?;
    let executable = utf16_strings(name).into_iter().next().unwrap_or_default();
    let hash = field(76)?;
    let metrics_offset = field(84)?;
    let (times_at, time_count, run_count_at, volume_entry) = match version {
        17 => (120, 1, 144, 40),
        23 => (128, 1, 152, 104),
        26 => (128, 8, 208, 104),
        30 | 31 if metrics_offset == 0x128 => (128, 8, 200, 96),
        30 | 31 => (128, 8, 208, 96),
        other => return Err(format!("unsupported prefetch version {other}")),
    };
    let last_runs = (0..time_count)
        .filter_map(|i| u64_at(data, times_at + 8 * i))
        .filter(|t| *t != 0)
        .collect();
    let run_count = field(run_count_at)?;
    let (names_at, names_size) = (field(100)? as usize, field(104)? as usize);
    let files = data
        .get(names_at..names_at.saturating_add(names_size))
        .map(utf16_strings)
        .ok_or("file name strings outside the file")?;
    let (volumes_at, volume_count) = (field(108)? as usize, field(112)? as usize);
    let mut volumes = Vec::new();
    for i in 0..volume_count.min(64) {
        let at = volumes_at.saturating_add(i * volume_entry);
        let (Some(path_offset), Some(path_chars), Some(created), Some(serial)) = (
            u32_at(data, at),
            u32_at(data, at + 4),
            u64_at(data, at + 8),
            u32_at(data, at + 16),
        ) else {
            return Err(format!(
                "volume {} of {volume_count} outside the file",
                i + 1
            ));
        };
        let start = volumes_at.saturating_add(path_offset as usize);
        let path = data
            .get(start..start.saturating_add(2 * path_chars as usize))
            .map(utf16_strings)
            .and_then(|s| s.into_iter().next())
            .unwrap_or_default();
        volumes.push(Volume {
            device_path: path,
            serial,
            created,
        });
    }
    Ok(PrefetchFile {
        version,
        executable,
        hash,
        run_count,
        last_runs,
        files,
        volumes,
        compressed,
    })
}

fn iso(t: u64) -> String {
    crate::mft::filetime(t)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default()
}

fn events(ctx: &ArtifactContext, pf: &PrefetchFile) -> Vec<Result<Event, ArtifactError>> {
    let upper = format!("\\{}", pf.executable.to_uppercase());
    let file_path = pf
        .files
        .iter()
        .find(|f| f.to_uppercase().ends_with(&upper))
        .cloned()
        .unwrap_or_default();
    let mut referenced = String::new();
    for (i, f) in pf.files.iter().enumerate() {
        if i >= MAX_FILES_KEPT || referenced.len() + f.len() > MAX_FILES_BYTES {
            referenced.push_str(&format!("… {} more", pf.files.len() - i));
            break;
        }
        referenced.push_str(f);
        referenced.push('\n');
    }
    let referenced = referenced.trim_end().to_string();
    let hash = format!("{:08X}", pf.hash);
    let volume = pf.volumes.first();
    let raw = serde_json::json!({
        "version": pf.version, "executable": pf.executable, "hash": hash,
        "run_count": pf.run_count, "last_runs": pf.last_runs.iter().map(|t| iso(*t)).collect::<Vec<_>>(),
        "volumes": pf.volumes.iter().map(|v| serde_json::json!({
            "path": v.device_path, "serial": format!("{:08X}", v.serial), "created": iso(v.created),
        })).collect::<Vec<_>>(),
        "files": pf.files.len(), "compressed": pf.compressed,
    })
    .to_string();
    let times: Vec<Option<u64>> = if pf.last_runs.is_empty() {
        vec![None]
    } else {
        pf.last_runs.iter().copied().map(Some).collect()
    };
    let mut results = Vec::new();
    for (i, t) in times.into_iter().enumerate() {
        let time = t.and_then(crate::mft::filetime);
        if let (Some(t), None) = (t, time) {
            results.push(Err(ArtifactError::Record {
                path: ctx.original_path.clone(),
                record: i as u64 + 1,
                message: format!("last run time {t:#x} is out of range"),
            }));
            continue;
        }
        let origin = EventOrigin {
            parser: PARSER.into(),
            path: ctx.original_path.clone(),
            record: Some(i as u64 + 1),
        };
        let message = format!(
            "prefetch: {} ran (run count {}, hash {hash})",
            pf.executable, pf.run_count
        );
        let mut event = Event::new(time, ctx.host.as_str(), Action::ProcessRun, message, origin)
            .with("file_name", pf.executable.as_str())
            .with("prefetch_hash", hash.as_str())
            .with("prefetch_version", pf.version.to_string())
            .with("run_count", pf.run_count.to_string())
            .with("referenced_file_count", pf.files.len().to_string())
            .with_raw(raw.as_str());
        if t.is_some() {
            event = event.with("run_index", (i + 1).to_string());
        }
        let optional = [
            ("file_path", file_path.clone()),
            ("referenced_files", referenced.clone()),
            (
                "volume_path",
                volume.map(|v| v.device_path.clone()).unwrap_or_default(),
            ),
            (
                "volume_serial",
                volume
                    .map(|v| format!("{:08X}", v.serial))
                    .unwrap_or_default(),
            ),
            (
                "volume_created",
                volume.map(|v| iso(v.created)).unwrap_or_default(),
            ),
        ];
        for (key, value) in optional {
            if !value.is_empty() {
                event = event.with(key, value);
            }
        }
        results.push(Ok(event));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_pf_files_in_the_prefetch_folder() {
        assert!(Prefetch.claims("C:\\Windows\\Prefetch\\CMD.EXE-4A81B364.pf"));
        assert!(Prefetch.claims("/mnt/c/windows/prefetch/cmd.exe-4a81b364.PF"));
        assert!(!Prefetch.claims("/home/a/x.pf"));
        assert!(!Prefetch.claims("C:\\Windows\\Prefetch\\Layout.ini"));
    }

    #[test]
    fn refuses_what_is_not_prefetch() {
        assert!(read_prefetch(b"").is_err());
        assert!(read_prefetch(b"MAM\x04\xff\xff\xff\xff").is_err());
        assert!(read_prefetch(b"MAM\x02\x10\x00\x00\x00abcd").is_err());
        let mut v99 = vec![0u8; 300];
        v99[0] = 99;
        v99[4..8].copy_from_slice(b"SCCA");
        assert!(read_prefetch(&v99).unwrap_err().contains("version 99"));
    }
}
