//! One SSH connection to a host: connect within a timeout, verify the host key, log in
//! with a key or a password, run commands with bounded output, open SFTP (as root through
//! `sudo -n` when asked).

use crate::host_key::{HostKeyCheck, HostKeyPolicy, HostKeyRefusal, HostKeyTrust, fingerprint};
use crate::{SshError, SshTarget, SshTimeouts};
use riposte_model::SshSecret;
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use russh_sftp::client::SftpSession;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::timeout;

/// The SFTP server run through `sudo -n` to read files as root: the first one found of the
/// usual places (Debian/Ubuntu, RHEL/Fedora, Arch/SUSE, BSD-style).
const SUDO_SFTP_SERVER: &str = "sudo -n sh -c 'for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server /usr/lib/sftp-server; do [ -x \"$p\" ] && exec \"$p\"; done; echo \"no sftp-server found\" >&2; exit 127'";

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    /// Standard output, up to the limit.
    pub stdout: Vec<u8>,
    /// Standard error, up to 64 KiB.
    pub stderr: Vec<u8>,
    /// The exit status, when the server sent one.
    pub exit_status: Option<u32>,
    /// True when standard output was cut at the limit.
    pub truncated: bool,
}

impl CommandOutput {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }

    /// Standard error as text, trimmed, for error messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// The host key check's outcome: the accepted key, or why it was refused with the key's
/// fingerprint and algorithm.
type KeyOutcome = Arc<Mutex<Option<Result<HostKeyCheck, (HostKeyRefusal, String, String)>>>>;

/// Checks the server's key against the policy while the connection is set up.
struct Verifier {
    policy: HostKeyPolicy,
    host: String,
    port: u16,
    outcome: KeyOutcome,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                // Host certificates are not trusted as such: the key inside must be pinned.
                russh::keys::PublicKey::from(cert.public_key().clone())
            }
        };
        let algorithm = key.algorithm().to_string();
        let offered = fingerprint(&key);
        let verdict = self.policy.check(&self.host, self.port, &key);
        let accepted = verdict.is_ok();
        let outcome = verdict
            .map(|trust| HostKeyCheck {
                fingerprint: offered.clone(),
                algorithm: algorithm.clone(),
                trust,
            })
            .map_err(|refusal| (refusal, offered, algorithm));
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(outcome);
        }
        Ok(accepted)
    }
}

/// A logged-in SSH connection.
pub struct SshSession {
    handle: Handle<Verifier>,
    target: SshTarget,
    host_key: HostKeyCheck,
    timeouts: SshTimeouts,
}

