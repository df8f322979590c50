//! NTFS tests: volumes built with ntfs-3g's `mkntfs`/`ntfscp`, the dfVFS corpus volume,
//! and corrupted volumes.

use super::*;
use crate::fs::{WalkControl, WalkLimits, walk};
use crate::source::{ByteSource, FileSource, LockedReader, MemorySource};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Runs an ntfs-3g tool, failing the test if it is missing or fails.
fn run(tool: &str, args: &[&str]) {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): install ntfs-3g"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Deterministic pseudo-random bytes (xorshift64).
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// The known tree copied into the test volume: (name in the root, contents).
fn known_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // Multi-MiB and an odd size: non-resident, several clusters, partial last one.
        ("big.bin", pseudo_random(3 * 1024 * 1024 + 123, 7)),
        // Tiny: resident in the MFT record.
        ("small.txt", b"hello ntfs\n".to_vec()),
        ("empty.dat", Vec::new()),
        ("A Long Name With Spaces.txt", b"long name".to_vec()),
        (
            "gr\u{fc}\u{df}e.txt",
            "unicode \u{263a}".as_bytes().to_vec(),
        ),
    ]
}

/// Builds a `size_mib` MiB NTFS volume holding [`known_files`] in its root and a
/// `Zone.Identifier` stream on `small.txt`; returns the image path.
fn build_volume(dir: &Path, size_mib: u64) -> PathBuf {
    let image = dir.join("ntfs.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(size_mib << 20)
        .unwrap();
    let image_str = image.to_str().unwrap();
    run("mkntfs", &["-q", "-F", "-f", image_str]);
    for (name, contents) in known_files() {
        let local = dir.join("src.bin");
        std::fs::write(&local, &contents).unwrap();
        run("ntfscp", &["-q", image_str, local.to_str().unwrap(), name]);
    }
    let zone = dir.join("zone");
    std::fs::write(&zone, ZONE).unwrap();
    run(
        "ntfscp",
        &[
            "-q",
            "-N",
            "Zone.Identifier",
            image_str,
            zone.to_str().unwrap(),
            "small.txt",
        ],
    );
    image
}

const ZONE: &[u8] = b"[ZoneTransfer]\r\nZoneId=3\r\n";

fn read_all(fs: &dyn FileSystem, entry: &FsEntry) -> Vec<u8> {
    let mut out = Vec::new();
    fs.open(entry).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn probe_needs_the_oem_id_and_never_panics() {
    assert!(!probe(&[]));
    assert!(!probe(b"\xeb\x52\x90NTFS"));
    assert!(probe(b"\xeb\x52\x90NTFS    \x00\x02"));
    assert!(!probe(&[0u8; 512]));
}

#[test]
fn reads_a_volume_built_by_ntfs_3g() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_volume(dir.path(), 64);
    let source: SharedSource =
        Arc::new(FileSource::new(std::fs::File::open(&image).unwrap()).unwrap());
    assert_eq!(crate::fs::detect(&source), Some(FsKind::Ntfs));
    let fs = NtfsFs::open(source).unwrap();

    let root = fs.root().unwrap();
    assert_eq!(
        (root.id, root.path.as_str(), root.name.as_str()),
        (5, "/", "")
    );
    assert_eq!(root.kind, FileKind::Directory);

    let entries = fs.read_dir(&root).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for metafile in [
        "$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef", "$Bitmap", "$Boot", "$BadClus",
        "$Secure", "$UpCase", "$Extend",
    ] {
        assert!(
            names.contains(&metafile),
            "{metafile} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"."), "{names:?}");
    // One name per file: no DOS 8.3 alias of the long name.
    assert!(!names.iter().any(|n| n.contains('~')), "{names:?}");

    for (name, contents) in known_files() {
        let entry = entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing from {names:?}"));
        assert_eq!(entry.kind, FileKind::File, "{name}");
        assert_eq!(entry.path, format!("/{name}"));
        assert_eq!(entry.size, contents.len() as u64, "{name}");
        assert!(
            entry.id >= 16,
            "{name}: user files follow the metafiles, got {}",
            entry.id
        );
        let read = read_all(&fs, entry);
        assert!(read == contents, "{name}: contents differ");
        let t = entry.times;
        assert!(
            t.modified.is_some() && t.accessed.is_some() && t.changed.is_some() && t.born.is_some(),
            "{name}: {t:?}"
        );
        assert!((entry.mode, entry.uid, entry.gid) == (None, None, None));
    }

    // The alternate data stream.
    let small = crate::fs::lookup(&fs, "/SMALL.TXT").unwrap();
    assert_eq!(small.streams, vec!["Zone.Identifier".to_string()]);
    let mut zone = Vec::new();
    fs.open_stream(&small, "Zone.Identifier")
        .unwrap()
        .read_to_end(&mut zone)
        .unwrap();
    assert_eq!(zone, ZONE);
    assert!(matches!(
        fs.open_stream(&small, "nope"),
        Err(FsError::NotFound { .. })
    ));
    assert!(matches!(
        fs.read_link(&small),
        Err(FsError::WrongKind { .. })
    ));

    // $MFT reads to its full size; $Extend is a directory.
    let mft = entries.iter().find(|e| e.name == "$MFT").unwrap();
    assert_eq!((mft.id, mft.kind), (0, FileKind::File));
    assert_eq!(read_all(&fs, mft).len() as u64, mft.size);
    assert!(mft.size >= 16 * 1024);
    let extend = entries.iter().find(|e| e.name == "$Extend").unwrap();
    assert_eq!(extend.kind, FileKind::Directory);
    assert!(matches!(fs.open(extend), Err(FsError::WrongKind { .. })));
    assert!(matches!(fs.read_dir(mft), Err(FsError::WrongKind { .. })));

    // The whole tree walks cleanly and every file reads to its size.
    let mut files = 0;
    let problems = walk(&fs, WalkLimits::default(), |entry| {
        if entry.kind == FileKind::File {
            let mut reader = fs.open(entry).unwrap();
            let n = io::copy(&mut reader, &mut io::sink()).unwrap();
            assert_eq!(n, entry.size, "{}", entry.path);
            files += 1;
        }
        WalkControl::Continue
    })
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert!(files >= 16, "{files}");
}

/// The dfVFS test corpus directory.
fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(
        dir.is_dir(),
        "test corpus not found at {} (set RIPOSTE_CORPUS)",
        dir.display()
    );
    dir
}

#[test]
fn reads_the_dfvfs_windows_volume() {
    let path = corpus().join("images/dfvfs/windows_volume.qcow2");
    let reader =
        qcow2::Qcow2Reader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let size = reader.virtual_disk_size();
    let source: SharedSource = Arc::new(LockedReader::new(reader, size));
    assert_eq!(crate::fs::detect(&source), Some(FsKind::Ntfs));
    let fs = NtfsFs::open(source).unwrap();

    // Expected values were read with ntfs-3g from `qemu-img convert -O raw` of the image:
    // `ntfsls -l -s -i`, `ntfsls -l -R`, `ntfsinfo -F` and `ntfscat | md5sum`.
    let root = fs.root().unwrap();
    let entries = fs.read_dir(&root).unwrap();
    let listed: Vec<(&str, u64, u64)> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.id, e.size))
        .collect();
    for expected in [
        ("$AttrDef", 4, 2560),
        ("$BadClus", 8, 0),
        ("$Bitmap", 6, 1096),
        ("$Boot", 7, 8192),
        ("$Extend", 11, 0),
        ("$LogFile", 2, 2_097_152),
        ("$MFT", 0, 69_632),
        ("$MFTMirr", 1, 4096),
        ("$Secure", 9, 0),
        ("$UpCase", 10, 131_072),
        ("$Volume", 3, 0),
    ] {
        assert!(listed.contains(&expected), "{expected:?} not in {listed:?}");
    }
    let secure = entries.iter().find(|e| e.name == "$Secure").unwrap();
    assert!(
        secure.streams.contains(&"$SDS".to_string()),
        "{:?}",
        secure.streams
    );

    let mut paths = Vec::new();
    let problems = walk(&fs, WalkLimits::default(), |entry| {
        paths.push((entry.path.clone(), entry.kind));
        if entry.kind == FileKind::File {
            let mut reader = fs
                .open(entry)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path));
            let n = io::copy(&mut reader, &mut io::sink())
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path));
            assert_eq!(n, entry.size, "{}", entry.path);
            for stream in &entry.streams {
                let mut reader = fs.open_stream(entry, stream).unwrap();
                io::copy(&mut reader, &mut io::sink())
                    .unwrap_or_else(|e| panic!("{}:{stream}: {e}", entry.path));
            }
        }
        WalkControl::Continue
    })
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    for (path, kind) in [
        ("/$Extend/$ObjId", FileKind::File),
        ("/$Extend/$Quota", FileKind::File),
        ("/$Extend/$Reparse", FileKind::File),
        ("/Windows", FileKind::Directory),
        ("/Windows/System32", FileKind::Directory),
        ("/Windows/System32/config", FileKind::Directory),
        ("/Windows/System32/config/syslog", FileKind::File),
    ] {
        assert!(
            paths.contains(&(path.to_string(), kind)),
            "{path} not in {paths:?}"
        );
    }

    let syslog = crate::fs::lookup(&fs, "/windows/system32/CONFIG/syslog").unwrap();
    assert_eq!((syslog.id, syslog.size), (67, 1247));
    let text = read_all(&fs, &syslog);
    assert!(text.starts_with(
        b"Jan 22 07:52:33 myhostname.myhost.com client[30840]: INFO No new content.\n"
    ));
    // ntfsinfo prints whole seconds: all four $STANDARD_INFORMATION times are 12:32:12 UTC.
    let t = syslog.times;
    for time in [t.modified, t.accessed, t.changed, t.born] {
        let time = time.unwrap().format("%Y-%m-%d %H:%M:%S").to_string();
        assert_eq!(time, "2016-08-06 12:32:12");
    }
}

