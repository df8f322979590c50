//! Image containers built by the real tools (qemu-img, ewfacquire, split) from a known raw
//! disk, and dfVFS's real images, decode to exactly the raw bytes.

mod common;

use common::{corpus, pattern, read_all, run};
use riposte_disk::{ImageFormat, open_image};
use sha2::{Digest, Sha256};
use std::path::Path;

/// An 8 MiB raw disk: random data with long zero runs (so sparse formats leave holes).
fn raw_disk(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let mut bytes = vec![0u8; 8 << 20];
    for (i, chunk) in bytes.chunks_mut(1 << 20).enumerate() {
        if i % 3 != 1 {
            chunk.copy_from_slice(&pattern(i as u64 + 7, 1 << 20));
        }
    }
    let path = dir.join("disk.raw");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn assert_decodes_to(path: &Path, format: ImageFormat, expected: &[u8]) {
    let image = open_image(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(image.format, format, "{}", path.display());
    let decoded = read_all(image.source.as_ref());
    assert!(
        decoded.len() >= expected.len(),
        "{} is short",
        path.display()
    );
    assert!(
        decoded[..expected.len()] == *expected,
        "{} decodes to different bytes",
        path.display()
    );
    assert!(
        decoded[expected.len()..].iter().all(|b| *b == 0),
        "{} has trailing data",
        path.display()
    );
    // Unaligned reads across chunk/cluster/segment boundaries.
    for offset in [1u64, 65_535, (1 << 20) - 3, (3 << 20) + 511] {
        let mut buf = vec![0u8; 70_000];
        image.source.read_exact_at(offset, &mut buf).unwrap();
        assert_eq!(buf, expected[offset as usize..offset as usize + 70_000]);
    }
}

#[test]
fn qemu_img_containers_decode_to_the_raw_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, bytes) = raw_disk(dir.path());
    let raw = raw.to_str().unwrap();
    let cases = [
        ("disk.qcow2", "qcow2", "", ImageFormat::Qcow2),
        (
            "disk-sparse.vmdk",
            "vmdk",
            "subformat=monolithicSparse",
            ImageFormat::Vmdk,
        ),
        (
            "disk-stream.vmdk",
            "vmdk",
            "subformat=streamOptimized",
            ImageFormat::Vmdk,
        ),
        (
            "disk-flat.vmdk",
            "vmdk",
            "subformat=monolithicFlat",
            ImageFormat::Vmdk,
        ),
        (
            "disk-dynamic.vhd",
            "vpc",
            "subformat=dynamic",
            ImageFormat::Vhd,
        ),
        ("disk-fixed.vhd", "vpc", "subformat=fixed", ImageFormat::Vhd),
        (
            "disk-dynamic.vhdx",
            "vhdx",
            "subformat=dynamic",
            ImageFormat::Vhdx,
        ),
        (
            "disk-fixed.vhdx",
            "vhdx",
            "subformat=fixed",
            ImageFormat::Vhdx,
        ),
    ];
    for (name, format, options, expected) in cases {
        let out = dir.path().join(name);
        let out = out.to_str().unwrap();
        let mut args = vec!["convert", "-f", "raw", "-O", format];
        if !options.is_empty() {
            args.extend(["-o", options]);
        }
        args.extend([raw, out]);
        run("qemu-img", &args, "qemu-utils");
        assert_decodes_to(Path::new(out), expected, &bytes);
    }
}

#[test]
fn ewfacquire_images_decode_to_the_raw_disk_and_are_found_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, bytes) = raw_disk(dir.path());
    for (target, compression) in [("fast", "deflate:fast"), ("none", "none")] {
        let target_path = dir.path().join(target);
        run(
            "ewfacquire",
            &[
                "-u",
                "-q",
                "-c",
                compression,
                "-t",
                target_path.to_str().unwrap(),
                raw.to_str().unwrap(),
            ],
            "ewf-tools",
        );
        let e01 = dir.path().join(format!("{target}.E01"));
        assert_decodes_to(&e01, ImageFormat::Ewf, &bytes);
    }
    // The format comes from the content, not the name.
    let renamed = dir.path().join("evidence.bin");
    std::fs::copy(dir.path().join("fast.E01"), &renamed).unwrap();
    assert_eq!(
        riposte_disk::image::detect_format(&renamed).unwrap(),
        ImageFormat::Ewf
    );
}

#[test]
fn split_raw_segments_are_joined() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, bytes) = raw_disk(dir.path());
    let prefix = dir.path().join("disk.");
    run(
        "split",
        &[
            "-b",
            "3000000",
            "-d",
            "-a",
            "3",
            raw.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
        "coreutils",
    );
    let image = open_image(&dir.path().join("disk.000")).unwrap();
    assert_eq!(image.format, ImageFormat::Raw);
    assert_eq!(image.files.len(), 3);
    assert_eq!(read_all(image.source.as_ref()), bytes);
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn dfvfs_ext2_image_reads_the_same_in_every_container() {
    let dfvfs = corpus().join("images/dfvfs");
    let split = open_image(&dfvfs.join("ext2.splitraw.000")).unwrap();
    assert_eq!(split.files.len(), 2);
    let reference = read_all(split.source.as_ref());
    assert_eq!(reference.len(), 4 << 20);
    for (name, format) in [
        ("ext2.qcow2", ImageFormat::Qcow2),
        ("ext2.vmdk", ImageFormat::Vmdk),
        ("ext2.vhd", ImageFormat::Vhd),
        ("ext2.split.E01", ImageFormat::Ewf),
    ] {
        let image = open_image(&dfvfs.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image.format, format, "{name}");
        let bytes = read_all(image.source.as_ref());
        assert!(
            bytes.len() >= reference.len(),
            "{name}: {} bytes",
            bytes.len()
        );
        assert_eq!(
            sha256(&bytes[..reference.len()]),
            sha256(&reference),
            "{name}"
        );
    }
}

#[test]
fn corrupt_containers_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (raw, _) = raw_disk(dir.path());
    let raw = raw.to_str().unwrap();
    for (name, format) in [
        ("t.qcow2", "qcow2"),
        ("t.vhdx", "vhdx"),
        ("t.vmdk", "vmdk"),
        ("t.vhd", "vpc"),
    ] {
        let out = dir.path().join(name);
        run(
            "qemu-img",
            &[
                "convert",
                "-f",
                "raw",
                "-O",
                format,
                raw,
                out.to_str().unwrap(),
            ],
            "qemu-utils",
        );
        let full = std::fs::read(&out).unwrap();
        // Truncated to its first 4 KiB: headers promise tables that are not there.
        std::fs::write(&out, &full[..4096]).unwrap();
        match open_image(&out) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(image) => {
                // Opening may succeed lazily; reading must then fail or return zeros,
                // never panic.
                let mut buf = vec![0u8; 1 << 20];
                let _ = image.source.read_at(0, &mut buf);
            }
        }
    }
    // A VHD footer announcing a disk larger than the file.
    let vhd = dir.path().join("big.vhd");
    run(
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            "subformat=fixed",
            raw,
            vhd.to_str().unwrap(),
        ],
        "qemu-utils",
    );
    let mut bytes = std::fs::read(&vhd).unwrap();
    let footer = bytes.len() - 512;
    bytes[footer + 48..footer + 56].copy_from_slice(&u64::MAX.to_be_bytes());
    std::fs::write(&vhd, &bytes).unwrap();
    let error = open_image(&vhd).unwrap_err().to_string();
    assert!(error.contains("fixed disk of"), "{error}");
    // An empty file is a (zero-byte) raw image, not a crash.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(open_image(&empty).unwrap().source.len(), 0);
}
