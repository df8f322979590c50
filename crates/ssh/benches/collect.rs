//! Files per second and MB/s collecting a 10,000-file tree over loopback SSH, next to
//! `scp -r` of the same tree from the same server: `cargo bench -p riposte-ssh --bench
//! collect` (needs root for the chrooted server, and `scp`).

use async_trait::async_trait;
use riposte_model::SshSecret;
use riposte_ssh::testing::{ServerOptions, SshServer, put};
use riposte_ssh::{
    FileLimits, FileSelection, HostKeyPolicy, ItemSink, RemoteItem, SshCollectOptions, SshSession,
    SshTarget, SshTimeouts, collect,
};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads every item to the end and forgets it.
struct Discard {
    bytes: u64,
}

#[async_trait]
impl ItemSink for Discard {
    async fn put(
        &mut self,
        _item: &RemoteItem,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> std::io::Result<()> {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = content.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            self.bytes += n as u64;
        }
    }
}

fn main() {
    let files: usize = std::env::var("RIPOSTE_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tree = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tree");
    // Mostly small files of a few KiB, one in a hundred of 1 MiB: a log-heavy host.
    let mut total = 0usize;
    for i in 0..files {
        let size = if i % 100 == 0 {
            1 << 20
        } else {
            2048 + (i % 7) * 1024
        };
        total += size;
        put(
            tree.path(),
            &format!("/data/d{:03}/f{i:05}.log", i % 100),
            &vec![b'a' + (i % 26) as u8; size],
        );
    }
    let server = SshServer::start(ServerOptions {
        chroot: Some(tree.path().to_path_buf()),
        ..Default::default()
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let (items, bytes) = runtime.block_on(async {
        let target = SshTarget {
            address: "127.0.0.1".into(),
            port: server.port,
            user: server.user.clone(),
        };
        let secret = SshSecret::PrivateKey {
            private_key: server.client.private.clone(),
            passphrase: None,
        };
        let policy = HostKeyPolicy {
            known_hosts: vec![server.known_hosts_line()],
            ..Default::default()
        };
        let session = SshSession::connect(&target, &secret, &policy, SshTimeouts::default())
            .await
            .expect("connect");
        let mut sink = Discard { bytes: 0 };
        let options = SshCollectOptions {
            selection: FileSelection::All,
            limits: FileLimits::default(),
            files: true,
            live: false,
            sudo: false,
        };
        let done = collect(&session, &options, &mut sink)
            .await
            .expect("collect");
        (done.files.items, sink.bytes)
    });
    let riposte = started.elapsed().as_secs_f64();
    assert_eq!(items as usize, files);
    assert_eq!(bytes as usize, total);
    let key = server.dir.path().join("client_ed25519");
    let out = tempfile::tempdir().expect("out");
    let started = Instant::now();
    let status = std::process::Command::new("scp")
        .args([
            "-q",
            "-r",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-i",
        ])
        .arg(&key)
        .arg("-P")
        .arg(server.port.to_string())
        .arg(format!("{}@127.0.0.1:/data", server.user))
        .arg(out.path())
        .status()
        .expect("scp runs");
    let scp = started.elapsed().as_secs_f64();
    assert!(status.success(), "scp failed");
    let mb = total as f64 / 1e6;
    println!(
        "riposte-ssh: {files} files, {mb:.1} MB in {riposte:.2} s ({:.0} files/s, {:.1} MB/s)",
        files as f64 / riposte,
        mb / riposte
    );
    println!(
        "scp -r:      {files} files, {mb:.1} MB in {scp:.2} s ({:.0} files/s, {:.1} MB/s)",
        files as f64 / scp,
        mb / scp
    );
}