/// An image in memory with a few bytes replaced, without copying it.
struct Patched {
    base: Arc<Vec<u8>>,
    patches: Vec<(u64, u8)>,
}

impl ByteSource for Patched {
    fn len(&self) -> u64 {
        self.base.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_slice(&self.base, offset, buf);
        for &(at, byte) in &self.patches {
            if at >= offset && at < offset + n as u64 {
                buf[(at - offset) as usize] = byte;
            }
        }
        Ok(n)
    }
}

/// Copies what `data` holds at `offset` into `buf`; returns how many bytes.
fn read_slice(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else {
        return 0;
    };
    if start >= data.len() {
        return 0;
    }
    let n = buf.len().min(data.len() - start);
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

/// Opens, walks and reads everything (at most 1 MiB per stream); only asks that it
/// returns. Returns the number of entries seen.
fn exercise(source: SharedSource) -> usize {
    let Ok(fs) = NtfsFs::open(source) else {
        return 0;
    };
    let mut seen = 0;
    let limits = WalkLimits {
        max_depth: 32,
        max_entries: 10_000,
    };
    let _ = walk(&fs, limits, |entry| {
        seen += 1;
        if entry.kind != FileKind::Directory {
            if let Ok(reader) = fs.open(entry) {
                let _ = io::copy(&mut reader.take(1 << 20), &mut io::sink());
            }
            for stream in &entry.streams {
                if let Ok(reader) = fs.open_stream(entry, stream) {
                    let _ = io::copy(&mut reader.take(1 << 20), &mut io::sink());
                }
            }
        }
        if entry.kind == FileKind::Symlink {
            let _ = fs.read_link(entry);
        }
        WalkControl::Continue
    });
    seen
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("hung (or panicked) on a corrupt image")
}

#[test]
fn corrupt_volumes_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_volume(dir.path(), 8);
    let base = Arc::new(std::fs::read(&image).unwrap());
    let clean: SharedSource = Arc::new(Patched {
        base: base.clone(),
        patches: Vec::new(),
    });
    assert!(exercise(clean) > 16);

    // Truncated volumes.
    for len in [
        0,
        11,
        100,
        512,
        4096,
        64 * 1024,
        base.len() / 2,
        base.len() - 4096,
    ] {
        let source: SharedSource = Arc::new(MemorySource(base[..len].to_vec()));
        within(Duration::from_secs(20), move || exercise(source));
    }

    // Zeroed boot sector fields: bytes per sector, sectors per cluster, MFT cluster,
    // clusters per MFT record.
    for (at, len) in [(11, 2), (13, 1), (48, 8), (64, 1)] {
        let patches = (at..at + len).map(|i| (i as u64, 0u8)).collect();
        let source: SharedSource = Arc::new(Patched {
            base: base.clone(),
            patches,
        });
        assert!(
            NtfsFs::open(source).is_err(),
            "zeroed boot field at {at} accepted"
        );
    }

    // Random byte flips in the boot sector, the first MFT records and anywhere.
    let cluster = u64::from(u16::from_le_bytes([base[11], base[12]])) * u64::from(base[13]);
    let mft = u64::from_le_bytes(base[48..56].try_into().unwrap()) * cluster;
    let len = base.len() as u64;
    within(Duration::from_secs(60), move || {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let flips = 1 + next() % 6;
            let patches = (0..flips)
                .map(|_| {
                    let r = next();
                    let at = match r % 10 {
                        0 => r / 10 % 512,
                        1..=6 => mft + r / 10 % (40 * 1024),
                        _ => r / 10 % len,
                    };
                    (at, (next() >> 8) as u8)
                })
                .collect();
            let source: SharedSource = Arc::new(Patched {
                base: base.clone(),
                patches,
            });
            exercise(source);
        }
    });
}

