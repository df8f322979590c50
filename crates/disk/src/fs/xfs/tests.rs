//! Tests against images built by the real `mkfs.xfs` from prototype files, crafted
//! corruptions of those images, and a deterministic byte-flip loop.

use super::XfsFs;
use crate::fs::{FileKind, FileSystem, FsEntry, WalkControl, WalkLimits, lookup, walk};
use crate::source::{ByteSource, FileSource, SharedSource, Slice};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One node of a tree to put in an image.
enum Node {
    File {
        name: String,
        perm: &'static str,
        uid: u32,
        gid: u32,
        data: Vec<u8>,
    },
    Dir {
        name: String,
        perm: &'static str,
        uid: u32,
        gid: u32,
        children: Vec<Node>,
    },
    Link {
        name: String,
        target: String,
    },
    Fifo {
        name: String,
    },
}

/// What the reader must report for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    path: String,
    kind: FileKind,
    /// Checked for everything but directories.
    size: Option<u64>,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Mode bits from a protofile mode string such as `-u-755`.
fn perm_bits(perm: &str) -> u32 {
    let b = perm.as_bytes();
    let mut mode = u32::from_str_radix(&perm[3..], 8).unwrap();
    if b[1] == b'u' {
        mode |= 0o4000;
    }
    if b[2] == b'g' {
        mode |= 0o2000;
    }
    mode
}

/// Appends the protofile lines of `nodes` (inside a directory) and the expected entries.
fn emit(
    nodes: &[Node],
    parent: &str,
    srcdir: &Path,
    proto: &mut String,
    expected: &mut Vec<Expected>,
    files: &mut Vec<(String, Vec<u8>)>,
) {
    for node in nodes {
        match node {
            Node::File {
                name,
                perm,
                uid,
                gid,
                data,
            } => {
                let path = FsEntry::child_path(parent, name);
                let src = srcdir.join(format!("src{}", files.len()));
                std::fs::write(&src, data).unwrap();
                proto.push_str(&format!("{name} -{perm} {uid} {gid} {}\n", src.display()));
                expected.push(Expected {
                    path: path.clone(),
                    kind: FileKind::File,
                    size: Some(data.len() as u64),
                    mode: 0o100000 | perm_bits(&format!("-{perm}")),
                    uid: *uid,
                    gid: *gid,
                });
                files.push((path, data.clone()));
            }
            Node::Dir {
                name,
                perm,
                uid,
                gid,
                children,
            } => {
                let path = FsEntry::child_path(parent, name);
                proto.push_str(&format!("{name} d{perm} {uid} {gid}\n"));
                expected.push(Expected {
                    path: path.clone(),
                    kind: FileKind::Directory,
                    size: None,
                    mode: 0o040000 | perm_bits(&format!("d{perm}")),
                    uid: *uid,
                    gid: *gid,
                });
                emit(children, &path, srcdir, proto, expected, files);
                proto.push_str("$\n");
            }
            Node::Link { name, target } => {
                proto.push_str(&format!("{name} l--777 0 0 {target}\n"));
                expected.push(Expected {
                    path: FsEntry::child_path(parent, name),
                    kind: FileKind::Symlink,
                    size: Some(target.len() as u64),
                    mode: 0o120777,
                    uid: 0,
                    gid: 0,
                });
            }
            Node::Fifo { name } => {
                proto.push_str(&format!("{name} p--640 7 8\n"));
                expected.push(Expected {
                    path: FsEntry::child_path(parent, name),
                    kind: FileKind::Other,
                    size: Some(0),
                    mode: 0o010640,
                    uid: 7,
                    gid: 8,
                });
            }
        }
    }
}

/// A built image and what it must contain.
struct Image {
    _dir: tempfile::TempDir,
    path: PathBuf,
    expected: Vec<Expected>,
    files: Vec<(String, Vec<u8>)>,
    links: Vec<(String, String)>,
}

