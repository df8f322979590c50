//! Agentless live triage of a running Linux host over SSH.
//!
//! [`SshSession::connect`] reaches the host within a timeout, makes it prove it holds a
//! host key the scope pins ([`HostKeyPolicy`]: OpenSSH `known_hosts` lines or `SHA256:`
//! fingerprints, trust on first use only when asked) and logs in with a key (passphrase
//! supported; Ed25519, ECDSA and RSA) or a password. [`collect`] then reads, as root
//! through `sudo -n` when the scope says so:
//! - **files**: the Linux triage profile's files over SFTP ([`files`]), never following a
//!   link, bounded like triage packages;
//! - **live state**: processes, sockets, logged-in users, kernel modules, mounts, running
//!   units and every user's crontab ([`live`]), each command's output one item filed under
//!   `/$Riposte/live/…` with its exact command line.
//!
//! Everything read goes to an [`ItemSink`] as a stream: the worker stores it in the
//! evidence store (hashed on the way), the CLI in a scratch folder.

#![warn(missing_docs)]

pub mod files;
mod host_key;
pub mod live;
mod session;
#[cfg(feature = "testing")]
pub mod testing;

pub use files::{FileLimits, FileSelection, FilesReport};
pub use host_key::{HostKeyCheck, HostKeyPolicy, HostKeyRefusal, HostKeyTrust, fingerprint};
pub use live::{LIVE_PREFIX, LiveReport};
pub use session::{CommandOutput, SshSession};

use chrono::{DateTime, Utc};
use riposte_acquire::{AcquisitionReport, SkippedEntry};
use riposte_model::{EvidenceForm, SystemLayout};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncRead;

/// Opens a private key with its passphrase, as a connection will: the reason when it
/// cannot be used (no passphrase given for a protected key, a wrong one, not a key).
pub fn check_private_key(private_key: &str, passphrase: Option<&str>) -> Result<(), String> {
    session::open_private_key(private_key, passphrase).map(|_| ())
}

/// Where to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// Address or host name.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Login user.
    pub user: String,
}

impl SshTarget {
    /// `user@address:port`, for messages.
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.address, self.port)
    }

    /// Parses `user@host[:port]` (`[v6]:port` for IPv6 with a port), the CLI's syntax.
    pub fn parse(text: &str, default_user: Option<&str>) -> Result<SshTarget, String> {
        let (user, rest) = match text.rsplit_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, text),
        };
        let user = user
            .filter(|u| !u.is_empty())
            .or(default_user)
            .ok_or_else(|| format!("{text}: write the target as user@host[:port]"))?;
        let (address, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{text}: unclosed [ in the address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("{text}: unexpected text after ]")),
            };
            (addr.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (addr, port) = rest.split_once(':').unwrap_or((rest, ""));
            (addr.to_string(), Some(port))
        } else {
            (rest.to_string(), None)
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{text}: {p:?} is not a port number"))?,
            None => 22,
        };
        if address.is_empty() {
            return Err(format!("{text}: no host given"));
        }
        Ok(SshTarget {
            address,
            port,
            user: user.to_string(),
        })
    }
}

/// How long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshTimeouts {
    /// To connect, exchange keys and verify the host (default 20 s).
    pub connect: Duration,
    /// For each operation: log-in, one SFTP request, starting SFTP; commands get twice
    /// this (default 60 s).
    pub operation: Duration,
}

impl Default for SshTimeouts {
    fn default() -> Self {
        SshTimeouts {
            connect: Duration::from_secs(20),
            operation: Duration::from_secs(60),
        }
    }
}