/// Reparse data as Windows writes it: header, name offsets/lengths, optional flags
/// (symbolic links only), then the substitute and print names in UTF-16.
fn reparse_data(tag: u32, substitute: &str, print: &str) -> Vec<u8> {
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let (sub, prn) = (utf16(substitute), utf16(print));
    let mut body = Vec::new();
    for field in [0, sub.len(), sub.len(), prn.len()] {
        body.extend((field as u16).to_le_bytes());
    }
    if tag == TAG_SYMLINK {
        body.extend(0u32.to_le_bytes());
    }
    body.extend(&sub);
    body.extend(&prn);
    let mut data = tag.to_le_bytes().to_vec();
    data.extend((body.len() as u16).to_le_bytes());
    data.extend([0, 0]);
    data.extend(body);
    data
}

#[test]
fn parses_reparse_targets() {
    let link = reparse_data(
        TAG_SYMLINK,
        r"\??\C:\Users\target.txt",
        r"C:\Users\target.txt",
    );
    assert_eq!(
        reparse_target(&link).as_deref(),
        Some(r"C:\Users\target.txt")
    );
    let junction = reparse_data(TAG_MOUNT_POINT, r"\??\D:\data", "");
    assert_eq!(reparse_target(&junction).as_deref(), Some(r"D:\data"));
    let mut wsl = TAG_LX_SYMLINK.to_le_bytes().to_vec();
    wsl.extend(16u16.to_le_bytes());
    wsl.extend([0, 0]);
    wsl.extend(2u32.to_le_bytes());
    wsl.extend(b"../etc/hosts");
    assert_eq!(reparse_target(&wsl).as_deref(), Some("../etc/hosts"));
    // Unknown tags and truncated data have no target.
    assert_eq!(reparse_target(&0x8000_0013u32.to_le_bytes()), None);
    assert_eq!(reparse_target(&link[..12]), None);
    assert_eq!(reparse_target(&[]), None);
}