/// Builds an XFS image holding `tree` with `mkfs.xfs -p` (plus `args`).
fn build(tree: Vec<Node>, args: &[&str]) -> Image {
    match Command::new("mkfs.xfs").arg("-V").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!("mkfs.xfs not found: install xfsprogs"),
    }
    let dir = tempfile::tempdir().unwrap();
    let mut proto = String::from("riposte\n0 0\nd--755 0 0\n");
    let mut expected = Vec::new();
    let mut files = Vec::new();
    emit(
        &tree,
        "/",
        dir.path(),
        &mut proto,
        &mut expected,
        &mut files,
    );
    proto.push_str("$\n");
    let links = collect_links(&tree, "/");
    let proto_path = dir.path().join("proto");
    std::fs::write(&proto_path, proto).unwrap();
    let path = dir.path().join("xfs.img");
    let image = std::fs::File::create(&path).unwrap();
    image.set_len(320 << 20).unwrap();
    drop(image);
    let out = Command::new("mkfs.xfs")
        .arg("-q")
        .args(args)
        .arg("-p")
        .arg(&proto_path)
        .arg(&path)
        .output()
        .expect("mkfs.xfs failed to run: install xfsprogs");
    assert!(
        out.status.success(),
        "mkfs.xfs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Image {
        _dir: dir,
        path,
        expected,
        files,
        links,
    }
}

/// (path, target) of every symlink in `nodes`.
fn collect_links(nodes: &[Node], parent: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            Node::Link { name, target } => {
                out.push((FsEntry::child_path(parent, name), target.clone()));
            }
            Node::Dir { name, children, .. } => {
                out.extend(collect_links(children, &FsEntry::child_path(parent, name)));
            }
            _ => {}
        }
    }
    out
}

fn file(name: &str, perm: &'static str, uid: u32, gid: u32, data: Vec<u8>) -> Node {
    Node::File {
        name: name.into(),
        perm,
        uid,
        gid,
        data,
    }
}

fn dir(name: &str, perm: &'static str, uid: u32, gid: u32, children: Vec<Node>) -> Node {
    Node::Dir {
        name: name.into(),
        perm,
        uid,
        gid,
        children,
    }
}

fn link(name: &str, target: &str) -> Node {
    Node::Link {
        name: name.into(),
        target: target.into(),
    }
}

/// The full test tree: short-form, block and node directories, a multi-MiB file, empty
/// file, inline and remote symlinks, a FIFO, set-id bits, various owners.
fn full_tree(seed: u64) -> Vec<Node> {
    let mut rng = Rng(seed);
    let many = (0..2000)
        .map(|i| {
            let data = format!("entry {i}\n").into_bytes();
            file(&format!("file-{i:05}"), "--644", 1000 + i % 3, 100, data)
        })
        .collect();
    let medium = (0..40)
        .map(|i| {
            file(
                &format!("m{i}"),
                "--600",
                i,
                i + 1,
                rng.bytes(i as usize * 37),
            )
        })
        .collect();
    vec![
        file("hello.txt", "--644", 1000, 1000, b"hello, xfs\n".to_vec()),
        file("empty", "--600", 0, 0, Vec::new()),
        file("big.bin", "--640", 1234, 5678, rng.bytes(6 << 20)),
        file("setuid", "u-755", 0, 0, b"#!/bin/sh\n".to_vec()),
        file("odd_size", "--644", 1, 1, rng.bytes(4097)),
        link("link", "hello.txt"),
        link("longlink", &"d/".repeat(300)),
        Node::Fifo {
            name: "fifo".into(),
        },
        dir(
            "sub",
            "--750",
            1000,
            100,
            vec![dir(
                "nested",
                "--700",
                0,
                0,
                vec![file("deep.txt", "--444", 42, 43, b"deep\n".to_vec())],
            )],
        ),
        dir("medium", "--755", 0, 0, medium),
        dir("many", "-g775", 0, 50, many),
    ]
}

