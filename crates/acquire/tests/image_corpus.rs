//! dfVFS's real ext2 image in a dynamic VHD (Apache-2.0, `../shared/corpus/images/dfvfs`):
//! the filesystem timeline of a full acquisition agrees entry by entry with The Sleuth
//! Kit's bodyfile of that image (`mactime.body`: inode, type, permissions, owner, size)
//! and with `debugfs` (times: the bodyfile was taken from a slightly different state of
//! the image, one file's times differ from what the image holds).

use riposte_acquire::{ImageSelection, TriageOptions, read_image};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dfvfs() -> PathBuf {
    let corpus = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let dir = corpus.join("images/dfvfs");
    assert!(
        dir.is_dir(),
        "corpus not found at {} (set RIPOSTE_CORPUS)",
        dir.display()
    );
    dir
}

/// Bodyfile lines by name: (inode, mode, uid, gid, size, atime, mtime, ctime).
fn entries(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter(|l| !l.starts_with("0|D:"))
        .map(|l| {
            let fields: Vec<&str> = l.split('|').collect();
            (
                fields[1].to_string(),
                fields[2..10].iter().map(|f| f.to_string()).collect(),
            )
        })
        .collect()
}

/// atime, mtime and ctime of `path` as `debugfs` reads them, in Unix seconds.
fn debugfs_times(image: &Path, path: &str) -> Vec<String> {
    let out = std::process::Command::new("debugfs")
        .args(["-R", &format!("stat {path}")])
        .arg(image)
        .output()
        .expect("run debugfs: install e2fsprogs");
    let text = String::from_utf8_lossy(&out.stdout);
    ["atime:", "mtime:", "ctime:"]
        .iter()
        .map(|label| {
            let hex = text
                .split_whitespace()
                .skip_while(|w| w != label)
                .nth(1)
                .unwrap_or_else(|| panic!("no {label} for {path}: {text}"));
            let hex = hex.trim_start_matches("0x").split(':').next().unwrap();
            i64::from_str_radix(hex, 16).unwrap().to_string()
        })
        .collect()
}

#[test]
fn full_timeline_of_the_dfvfs_ext2_vhd_matches_the_sleuth_kit() {
    let dir = dfvfs();
    let mut body = Vec::new();
    let mut files = Vec::new();
    let report = read_image(
        &dir.join("image.vhd"),
        ImageSelection::Full,
        &TriageOptions::default(),
        &mut |item, reader| {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            files.push((item.original_path.to_string(), item.location.inode, bytes));
            Ok(())
        },
        Some(&mut body),
    )
    .unwrap();
    assert_eq!(report.format.as_str(), "vhd");
    assert_eq!(report.volumes.len(), 1);

    let ours = entries(&String::from_utf8(body).unwrap());
    let tsk = entries(&std::fs::read_to_string(dir.join("mactime.body")).unwrap());
    // Every allocated entry TSK lists, with the same inode, type, permissions, owner, size
    // and times.
    let raw = tempfile::NamedTempFile::new().unwrap();
    let image = riposte_disk::open_image(&dir.join("image.vhd")).unwrap();
    let mut bytes = vec![0u8; image.source.len() as usize];
    image.source.read_exact_at(0, &mut bytes).unwrap();
    std::fs::write(raw.path(), &bytes).unwrap();
    let mut compared = 0;
    for (name, theirs) in &tsk {
        if name.ends_with("(deleted)") || name.starts_with("/$OrphanFiles") {
            continue;
        }
        let mine = ours
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {ours:#?}"));
        assert_eq!(
            mine[..5],
            theirs[..5],
            "{name}: inode, mode, uid, gid, size"
        );
        assert_eq!(
            mine[5..8],
            debugfs_times(raw.path(), name),
            "{name}: atime, mtime, ctime"
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
    // TSK's orphan inode 13 is our deleted inode 13, with the same times.
    let orphan = ours
        .get("/$deleted/13 (deleted)")
        .expect("deleted inode 13");
    let tsk_orphan = &tsk["/$OrphanFiles/OrphanFile-13 (deleted)"];
    assert_eq!(orphan[0], "13");
    assert_eq!(orphan[5..8], tsk_orphan[5..8], "atime, mtime, ctime");

    // The files themselves, read through the VHD and the ext2 reader.
    let passwords = files
        .iter()
        .find(|(p, _, _)| p == "/passwords.txt")
        .unwrap();
    assert_eq!(passwords.1, 15);
    assert!(passwords.2.starts_with(b"place,user,password\n"));
    assert_eq!(passwords.2.len(), 116);
}
