//! FAT tests: FAT12/16/32 volumes built with dosfstools and mtools, and corrupted ones.

use super::*;
use crate::fs::{WalkControl, WalkLimits, lookup, walk};
use crate::source::{ByteSource, FileSource, MemorySource};
use chrono::TimeZone;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// Runs a dosfstools/mtools command (in UTC, without mtools' geometry checks), failing
/// the test if the tool is missing or fails; returns its standard output.
fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .env("TZ", "UTC")
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): install dosfstools mtools"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
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

/// The known tree: (path, contents), all with [`MTIME`] as modification time.
fn known_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("/Long File Name Document.txt", b"long file name\n".to_vec()),
        ("/short.txt", b"short\n".to_vec()),
        ("/empty.dat", Vec::new()),
        ("/Nested Directory/note.TXT", b"a note\r\n".to_vec()),
        (
            "/Nested Directory/Deeper Level/multi cluster file.bin",
            pseudo_random(70_001, 3),
        ),
    ]
}

/// Modification time given to every file (even seconds: FAT keeps 2 s).
const MTIME: &str = "2021-03-04 05:06:08 UTC";

/// Builds a FAT volume with `mkfs_args` (e.g. `-F 16`) and `kib` KiB, holding
/// [`known_files`] and an empty directory `/Empty Dir`; returns the image path.
fn build_volume(dir: &Path, mkfs_args: &[&str], kib: u32) -> PathBuf {
    let tree = dir.join("tree");
    for (path, contents) in known_files() {
        let local = tree.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, contents).unwrap();
        run("touch", &["-d", MTIME, local.to_str().unwrap()]);
    }
    let image = dir.join("fat.img");
    let image_str = image.to_str().unwrap();
    let kib = kib.to_string();
    let mut args = mkfs_args.to_vec();
    args.extend(["-C", image_str, &kib]);
    run("mkfs.vfat", &args);
    let mut args = vec!["-s", "-m", "-i", image_str];
    let tops: Vec<String> = std::fs::read_dir(&tree)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .collect();
    args.extend(tops.iter().map(String::as_str));
    args.push("::/");
    run("mcopy", &args);
    run("mmd", &["-i", image_str, "::/Empty Dir"]);
    image
}

fn source_of(path: &Path) -> SharedSource {
    Arc::new(FileSource::new(std::fs::File::open(path).unwrap()).unwrap())
}

