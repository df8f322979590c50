//! Prefetch files of every format version, plain and compressed, against `sccainfo`.
//!
//! The real samples in `testdata/prefetch` are Windows 10 files whose payload fits one
//! 64 KiB compression block. The other versions (17 for XP, 23 for Vista/7, 26 for 8.1,
//! 30 uncompressed) and MAM payloads spanning several blocks are laid out here from
//! libyal's "Windows Prefetch File (PF) format" and [MS-XCA] §2.2 (LZXPRESS Huffman), and
//! every expected value is what `sccainfo` (libscca, apt package libscca-utils) reads
//! from the same bytes: if our layout were wrong, sccainfo would refuse or disagree.

use chrono::{DateTime, NaiveDateTime, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, open_artifact, parser_for};
use riposte_model::{Action, Event};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fails loudly when a third-party tool is missing, naming what provides it.
fn tool(name: &str, provider: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` not found: install {provider} (scripts/test.sh does)");
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn parse(original_path: &str, bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
    let parser =
        parser_for(original_path).unwrap_or_else(|| panic!("no parser claims {original_path}"));
    let ctx = ArtifactContext {
        host: "ws01".into(),
        original_path: original_path.into(),
        modified: None,
    };
    parser
        .parse(&ctx, open_artifact(std::io::Cursor::new(bytes)).unwrap())
        .collect()
}

fn events(results: &[Result<Event, ArtifactError>]) -> Vec<&Event> {
    results.iter().filter_map(|r| r.as_ref().ok()).collect()
}

fn filetime(t: DateTime<Utc>) -> u64 {
    ((t.timestamp() + 11_644_473_600) * 10_000_000) as u64
        + u64::from(t.timestamp_subsec_nanos() / 100)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// What a test prefetch file holds.
struct Pf<'a> {
    version: u32,
    executable: &'a str,
    hash: u32,
    run_count: u32,
    last_runs: Vec<u64>,
    volume: &'a str,
    serial: u32,
    volume_created: u64,
    files: Vec<String>,
}

/// Lays out an uncompressed prefetch file (libyal's "Windows Prefetch File (PF) format":
/// header, file information, file metrics, file name strings, volume information).
fn prefetch(pf: &Pf<'_>) -> Vec<u8> {
    let info_size = match pf.version {
        17 => 68,
        23 => 156,
        26 => 224,
        _ => 0x130 - 84,
    };
    let metrics_at = 84 + info_size;
    let mut metrics = Vec::new();
    let mut names = Vec::new();
    for file in &pf.files {
        let offset = names.len() as u32;
        let chars = file.encode_utf16().count() as u32;
        let mut entry = vec![0u8; if pf.version == 17 { 20 } else { 32 }];
        entry[8..12].copy_from_slice(&offset.to_le_bytes());
        entry[12..16].copy_from_slice(&chars.to_le_bytes());
        metrics.extend(entry);
        names.extend(utf16(file));
        names.extend([0, 0]);
    }
    let names_at = metrics_at + metrics.len();
    let volumes_at = (names_at + names.len()).div_ceil(8) * 8;
    let entry_size = match pf.version {
        17 => 40,
        23 | 26 => 104,
        _ => 96,
    };
    let mut volume = vec![0u8; entry_size];
    volume[0..4].copy_from_slice(&(entry_size as u32).to_le_bytes());
    volume[4..8].copy_from_slice(&(pf.volume.encode_utf16().count() as u32).to_le_bytes());
    volume[8..16].copy_from_slice(&pf.volume_created.to_le_bytes());
    volume[16..20].copy_from_slice(&pf.serial.to_le_bytes());
    volume.extend(utf16(pf.volume));
    volume.extend([0, 0]);
    let total = volumes_at + volume.len();
    let mut b = vec![0u8; total];
    let put32 =
        |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put32(&mut b, 0, pf.version);
    b[4..8].copy_from_slice(b"SCCA");
    put32(&mut b, 8, if pf.version == 17 { 0x0F } else { 0x11 });
    put32(&mut b, 12, total as u32);
    let exe = utf16(pf.executable);
    b[16..16 + exe.len().min(58)].copy_from_slice(&exe[..exe.len().min(58)]);
    put32(&mut b, 76, pf.hash);
    let info = [
        metrics_at as u32,
        pf.files.len() as u32,
        names_at as u32,
        0,
        names_at as u32,
        names.len() as u32,
        volumes_at as u32,
        1,
        volume.len() as u32,
    ];
    for (i, v) in info.iter().enumerate() {
        put32(&mut b, 84 + 4 * i, *v);
    }
    let (times_at, slots, count_at) = match pf.version {
        17 => (120, 1, 144),
        23 => (128, 1, 152),
        _ => (128, 8, 208),
    };
    for (i, t) in pf.last_runs.iter().take(slots).enumerate() {
        b[times_at + 8 * i..times_at + 8 * i + 8].copy_from_slice(&t.to_le_bytes());
    }
    put32(&mut b, count_at, pf.run_count);
    b[metrics_at..metrics_at + metrics.len()].copy_from_slice(&metrics);
    b[names_at..names_at + names.len()].copy_from_slice(&names);
    b[volumes_at..].copy_from_slice(&volume);
    b
}

/// Writes 16-bit words of a LZXPRESS Huffman bit stream, most significant bit first.
struct Bits {
    out: Vec<u8>,
    word: u32,
    used: u32,
    total: u64,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            self.word = (self.word << 1) | ((value >> i) & 1);
            self.used += 1;
            self.total += 1;
            if self.used == 16 {
                self.out.extend((self.word as u16).to_le_bytes());
                self.word = 0;
                self.used = 0;
            }
        }
    }

    /// Pads the block to the words a decoder has read once it consumed every bit
    /// (MS-XCA §2.2.4: two words up front, one more each time 16 bits are used up).
    fn finish(mut self) -> Vec<u8> {
        let read = 2.max(self.total.div_ceil(16) + 1);
        if self.used > 0 {
            self.put(0, 16 - self.used);
        }
        while (self.out.len() as u64) < read * 2 {
            self.out.extend([0, 0]);
        }
        self.out
    }
}

/// LZXPRESS Huffman ([MS-XCA] §2.2) with a flat code: all 512 symbols 9 bits long, so
/// the table is 256 bytes of 0x99. Greedy matches of 3–17 bytes up to 65535 back, never
/// across a 64 KiB block. Decoders (libscca's, ours) must read it back exactly.
fn xpress_huffman(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut last_seen: HashMap<[u8; 3], usize> = HashMap::new();
    for block_start in (0..plain.len()).step_by(65536) {
        let block_end = (block_start + 65536).min(plain.len());
        out.extend([0x99u8; 256]);
        let mut bits = Bits {
            out: Vec::new(),
            word: 0,
            used: 0,
            total: 0,
        };
        let mut at = block_start;
        while at < block_end {
            let key = plain
                .get(at..at + 3)
                .and_then(|k| <[u8; 3]>::try_from(k).ok());
            let candidate = key.and_then(|k| last_seen.get(&k).copied());
            if let Some(k) = key {
                last_seen.insert(k, at);
            }
            let found = candidate.filter(|c| at - c <= 65535).map(|c| {
                let mut len = 0;
                while len < 17 && at + len < block_end && plain[c + len] == plain[at + len] {
                    len += 1;
                }
                (at - c, len)
            });
            match found {
                Some((offset, len)) if len >= 3 => {
                    let offset_bits = 31 - (offset as u32).leading_zeros();
                    bits.put(256 + (offset_bits << 4) + (len as u32 - 3), 9);
                    bits.put(offset as u32 - (1 << offset_bits), offset_bits);
                    at += len;
                }
                _ => {
                    bits.put(u32::from(plain[at]), 9);
                    at += 1;
                }
            }
        }
        out.extend(bits.finish());
    }
    out
}

/// A Windows 10 `MAM\x04` container.
fn mam(plain: &[u8]) -> Vec<u8> {
    let mut out = b"MAM\x04".to_vec();
    out.extend((plain.len() as u32).to_le_bytes());
    out.extend(xpress_huffman(plain));
    out
}

/// What sccainfo reads from a prefetch file.
#[derive(Debug, Default)]
struct Scca {
    version: String,
    hash: String,
    executable: String,
    run_count: String,
    last_runs: Vec<DateTime<Utc>>,
    files: Vec<String>,
    volume_path: String,
    volume_created: Option<DateTime<Utc>>,
    volume_serial: String,
}

fn sccainfo(path: &Path) -> Scca {
    let out = run(Command::new(tool("sccainfo", "apt package libscca-utils")).arg(path));
    let time = |text: &str| {
        NaiveDateTime::parse_from_str(text.trim_end_matches(" UTC"), "%b %d, %Y %H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("sccainfo time {text:?}: {e}"))
            .and_utc()
    };
    let mut info = Scca::default();
    for line in out.lines() {
        let Some((label, value)) = line.split_once(':').map(|(l, _)| {
            (
                l.trim(),
                line.rsplit_once("\t: ")
                    .map(|(_, v)| v.trim())
                    .unwrap_or(""),
            )
        }) else {
            continue;
        };
        match label {
            "Format version" => info.version = value.into(),
            "Prefetch hash" => info.hash = value.trim_start_matches("0x").to_ascii_uppercase(),
            "Executable filename" => info.executable = value.into(),
            "Run count" => info.run_count = value.into(),
            "Last run time" => info.last_runs.push(time(value)),
            "Filename" => info.files.push(value.into()),
            "Device path" => info.volume_path = value.into(),
            "Creation time" => info.volume_created = Some(time(value)),
            "Serial number" => {
                info.volume_serial = value.trim_start_matches("0x").to_ascii_uppercase()
            }
            _ => {}
        }
    }
    info
}

fn sample(version: u32, files: usize) -> Pf<'static> {
    let base = utc("2024-05-01T09:27:18.2717560Z");
    Pf {
        version,
        executable: "POWERSHELL.EXE",
        hash: 0x022A_4F2E,
        run_count: 42,
        last_runs: (0..8).map(|i| filetime(base) - i * 36_000_000_000).collect(),
        volume: "\\VOLUME{01d1ae5fb4f1a1b2-2c7f1c5e}",
        serial: 0x2C7F_1C5E,
        volume_created: filetime(utc("2016-05-15T04:10:25.1315634Z")),
        files: (0..files)
            .map(|i| format!("\\VOLUME{{01D1AE5FB4F1A1B2-2C7F1C5E}}\\WINDOWS\\SYSTEM32\\MODULE{i:05}.DLL"))
            .chain(["\\VOLUME{01D1AE5FB4F1A1B2-2C7F1C5E}\\WINDOWS\\SYSTEM32\\WINDOWSPOWERSHELL\\V1.0\\POWERSHELL.EXE".to_string()])
            .collect(),
    }
}

fn assert_matches_sccainfo(name: &str, bytes: Vec<u8>) {
    let dir = tempdir();
    let path = dir.path().join(name);
    std::fs::write(&path, &bytes).unwrap();
    let expected = sccainfo(&path);
    let results = parse(&format!("C:\\Windows\\Prefetch\\{name}"), bytes);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let runs = events(&results);
    assert!(!expected.last_runs.is_empty());
    assert_eq!(runs.len(), expected.last_runs.len(), "{name}: {expected:?}");
    for (event, time) in runs.iter().zip(&expected.last_runs) {
        assert_eq!(event.action, Action::ProcessRun);
        assert_eq!(event.time, Some(*time), "{name}");
        assert_eq!(event.attr("file_name"), Some(expected.executable.as_str()));
        assert_eq!(event.attr("prefetch_hash"), Some(expected.hash.as_str()));
        assert_eq!(
            event.attr("prefetch_version"),
            Some(expected.version.as_str())
        );
        assert_eq!(event.attr("run_count"), Some(expected.run_count.as_str()));
        assert_eq!(
            event.attr("volume_path"),
            Some(expected.volume_path.as_str())
        );
        assert_eq!(
            event.attr("volume_serial"),
            Some(expected.volume_serial.as_str())
        );
        let created = event.attr("volume_created").map(utc);
        assert_eq!(created, expected.volume_created);
        assert_eq!(
            event.attr("file_path"),
            expected.files.last().map(String::as_str)
        );
        assert_eq!(
            event.attr("referenced_file_count"),
            Some(expected.files.len().to_string().as_str())
        );
        let listed = event.attr("referenced_files").unwrap_or_default();
        assert!(listed.starts_with(expected.files[0].as_str()), "{listed}");
    }
}

#[test]
fn prefetch_of_every_version_matches_sccainfo() {
    for version in [17, 23, 26, 30] {
        assert_matches_sccainfo(
            &format!("V{version}.EXE-022A4F2E.pf"),
            prefetch(&sample(version, 3)),
        );
    }
}

#[test]
fn compressed_prefetch_matches_sccainfo() {
    // One block, then a payload spanning several 64 KiB blocks.
    for files in [3, 1500] {
        let plain = prefetch(&sample(30, files));
        assert_eq!(plain.len() > 3 * 65536, files > 3);
        let packed = mam(&plain);
        assert!(packed.len() < plain.len(), "matches were found");
        assert_matches_sccainfo(&format!("MAM{files}.EXE-022A4F2E.pf"), packed);
    }
}

#[test]
fn damaged_prefetch_does_not_panic() {
    let original = "C:\\Windows\\Prefetch\\POWERSHELL.EXE-022A4F2E.pf";
    for bytes in [prefetch(&sample(30, 40)), mam(&prefetch(&sample(30, 40)))] {
        for end in 0..bytes.len().min(2048) {
            let results = parse(original, bytes[..end].to_vec());
            assert!(
                results.iter().any(Result::is_err),
                "truncated at {end}: no error"
            );
        }
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..3000 {
            let mut bad = bytes.clone();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bad.len() as u64) as usize;
            bad[at] ^= (state >> 40) as u8 | 1;
            std::hint::black_box(parse(original, bad));
        }
    }
}
