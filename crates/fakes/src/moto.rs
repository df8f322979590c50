//! A real AWS emulator for tests: [moto](https://github.com/getmoto/moto)'s `moto_server`,
//! one private process per test on a free loopback port, so every test starts from an
//! empty account and no state leaks between tests. The process is killed when the value
//! is dropped.
//!
//! `moto_server` must be on `PATH` (`pip install 'moto[server]'`; `scripts/test.sh`
//! installs it). A missing emulator fails the test loudly instead of skipping it.
//!
//! [`MotoServer::start_ebs_direct`] runs the same moto through `moto/ebs_direct.py`,
//! which corrects gaps of moto's EBS direct API against AWS's documented behaviour
//! (integer, sorted, paginated block listings; `ResourceNotFoundException` for unknown
//! snapshots; EC2 `DeleteSnapshot` reaching the EBS direct API; EC2 `CreateSnapshot` of a
//! volume serving the blocks of the snapshot the volume was created from) and can keep
//! EC2 snapshots `pending` for a while; see that file.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key tests use against moto (any value works; moto does not check).
pub const ACCESS_KEY_ID: &str = "AKIARIPOSTETEST00000";
/// The secret key tests use against moto.
pub const SECRET_ACCESS_KEY: &str = "riposte-test-secret";
/// The account moto puts resources in for [`ACCESS_KEY_ID`] (moto's default account).
pub const ACCOUNT_ID: &str = "123456789012";

/// The Python wrapper that corrects moto's EBS direct API, then runs moto's server.
const EBS_DIRECT_PLUGIN: &str = include_str!("moto/ebs_direct.py");

/// Options of the EBS direct plugin (`moto/ebs_direct.py`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EbsDirect {
    /// Bytes per block moto reports instead of its 512 (AWS reports 524 288).
    pub block_size: Option<u32>,
    /// Seconds a snapshot made with EC2 `CreateSnapshot` stays `pending` (its progress
    /// rising from 0% to 99%) before it completes; moto completes them at once.
    pub snapshot_seconds: Option<f64>,
    /// Enforce IAM policies after this many requests (moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`): the fixture's requests run unchecked, the
    /// test's are checked against the policies of the IAM user whose keys sign them.
    pub enforce_iam_after: Option<u32>,
}

/// A running `moto_server`; killed on drop.
pub struct MotoServer {
    port: u16,
    child: Child,
}

impl MotoServer {
    /// Starts `moto_server` on a free loopback port and waits until it accepts connections.
    ///
    /// # Panics
    /// When `moto_server` is not installed or does not start within 60 seconds.
    pub async fn start() -> MotoServer {
        Self::start_with_env(&[]).await
    }

    /// Like [`MotoServer::start`], with extra environment for `moto_server`, e.g.
    /// `INITIAL_NO_AUTH_ACTION_COUNT` to enforce IAM permissions after that many requests.
    pub async fn start_with_env(env: &[(&str, &str)]) -> MotoServer {
        Self::spawn(|| Command::new("moto_server"), env).await
    }

    /// Starts moto with the EBS direct API corrections of `moto/ebs_direct.py` (run by
    /// `python3`, which must be the Python moto is installed in). `block_size` makes
    /// moto report that many bytes per block instead of its 512 (AWS reports 524 288).
    pub async fn start_ebs_direct(block_size: Option<u32>) -> MotoServer {
        Self::start_ebs_direct_with(EbsDirect {
            block_size,
            ..EbsDirect::default()
        })
        .await
    }

    /// Like [`MotoServer::start_ebs_direct`], with every option of the plugin.
    pub async fn start_ebs_direct_with(options: EbsDirect) -> MotoServer {
        let mut env = Vec::new();
        if let Some(size) = options.block_size {
            env.push(("RIPOSTE_MOTO_EBS_BLOCK_SIZE", size.to_string()));
        }
        if let Some(seconds) = options.snapshot_seconds {
            env.push(("RIPOSTE_MOTO_SNAPSHOT_SECONDS", seconds.to_string()));
        }
        if let Some(count) = options.enforce_iam_after {
            env.push(("INITIAL_NO_AUTH_ACTION_COUNT", count.to_string()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::spawn(
            || {
                let mut command = Command::new("python3");
                command.args(["-c", EBS_DIRECT_PLUGIN]);
                command
            },
            &env,
        )
        .await
    }

    async fn spawn(program: impl Fn() -> Command, env: &[(&str, &str)]) -> MotoServer {
        let mut last_error = String::new();
        // The port is free when chosen but could be taken before moto binds it: retry.
        for _ in 0..3 {
            let port = free_port();
            let mut command = program();
            let mut child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {:?} ({e}); install moto with `pip install 'moto[server]'` \
                         or run the tests through scripts/test.sh",
                        command.get_program()
                    )
                });
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("moto_server exited with {status} on port {port}");
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return MotoServer { port, child };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("moto_server did not listen on port {port} within 60 s");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("cannot start moto_server: {last_error}");
    }

    /// `http://127.0.0.1:port`, no trailing slash: the endpoint URL for every service.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment variables that point the AWS SDK (or the `riposte` binary) at this
    /// server with test credentials in `region`.
    pub fn env(&self, region: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
            ("AWS_REGION", region.to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", "/dev/null".to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
        ]
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}
