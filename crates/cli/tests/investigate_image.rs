//! `riposte investigate` and `riposte fs` on a disk image built with the real tools (sfdisk,
//! mkfs.ext4 -d, mkfs.vfat + mcopy, qemu-img, ewfacquire): the Linux partition's triage
//! artifacts give the same verdict as the folder they were made from, the Windows
//! partition's artifacts are found without regard to case, a full acquisition adds every
//! file and the filesystem timeline, and every container gives the same hashes.

mod common;

use common::{disk_image, investigate, tool};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

fn riposte(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .arg(path)
        .output()
        .unwrap()
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn triage_of_a_partitioned_image_finds_linux_and_windows_artifacts() {
    let tmp = tempfile::tempdir().unwrap();
    let (disk, linux) = disk_image(tmp.path());
    let report = investigate(&disk, &[]);

    assert_eq!(report["image"]["format"], "raw");
    let volumes = report["image"]["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 2, "{volumes:#?}");
    assert_eq!(volumes[0]["filesystem"], "ext");
    assert_eq!(volumes[1]["filesystem"], "fat");

    let found = common::report_artifacts(&report);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
            "/Windows/System32/winevt/Logs/Security.evtx",
            "/etc/hostname",
            "/etc/passwd",
            "/root/.bash_history",
            "/tmp/.x/implant",
            "/var/log/auth.log",
        ]
    );
    // Each hash is the hash of the file the image was made from.
    for (path, sha256) in &found {
        if !path.starts_with("/Windows") && !path.starts_with("/Users") {
            assert_eq!(sha256, &sha256_of(&linux.join(&path[1..])), "{path}");
        }
    }
    // The planted link is reported, not followed.
    let skipped = report["image"]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["original_path"] == "/root/.lesshst"
                && s["reason"]["kind"] == "symlink"
                && s["reason"]["target"] == "/etc/shadow"),
        "{skipped:#?}"
    );
    // Same verdict as the folder: brute force then a root login, and a reverse shell.
    let folder = investigate(&linux, &[]);
    assert_eq!(
        report["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    assert_eq!(report["verdict"], folder["verdict"]);
}

#[test]
fn every_container_of_the_disk_gives_the_same_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let (disk, _) = disk_image(tmp.path());
    let expected = common::report_artifacts(&investigate(&disk, &[]));
    let raw = disk.to_str().unwrap();
    for (name, format, options) in [
        ("disk.qcow2", "qcow2", ""),
        ("disk.vmdk", "vmdk", "subformat=streamOptimized"),
        ("disk.vhdx", "vhdx", ""),
        ("disk.vhd", "vpc", ""),
    ] {
        let out = tmp.path().join(name);
        let mut args = vec!["convert", "-f", "raw", "-O", format];
        if !options.is_empty() {
            args.extend(["-o", options]);
        }
        args.extend([raw, out.to_str().unwrap()]);
        tool("qemu-img", &args, "qemu-utils");
        // A name that says nothing: the format is found by content.
        let anonymous = tmp.path().join(format!("evidence-{format}"));
        std::fs::rename(&out, &anonymous).unwrap();
        let report = investigate(&anonymous, &[]);
        assert_eq!(
            report["image"]["format"],
            if format == "vpc" { "vhd" } else { format }
        );
        assert_eq!(common::report_artifacts(&report), expected, "{name}");
    }
    let target = tmp.path().join("acquired");
    tool(
        "ewfacquire",
        &[
            "-u",
            "-q",
            "-c",
            "none",
            "-S",
            "20MiB",
            "-t",
            target.to_str().unwrap(),
            raw,
        ],
        "ewf-tools",
    );
    assert!(
        tmp.path().join("acquired.E02").exists(),
        "a multi-segment E01"
    );
    let report = investigate(&tmp.path().join("acquired.E01"), &[]);
    assert_eq!(report["image"]["format"], "ewf");
    assert_eq!(common::report_artifacts(&report), expected);
}

#[test]
fn full_acquisition_takes_every_file_and_the_filesystem_timeline() {
    let tmp = tempfile::tempdir().unwrap();
    let (disk, linux) = disk_image(tmp.path());
    let report = investigate(&disk, &["--full"]);
    let found = common::report_artifacts(&report);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "/usr/bin/ls",
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
        "/Program Files/App/app.exe",
        "/$Riposte/filesystem-timeline.body",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    let timeline = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "/$Riposte/filesystem-timeline.body")
        .unwrap();
    assert_eq!(timeline["parser"], "bodyfile");
    assert!(timeline["events"].as_u64().unwrap() > 20, "{timeline:#}");

    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["timeline", "--full"])
        .arg(&disk)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // /etc/passwd's modification time as `touch -d` set it, as an m... event.
    let passwd: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .unwrap_or("")
                .contains(" /etc/passwd ")
        })
        .collect();
    assert!(
        passwd.iter().any(|e| e["datetime"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-01T12:00:00")
            && e["message"].as_str().unwrap().starts_with('m')),
        "{passwd:#?}"
    );
    let size = std::fs::metadata(linux.join("etc/passwd")).unwrap().len();
    assert!(
        passwd[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("({size} bytes)"))
    );
}

#[test]
fn fs_commands_list_and_print_files_like_the_sleuth_kit() {
    let tmp = tempfile::tempdir().unwrap();
    let (disk, linux) = disk_image(tmp.path());
    let volumes = riposte(&["fs", "volumes"], &disk);
    assert!(volumes.status.success());
    let text = String::from_utf8_lossy(&volumes.stdout);
    assert!(
        text.contains("0x83 Linux") && text.contains("ext"),
        "{text}"
    );
    assert!(text.contains("fat"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["fs", "ls", "-r"])
        .arg(&disk)
        .arg("/var")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with('r') && l.ends_with(" /var/log/auth.log")),
        "{listing}"
    );
    assert!(!listing.contains("/etc/"), "{listing}");

    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["fs", "cat"])
        .arg(&disk)
        .arg("/var/log/auth.log")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        out.stdout,
        std::fs::read(linux.join("var/log/auth.log")).unwrap()
    );

    // The FAT partition, by number; names compare without case there.
    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["fs", "cat", "--partition", "2"])
        .arg(&disk)
        .arg("/windows/system32/WINEVT/logs/security.evtx")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"ElfFile\0 not a real log");

    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["fs", "ls", "--partition", "7"])
        .arg(&disk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no partition 7"));

    let out = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["fs", "cat"])
        .arg(&disk)
        .arg("/root/.lesshst")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("symbolic link to /etc/shadow (not followed)")
    );
}
