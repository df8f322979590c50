//! Triage selection over collections built in temporary directories.

use riposte_acquire::{
    AcquireError, SkipReason, TriageOptions, TriageProfile, TriageSelection, all_files,
    triage_files,
};
use std::fs;
use std::path::Path;
use tempfile::TempDir;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn originals(selection: &TriageSelection) -> Vec<&str> {
    selection
        .files
        .iter()
        .map(|f| f.original_path.as_str())
        .collect()
}

fn skipped(selection: &TriageSelection) -> Vec<(&str, &SkipReason)> {
    selection
        .skipped
        .iter()
        .map(|s| (s.original_path.as_str(), &s.reason))
        .collect()
}

#[test]
fn linux_profile_selects_exactly_the_right_files() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let wanted = [
        "etc/crontab",
        "etc/group",
        "etc/hostname",
        "etc/hosts",
        "etc/passwd",
        "etc/shadow",
        "etc/sudoers",
        "etc/sudoers.d/90-cloud-init-users",
        "home/alice/.bash_history",
        "home/bob/.zsh_history",
        "root/.bash_history",
        "root/.bash_profile",
        "tmp/auth.log",
        "var/log/auth.log",
        "var/log/auth.log.1",
        "var/log/auth.log.2.gz",
        "var/log/journal/0123abcd/system.journal",
        "var/log/messages",
        "var/log/secure-20240501",
        "var/log/syslog",
    ];
    let decoys = [
        "etc/passwd-",
        "etc/shadow-x/y",
        "etc/group.bak/x",
        "home/alice/.bash_history.d/old",
        "home/alice/projects/.bash_history",
        "home/.bash_history",
        "var/log/old-auth.log",
        "var/log/nested/auth.log",
        "var/log/apache2/access.log",
        "var/log/journal/0123abcd/notes.txt",
        "root/notes.txt",
        "auth.log",
    ];
    for rel in wanted.iter().chain(&decoys) {
        write(root, rel, rel);
    }
    // A directory where a file pattern matches is not collected, nor reported.
    fs::create_dir_all(root.join("var/log/syslog.d")).unwrap();

    let selection = triage_files(root).unwrap();
    let expected: Vec<String> = wanted.iter().map(|w| format!("/{w}")).collect();
    assert_eq!(originals(&selection), expected);
    assert!(selection.skipped.is_empty(), "{:?}", selection.skipped);

    let auth = &selection
        .files
        .iter()
        .find(|f| f.original_path == "/var/log/auth.log")
        .unwrap();
    assert_eq!(auth.local_path, root.join("var/log/auth.log"));
    assert_eq!(auth.size, "var/log/auth.log".len() as u64);
    assert!(auth.modified.is_some());
    let mut text = String::new();
    std::io::Read::read_to_string(&mut auth.open().unwrap(), &mut text).unwrap();
    assert_eq!(text, "var/log/auth.log");
}

#[test]
fn custom_profiles_and_overlapping_patterns_list_each_file_once() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "opt/app/logs/app.log", "x");
    write(dir.path(), "opt/app/logs/app.1.log", "x");
    write(dir.path(), "opt/app/logs/app.txt", "x");
    let profile = TriageProfile::parse(
        "app",
        "/opt/*/logs/*.log\n/opt/app/logs/app.log # twice\n/opt/a?p/logs/app.?.log\n",
    )
    .unwrap();
    let selection = profile
        .select(dir.path(), &TriageOptions::default())
        .unwrap();
    assert_eq!(
        originals(&selection),
        ["/opt/app/logs/app.1.log", "/opt/app/logs/app.log"]
    );
}

#[test]
fn files_over_the_size_cap_are_skipped_with_a_reason() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "var/log/syslog", &"x".repeat(100));
    write(dir.path(), "var/log/syslog.1", &"x".repeat(10));
    let options = TriageOptions { max_file_size: 50 };
    let selection = TriageProfile::linux().select(dir.path(), &options).unwrap();
    assert_eq!(originals(&selection), ["/var/log/syslog.1"]);
    assert_eq!(
        skipped(&selection),
        [(
            "/var/log/syslog",
            &SkipReason::TooLarge {
                size: 100,
                limit: 50
            }
        )]
    );
    assert_eq!(
        selection.skipped[0].to_string(),
        "/var/log/syslog: 100 bytes, over the 50-byte limit"
    );
}

#[test]
fn host_root_must_be_a_directory() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "file", "x");
    assert!(matches!(
        triage_files(&dir.path().join("file")),
        Err(AcquireError::NotADirectory { .. })
    ));
    assert!(matches!(
        triage_files(&dir.path().join("missing")),
        Err(AcquireError::Io { .. })
    ));
}

#[test]
fn full_acquisition_selects_every_file_in_order() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    write(root, "var/log/auth.log", "a");
    write(root, "opt/app/data/blob.bin", "b");
    write(root, "srv/data/index.html", "c");
    write(root, ".hidden", "d");
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    let full = all_files(root).unwrap();
    assert_eq!(
        originals(&full),
        [
            "/.hidden",
            "/opt/app/data/blob.bin",
            "/srv/data/index.html",
            "/var/log/auth.log"
        ]
    );
    // Triage takes only what its profile names.
    assert_eq!(
        originals(&triage_files(root).unwrap()),
        ["/var/log/auth.log"]
    );
    assert!(matches!(
        all_files(&root.join("var/log/auth.log")),
        Err(AcquireError::NotADirectory { .. })
    ));
}