fn open_path(path: &Path) -> SharedSource {
    Arc::new(FileSource::new(std::fs::File::open(path).unwrap()).unwrap())
}

/// Every entry of `fs` by walking it; asserts the walk had no problems.
fn listing(fs: &dyn FileSystem) -> Vec<FsEntry> {
    let mut all = Vec::new();
    let problems = walk(fs, WalkLimits::default(), |e| {
        all.push(e.clone());
        WalkControl::Continue
    })
    .unwrap();
    assert!(problems.is_empty(), "walk problems: {problems:?}");
    all
}

fn read_all(fs: &dyn FileSystem, entry: &FsEntry) -> Vec<u8> {
    let mut data = Vec::new();
    fs.open(entry).unwrap().read_to_end(&mut data).unwrap();
    data
}

/// Checks the whole image: listing, metadata, times, contents, link targets.
fn check_image(image: &Image, v5: bool, started: SystemTime) {
    let fs = XfsFs::open(open_path(&image.path)).unwrap();
    let root = fs.root().unwrap();
    assert_eq!((root.path.as_str(), root.name.as_str()), ("/", ""));
    assert_eq!(root.kind, FileKind::Directory);
    assert_eq!(root.mode, Some(0o040755));
    let entries = listing(&fs);
    let mut got: Vec<Expected> = entries
        .iter()
        .map(|e| Expected {
            path: e.path.clone(),
            kind: e.kind,
            size: (e.kind != FileKind::Directory).then_some(e.size),
            mode: e.mode.unwrap(),
            uid: e.uid.unwrap(),
            gid: e.gid.unwrap(),
        })
        .collect();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let mut expected = image.expected.clone();
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
    }
    // Names and ids are consistent; timestamps are present and recent.
    let started: chrono::DateTime<chrono::Utc> = started.into();
    let recent = |t: Option<chrono::DateTime<chrono::Utc>>, what: &str, path: &str| {
        let t = t.unwrap_or_else(|| panic!("{path}: no {what} time"));
        let delta = (t - started).num_seconds().abs();
        assert!(delta < 60, "{path}: {what} time {t} is not near {started}");
    };
    for e in &entries {
        assert_eq!(e.path.rsplit('/').next().unwrap(), e.name);
        assert!(e.id > 0 && !e.deleted);
        recent(e.times.modified, "modified", &e.path);
        recent(e.times.changed, "changed", &e.path);
        if let Some(accessed) = e.times.accessed {
            recent(Some(accessed), "accessed", &e.path);
        }
        if v5 {
            recent(e.times.born, "born", &e.path);
        } else {
            assert_eq!(e.times.born, None);
        }
    }
    // Contents, byte for byte.
    let by_path: std::collections::HashMap<&str, &FsEntry> =
        entries.iter().map(|e| (e.path.as_str(), e)).collect();
    for (path, data) in &image.files {
        let entry = by_path[path.as_str()];
        assert_eq!(&read_all(&fs, entry), data, "{path}");
    }
    // Small reads across block boundaries of the big file give the same bytes.
    let big = lookup(&fs, "/big.bin").unwrap();
    let expected_big = &image.files.iter().find(|(p, _)| p == "/big.bin").unwrap().1;
    let mut reader = fs.open(&big).unwrap();
    let mut buf = [0u8; 1000];
    let mut pos = 0;
    while pos < 20_000 {
        reader.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..], &expected_big[pos..pos + 1000]);
        pos += 1000;
    }
    for (path, target) in &image.links {
        let entry = lookup(&fs, path).unwrap();
        assert_eq!(&fs.read_link(&entry).unwrap(), target, "{path}");
    }
    // Wrong kinds are refused.
    assert!(fs.open(&root).is_err());
    assert!(fs.read_link(&big).is_err());
    assert!(fs.read_dir(&big).is_err());
    assert!(super::probe(b"XFSB") && !super::probe(b"XFS") && !super::probe(&[]));
}