/// What can go wrong reaching a host.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The TCP connection failed (refused, unreachable, name not resolved).
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `user@host:port`.
        address: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The host stopped answering.
    #[error("{address} did not answer within {seconds} s while {stage}")]
    Timeout {
        /// `user@host:port`.
        address: String,
        /// What was being done.
        stage: &'static str,
        /// The timeout.
        seconds: u64,
    },
    /// The host key is not trusted.
    #[error("{}", host_key_message(.address, .fingerprint, .algorithm, .refusal))]
    HostKey {
        /// `user@host:port`.
        address: String,
        /// The key offered, `SHA256:…`.
        fingerprint: String,
        /// Its algorithm.
        algorithm: String,
        /// Why it was refused.
        refusal: HostKeyRefusal,
    },
    /// The private key cannot be used.
    #[error("{0}")]
    BadKey(String),
    /// The server refused the credential.
    #[error(
        "{address} refused the {method} of user {user}: check the credential and that the user may log in"
    )]
    Authentication {
        /// `user@host:port`.
        address: String,
        /// The user.
        user: String,
        /// `private_key` or `password`.
        method: &'static str,
    },
    /// The server refused a request (a command, SFTP).
    #[error("{address} refused {what}")]
    Refused {
        /// `user@host:port`.
        address: String,
        /// What was refused.
        what: String,
    },
    /// The SSH protocol failed.
    #[error("SSH with {address} failed: {message}")]
    Protocol {
        /// `user@host:port`.
        address: String,
        /// What failed.
        message: String,
    },
    /// SFTP failed.
    #[error("SFTP with {address} failed{}: {message}", if .path.is_empty() { String::new() } else { format!(" on {}", .path) })]
    Sftp {
        /// `user@host:port`.
        address: String,
        /// The path, if any.
        path: String,
        /// What failed.
        message: String,
    },
    /// Storing or reading an item failed.
    #[error("cannot collect {path}: {source}")]
    Sink {
        /// The item's original path.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn host_key_message(
    address: &str,
    fingerprint: &str,
    algorithm: &str,
    refusal: &HostKeyRefusal,
) -> String {
    match refusal {
        HostKeyRefusal::Unknown => format!(
            "host key of {address} is not known: it offered {algorithm} {fingerprint}; if that is the host's key, pin it in the scope's known_hosts (or allow trust on first use)"
        ),
        HostKeyRefusal::Changed { expected } => format!(
            "HOST KEY OF {address} CHANGED: it offered {algorithm} {fingerprint}, expected {}; someone may be intercepting the connection, or the host was reinstalled (then update the scope's known_hosts)",
            expected.join(" or ")
        ),
        HostKeyRefusal::Revoked => format!(
            "host key of {address} is revoked: it offered {algorithm} {fingerprint}, which a @revoked line names"
        ),
    }
}

impl SshError {
    /// True when trying again later may succeed (the host was unreachable or stalled);
    /// false for refusals that need someone to act (host key, credential).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. }
                | SshError::Timeout { .. }
                | SshError::Protocol { .. }
                | SshError::Sftp { .. }
                | SshError::Sink { .. }
        )
    }
}

/// One item read from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteItem {
    /// Its path on the host, or `/$Riposte/live/NAME` for a command's output.
    pub original_path: String,
    /// Its modification time (files), or when the command ran (live state).
    pub modified: Option<DateTime<Utc>>,
    /// The exact command line whose output it is (live state).
    pub command: Option<String>,
}

/// Where collected items go, one stream each.
#[async_trait::async_trait]
pub trait ItemSink: Send {
    /// Takes one item, reading its content to the end.
    async fn put(
        &mut self,
        item: &RemoteItem,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> io::Result<()>;
}

/// What to collect.
#[derive(Clone, Copy)]
pub struct SshCollectOptions<'a> {
    /// The files: a triage profile's, or all (full collection).
    pub selection: FileSelection<'a>,
    /// Bounds of the file part.
    pub limits: FileLimits,
    /// Read files over SFTP.
    pub files: bool,
    /// Run the live-state commands.
    pub live: bool,
    /// Work as root through `sudo -n`.
    pub sudo: bool,
}

/// What a collection did.
#[derive(Debug)]
pub struct SshCollection {
    /// The host key and why it was trusted.
    pub host_key: HostKeyCheck,
    /// True when files and commands were read as root through `sudo -n`.
    pub as_root: bool,
    /// Why `sudo -n` was not used although asked for.
    pub sudo_refused: Option<String>,
    /// The file part.
    pub files: FilesReport,
    /// The live part.
    pub live: LiveReport,
}

