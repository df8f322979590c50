//! `riposte serve` and `riposte worker`.

use anyhow::{Context, Result};
use clap::Args;
use riposte_notify::OutboundPolicy;
use riposte_server::{AppState, router};
use riposte_store::{BlobStore, MasterKey, Store};
use riposte_worker::group_commit::{BackPressure, Deferral, IntakeWriter};
use riposte_worker::{Worker, WorkerConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// Options shared by `serve` and `worker`.
#[derive(Args, Clone)]
pub struct WorkerArgs {
    /// Data directory: the SQLite database and (unless --evidence-url) the evidence store
    /// live here.
    #[arg(long, env = "RIPOSTE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Evidence store shared by every worker: `s3://bucket/prefix` (AWS or any
    /// S3-compatible service; credentials, region and endpoint from the standard AWS chain)
    /// [default: the `evidence` folder of the data directory].
    #[arg(long, env = "RIPOSTE_EVIDENCE_URL")]
    pub evidence_url: Option<riposte_aws::EvidenceBucket>,
    /// Endpoint of an S3-compatible service holding --evidence-url (e.g. MinIO), when it is
    /// not the one of the AWS configuration.
    #[arg(long, env = "RIPOSTE_EVIDENCE_S3_ENDPOINT")]
    pub evidence_s3_endpoint: Option<String>,
    /// Address the evidence bucket virtual-hosted style (`bucket.host`) instead of path
    /// style (`host/bucket`), which every S3-compatible service accepts.
    #[arg(long, env = "RIPOSTE_EVIDENCE_S3_VIRTUAL_HOSTED")]
    pub evidence_s3_virtual_hosted: bool,
    /// Database URL, e.g. postgres://riposte@db/riposte (default: SQLite in the data directory).
    #[arg(long, env = "RIPOSTE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Local evidence library: one folder per host, laid out like its root filesystem.
    /// Environments' local scopes must lie inside it; on an empty store, a default
    /// environment and rule for it are created.
    #[arg(long, env = "RIPOSTE_EVIDENCE_LIBRARY")]
    pub evidence_library: Option<PathBuf>,
    /// POST each investigation's result to this URL (a credential for Slack and Teams: its
    /// value is never shown in --help).
    #[arg(long, env = "RIPOSTE_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// Sign webhook bodies with this secret (header X-Riposte-Signature).
    #[arg(long, env = "RIPOSTE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Let outbound calls (webhooks, vendor APIs of pull connections) reach this non-public
    /// network (repeatable), e.g. 10.0.5.0/24. `--webhook-allow` is an alias.
    #[arg(long = "outbound-allow", alias = "webhook-allow")]
    pub outbound_allow: Vec<ipnet::IpNet>,
    /// Pipeline workers in this process.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Seconds a job stays leased to a worker that stopped answering.
    #[arg(long, default_value_t = 60)]
    pub job_lease_secs: u64,
    /// External URL of the server, for links in notifications.
    #[arg(long, env = "RIPOSTE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Master key (32 random bytes, base64) that seals integration secrets and XDR
    /// credentials at rest. Every server and worker of one deployment needs the same key.
    #[arg(long, env = "RIPOSTE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key when --master-key is not given; created (mode 0600)
    /// with a new random key if missing [default: <data-dir>/master.key].
    #[arg(long, env = "RIPOSTE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Rehearse the response actions rules trigger: check permissions and record what
    /// would change (status `dry_run`), changing nothing.
    #[arg(long, env = "RIPOSTE_RESPONSE_DRY_RUN")]
    pub response_dry_run: bool,
    /// Longest wait, in seconds, for the EBS snapshots of an EC2 acquisition to complete;
    /// snapshots still pending then are deleted and the acquisition fails.
    #[arg(long, env = "RIPOSTE_SNAPSHOT_TIMEOUT_SECS", default_value_t = 3600)]
    pub snapshot_timeout_secs: u64,
    /// Seconds between checks of pending EBS snapshots.
    #[arg(long, env = "RIPOSTE_SNAPSHOT_POLL_SECS", default_value_t = 15)]
    pub snapshot_poll_secs: u64,
    /// `GetSnapshotBlock` requests in flight per EBS snapshot read.
    #[arg(long, env = "RIPOSTE_EBS_CONCURRENCY", default_value_t = riposte_aws::ebs::DEFAULT_CONCURRENCY)]
    pub ebs_concurrency: usize,
    /// Testing aid: pause this long before each pipeline stage.
    #[arg(long, default_value_t = 0, hide = true)]
    pub stage_delay_ms: u64,
    #[command(flatten)]
    pub detection: crate::detection::DetectionArgs,
}

/// Options of `serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "RIPOSTE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Back-pressure: when more triage jobs than this wait, the triage of alerts below
    /// --triage-defer-below waits --triage-defer-secs, so more severe alerts are decided
    /// first. Alerts are always accepted at once. 0 never defers.
    #[arg(long, env = "RIPOSTE_TRIAGE_QUEUE_LIMIT", default_value_t = 10_000)]
    pub triage_queue_limit: u64,
    /// The severity below which triage is deferred under back-pressure.
    #[arg(long, env = "RIPOSTE_TRIAGE_DEFER_BELOW", default_value = "medium")]
    pub triage_defer_below: riposte_model::Severity,
    /// Seconds a deferred triage waits.
    #[arg(long, env = "RIPOSTE_TRIAGE_DEFER_SECS", default_value_t = 300)]
    pub triage_defer_secs: u64,
    #[command(flatten)]
    pub common: WorkerArgs,
}

