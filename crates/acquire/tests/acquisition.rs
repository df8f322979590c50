//! The shared acquisition path: the operating system a folder or package holds decides the
//! triage profile (Windows names compared without case, drive folders mapped to `C:/…`),
//! a mixed collection gets both, a collection with neither is read as loose logs, and links
//! are refused.

use riposte_acquire::{AcquireOptions, AcquisitionReport, acquire};
use riposte_model::{EvidenceForm, SystemLayout};
use std::path::Path;

/// What the tests' parsers read: EVTX, auth logs and shell histories.
fn parsable(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".evtx")
        || path == "/var/log/auth.log"
        || path.ends_with("/.bash_history")
}

/// Acquires `path`; returns the report and each item's original path and content.
fn run(path: &Path, full: bool) -> (AcquisitionReport, Vec<(String, Vec<u8>)>) {
    let mut items = Vec::new();
    let report = acquire(
        path,
        &AcquireOptions::new(full, &parsable),
        &mut |item, content| {
            let mut bytes = Vec::new();
            content.read_to_end(&mut bytes)?;
            items.push((item.original_path.to_string(), bytes));
            Ok(())
        },
    )
    .unwrap();
    items.sort();
    (report, items)
}

fn write(root: &Path, path: &str, content: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, content).unwrap();
}

/// `tar -C dir -cf archive entry`; returns the archive.
fn tar_of(dir: &Path, entry: &str, archive: &Path) -> std::path::PathBuf {
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(archive)
        .arg(entry)
        .status()
        .expect("run tar");
    assert!(
        status.success(),
        "tar -C {} -cf {}",
        dir.display(),
        archive.display()
    );
    archive.to_path_buf()
}

fn paths(items: &[(String, Vec<u8>)]) -> Vec<&str> {
    items.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn a_folder_holding_a_linux_root_and_a_kape_drive_gets_both_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "var/log/auth.log", "sshd line\n");
    write(root, "usr/bin/ls", "ELF");
    write(root, "C/WINDOWS/system32/WINEVT/Logs/Security.evtx", "evtx");
    write(root, "C/Windows/System32/kernel32.dll", "MZ");
    write(root, "C/Users/bob/NTUSER.DAT", "regf");

    let (report, items) = run(root, false);
    assert_eq!(report.form, EvidenceForm::Folder);
    assert_eq!(
        report.layouts,
        vec![SystemLayout::Windows, SystemLayout::Linux]
    );
    assert_eq!(report.profiles, vec!["linux-triage", "windows-triage"]);
    assert_eq!(
        paths(&items),
        vec![
            "/var/log/auth.log",
            "C:/Users/bob/NTUSER.DAT",
            "C:/WINDOWS/system32/WINEVT/Logs/Security.evtx",
        ]
    );
    assert_eq!(report.items, 3);
    assert_eq!(report.parsable, 2);

    // Full takes every file, drive folders under their drive.
    let (report, items) = run(root, true);
    assert_eq!(report.profiles, vec!["full"]);
    assert_eq!(
        paths(&items),
        vec![
            "/usr/bin/ls",
            "/var/log/auth.log",
            "C:/Users/bob/NTUSER.DAT",
            "C:/WINDOWS/system32/WINEVT/Logs/Security.evtx",
            "C:/Windows/System32/kernel32.dll",
        ]
    );
}

#[test]
fn a_copied_windows_volume_is_read_with_the_windows_profile() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Windows/System32/winevt/Logs/System.evtx", "evtx");
    write(root, "Windows/Prefetch/CMD.EXE-0BD30981.pf", "MAM");
    write(root, "Program Files/App/app.exe", "MZ");
    let (report, items) = run(root, false);
    assert_eq!(report.layouts, vec![SystemLayout::Windows]);
    assert_eq!(
        paths(&items),
        vec![
            "/Windows/Prefetch/CMD.EXE-0BD30981.pf",
            "/Windows/System32/winevt/Logs/System.evtx",
        ]
    );
    assert_eq!(items[1].1, b"evtx");
}

#[test]
fn a_folder_of_loose_logs_takes_what_a_parser_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "export/Security.evtx", "evtx");
    write(root, "export/notes.txt", "not a log");
    write(root, "auth.log", "sshd line\n");
    let (report, items) = run(root, false);
    assert_eq!(report.layouts, vec![SystemLayout::LooseLogs]);
    assert_eq!(report.profiles, vec!["loose-logs"]);
    assert_eq!(
        paths(&items),
        vec!["/export/Security.evtx", "/var/log/auth.log"]
    );
    assert_eq!(report.parsable, 2);
}

#[test]
fn links_are_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "var/log/syslog", "line\n");
    std::os::unix::fs::symlink("/etc/shadow", root.join("var/log/auth.log")).unwrap();
    let (report, items) = run(root, false);
    assert_eq!(paths(&items), vec!["/var/log/syslog"]);
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.path == "/var/log/auth.log" && s.reason.contains("symbolic link")),
        "{:?}",
        report.skipped
    );
    let link = dir.path().join("host-link");
    std::os::unix::fs::symlink(root, &link).unwrap();
    let refused = acquire(
        &link,
        &AcquireOptions::new(false, &parsable),
        &mut |_, _| Ok(()),
    );
    assert!(refused.is_err());
}

#[test]
fn a_package_of_a_windows_volume_and_of_loose_logs() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src, "Windows/System32/winevt/Logs/Security.evtx", "evtx");
    write(&src, "Windows/System32/kernel32.dll", "MZ");
    let tar = tar_of(&src, "Windows", &dir.path().join("volume.tar"));
    let (report, items) = run(&tar, false);
    assert_eq!(report.form, EvidenceForm::Package);
    assert_eq!(report.layouts, vec![SystemLayout::Windows]);
    assert_eq!(
        paths(&items),
        vec!["/Windows/System32/winevt/Logs/Security.evtx"]
    );

    let loose = dir.path().join("loose");
    write(&loose, "Security.evtx", "evtx");
    write(&loose, "readme.txt", "hello");
    let tar = tar_of(&loose, ".", &dir.path().join("loose.tar"));
    let (report, items) = run(&tar, false);
    assert_eq!(report.layouts, vec![SystemLayout::LooseLogs]);
    assert_eq!(paths(&items), vec!["/Security.evtx"]);
}

#[test]
fn a_lone_file_is_placed_where_a_parser_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "auth.log", "sshd line\n");
    let (report, items) = run(&dir.path().join("auth.log"), false);
    assert_eq!(report.form, EvidenceForm::File);
    assert_eq!(paths(&items), vec!["/var/log/auth.log"]);
    assert_eq!(report.parsable, 1);
}