#[cfg(unix)]
mod unix {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::os::unix::net::UnixListener;

    #[test]
    fn full_acquisition_never_follows_links() {
        let server = TempDir::new().unwrap();
        write(server.path(), "secret", "server file");
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        write(root, "etc/passwd", "root:x:0:0");
        symlink(server.path(), root.join("etc/escape")).unwrap();
        symlink(server.path().join("secret"), root.join("leak")).unwrap();
        let full = all_files(root).unwrap();
        assert_eq!(originals(&full), ["/etc/passwd"]);
        let links: Vec<&str> = skipped(&full).iter().map(|(p, _)| *p).collect();
        assert_eq!(links, ["/etc/escape", "/leak"]);
        assert!(
            skipped(&full)
                .iter()
                .all(|(_, r)| matches!(r, SkipReason::Symlink { .. }))
        );
    }

    #[test]
    fn symlinks_are_refused_at_any_depth_and_reported() {
        let server = TempDir::new().unwrap();
        write(server.path(), "etc/shadow", "root:$6$secret");
        write(server.path(), "home/admin/.bash_history", "secret commands");
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        write(root, "var/log/syslog", "ok");
        write(root, "etc/passwd", "ok");
        fs::create_dir_all(root.join("home/alice")).unwrap();
        // A log pointing at the server's shadow file, a user whose home is the server's,
        // a relative link escaping the host root, and a link staying inside it.
        symlink(
            server.path().join("etc/shadow"),
            root.join("var/log/auth.log"),
        )
        .unwrap();
        symlink(server.path().join("home/admin"), root.join("home/mallory")).unwrap();
        symlink(
            "../../../../etc/hostname",
            root.join("home/alice/.bash_history"),
        )
        .unwrap();
        symlink("syslog", root.join("var/log/syslog.1")).unwrap();
        // `root/` itself replaced by a link.
        symlink(server.path().join("home/admin"), root.join("root")).unwrap();

        let selection = triage_files(root).unwrap();
        assert_eq!(originals(&selection), ["/etc/passwd", "/var/log/syslog"]);
        let reported: Vec<&str> = selection
            .skipped
            .iter()
            .map(|s| s.original_path.as_str())
            .collect();
        assert_eq!(
            reported,
            [
                "/home/alice/.bash_history",
                "/home/mallory",
                "/root",
                "/var/log/auth.log",
                "/var/log/syslog.1"
            ]
        );
        assert_eq!(
            selection.skipped[3].reason,
            SkipReason::Symlink {
                target: server.path().join("etc/shadow").display().to_string()
            }
        );
        assert!(
            selection.skipped[0]
                .to_string()
                .contains("symbolic link to ../../../../etc/hostname, not followed")
        );
        for file in &selection.files {
            assert!(file.local_path.starts_with(root));
        }
    }

    #[test]
    fn linked_host_root_is_refused() {
        let real = TempDir::new().unwrap();
        let dir = TempDir::new().unwrap();
        symlink(real.path(), dir.path().join("web01")).unwrap();
        let err = triage_files(&dir.path().join("web01")).unwrap_err();
        assert!(matches!(err, AcquireError::Unsafe { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"));
    }

    #[test]
    fn special_files_are_skipped() {
        let dir = TempDir::new().unwrap();
        fs::create_dir_all(dir.path().join("var/log")).unwrap();
        let _listener = UnixListener::bind(dir.path().join("var/log/syslog")).unwrap();
        let selection = triage_files(dir.path()).unwrap();
        assert!(selection.files.is_empty());
        assert_eq!(
            skipped(&selection),
            [(
                "/var/log/syslog",
                &SkipReason::NotRegular {
                    file_type: "socket"
                }
            )]
        );
    }

    #[test]
    fn open_refuses_a_file_swapped_for_a_link_after_selection() {
        let dir = TempDir::new().unwrap();
        write(dir.path(), "etc/passwd", "root:x:0:0");
        let selection = triage_files(dir.path()).unwrap();
        let file = &selection.files[0];
        fs::remove_file(&file.local_path).unwrap();
        symlink("/etc/passwd", &file.local_path).unwrap();
        let err = file.open().unwrap_err();
        assert!(matches!(err, AcquireError::Unsafe { .. }), "{err}");
    }

    #[test]
    fn unreadable_directories_are_reported_not_fatal() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new().unwrap();
        write(dir.path(), "home/alice/.bash_history", "ls");
        write(dir.path(), "etc/hosts", "127.0.0.1 localhost");
        let home = dir.path().join("home");
        fs::set_permissions(&home, fs::Permissions::from_mode(0o000)).unwrap();
        // Root ignores permissions: then there is nothing unreadable to test.
        let privileged = fs::read_dir(&home).is_ok();
        let selection = triage_files(dir.path());
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
        let selection = selection.unwrap();
        if privileged {
            return;
        }
        assert_eq!(originals(&selection), ["/etc/hosts"]);
        assert_eq!(selection.skipped[0].original_path, "/home");
        assert!(matches!(
            selection.skipped[0].reason,
            SkipReason::Unreadable { .. }
        ));
    }
}