/// Opens the configured database (SQLite under the data dir by default), migrating it.
pub async fn open_store(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
    riposte_store::private_dir(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let store = match database_url {
        Some(url) => Store::connect(url)
            .await
            .context("cannot open the database given by --database-url")?,
        None => {
            let path = data_dir.join("riposte.db");
            Store::open_sqlite(&path)
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?
        }
    };
    Ok(store)
}

/// The master key from --master-key, else the key file (created on first start).
pub fn master_key(args: &WorkerArgs) -> Result<MasterKey> {
    if let Some(text) = &args.master_key {
        return MasterKey::from_base64(text).context("invalid --master-key / RIPOSTE_MASTER_KEY");
    }
    let path = args
        .master_key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("master.key"));
    MasterKey::load_or_create(&path).context("cannot load the master key")
}

/// The evidence store: the S3 bucket of --evidence-url, else the data directory's folder.
async fn evidence_store(args: &WorkerArgs) -> Result<BlobStore> {
    let Some(location) = &args.evidence_url else {
        return BlobStore::local(&args.data_dir.join("evidence"))
            .context("cannot open the evidence store");
    };
    let config = riposte_aws::load_sdk_config().await;
    let options = riposte_aws::EvidenceStoreOptions {
        endpoint: args.evidence_s3_endpoint.clone(),
        virtual_hosted: args.evidence_s3_virtual_hosted,
    };
    let store = riposte_aws::evidence_store(&config, location, &options).await?;
    Ok(BlobStore::new(store))
}

async fn start_workers(
    args: &WorkerArgs,
    store: &Store,
    public_url: String,
    master_key: MasterKey,
    shutdown: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let sealed = store
        .seal_webhook_urls(&master_key)
        .await
        .context("cannot seal the webhook URLs stored in clear")?;
    if sealed > 0 {
        tracing::info!(
            sealed,
            "sealed the webhook URLs an older version stored in clear"
        );
    }
    let blobs = evidence_store(args).await?;
    if let Some(library) = &args.evidence_library {
        if !library.is_dir() {
            anyhow::bail!(
                "--evidence-library {} is not a directory; create it or point at the folder holding one collection per host",
                library.display()
            );
        }
        riposte_worker::bootstrap::evidence_library_defaults(store, library)
            .await
            .context("cannot create the default evidence-library environment and rule")?;
    }
    let detection = args.detection.clone();
    let engine = tokio::task::spawn_blocking(move || detection.engine())
        .await
        .context("loading the detection rules crashed")??;
    let config = WorkerConfig {
        detection: std::sync::Arc::new(engine),
        extra_detections: Some(args.detection.hunt_detections()),
        correlation: args.detection.correlation(),
        verdict_policy: args.detection.verdict_policy()?,
        evidence_roots: riposte_rules::EvidenceRoots::new(args.evidence_library.clone()),
        webhook_url: args.webhook_url.clone(),
        webhook_secret: args.webhook_secret.clone(),
        outbound: OutboundPolicy {
            allow: args.outbound_allow.clone(),
        },
        public_url,
        master_key,
        lease: Duration::from_secs(args.job_lease_secs.max(1)),
        stage_delay: Duration::from_millis(args.stage_delay_ms),
        response_dry_run: args.response_dry_run,
        ec2: riposte_aws::Ec2AcquireOptions {
            snapshot_timeout: Duration::from_secs(args.snapshot_timeout_secs),
            poll_interval: Duration::from_secs(args.snapshot_poll_secs.max(1)),
            retain_snapshots: false,
        },
        ebs: riposte_aws::EbsReadOptions {
            concurrency: args.ebs_concurrency,
            ..riposte_aws::EbsReadOptions::default()
        },
        ..WorkerConfig::default()
    };
    let mut handles = Vec::new();
    for _ in 0..args.workers.max(1) {
        let worker = Worker::new(store.clone(), blobs.clone(), config.clone());
        handles.push(tokio::spawn(worker.run(shutdown.clone())));
    }
    Ok(handles)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}

/// The intake's writer, with back-pressure unless disabled.
fn intake_writer(args: &ServeArgs, store: &Store) -> IntakeWriter {
    let writer = IntakeWriter::new(store.clone());
    if args.triage_queue_limit == 0 {
        return writer;
    }
    writer.with_back_pressure(BackPressure {
        queue_limit: args.triage_queue_limit,
        defer: Deferral {
            below: args.triage_defer_below,
            delay: Duration::from_secs(args.triage_defer_secs),
        },
    })
}

/// `riposte serve`.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let store = open_store(&args.common.data_dir, args.common.database_url.as_deref()).await?;
    let (tx, rx) = watch::channel(false);
    let public_url = args
        .common
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let key = master_key(&args.common)?;
    let workers = start_workers(&args.common, &store, public_url.clone(), key.clone(), &rx).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %args.listen, backend = ?store.backend(), workers = workers.len(), console = %format!("{}/", public_url.trim_end_matches('/')), "riposte serving; open the console and sign in with an API key (riposte apikey create)");
    let state = AppState {
        intake: intake_writer(&args, &store),
        store,
        master_key: key,
        public_url,
        outbound: OutboundPolicy {
            allow: args.common.outbound_allow.clone(),
        },
        evidence_roots: riposte_rules::EvidenceRoots::new(args.common.evidence_library.clone()),
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let _ = tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// `riposte worker`.
pub async fn worker(args: WorkerArgs) -> Result<()> {
    let store = open_store(&args.data_dir, args.database_url.as_deref()).await?;
    let (tx, rx) = watch::channel(false);
    let workers = start_workers(
        &args,
        &store,
        args.public_url.clone().unwrap_or_default(),
        master_key(&args)?,
        &rx,
    )
    .await?;
    shutdown_signal().await;
    let _ = tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}