fn read_all(fs: &dyn FileSystem, entry: &FsEntry) -> Vec<u8> {
    let mut out = Vec::new();
    fs.open(entry).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// First cluster of `path` per mtools' `mshowfat` (`::/path <first-last>`).
fn mshowfat_first_cluster(image: &Path, path: &str) -> u64 {
    let out = run(
        "mshowfat",
        &["-i", image.to_str().unwrap(), &format!("::{path}")],
    );
    let start = out.find('<').unwrap() + 1;
    let digits: String = out[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

fn check_volume(mkfs_args: &[&str], kib: u32, expected_type: FatType) {
    let dir = tempfile::tempdir().unwrap();
    let image = build_volume(dir.path(), mkfs_args, kib);
    let source = source_of(&image);
    assert_eq!(crate::fs::detect(&source), Some(FsKind::Fat));
    let fs = FatFs::open(source).unwrap();
    assert_eq!(fs.fs.fat_type(), expected_type);

    let root = fs.root().unwrap();
    assert_eq!(
        (root.path.as_str(), root.name.as_str(), root.kind),
        ("/", "", FileKind::Directory)
    );
    let mut names: Vec<String> = fs
        .read_dir(&root)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Empty Dir",
            "Long File Name Document.txt",
            "Nested Directory",
            "empty.dat",
            "short.txt"
        ]
    );

    let mtime = Utc.with_ymd_and_hms(2021, 3, 4, 5, 6, 8).unwrap();
    for (path, contents) in known_files() {
        // Lookups ignore case, like FAT itself.
        let entry = lookup(&fs, &path.to_uppercase()).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(entry.kind, FileKind::File, "{path}");
        assert_eq!(entry.path.to_uppercase(), path.to_uppercase());
        assert_eq!(entry.size, contents.len() as u64, "{path}");
        assert!(read_all(&fs, &entry) == contents, "{path}: contents differ");
        assert_eq!(entry.times.modified, Some(mtime), "{path}");
        assert!(
            entry.times.accessed.is_some() && entry.times.born.is_some(),
            "{path}: {:?}",
            entry.times
        );
        assert_eq!(entry.times.changed, None);
        assert!(entry.streams.is_empty() && entry.mode.is_none());
        assert!(matches!(
            fs.read_link(&entry),
            Err(FsError::WrongKind { .. })
        ));
        assert!(matches!(
            fs.read_dir(&entry),
            Err(FsError::WrongKind { .. })
        ));
    }

    // Ids are first clusters, as mtools sees them.
    let big = "/Nested Directory/Deeper Level/multi cluster file.bin";
    for path in [big, "/Nested Directory", "/Nested Directory/Deeper Level"] {
        let entry = lookup(&fs, path).unwrap();
        assert_eq!(entry.id, mshowfat_first_cluster(&image, path), "{path}");
    }
    assert_eq!(lookup(&fs, "/empty.dat").unwrap().id, 0);

    let nested = lookup(&fs, "/nested directory").unwrap();
    assert_eq!(nested.kind, FileKind::Directory);
    assert!(matches!(fs.open(&nested), Err(FsError::WrongKind { .. })));
    let empty = lookup(&fs, "/Empty Dir").unwrap();
    assert!(fs.read_dir(&empty).unwrap().is_empty());
    assert!(matches!(
        lookup(&fs, "/nope.txt"),
        Err(FsError::NotFound { .. })
    ));

    let mut paths = Vec::new();
    let problems = walk(&fs, WalkLimits::default(), |entry| {
        paths.push(entry.path.clone());
        WalkControl::Continue
    })
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(paths.len(), 8, "{paths:?}");
}

#[test]
fn reads_fat12() {
    check_volume(&["-F", "12"], 4096, FatType::Fat12);
}

#[test]
fn reads_fat16() {
    check_volume(&["-F", "16"], 16_384, FatType::Fat16);
}

#[test]
fn reads_fat32() {
    check_volume(&["-F", "32"], 40_000, FatType::Fat32);
}

#[test]
fn probe_wants_a_fat_boot_sector() {
    assert!(!probe(&[]));
    assert!(!probe(&[0u8; 600]));
    // An MBR: signature but no BIOS parameter block.
    let mut mbr = vec![0u8; 512];
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    assert!(!probe(&mbr));
    // An NTFS boot sector: reserved sectors 0, no "FAT" string.
    let dir = tempfile::tempdir().unwrap();
    let ntfs = dir.path().join("ntfs.img");
    std::fs::File::create(&ntfs)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let output = Command::new("mkntfs")
        .args(["-q", "-F", "-f", ntfs.to_str().unwrap()])
        .output()
        .expect("cannot run mkntfs: install ntfs-3g");
    assert!(output.status.success());
    assert!(!probe(&std::fs::read(&ntfs).unwrap()[..4096]));
    // A real FAT16 boot sector, and the same with its bytes per sector zeroed.
    let image = build_volume(dir.path(), &["-F", "16"], 16_384);
    let mut head = std::fs::read(&image).unwrap()[..4096].to_vec();
    assert!(probe(&head));
    assert!(!probe(&head[..511]));
    head[11] = 0;
    head[12] = 0;
    assert!(!probe(&head));
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
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        if start >= self.base.len() {
            return Ok(0);
        }
        let n = buf.len().min(self.base.len() - start);
        buf[..n].copy_from_slice(&self.base[start..start + n]);
        for &(at, byte) in &self.patches {
            if at >= offset && at < offset + n as u64 {
                buf[(at - offset) as usize] = byte;
            }
        }
        Ok(n)
    }
}

