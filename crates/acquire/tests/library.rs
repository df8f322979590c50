//! Evidence libraries built in temporary directories: host identity from each kind of
//! collection file, and resolution by each key.

use riposte_acquire::{AcquireError, EvidenceLibrary, LibraryHost, Resolution};
use riposte_model::Target;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use tempfile::TempDir;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

/// A library with one host per identity source.
fn library() -> TempDir {
    let dir = TempDir::new().unwrap();
    let lib = dir.path();
    // Debian: hostname file, 127.0.1.1 line, other machines in hosts, interfaces.
    write(lib, "web01/etc/hostname", "web01\n");
    write(
        lib,
        "web01/etc/hosts",
        "127.0.0.1 localhost\n127.0.1.1 web01.corp.local web01\n10.0.0.9 db01 db01.corp.local\n\
         ::1 localhost ip6-localhost\n",
    );
    write(
        lib,
        "web01/etc/network/interfaces",
        "auto eth0\niface eth0 inet static\n  address 10.0.0.5/24\n",
    );
    write(
        lib,
        "web01/etc/network/interfaces.d/eth1",
        "iface eth1 inet static\n address 10.0.3.5\n",
    );
    // Ubuntu: netplan only; the folder is named after the instance.
    write(lib, "i-0abc123/etc/hostname", "ip-10-0-0-7\n");
    write(
        lib,
        "i-0abc123/etc/netplan/50-cloud-init.yaml",
        "network:\n  ethernets:\n    ens5:\n      addresses: [10.0.0.7/24]\n      nameservers:\n        addresses: [10.0.0.2]\n",
    );
    write(
        lib,
        "i-0abc123/etc/netplan/README",
        "addresses: [10.9.9.9/24]\n",
    );
    // RHEL: sysconfig network and ifcfg; hosts line for its own IP adds an alias.
    write(
        lib,
        "db01/etc/sysconfig/network",
        "HOSTNAME=db01.corp.local\n",
    );
    write(
        lib,
        "db01/etc/sysconfig/network-scripts/ifcfg-eth0",
        "DEVICE=eth0\nIPADDR=10.0.0.9\n",
    );
    write(
        lib,
        "db01/etc/sysconfig/network-scripts/ifcfg-lo",
        "DEVICE=lo\nIPADDR=127.0.0.1\n",
    );
    write(lib, "db01/etc/hosts", "10.0.0.9 database\n10.0.0.5 web01\n");
    // A folder named by its IP, with no identity files at all.
    fs::create_dir_all(lib.join("192.168.52.131/var/log")).unwrap();
    // Not hosts: a plain file and a hidden folder.
    write(lib, "README.txt", "evidence library\n");
    fs::create_dir_all(lib.join(".trash/old")).unwrap();
    dir
}

fn host<'a>(hosts: &'a [LibraryHost], key: &str) -> &'a LibraryHost {
    hosts.iter().find(|h| h.key == key).unwrap()
}

fn resolve(lib: &EvidenceLibrary, target: Target) -> Resolution {
    lib.resolve(&target).unwrap()
}

fn found(lib: &EvidenceLibrary, target: Target) -> (String, String) {
    match resolve(lib, target) {
        Resolution::Found { host, matched_on } => (host.key, matched_on),
        other => panic!("expected a host, got {other:?}"),
    }
}

