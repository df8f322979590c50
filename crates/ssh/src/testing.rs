//! A real OpenSSH server for tests: `sshd -D` on a free loopback port with its own host
//! key, config and authorized key, as the user running the tests. With a chroot tree it
//! serves that tree over SFTP only (`ChrootDirectory` + `ForceCommand internal-sftp`),
//! which needs the tests to run as root (as CI does).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `sshd` is installed (Debian's `openssh-server`).
pub const SSHD: &str = "/usr/sbin/sshd";

/// A key pair made with `ssh-keygen`.
pub struct KeyPair {
    /// The private key file's text.
    pub private: String,
    /// The public key line (`ssh-ed25519 AAAA… comment`).
    pub public: String,
}

/// Makes a key pair of `kind` (`ed25519`, `rsa`, `ecdsa`), protected by `passphrase`
/// when not empty.
pub fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> KeyPair {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs (apt package openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
    KeyPair {
        private: std::fs::read_to_string(&path).expect("private key"),
        public: std::fs::read_to_string(path.with_extension("pub"))
            .expect("public key")
            .trim()
            .to_string(),
    }
}

/// The name of the user running the tests (the one who logs in).
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How the test server is set up.
#[derive(Default)]
pub struct ServerOptions {
    /// Serve this tree, SFTP only, as the login user's `/` (needs root).
    pub chroot: Option<PathBuf>,
    /// Extra `sshd_config` lines.
    pub extra_config: Vec<String>,
}

/// A running `sshd`, stopped when dropped.
pub struct SshServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its host key's public line (`ssh-ed25519 AAAA…`).
    pub host_key: String,
    /// The key the login user is authorized with.
    pub client: KeyPair,
    /// The login user.
    pub user: String,
    /// The folder holding its config, keys and log.
    pub dir: tempfile::TempDir,
    child: Child,
}

impl SshServer {
    /// Starts a server and waits until it accepts connections.
    pub fn start(options: ServerOptions) -> SshServer {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install the openssh-server package (the test script does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let host = keygen(dir.path(), "host_ed25519", "ed25519", "");
        let client = keygen(dir.path(), "client_ed25519", "ed25519", "");
        std::fs::write(
            dir.path().join("authorized_keys"),
            format!("{}\n", client.public),
        )
        .expect("authorized_keys");
        // Privilege separation needs this directory (made by the package's service).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let user = current_user();
        let mut config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_ed25519\nPidFile {dir}/sshd.pid\nAuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nPermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nMaxStartups 50\nMaxSessions 50\n",
            dir = dir.path().display()
        );
        for line in &options.extra_config {
            config.push_str(line);
            config.push('\n');
        }
        if let Some(tree) = &options.chroot {
            assert_eq!(
                user, "root",
                "a chrooted SFTP server needs the tests to run as root (CI does)"
            );
            config.push_str(&format!(
                "Match User {user}\n    ChrootDirectory {}\n    ForceCommand internal-sftp\n",
                tree.display()
            ));
        }
        let config_path = dir.path().join("sshd_config");
        std::fs::write(&config_path, config).expect("sshd_config");
        let log = std::fs::File::create(dir.path().join("sshd.log")).expect("log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        let mut server = SshServer {
            port,
            host_key: host.public,
            client,
            user,
            dir,
            child,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited ({status}): {}", self.log());
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                // The banner shows it is sshd answering, not something else on the port.
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut banner = [0u8; 4];
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd never answered: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The `known_hosts` line pinning this server's key.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key)
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server that accepts connections and never says anything (a stalled host).
pub struct StallingServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _thread: std::thread::JoinHandle<()>,
}

impl StallingServer {
    /// Starts accepting.
    pub fn start() -> StallingServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        StallingServer {
            port,
            _thread: thread,
        }
    }
}

/// Writes `content` to `root` + `path`, making folders.
pub fn put(root: &Path, path: &str, content: &[u8]) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    let mut f = std::fs::File::create(&full).expect("create");
    f.write_all(content).expect("write");
}
