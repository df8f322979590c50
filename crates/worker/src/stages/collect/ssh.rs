//! A running Linux host reached over SSH: its triage files over SFTP and its live state
//! (processes, sockets, logins, modules, mounts, units, crontabs), with a verified host
//! key, as root through `sudo -n` when the scope says so.

use super::progress::Progress;
use super::{CollectContext, Collected, Collector};
use crate::StageError;
use async_trait::async_trait;
use riposte_acquire::TriageProfile;
use riposte_model::{Provenance, SshOrigin};
use riposte_ssh::{
    FileLimits, FileSelection, HostKeyPolicy, ItemSink, RemoteItem, SshCollectOptions, SshError,
    SshSession, SshTarget, SshTimeouts, collect,
};
use riposte_store::{BlobStore, StoredBlob};
use serde_json::json;
use tokio::io::AsyncRead;

/// Collects a host over SSH.
pub(crate) struct SshCollector {
    /// Address or host name.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Login user named by the scope.
    pub user: Option<String>,
    /// The credential's name.
    pub credential: String,
    /// Pinned host keys.
    pub known_hosts: Vec<String>,
    /// Trust a host key seen for the first time.
    pub trust_on_first_use: bool,
    /// Work as root through `sudo -n`.
    pub sudo: bool,
}

/// A failure reaching the host: retried when it was unreachable or stalled, final when
/// someone must act (host key, credential).
fn ssh_failure(e: SshError) -> StageError {
    if e.is_retryable() {
        StageError::Retry(e.to_string())
    } else {
        StageError::Fatal(e.to_string())
    }
}

/// Streams each item into the evidence store with its provenance.
struct StoreSink {
    blobs: BlobStore,
    origin: SshOrigin,
    source: String,
    host: String,
    items: Vec<(Provenance, StoredBlob)>,
    parsable: u64,
    progress: Progress,
}

#[async_trait]
impl ItemSink for StoreSink {
    async fn put(
        &mut self,
        item: &RemoteItem,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> std::io::Result<()> {
        let blob = self
            .blobs
            .put_stream(content)
            .await
            .map_err(std::io::Error::other)?;
        if crate::pipeline::parsable(&item.original_path) {
            self.parsable += 1;
        }
        let provenance = Provenance {
            method: "ssh".into(),
            source: self.source.clone(),
            host: self.host.clone(),
            original_path: item.original_path.clone(),
            modified: item.modified,
            image: None,
            cloud: None,
            ssh: Some(SshOrigin {
                command: item.command.clone(),
                ..self.origin.clone()
            }),
        };
        self.items.push((provenance, blob));
        if self.items.len() % 100 == 1 {
            self.progress.say(format!(
                "reading {}: {} items, now {}",
                self.source,
                self.items.len(),
                item.original_path
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Collector for SshCollector {
    async fn collect(&self, cx: &CollectContext<'_>) -> Result<Collected, StageError> {
        let store = &cx.worker.store;
        let (default_user, secret) = store
            .ssh_secret(&cx.worker.config.master_key, &self.credential)
            .await?
            .ok_or_else(|| {
                StageError::Fatal(format!(
                    "no SSH credential named {0}: store it with PUT /api/v1/credentials/{0}",
                    self.credential
                ))
            })?;
        let user = self.user.clone().or(default_user).ok_or_else(|| {
            StageError::Fatal(format!(
                "no login user for {}: name one in the SSH scope or in credential {}",
                self.address, self.credential
            ))
        })?;
        let remembered = if self.trust_on_first_use {
            store.ssh_host_keys(&self.address, self.port).await?
        } else {
            Vec::new()
        };
        let policy = HostKeyPolicy {
            known_hosts: self.known_hosts.clone(),
            trust_on_first_use: self.trust_on_first_use,
            remembered,
        };
        let target = SshTarget {
            address: self.address.clone(),
            port: self.port,
            user: user.clone(),
        };
        let source = format!("ssh:{}", target.display());
        let progress = Progress::start(cx.worker, cx.job);
        progress.say(format!("connecting to {source}"));
        let session = SshSession::connect(&target, &secret, &policy, SshTimeouts::default())
            .await
            .map_err(ssh_failure)?;
        let key = session.host_key().clone();
        if session.first_use() {
            store
                .remember_ssh_host_key(
                    &self.address,
                    self.port,
                    &key.fingerprint,
                    &key.algorithm,
                    Some(&cx.investigation.to_string()),
                )
                .await?;
        }
        cx.audit(
            "acquisition.ssh_connected",
            json!({"address": self.address, "port": self.port, "user": user,
                   "host_key": key.fingerprint, "algorithm": key.algorithm, "trust": key.trust}),
        )
        .await?;
        let options = SshCollectOptions {
            selection: if cx.full() {
                FileSelection::All
            } else {
                FileSelection::Profile(TriageProfile::linux())
            },
            limits: FileLimits::default(),
            files: true,
            live: true,
            sudo: self.sudo,
        };
        let mut sink = StoreSink {
            blobs: cx.worker.blobs.clone(),
            origin: SshOrigin {
                address: self.address.clone(),
                port: self.port,
                user: user.clone(),
                host_key: key.fingerprint.clone(),
                sudo: false,
                command: None,
            },
            source: source.clone(),
            host: cx.plan.scope.acquisition.host_label().to_string(),
            items: Vec::new(),
            parsable: 0,
            progress,
        };
        // `sudo` is known only once it was tried: items read before are marked after.
        let collection = collect(&session, &options, &mut sink).await;
        session.close().await;
        let collection = collection.map_err(ssh_failure)?;
        for (provenance, _) in &mut sink.items {
            if let Some(origin) = &mut provenance.ssh {
                origin.sudo = collection.as_root;
            }
        }
        let report = collection.acquisition_report(&options, sink.parsable);
        sink.progress
            .say(format!("read {source}: {} items", report.items));
        Ok(Collected {
            items: sink.items,
            report,
            source,
            snapshots: Vec::new(),
        })
    }
}