#[test]
fn open_requires_a_directory() {
    let dir = library();
    assert!(EvidenceLibrary::open(dir.path()).is_ok());
    let err = EvidenceLibrary::open(dir.path().join("README.txt")).unwrap_err();
    assert!(matches!(err, AcquireError::NotADirectory { .. }), "{err}");
    assert!(err.to_string().ends_with("README.txt is not a directory"));
    let err = EvidenceLibrary::open(dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, AcquireError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing"));
}

#[test]
fn hosts_read_identity_from_each_kind_of_collection() {
    let dir = library();
    let lib = EvidenceLibrary::open(dir.path()).unwrap();
    let hosts = lib.hosts().unwrap();
    let keys: Vec<&str> = hosts.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(keys, ["192.168.52.131", "db01", "i-0abc123", "web01"]);

    let web01 = host(&hosts, "web01");
    assert_eq!(web01.root, dir.path().join("web01"));
    assert_eq!(web01.names, ["web01", "web01.corp.local"]);
    assert_eq!(web01.ips, ips(&["10.0.0.5", "10.0.3.5"]));

    let cloud = host(&hosts, "i-0abc123");
    assert_eq!(cloud.names, ["i-0abc123", "ip-10-0-0-7"]);
    assert_eq!(cloud.ips, ips(&["10.0.0.7"]));

    let db = host(&hosts, "db01");
    assert_eq!(db.names, ["db01", "db01.corp.local", "database"]);
    assert_eq!(db.ips, ips(&["10.0.0.9"]));

    let by_ip = host(&hosts, "192.168.52.131");
    assert!(by_ip.names.is_empty());
    assert_eq!(by_ip.ips, ips(&["192.168.52.131"]));
}

#[test]
fn resolves_by_each_key() {
    let dir = library();
    let lib = EvidenceLibrary::open(dir.path()).unwrap();
    let target = |id: Option<&str>, name: Option<&str>, ip: &[&str]| Target {
        instance_id: id.map(str::to_string),
        hostname: name.map(str::to_string),
        ips: ips(ip),
        ..Target::default()
    };
    assert_eq!(
        found(&lib, target(Some("i-0abc123"), None, &[])),
        ("i-0abc123".into(), "instance id i-0abc123".into())
    );
    assert_eq!(
        found(&lib, target(None, Some("Web01.corp.local"), &[])),
        ("web01".into(), "hostname Web01.corp.local".into())
    );
    assert_eq!(
        found(
            &lib,
            target(None, Some("ip-10-0-0-7.eu-west-1.compute.internal"), &[])
        )
        .0,
        "i-0abc123"
    );
    assert_eq!(found(&lib, target(None, Some("database"), &[])).0, "db01");
    assert_eq!(
        found(&lib, target(None, None, &["10.0.3.5"])),
        ("web01".into(), "ip 10.0.3.5".into())
    );
    assert_eq!(
        found(&lib, target(None, None, &["192.168.52.131"])).0,
        "192.168.52.131"
    );
    // web01's hosts file lists db01 and db01's lists web01: neither takes the other's name.
    assert_eq!(found(&lib, target(None, Some("db01"), &[])).0, "db01");
    assert_eq!(found(&lib, target(None, None, &["10.0.0.9"])).0, "db01");
    // A DNS server from netplan and a non-YAML file are not the host's addresses.
    assert!(matches!(
        resolve(&lib, target(None, None, &["10.0.0.2"])),
        Resolution::NotFound { .. }
    ));
    assert!(matches!(
        resolve(&lib, target(None, None, &["10.9.9.9"])),
        Resolution::NotFound { .. }
    ));
}

#[test]
fn not_found_explains_what_was_tried() {
    let dir = library();
    let lib = EvidenceLibrary::open(dir.path()).unwrap();
    let target = Target {
        hostname: Some("mail01".into()),
        ips: ips(&["10.7.7.7"]),
        ..Target::default()
    };
    let Resolution::NotFound { reason } = resolve(&lib, target) else {
        panic!("found")
    };
    assert_eq!(
        reason,
        format!(
            "no host in {} matches hostname 'mail01', ips [10.7.7.7]; known hosts: 192.168.52.131, db01, i-0abc123, web01",
            dir.path().display()
        )
    );
}

#[test]
fn host_looks_up_one_folder_by_key() {
    let dir = library();
    let lib = EvidenceLibrary::open(dir.path()).unwrap();
    assert_eq!(
        lib.host("web01").unwrap().unwrap().ips,
        ips(&["10.0.0.5", "10.0.3.5"])
    );
    for missing in ["nope", "", "..", ".trash", "web01/etc", "README.txt"] {
        assert_eq!(lib.host(missing).unwrap(), None, "{missing}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_never_lend_a_host_its_identity() {
    use std::os::unix::fs::symlink;
    let dir = library();
    let lib_root = dir.path();
    let outside = TempDir::new().unwrap();
    write(outside.path(), "etc/hostname", "server-itself\n");
    write(outside.path(), "etc/hosts", "10.5.5.5 server-itself\n");
    // A host folder that is a link, an `etc` that is a link, and a hostname file that is a link.
    symlink(outside.path(), lib_root.join("linked-host")).unwrap();
    fs::create_dir_all(lib_root.join("evil1")).unwrap();
    symlink(outside.path().join("etc"), lib_root.join("evil1/etc")).unwrap();
    fs::create_dir_all(lib_root.join("evil2/etc")).unwrap();
    symlink(
        outside.path().join("etc/hostname"),
        lib_root.join("evil2/etc/hostname"),
    )
    .unwrap();
    symlink(
        outside.path().join("etc/hosts"),
        lib_root.join("evil2/etc/hosts"),
    )
    .unwrap();

    let lib = EvidenceLibrary::open(lib_root).unwrap();
    let hosts = lib.hosts().unwrap();
    assert!(hosts.iter().all(|h| h.key != "linked-host"));
    assert_eq!(host(&hosts, "evil1").names, ["evil1"]);
    assert_eq!(host(&hosts, "evil2").names, ["evil2"]);
    assert!(
        hosts
            .iter()
            .all(|h| h.ips.iter().all(|ip| ip.to_string() != "10.5.5.5"))
    );
    let target = Target {
        hostname: Some("server-itself".into()),
        ..Target::default()
    };
    assert!(matches!(resolve(&lib, target), Resolution::NotFound { .. }));
    assert_eq!(lib.host("linked-host").unwrap(), None);
}

/// Runs a tool, failing with what to install when it is missing.
fn tool(program: &str, args: &[&str], package: &str) {
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): install {package}"));
    assert!(status.success(), "{program} {args:?}");
}

#[test]
fn packages_and_disk_images_are_hosts_named_after_their_file() {
    let dir = TempDir::new().unwrap();
    let lib = dir.path().join("lib");
    let src = dir.path().join("src");
    write(&src, "var/log/auth.log", "x\n");
    fs::create_dir_all(&lib).unwrap();
    // A tar.gz package, an ext4 image split in two raw segments, a folder, and a file that
    // is neither (content decides, not the name).
    tool(
        "tar",
        &[
            "-czf",
            lib.join("web02.tar.gz").to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            ".",
        ],
        "tar",
    );
    let image = dir.path().join("db01.img");
    tool(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            src.to_str().unwrap(),
            image.to_str().unwrap(),
            "4M",
        ],
        "e2fsprogs",
    );
    let bytes = fs::read(&image).unwrap();
    fs::write(lib.join("db01.000"), &bytes[..3 << 20]).unwrap();
    fs::write(lib.join("db01.001"), &bytes[3 << 20..]).unwrap();
    write(&lib, "web01/etc/hostname", "web01\n");
    fs::write(lib.join("notes.vmdk"), "not an image").unwrap();
    // A package named like a folder host is shadowed by the folder.
    fs::copy(lib.join("web02.tar.gz"), lib.join("web01.zip")).unwrap();

    let library = EvidenceLibrary::open(&lib).unwrap();
    let hosts = library.hosts().unwrap();
    let summary: Vec<(&str, riposte_acquire::HostEvidence, String)> = hosts
        .iter()
        .map(|h| {
            let file = h.root.file_name().unwrap().to_string_lossy().to_string();
            (h.key.as_str(), h.kind, file)
        })
        .collect();
    use riposte_acquire::HostEvidence::{Folder, Image, Package};
    assert_eq!(
        summary,
        vec![
            ("db01", Image, "db01.000".to_string()),
            ("web01", Folder, "web01".to_string()),
            ("web02", Package, "web02.tar.gz".to_string()),
        ]
    );
    let (key, _) = found(
        &library,
        Target {
            hostname: Some("db01".into()),
            ..Target::default()
        },
    );
    assert_eq!(key, "db01");
    assert_eq!(library.host("web02").unwrap().unwrap().kind, Package);
}
