//! `riposte acquire ssh user@host[:port]`: the server's SSH acquisition, offline. The
//! host's triage files are read over SFTP and its live state with commands, with the host
//! key verified against `--known-hosts` (or the user's `~/.ssh/known_hosts`), then triaged
//! like `riposte investigate`.

use crate::investigate::{Evidence, Fetched, FetchedItem, build_report, print_report};
use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use clap::Args;
use riposte_acquire::TriageProfile;
use riposte_model::SshSecret;
use riposte_ssh::{
    FileLimits, FileSelection, HostKeyPolicy, ItemSink, RemoteItem, SshCollectOptions, SshSession,
    SshTarget, SshTimeouts, collect,
};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncRead;

/// Options of `acquire ssh`.
#[derive(Args)]
pub struct SshArgs {
    /// The host, `user@host[:port]` (`user@[v6]:port`).
    target: String,
    /// The private key to log in with (OpenSSH, PEM or PuTTY); its passphrase, if any,
    /// comes from RIPOSTE_SSH_PASSPHRASE.
    #[arg(long)]
    identity: PathBuf,
    /// OpenSSH known_hosts file the host key must be in (default ~/.ssh/known_hosts).
    #[arg(long)]
    known_hosts: Option<PathBuf>,
    /// A host key fingerprint (`SHA256:…`) to accept, as `ssh-keygen -lf` prints it.
    #[arg(long)]
    host_key: Vec<String>,
    /// Read files and run commands as root through `sudo -n`.
    #[arg(long)]
    sudo: bool,
    /// Only the live state (no files).
    #[arg(long, conflicts_with = "no_live")]
    live_only: bool,
    /// Only the files (no commands run).
    #[arg(long)]
    no_live: bool,
    /// Every regular file instead of the triage profile's.
    #[arg(long)]
    full: bool,
    /// Seconds to connect and verify the host.
    #[arg(long, default_value_t = 20)]
    connect_timeout_secs: u64,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    #[command(flatten)]
    detection: crate::detection::DetectionArgs,
}

/// Writes each item to a scratch folder.
struct ScratchSink {
    dir: PathBuf,
    items: Vec<FetchedItem>,
}

#[async_trait]
impl ItemSink for ScratchSink {
    async fn put(
        &mut self,
        item: &RemoteItem,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> std::io::Result<()> {
        let local = self.dir.join(format!("{:06}", self.items.len()));
        let mut out = tokio::fs::File::create(&local).await?;
        tokio::io::copy(content, &mut out).await?;
        self.items.push(FetchedItem {
            original_path: item.original_path.clone(),
            modified: item.modified,
            local,
        });
        Ok(())
    }
}

/// Runs `acquire ssh`.
pub async fn run(args: SshArgs) -> Result<()> {
    let target = SshTarget::parse(&args.target, None).map_err(anyhow::Error::msg)?;
    let private_key = std::fs::read_to_string(&args.identity)
        .with_context(|| format!("cannot read {}", args.identity.display()))?;
    let passphrase = std::env::var("RIPOSTE_SSH_PASSPHRASE").ok();
    let secret = SshSecret::PrivateKey {
        private_key,
        passphrase,
    };
    let mut known_hosts = args.host_key.clone();
    let file = args
        .known_hosts
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/known_hosts")));
    if let Some(file) = &file {
        match std::fs::read_to_string(file) {
            Ok(text) => known_hosts.extend(text.lines().map(str::to_string)),
            Err(e) if args.known_hosts.is_some() => {
                bail!("cannot read {}: {e}", file.display())
            }
            Err(_) => {}
        }
    }
    let policy = HostKeyPolicy {
        known_hosts,
        trust_on_first_use: false,
        remembered: Vec::new(),
    };
    let timeouts = SshTimeouts {
        connect: Duration::from_secs(args.connect_timeout_secs.max(1)),
        ..SshTimeouts::default()
    };
    let session = SshSession::connect(&target, &secret, &policy, timeouts).await?;
    eprintln!(
        "connected to {} (host key {} {}, {:?})",
        target.display(),
        session.host_key().algorithm,
        session.host_key().fingerprint,
        session.host_key().trust
    );
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let mut sink = ScratchSink {
        dir: scratch.path().to_path_buf(),
        items: Vec::new(),
    };
    let options = SshCollectOptions {
        selection: if args.full {
            FileSelection::All
        } else {
            FileSelection::Profile(TriageProfile::linux())
        },
        limits: FileLimits::default(),
        files: !args.live_only,
        live: !args.no_live,
        sudo: args.sudo,
    };
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    spinner.set_message(format!("collecting {}", target.display()));
    let collection = collect(&session, &options, &mut sink).await;
    spinner.finish_and_clear();
    session.close().await;
    let collection = collection?;
    if let Some(reason) = &collection.sudo_refused {
        eprintln!("not root: {reason}");
    }
    if let Some(reason) = &collection.live.unavailable {
        eprintln!("live state unavailable: {reason}");
    }
    let parsable = sink
        .items
        .iter()
        .filter(|i| riposte_worker::pipeline::parsable(&i.original_path))
        .count() as u64;
    let evidence = Evidence::Fetched(Box::new(Fetched {
        name: format!("ssh:{}", target.display()),
        host: target.address.clone(),
        items: sink.items,
        report: collection.acquisition_report(&options, parsable),
        _scratch: scratch,
    }));
    let detection = args.detection;
    let full = args.full;
    let report =
        tokio::task::spawn_blocking(move || build_report(&evidence, None, full, None, &detection))
            .await??;
    print_report(&report, &args.format)
}