/// Opens, walks and reads everything (at most 1 MiB per file); only asks that it
/// returns. Returns the number of entries seen.
fn exercise(source: SharedSource) -> usize {
    let Ok(fs) = FatFs::open(source) else {
        return 0;
    };
    let mut seen = 0;
    let limits = WalkLimits {
        max_depth: 32,
        max_entries: 10_000,
    };
    let _ = walk(&fs, limits, |entry| {
        seen += 1;
        if entry.kind == FileKind::File
            && let Ok(reader) = fs.open(entry)
        {
            let _ = io::copy(&mut reader.take(1 << 20), &mut io::sink());
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

/// Geometry of a FAT12/16 image: (FAT offset, bytes per cluster, data area offset).
fn geometry(image: &[u8]) -> (u64, u64, u64) {
    let u16_at = |at: usize| u64::from(u16::from_le_bytes([image[at], image[at + 1]]));
    let bytes_per_sector = u16_at(11);
    let fat = u16_at(14) * bytes_per_sector;
    let data = fat + u64::from(image[16]) * u16_at(22) * bytes_per_sector + u16_at(17) * 32;
    (fat, u64::from(image[13]) * bytes_per_sector, data)
}

#[test]
fn corrupt_volumes_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_volume(dir.path(), &["-F", "16"], 16_384);
    let base = Arc::new(std::fs::read(&image).unwrap());
    let clean: SharedSource = Arc::new(Patched {
        base: base.clone(),
        patches: Vec::new(),
    });
    assert_eq!(exercise(clean), 8);

    // Truncated volumes.
    for len in [0, 100, 511, 512, 2048, 64 * 1024, base.len() / 2] {
        let source: SharedSource = Arc::new(MemorySource(base[..len].to_vec()));
        within(Duration::from_secs(20), move || exercise(source));
    }

    // Zeroed boot sector fields: bytes per sector, sectors per cluster, FAT count.
    for (at, len) in [(11, 2), (13, 1), (16, 1)] {
        let patches = (at..at + len).map(|i| (i as u64, 0u8)).collect();
        let source: SharedSource = Arc::new(Patched {
            base: base.clone(),
            patches,
        });
        assert!(
            FatFs::open(source).is_err(),
            "zeroed boot field at {at} accepted"
        );
    }

    let (fat, cluster_size, data) = geometry(&base);
    let fs = FatFs::open(source_of(&image)).unwrap();
    let nested = lookup(&fs, "/Nested Directory").unwrap();
    let cluster = nested.id;
    let cluster_offset = data + (cluster - 2) * cluster_size;
    drop(fs);

    // A directory whose cluster chain loops onto itself and holds only deleted entries:
    // fatfs would scan it forever; the scan budget stops it.
    let mut patches = Vec::new();
    for copy in 0..2u64 {
        let fat_size = u64::from(u16::from_le_bytes([base[22], base[23]])) * 512;
        let entry = fat + copy * fat_size + 2 * cluster;
        patches.push((entry, cluster as u8));
        patches.push((entry + 1, (cluster >> 8) as u8));
    }
    for slot in (64..cluster_size).step_by(32) {
        patches.push((cluster_offset + slot, 0xE5));
    }
    let looping: SharedSource = Arc::new(Patched {
        base: base.clone(),
        patches,
    });
    within(Duration::from_secs(20), move || {
        let fs = FatFs::open(looping).unwrap();
        let nested = lookup(&fs, "/Nested Directory").unwrap();
        let error = fs.read_dir(&nested).unwrap_err();
        assert!(
            error.to_string().contains("looping cluster chain"),
            "{error}"
        );
    });

    // A subdirectory entry pointing back at its parent's cluster: entered once.
    let entries = &base[cluster_offset as usize..(cluster_offset + cluster_size) as usize];
    let deeper = entries
        .chunks(32)
        .position(|e| e.starts_with(b"DEEPER"))
        .unwrap() as u64;
    let at = cluster_offset + deeper * 32 + 26;
    let patches = vec![(at, cluster as u8), (at + 1, (cluster >> 8) as u8)];
    let cyclic: SharedSource = Arc::new(Patched {
        base: base.clone(),
        patches,
    });
    within(Duration::from_secs(20), move || {
        let fs = FatFs::open(cyclic).unwrap();
        let problems = walk(&fs, WalkLimits::default(), |_| WalkControl::Continue).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].path.ends_with("/Deeper Level"), "{problems:?}");
    });

    // Random byte flips in the boot sector, FATs, root directory and first clusters.
    let metadata = data + 16 * cluster_size;
    let len = base.len() as u64;
    within(Duration::from_secs(60), move || {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
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
                        0..=1 => r / 10 % 512,
                        2..=8 => r / 10 % metadata,
                        _ => r / 10 % len,
                    };
                    (at, (next() >> 8) as u8)
                })
                .collect();
            exercise(Arc::new(Patched {
                base: base.clone(),
                patches,
            }));
        }
    });
}
