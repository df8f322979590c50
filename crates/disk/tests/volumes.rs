//! Partition tables written by `sfdisk` (MBR with logical partitions, GPT) read back with
//! the offsets, sizes and types sfdisk reports; filesystems made in them by mkfs are
//! recognised; hostile tables are refused.

mod common;

use common::{run, sh};
use riposte_disk::{FileSource, FsKind, PartitionScheme, SharedSource, volumes};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn disk(path: &Path) -> SharedSource {
    Arc::new(FileSource::new(std::fs::File::open(path).unwrap()).unwrap())
}

/// sfdisk's own view: (partition number, start sector, sectors, type).
fn sfdisk_view(path: &Path) -> Vec<(usize, u64, u64, String)> {
    let json: Value =
        serde_json::from_str(&run("sfdisk", &["--json", path.to_str().unwrap()], "fdisk")).unwrap();
    let name = path.to_str().unwrap();
    json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let number = node.strip_prefix(name).unwrap().parse().unwrap();
            (
                number,
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn mbr_primary_and_logical_partitions_match_sfdisk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mbr.img");
    run(
        "truncate",
        &["-s", "64M", path.to_str().unwrap()],
        "coreutils",
    );
    sh(
        &format!(
            "printf 'label: dos\\nstart=2048, size=20480, type=83\\nstart=22528, size=24576, type=c\\nstart=47104, type=5\\nsize=8192, type=83\\nsize=8192, type=7\\n' | sfdisk -q {}",
            path.display()
        ),
        "fdisk",
    );
    // An ext4 in partition 1 and a FAT in partition 2, written at their offsets.
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            &format!("offset={}", 2048 * 512),
            path.to_str().unwrap(),
            "10M",
        ],
        "e2fsprogs",
    );
    run(
        "mkfs.vfat",
        &[
            "--offset",
            "22528",
            path.to_str().unwrap(),
            &(24576 / 2).to_string(),
        ],
        "dosfstools",
    );
    let expected = sfdisk_view(&path);
    let found = volumes(&disk(&path)).unwrap();
    // sfdisk lists the extended container (3) too; it holds no filesystem of its own.
    let expected: Vec<_> = expected
        .into_iter()
        .filter(|(_, _, _, t)| t != "5")
        .collect();
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (volume, (number, start, sectors, kind)) in found.iter().zip(&expected) {
        assert_eq!(volume.index, *number);
        assert_eq!(volume.scheme, PartitionScheme::Mbr);
        assert_eq!(volume.offset, start * 512);
        assert_eq!(volume.size, sectors * 512);
        assert!(
            volume.description.starts_with(&format!("0x{:0>2}", kind)),
            "{volume:?} vs {kind}"
        );
    }
    assert_eq!(
        found.iter().map(|v| v.index).collect::<Vec<_>>(),
        vec![1, 2, 5, 6]
    );
    assert_eq!(found[0].filesystem, Some(FsKind::Ext));
    assert_eq!(found[1].filesystem, Some(FsKind::Fat));
    assert_eq!(found[2].filesystem, None);
}

#[test]
fn gpt_partitions_match_sfdisk_with_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gpt.img");
    run(
        "truncate",
        &["-s", "64M", path.to_str().unwrap()],
        "coreutils",
    );
    sh(
        &format!(
            "printf 'label: gpt\\nstart=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI\"\\nstart=10240, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\"\\n' | sfdisk -q {}",
            path.display()
        ),
        "fdisk",
    );
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            &format!("offset={}", 10240 * 512),
            path.to_str().unwrap(),
            "20M",
        ],
        "e2fsprogs",
    );
    let expected = sfdisk_view(&path);
    let found = volumes(&disk(&path)).unwrap();
    assert_eq!(found.len(), 2);
    for (volume, (number, start, sectors, _)) in found.iter().zip(&expected) {
        assert_eq!(volume.index, *number);
        assert_eq!(volume.scheme, PartitionScheme::Gpt);
        assert_eq!((volume.offset, volume.size), (start * 512, sectors * 512));
    }
    assert_eq!(found[0].description, "EFI system \"EFI\"");
    assert_eq!(found[1].description, "Linux filesystem \"root\"");
    assert_eq!(found[1].filesystem, Some(FsKind::Ext));
}

#[test]
fn a_bare_filesystem_is_one_whole_disk_volume() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.img");
    run(
        "mkfs.vfat",
        &["-C", path.to_str().unwrap(), "4096"],
        "dosfstools",
    );
    let found = volumes(&disk(&path)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].scheme, PartitionScheme::None);
    assert_eq!(found[0].filesystem, Some(FsKind::Fat));
    assert_eq!(found[0].size, 4096 * 1024);
}

#[test]
fn hostile_tables_are_refused_or_clipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loop.img");
    run(
        "truncate",
        &["-s", "16M", path.to_str().unwrap()],
        "coreutils",
    );
    sh(
        &format!(
            "printf 'label: dos\\nstart=2048, type=5\\nsize=2048, type=83\\nsize=2048, type=83\\n' | sfdisk -q {}",
            path.display()
        ),
        "fdisk",
    );
    let mut bytes = std::fs::read(&path).unwrap();
    // Point the second EBR's link at itself.
    assert_eq!(volumes(&disk(&path)).unwrap().len(), 2);
    // Find the second EBR: the sector whose first entry describes partition 6.
    let second_ebr_lba = (2048..8192u64)
        .find(|lba| {
            let s = &bytes[*lba as usize * 512..*lba as usize * 512 + 512];
            s[510..] == [0x55, 0xAA] && *lba != 2048
        })
        .unwrap();
    let link = (second_ebr_lba - 2048) as u32;
    let at = second_ebr_lba as usize * 512 + 446 + 16 + 8;
    bytes[at..at + 4].copy_from_slice(&link.to_le_bytes());
    bytes[at - 4] = 0x05; // the link entry's type: extended
    bytes[at + 4..at + 8].copy_from_slice(&2048u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let error = volumes(&disk(&path)).unwrap_err().to_string();
    assert!(error.contains("loop"), "{error}");

    // A partition running past the end of the disk is clipped to it.
    let past = dir.path().join("past.img");
    run(
        "truncate",
        &["-s", "4M", past.to_str().unwrap()],
        "coreutils",
    );
    let mut bytes = std::fs::read(&past).unwrap();
    bytes[510] = 0x55;
    bytes[511] = 0xAA;
    bytes[446 + 4] = 0x83;
    bytes[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    bytes[446 + 12..446 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&past, &bytes).unwrap();
    let found = volumes(&disk(&past)).unwrap();
    assert_eq!(found[0].size, (4 << 20) - 2048 * 512);

    // A GPT claiming a million entries.
    let gpt = dir.path().join("gpt.img");
    run(
        "truncate",
        &["-s", "8M", gpt.to_str().unwrap()],
        "coreutils",
    );
    sh(
        &format!(
            "printf 'label: gpt\\nsize=2048\\n' | sfdisk -q {}",
            gpt.display()
        ),
        "fdisk",
    );
    let mut bytes = std::fs::read(&gpt).unwrap();
    bytes[512 + 80..512 + 84].copy_from_slice(&1_000_000u32.to_le_bytes());
    std::fs::write(&gpt, &bytes).unwrap();
    let error = volumes(&disk(&gpt)).unwrap_err().to_string();
    assert!(error.contains("1000000 entries"), "{error}");
}