impl SshSession {
    /// Connects to the target, verifies its host key under `policy` and logs in with
    /// `secret`.
    pub async fn connect(
        target: &SshTarget,
        secret: &SshSecret,
        policy: &HostKeyPolicy,
        timeouts: SshTimeouts,
    ) -> Result<SshSession, SshError> {
        let address = target.display();
        let outcome = Arc::new(Mutex::new(None));
        let verifier = Verifier {
            policy: policy.clone(),
            host: target.address.clone(),
            port: target.port,
            outcome: outcome.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(timeouts.operation.max(Duration::from_secs(1)) * 4),
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 4,
            nodelay: true,
            window_size: 8 << 20,
            maximum_packet_size: 65535,
            ..Default::default()
        });
        let connecting = client::connect(config, (target.address.as_str(), target.port), verifier);
        let result = timeout(timeouts.connect, connecting).await;
        let recorded = outcome.lock().ok().and_then(|mut o| o.take());
        let mut handle = match result {
            Err(_) => {
                return Err(SshError::Timeout {
                    address,
                    stage: "connecting and exchanging keys",
                    seconds: timeouts.connect.as_secs(),
                });
            }
            Ok(Err(e)) => {
                return Err(match recorded {
                    Some(Err((refusal, fingerprint, algorithm))) => SshError::HostKey {
                        address,
                        fingerprint,
                        algorithm,
                        refusal,
                    },
                    _ => match e {
                        russh::Error::IO(io) => SshError::Connect {
                            address,
                            source: io,
                        },
                        other => SshError::Protocol {
                            address,
                            message: other.to_string(),
                        },
                    },
                });
            }
            Ok(Ok(handle)) => handle,
        };
        let host_key = match recorded {
            Some(Ok(check)) => check,
            _ => {
                return Err(SshError::Protocol {
                    address,
                    message: "the server's host key was never checked".into(),
                });
            }
        };
        let user = target.user.clone();
        let method = secret.kind();
        let auth = async {
            match secret {
                SshSecret::PrivateKey {
                    private_key,
                    passphrase,
                } => {
                    let key = russh::keys::decode_secret_key(private_key, passphrase.as_deref())
                        .map_err(|e| {
                            SshError::BadKey(describe_key_error(&e, passphrase.is_some()))
                        })?;
                    let hash = if key.algorithm().is_rsa() {
                        handle
                            .best_supported_rsa_hash()
                            .await
                            .map_err(|e| protocol(&address, e))?
                            .flatten()
                    } else {
                        None
                    };
                    handle
                        .authenticate_publickey(
                            user.clone(),
                            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                        )
                        .await
                        .map_err(|e| protocol(&address, e))
                }
                SshSecret::Password { password } => handle
                    .authenticate_password(user.clone(), password.clone())
                    .await
                    .map_err(|e| protocol(&address, e)),
            }
        };
        let result = timeout(timeouts.operation, auth)
            .await
            .map_err(|_| SshError::Timeout {
                address: address.clone(),
                stage: "logging in",
                seconds: timeouts.operation.as_secs(),
            })??;
        if !result.success() {
            return Err(SshError::Authentication {
                address,
                user,
                method,
            });
        }
        Ok(SshSession {
            handle,
            target: target.clone(),
            host_key,
            timeouts,
        })
    }

    /// The host key the server proved it holds, and why it was trusted.
    pub fn host_key(&self) -> &HostKeyCheck {
        &self.host_key
    }

    /// True when the key was accepted on first use (the caller remembers it).
    pub fn first_use(&self) -> bool {
        self.host_key.trust == HostKeyTrust::FirstUse
    }

    /// Where it is connected to.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The operation timeout.
    pub fn timeouts(&self) -> SshTimeouts {
        self.timeouts
    }

    /// Runs `command` (with standard input closed) and keeps up to `limit` bytes of its
    /// output; the whole command must end within `limit_time`.
    pub async fn run(
        &self,
        command: &str,
        limit: usize,
        limit_time: Duration,
    ) -> Result<CommandOutput, SshError> {
        let address = self.target.display();
        let work = async {
            let mut channel = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| protocol(&address, e))?;
            channel
                .exec(true, command)
                .await
                .map_err(|e| protocol(&address, e))?;
            channel.eof().await.map_err(|e| protocol(&address, e))?;
            let mut out = CommandOutput::default();
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => {
                        let room = limit.saturating_sub(out.stdout.len());
                        if data.len() > room {
                            out.truncated = true;
                        }
                        out.stdout.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    ChannelMsg::ExtendedData { data, .. } => {
                        let room = (64usize << 10).saturating_sub(out.stderr.len());
                        out.stderr.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
                    ChannelMsg::Failure => {
                        return Err(SshError::Refused {
                            address: address.clone(),
                            what: "running a command".into(),
                        });
                    }
                    _ => {}
                }
            }
            Ok(out)
        };
        timeout(limit_time, work)
            .await
            .map_err(|_| SshError::Timeout {
                address: address.clone(),
                stage: "running a command",
                seconds: limit_time.as_secs(),
            })?
    }

    /// An SFTP session: the server's SFTP subsystem, or its `sftp-server` run through
    /// `sudo -n` when `as_root`.
    pub async fn sftp(&self, as_root: bool) -> Result<SftpSession, SshError> {
        let address = self.target.display();
        let open = async {
            let channel = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| protocol(&address, e))?;
            if as_root {
                channel
                    .exec(true, SUDO_SFTP_SERVER)
                    .await
                    .map_err(|e| protocol(&address, e))?;
            } else {
                channel
                    .request_subsystem(true, "sftp")
                    .await
                    .map_err(|e| protocol(&address, e))?;
            }
            let config = russh_sftp::client::Config {
                request_timeout_secs: self.timeouts.operation.as_secs().max(1),
                max_concurrent_reads: 32,
                ..Default::default()
            };
            SftpSession::new_with_config(channel.into_stream(), config)
                .await
                .map_err(|e| SshError::Sftp {
                    address: address.clone(),
                    path: String::new(),
                    message: format!("cannot start SFTP: {e}"),
                })
        };
        timeout(self.timeouts.operation, open)
            .await
            .map_err(|_| SshError::Timeout {
                address: address.clone(),
                stage: "starting SFTP",
                seconds: self.timeouts.operation.as_secs(),
            })?
    }

    /// Says goodbye to the server.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "collection done", "en")
            .await;
    }
}

/// Decodes a private key, the reason when it cannot be used.
pub(crate) fn open_private_key(
    private_key: &str,
    passphrase: Option<&str>,
) -> Result<russh::keys::PrivateKey, String> {
    russh::keys::decode_secret_key(private_key, passphrase)
        .map_err(|e| describe_key_error(&e, passphrase.is_some()))
}

fn protocol(address: &str, e: russh::Error) -> SshError {
    SshError::Protocol {
        address: address.to_string(),
        message: e.to_string(),
    }
}

/// What to tell the operator about a private key that cannot be used.
fn describe_key_error(e: &russh::keys::Error, has_passphrase: bool) -> String {
    match e {
        russh::keys::Error::KeyIsEncrypted => {
            "the private key is protected by a passphrase; store the credential with its passphrase"
                .into()
        }
        _ if has_passphrase => format!(
            "cannot open the private key with the passphrase given (wrong passphrase?): {e}"
        ),
        _ => format!("cannot read the private key: {e}"),
    }
}
