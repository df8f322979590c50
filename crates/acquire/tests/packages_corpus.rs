//! Real tar and zip test archives from dfVFS (Apache-2.0, `../shared/corpus/images/dfvfs`,
//! read in place): absolute names are refused, mixed archives keep their safe entries, and
//! contents arrive byte for byte.

use riposte_acquire::{Layout, PackageFormat, PackageLimits, read_package};
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

/// (original path, size, first line) of a file read.
type FileRead = (String, usize, String);

/// Each file read, the refusals (entry, reason), and the layout.
fn read(path: &Path) -> (Vec<FileRead>, Vec<(String, String)>, Layout) {
    let mut files = Vec::new();
    let report = read_package(
        path,
        &PackageLimits::default(),
        &|_: &str| true,
        &mut |entry, reader| {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            let first = String::from_utf8_lossy(&bytes)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            files.push((entry.original_path.clone(), bytes.len(), first));
            Ok(())
        },
    )
    .unwrap();
    let refused = report
        .refused
        .iter()
        .map(|r| (r.archive_path.clone(), r.reason.clone()))
        .collect();
    (files, refused, report.layout)
}

fn names(files: &[FileRead]) -> Vec<&str> {
    let mut n: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    n.sort();
    n
}

#[test]
fn dfvfs_archives_absolute_and_mixed_paths() {
    let dir = dfvfs();
    for kind in ["tar", "zip"] {
        let at = |name: &str| dir.join(kind).join(format!("{name}.{kind}"));
        let format = if kind == "tar" {
            PackageFormat::Tar
        } else {
            PackageFormat::Zip
        };
        assert_eq!(PackageFormat::detect(&at("syslog")).unwrap(), Some(format));

        let (files, refused, _) = read(&at("absolute_paths"));
        assert!(files.is_empty(), "{kind}: {files:?}");
        assert_eq!(
            refused,
            [
                ("/folder/syslog".to_string(), "absolute path".to_string()),
                ("/folder/wtmp.1".to_string(), "absolute path".to_string())
            ],
            "{kind}"
        );

        let (files, refused, _) = read(&at("mixed_paths"));
        assert_eq!(
            refused,
            [("/folder/syslog".to_string(), "absolute path".to_string())],
            "{kind}"
        );
        assert_eq!(
            names(&files),
            ["/wtmp.1"],
            "{kind}: the one safe entry, host folder stripped"
        );
        assert_eq!(files[0].1, 1537);

        for name in ["with_directory", "without_directory"] {
            let (files, refused, layout) = read(&at(name));
            assert!(refused.is_empty(), "{kind} {name}: {refused:?}");
            assert_eq!(layout, Layout::Plain);
            assert_eq!(names(&files), ["/syslog", "/wtmp.1"], "{kind} {name}");
            let syslog = files.iter().find(|f| f.0 == "/syslog").unwrap();
            assert_eq!(syslog.1, 1247);
            assert!(
                syslog
                    .2
                    .starts_with("Jan 22 07:52:33 myhostname.myhost.com"),
                "{}",
                syslog.2
            );
        }
    }
    // The tar's syslog is byte for byte the corpus' plain syslog.
    let mut from_tar = Vec::new();
    read_package(
        &dir.join("tar/syslog.tar"),
        &PackageLimits::default(),
        &|p: &str| p == "/syslog",
        &mut |_, r| r.read_to_end(&mut from_tar).map(|_| ()),
    )
    .unwrap();
    assert_eq!(from_tar, std::fs::read(dir.join("syslog")).unwrap());
    // And so is the one in the gzip-compressed tar; gzip alone is not a package.
    let tgz = dir.join("syslog.tgz");
    assert_eq!(
        PackageFormat::detect(&tgz).unwrap(),
        Some(PackageFormat::TarGz)
    );
    let (files, refused, _) = read(&tgz);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(names(&files), ["/syslog"]);
    assert_eq!(files[0].1, 1247);
    // A gzip that holds no tar (the plain syslog): nothing is read, and the report says why.
    let report = read_package(
        &dir.join("syslog.gz"),
        &PackageLimits::default(),
        &|_: &str| true,
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert!(report.files.is_empty());
    assert_eq!(report.refused.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0].reason.starts_with("corrupt tar entry"),
        "{:?}",
        report.refused
    );
}
