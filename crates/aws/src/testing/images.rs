//! Filesystem images built from known trees with the real tools (`mkfs.ext4 -d`,
//! `mkfs.xfs -p`), for tests that upload them as EBS snapshots.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files by their path on the original system (`/etc/hostname`) → contents.
pub type Tree = BTreeMap<String, Vec<u8>>;

/// Writes `tree` under `dir`.
pub fn write_tree(tree: &Tree, dir: &Path) {
    for (path, data) in tree {
        let file = dir.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&file, data).expect("write tree file");
    }
}

/// Runs a tool, panicking with the Debian package to install when it is missing.
pub fn run(program: &str, args: &[&str], package: &str) {
    let output = Command::new(program)
        .args(args)
        .env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An ext4 image of `size_mib` holding `tree` (`mkfs.ext4 -d`), in `dir`.
pub fn ext4_image(tree: &Tree, dir: &Path, size_mib: u64) -> PathBuf {
    let root = dir.join("ext4-tree");
    write_tree(tree, &root);
    let image = dir.join("ext4.img");
    let size = format!("{size_mib}M");
    let args = [
        "-q",
        "-F",
        "-t",
        "ext4",
        "-b",
        "4096",
        "-d",
        path_str(&root),
        path_str(&image),
        &size,
    ];
    run("mkfs.ext4", &args, "e2fsprogs");
    image
}

/// An XFS image of `size_mib` (at least 300) holding `tree`, from a prototype file
/// (`mkfs.xfs -p`), in `dir`.
pub fn xfs_image(tree: &Tree, dir: &Path, size_mib: u64) -> PathBuf {
    let root = dir.join("xfs-tree");
    write_tree(tree, &root);
    // A prototype lists each directory's entries, indented, closed by `$`.
    fn emit(dir: &Path, proto: &mut String, depth: usize) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read tree dir")
            .map(|e| e.expect("tree entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 name");
            let pad = " ".repeat(depth);
            if path.is_dir() {
                proto.push_str(&format!("{pad}{name} d--755 0 0\n"));
                emit(&path, proto, depth + 1);
                proto.push_str(&format!("{pad}$\n"));
            } else {
                proto.push_str(&format!("{pad}{name} ---644 0 0 {}\n", path.display()));
            }
        }
    }
    let mut proto = String::from("riposte\n0 0\nd--755 0 0\n");
    emit(&root, &mut proto, 1);
    proto.push_str("$\n");
    let proto_path = dir.join("xfs.proto");
    std::fs::write(&proto_path, proto).expect("write prototype");
    let image = dir.join("xfs.img");
    File::create(&image)
        .and_then(|f| f.set_len(size_mib << 20))
        .expect("create xfs image");
    run(
        "mkfs.xfs",
        &["-q", "-p", path_str(&proto_path), path_str(&image)],
        "xfsprogs",
    );
    image
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