/// A source that overlays patched bytes on another.
struct Patched {
    inner: SharedSource,
    patches: BTreeMap<u64, u8>,
}

impl Patched {
    fn new(inner: SharedSource) -> Self {
        Patched {
            inner,
            patches: BTreeMap::new(),
        }
    }

    fn put(&mut self, offset: u64, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            self.patches.insert(offset + i as u64, b);
        }
    }

    fn shared(self) -> SharedSource {
        Arc::new(self)
    }
}

impl ByteSource for Patched {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        for (&at, &b) in self.patches.range(offset..offset + n as u64) {
            buf[(at - offset) as usize] = b;
        }
        Ok(n)
    }
}

/// A source that records the ranges read through it.
struct Recording {
    inner: SharedSource,
    reads: Mutex<Vec<(u64, usize)>>,
}

impl ByteSource for Recording {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.lock().unwrap().push((offset, buf.len()));
        self.inner.read_at(offset, buf)
    }
}

/// Output of an `xfs_db -r` command on an image.
fn xfs_db(image: &Path, commands: &[&str]) -> String {
    let mut cmd = Command::new("xfs_db");
    cmd.arg("-r");
    for c in commands {
        cmd.arg("-c").arg(c);
    }
    let out = cmd
        .arg(image)
        .output()
        .expect("xfs_db missing: install xfsprogs");
    assert!(out.status.success(), "xfs_db {commands:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The number after `key` in xfs_db output.
fn db_number(text: &str, key: &str) -> u64 {
    let rest = &text[text.find(key).unwrap_or_else(|| panic!("{key} in {text}")) + key.len()..];
    let word = rest.split_whitespace().next().unwrap();
    word.parse()
        .unwrap_or_else(|_| panic!("number after {key} in {text}"))
}

/// The data fork format xfs_db reports for the inode at `path`, e.g. `2 (extents)`.
fn data_format(image: &Image, path: &str) -> String {
    let out = xfs_db(&image.path, &[&format!("path {path}"), "p core.format"]);
    out.trim().trim_start_matches("core.format = ").to_string()
}

/// Byte offset of inode `ino`, per xfs_db.
fn inode_byte(image: &Path, ino: u64) -> u64 {
    let out = xfs_db(image, &[&format!("convert ino {ino} byte")]);
    // "0x10600 (67072)"
    let start = out.find('(').unwrap() + 1;
    let end = out.find(')').unwrap();
    out[start..end].parse().unwrap()
}

/// A bmap B+tree block (v5 `BMA3`) at `level` owned by `ino`, holding `body` after the
/// header.
fn bmbt_block(level: u16, count: u16, ino: u64, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[..4].copy_from_slice(b"BMA3");
    b[4..6].copy_from_slice(&level.to_be_bytes());
    b[6..8].copy_from_slice(&count.to_be_bytes());
    b[8..24].fill(0xff);
    b[56..64].copy_from_slice(&ino.to_be_bytes());
    b[72..72 + body.len()].copy_from_slice(body);
    b
}

/// A packed extent record.
fn bmbt_rec(logical: u64, start: u64, count: u64, unwritten: bool) -> [u8; 16] {
    let l0 = (u64::from(unwritten) << 63) | (logical << 9) | (start >> 43);
    let l1 = (start << 21) | count;
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&l0.to_be_bytes());
    r[8..].copy_from_slice(&l1.to_be_bytes());
    r
}

/// Turns big.bin of the v5 image into a B+tree-format file with shuffled chunks, a hole
/// and an unwritten extent; then corrupts the tree (depth 50, duplicate leaves).
fn check_btree(image: &Image) {
    let base = open_path(&image.path);
    let fs = XfsFs::open(base.clone()).unwrap();
    let big = lookup(&fs, "/big.bin").unwrap();
    let data = &image.files.iter().find(|(p, _)| p == "/big.bin").unwrap().1;
    let bmap = xfs_db(&image.path, &[&format!("inode {}", big.id), "bmap"]);
    let start = db_number(&bmap, "startblock ");
    let count = db_number(&bmap, "count ");
    assert_eq!(count, (6 << 20) / 4096, "{bmap}");
    let sb = xfs_db(&image.path, &["sb", "p agblocks agblklog"]);
    let agblocks = db_number(&sb, "agblocks = ");
    let agblklog = db_number(&sb, "agblklog = ");
    let ino_at = inode_byte(&image.path, big.id);
    // Leaf block: last block of AG 3 (free in a fresh, small filesystem).
    let leaf_fsb = (3 << agblklog) | (agblocks - 1);
    let leaf_at = (3 * agblocks + agblocks - 1) * 4096;
    let node_fsb = leaf_fsb - 1;
    let node_at = leaf_at - 4096;

    const CHUNK: u64 = 64;
    let chunks = count / CHUNK; // 24: more than fit in the inode
    let mut recs = Vec::new();
    let mut expected = Vec::new();
    for k in 0..chunks {
        let from = k ^ 1; // swap neighbouring chunks
        let bytes = &data[(from * CHUNK * 4096) as usize..((from + 1) * CHUNK * 4096) as usize];
        match k {
            7 => expected.extend(std::iter::repeat_n(0, bytes.len())), // hole
            5 => {
                recs.extend(bmbt_rec(k * CHUNK, start + from * CHUNK, CHUNK, true));
                expected.extend(std::iter::repeat_n(0, bytes.len()));
            }
            _ => {
                recs.extend(bmbt_rec(k * CHUNK, start + from * CHUNK, CHUNK, false));
                expected.extend_from_slice(bytes);
            }
        }
    }
    let nrecs = (chunks - 1) as u16;
    let root = |level: u16, ptrs: &[u64]| {
        // bmdr root: level, numrecs, keys[20], ptrs[20] in a 336-byte fork.
        let mut fork = vec![0u8; 4 + 20 * 16];
        fork[..2].copy_from_slice(&level.to_be_bytes());
        fork[2..4].copy_from_slice(&(ptrs.len() as u16).to_be_bytes());
        for (i, p) in ptrs.iter().enumerate() {
            fork[4 + 20 * 8 + i * 8..][..8].copy_from_slice(&p.to_be_bytes());
        }
        fork
    };
    let patched_leaf = |level: u16, ptrs: &[u64], node: Option<Vec<u8>>, nrecs: u16| {
        let mut p = Patched::new(base.clone());
        p.put(ino_at + 5, &[3]); // di_format = btree
        p.put(ino_at + 176, &root(level, ptrs));
        let recs = &recs[..usize::from(nrecs) * 16];
        p.put(leaf_at, &bmbt_block(0, nrecs, big.id, recs));
        if let Some(node) = node {
            p.put(node_at, &node);
        }
        p.shared()
    };
    let patched = |level, ptrs: &[u64], node| patched_leaf(level, ptrs, node, nrecs);

    // A two-level tree (root in the inode, one interior node, one leaf) reads correctly.
    let mut node_body = vec![0u8; (4096 - 72) / 16 * 8 + 8];
    node_body[(4096 - 72) / 16 * 8..].copy_from_slice(&leaf_fsb.to_be_bytes());
    let node = bmbt_block(1, 1, big.id, &node_body);
    for (level, ptr, node) in [(1, leaf_fsb, None), (2, node_fsb, Some(node))] {
        let fs = XfsFs::open(patched(level, &[ptr], node)).unwrap();
        let got = read_all(&fs, &big);
        assert_eq!(got.len(), expected.len());
        assert!(
            got == expected,
            "btree file contents differ (level {level})"
        );
    }

    // Depth 50: refused when opened.
    let fs = XfsFs::open(patched(50, &[leaf_fsb], None)).unwrap();
    assert!(fs.open(&big).is_err());
    // The same leaf twice (a loop): an error while reading, not a hang.
    let fs = XfsFs::open(patched_leaf(1, &[leaf_fsb, leaf_fsb], None, 3)).unwrap();
    let mut sink = Vec::new();
    assert!(fs.open(&big).unwrap().read_to_end(&mut sink).is_err());
    // A node pointing to itself: a level mismatch.
    let mut self_body = vec![0u8; (4096 - 72) / 16 * 8 + 8];
    self_body[(4096 - 72) / 16 * 8..].copy_from_slice(&node_fsb.to_be_bytes());
    let looped = bmbt_block(1, 1, big.id, &self_body);
    let fs = XfsFs::open(patched(3, &[node_fsb], Some(looped))).unwrap();
    assert!(fs.open(&big).unwrap().read_to_end(&mut sink).is_err());
    // A pointer outside the filesystem.
    let fs = XfsFs::open(patched(1, &[u64::MAX >> 4], None)).unwrap();
    assert!(fs.open(&big).unwrap().read_to_end(&mut sink).is_err());
}

/// Superblock and directory corruptions of a real image: each an error, no panic.
fn check_corruptions(image: &Image) {
    let base = open_path(&image.path);
    let with = |offset: u64, bytes: &[u8]| {
        let mut p = Patched::new(base.clone());
        p.put(offset, bytes);
        p.shared()
    };
    // Truncated to 64 KiB.
    let truncated: SharedSource = Arc::new(Slice::new(base.clone(), 0, 64 << 10));
    assert!(XfsFs::open(truncated).is_err());
    assert!(XfsFs::open(Arc::new(Slice::new(base.clone(), 0, 100))).is_err());
    // Wrong magic, absurd geometry.
    assert!(XfsFs::open(with(0, b"XFSC")).is_err());
    assert!(XfsFs::open(with(88, &u32::MAX.to_be_bytes())).is_err()); // agcount
    assert!(XfsFs::open(with(88, &0u32.to_be_bytes())).is_err());
    assert!(XfsFs::open(with(4, &3u32.to_be_bytes())).is_err()); // blocksize
    assert!(XfsFs::open(with(4, &(1u32 << 30).to_be_bytes())).is_err());
    assert!(XfsFs::open(with(104, &7u16.to_be_bytes())).is_err()); // inodesize
    assert!(XfsFs::open(with(104, &4096u16.to_be_bytes())).is_err());
    assert!(XfsFs::open(with(84, &1u32.to_be_bytes())).is_err()); // agblocks
    assert!(XfsFs::open(with(124, &[60])).is_err()); // agblklog
    assert!(XfsFs::open(with(56, &u64::MAX.to_be_bytes())).is_err()); // rootino
    assert!(XfsFs::open(with(100, &[0xb4, 0xa3])).is_err()); // version 3

    // Short-form root directory claiming more entries than its fork holds.
    let fs = XfsFs::open(base.clone()).unwrap();
    let root = fs.root().unwrap();
    let root_at = inode_byte(&image.path, root.id);
    let fs = XfsFs::open(with(root_at + 176, &[200])).unwrap();
    assert!(fs.read_dir(&fs.root().unwrap()).is_err());
    // ... and a size beyond the fork.
    let fs = XfsFs::open(with(root_at + 56, &u64::MAX.to_be_bytes())).unwrap();
    assert!(fs.read_dir(&fs.root().unwrap()).is_err());
    // Root inode without its magic.
    assert!(XfsFs::open(with(root_at, b"XX")).is_err());
}

#[test]
fn v5_image_reads_completely_and_survives_corruption() {
    let started = SystemTime::now();
    let image = build(full_tree(1), &[]);
    check_image(&image, true, started);
    // The forms covered: short-form root, block-form and node-form (extents) directories.
    assert_eq!(data_format(&image, "/"), "1 (local)");
    assert_eq!(data_format(&image, "/medium"), "2 (extents)");
    assert_eq!(data_format(&image, "/many"), "2 (extents)");
    let volume = open_path(&image.path);
    let generic = crate::fs::open_filesystem(volume).unwrap();
    assert_eq!(generic.kind(), crate::fs::FsKind::Xfs);
    check_btree(&image);
    check_corruptions(&image);
}

#[test]
fn v4_image_reads_completely() {
    let started = SystemTime::now();
    // xfsprogs 6.x still builds v4 (deprecated): no CRCs, 256-byte inodes by default.
    // 8 KiB directory blocks span two filesystem blocks.
    let image = build(full_tree(2), &["-m", "crc=0", "-n", "size=8192"]);
    check_image(&image, false, started);
    // 256-byte inodes cannot hold the big directory's extents: a real bmap B+tree.
    assert_eq!(data_format(&image, "/many"), "3 (btree)");
    let sb = xfs_db(&image.path, &["sb", "p dirblklog"]);
    assert_eq!(db_number(&sb, "dirblklog = "), 1);
}

#[test]
fn byte_flips_never_panic_or_hang() {
    let mut rng = Rng(3);
    let medium = (0..30)
        .map(|i| file(&format!("n{i}"), "--644", i, i, rng.bytes(100 + i as usize)))
        .collect();
    let many = (0..300)
        .map(|i| file(&format!("entry-{i}"), "--644", 0, 0, vec![i as u8; 3]))
        .collect();
    let tree = vec![
        file("a", "--644", 1, 2, b"abc".to_vec()),
        file("b", "--644", 1, 2, rng.bytes(70_000)),
        link("l", "a"),
        link("ll", &"x".repeat(500)),
        dir("d", "--755", 0, 0, medium),
        dir("m", "--755", 0, 0, many),
    ];
    let image = build(tree, &[]);
    let base = open_path(&image.path);
    // The metadata area: every range a clean walk reads, except file contents.
    let recording = Arc::new(Recording {
        inner: base.clone(),
        reads: Mutex::new(Vec::new()),
    });
    {
        let fs = XfsFs::open(recording.clone()).unwrap();
        for entry in listing(&fs) {
            if entry.kind == FileKind::Symlink {
                fs.read_link(&entry).unwrap();
            }
        }
    }
    let ranges = recording.reads.lock().unwrap().clone();
    assert!(ranges.len() > 10);

    let mut clean = 0;
    for _ in 0..300 {
        let mut patched = Patched::new(base.clone());
        for _ in 0..1 + rng.below(6) {
            let (offset, len) = ranges[rng.below(ranges.len() as u64) as usize];
            let at = offset + rng.below(len as u64);
            let value = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                _ => rng.next() as u8,
            };
            patched.put(at, &[value]);
        }
        let Ok(fs) = XfsFs::open(patched.shared()) else {
            continue;
        };
        let mut entries = Vec::new();
        let limits = WalkLimits {
            max_depth: 64,
            max_entries: 100_000,
        };
        if walk(&fs, limits, |e| {
            entries.push(e.clone());
            WalkControl::Continue
        })
        .is_ok_and(|problems| problems.is_empty())
        {
            clean += 1;
        }
        for entry in &entries {
            match entry.kind {
                FileKind::File => {
                    if let Ok(reader) = fs.open(entry) {
                        // A corrupt size may announce petabytes of holes: bound the read.
                        let _ = io::copy(&mut reader.take(1 << 22), &mut io::sink());
                    }
                }
                FileKind::Symlink => {
                    let _ = fs.read_link(entry);
                }
                _ => {}
            }
        }
    }
    // Most single-byte flips land in unused bytes; some must still read cleanly.
    assert!(clean > 0);
}