impl SshCollection {
    /// The acquisition report recorded on an investigation: `parsable` tells which items
    /// some artifact parser reads.
    pub fn acquisition_report(
        &self,
        options: &SshCollectOptions<'_>,
        parsable: u64,
    ) -> AcquisitionReport {
        let mut profiles = Vec::new();
        if options.files {
            profiles.push(match options.selection {
                FileSelection::Profile(p) => p.name().to_string(),
                FileSelection::All => "full".to_string(),
            });
        }
        if options.live && self.live.unavailable.is_none() {
            profiles.push("live-state".to_string());
        }
        let mut skipped: Vec<SkippedEntry> = Vec::new();
        if let Some(reason) = &self.sudo_refused {
            skipped.push(SkippedEntry {
                path: "sudo".into(),
                reason: format!("{reason}; collected as the login user"),
            });
        }
        if let Some(reason) = &self.live.unavailable {
            skipped.push(SkippedEntry {
                path: LIVE_PREFIX.trim_end_matches('/').into(),
                reason: format!("live state unavailable: {reason}"),
            });
        }
        skipped.extend(self.live.failed.iter().cloned());
        skipped.extend(self.files.skipped.iter().cloned());
        AcquisitionReport {
            form: EvidenceForm::Ssh,
            layouts: vec![SystemLayout::Linux],
            profiles,
            items: self.files.items + self.live.items,
            parsable,
            skipped,
            package: None,
            image: None,
        }
    }
}

/// Collects files and live state over a logged-in session.
pub async fn collect(
    session: &SshSession,
    options: &SshCollectOptions<'_>,
    sink: &mut dyn ItemSink,
) -> Result<SshCollection, SshError> {
    let runs_commands = if options.live || options.sudo {
        live::probe(session).await
    } else {
        Err("not asked for".to_string())
    };
    let mut as_root = false;
    let mut sudo_refused = None;
    if options.sudo {
        match &runs_commands {
            Ok(()) => match live::sudo_works(session).await {
                Ok(()) => as_root = true,
                Err(reason) => sudo_refused = Some(reason),
            },
            Err(reason) => sudo_refused = Some(format!("sudo needs a command: {reason}")),
        }
    }
    let mut files = FilesReport::default();
    if options.files {
        let sftp = match session.sftp(as_root).await {
            Ok(sftp) => sftp,
            Err(e) if as_root => {
                sudo_refused = Some(format!("cannot run sftp-server through sudo: {e}"));
                as_root = false;
                session.sftp(false).await?
            }
            Err(e) => return Err(e),
        };
        let sftp = Arc::new(sftp);
        files::collect_files(
            sftp.clone(),
            options.selection,
            options.limits,
            sink,
            &mut files,
        )
        .await?;
        let _ = sftp.close().await;
    }
    let mut live = LiveReport::default();
    if options.live {
        match runs_commands {
            Ok(()) => live::collect_live(session, as_root, sink, &mut live).await?,
            Err(reason) => live.unavailable = Some(reason),
        }
    }
    Ok(SshCollection {
        host_key: session.host_key().clone(),
        as_root,
        sudo_refused,
        files,
        live,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_ssh_arguments() {
        let t = SshTarget::parse("ir@web01.corp:2222", None).unwrap();
        assert_eq!(
            (t.user.as_str(), t.address.as_str(), t.port),
            ("ir", "web01.corp", 2222)
        );
        let t = SshTarget::parse("10.0.0.7", Some("root")).unwrap();
        assert_eq!((t.user.as_str(), t.port), ("root", 22));
        let t = SshTarget::parse("ir@[fe80::1]:22", None).unwrap();
        assert_eq!(t.address, "fe80::1");
        let t = SshTarget::parse("ir@fe80::1", None).unwrap();
        assert_eq!((t.address.as_str(), t.port), ("fe80::1", 22));
        assert!(SshTarget::parse("web01", None).is_err());
        assert!(SshTarget::parse("ir@web01:http", None).is_err());
        assert!(SshTarget::parse("ir@:22", None).is_err());
    }
}
