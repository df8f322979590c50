//! `riposte`: the platform (`serve`, `worker`), its keys (`apikey`), offline triage
//! (`investigate`), and response actions by hand (`respond`). A thin shell over the
//! library crates.

mod acquire;
mod acquire_ssh;
mod alert;
mod detection;
mod fs;
mod investigate;
mod log_limit;
mod query;
mod respond;
mod serve;
mod spill;
mod timeline;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Agentless forensic triage and response: alert in, evidence collected, verdict out.
#[derive(Parser)]
#[command(name = "riposte", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server with its pipeline workers.
    Serve(serve::ServeArgs),
    /// Run pipeline workers only (scale-out on Postgres).
    Worker(serve::WorkerArgs),
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Acquire a cloud system offline (an EC2 instance through EBS snapshots), triage it
    /// and print the report.
    Acquire(acquire::AcquireArgs),
    /// Triage evidence offline: collect, parse, detect, and print a verdict.
    Investigate(investigate::InvestigateArgs),
    /// Query events across every investigation of a data directory, with SECDO's URL
    /// semantics (`entity=…&action=…&attr=…`).
    Query(query::QueryArgs),
    /// Write the timeline of evidence in Timesketch's import format (JSONL or CSV).
    Timeline(timeline::TimelineArgs),
    /// Check alert mappings: parse a vendor payload and print the normalized alerts.
    Alert(alert::AlertArgs),
    /// Look inside a disk image without mounting it: volumes, directory listings, files.
    Fs {
        #[command(subcommand)]
        command: fs::FsCommand,
    },
    /// Response actions on EC2 instances: stop, isolate role, isolate security group,
    /// release, list.
    Respond(respond::RespondArgs),
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create a key and print it (it is shown only once; only its hash is stored).
    Create {
        /// Data directory of the server.
        #[arg(long, env = "RIPOSTE_DATA_DIR")]
        data_dir: PathBuf,
        /// Database URL (default: SQLite in the data directory).
        #[arg(long, env = "RIPOSTE_DATABASE_URL")]
        database_url: Option<String>,
        /// Role: admin, analyst or viewer.
        #[arg(long)]
        role: String,
        /// A name to recognise the key by.
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// List active keys (id, name, prefix, role; never the secret).
    List {
        /// Data directory of the server.
        #[arg(long, env = "RIPOSTE_DATA_DIR")]
        data_dir: PathBuf,
        /// Database URL (default: SQLite in the data directory).
        #[arg(long, env = "RIPOSTE_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Revoke a key by id; servers on the same database refuse it within 2 seconds (they
    /// trust a key found valid that long).
    Revoke {
        /// The key's id (from `apikey list`).
        id: String,
        /// Data directory of the server.
        #[arg(long, env = "RIPOSTE_DATA_DIR")]
        data_dir: PathBuf,
        /// Database URL (default: SQLite in the data directory).
        #[arg(long, env = "RIPOSTE_DATABASE_URL")]
        database_url: Option<String>,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RIPOSTE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = if format == "json" {
        layer.json().boxed()
    } else {
        layer.boxed()
    };
    // The level filter is global, so that disabled callsites stay disabled at no cost;
    // the limiter only sees the warnings of the output layer.
    let limiter = log_limit::WarnLimiter::start(
        std::time::Duration::from_secs(10),
        tracing_subscriber::Layer::<tracing_subscriber::Registry>::max_level_hint(&filter),
    );
    tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(limiter))
        .init();
    // `init` lets every `log` record of every crate through to be filtered one by one;
    // cap them at the most verbose level the filter allows, as `fmt().init()` does.
    log::set_max_level(match tracing::level_filters::LevelFilter::current() {
        tracing::level_filters::LevelFilter::OFF => log::LevelFilter::Off,
        tracing::level_filters::LevelFilter::ERROR => log::LevelFilter::Error,
        tracing::level_filters::LevelFilter::WARN => log::LevelFilter::Warn,
        tracing::level_filters::LevelFilter::INFO => log::LevelFilter::Info,
        tracing::level_filters::LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
}

/// True when the error is the reader of our output going away (`riposte timeline … | head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match run(cli.command).await {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Worker(args) => serve::worker(args).await,
        Command::Apikey {
            command:
                ApikeyCommand::Create {
                    data_dir,
                    database_url,
                    role,
                    name,
                },
        } => {
            let role = role.parse().map_err(anyhow::Error::msg)?;
            let store = serve::open_store(&data_dir, database_url.as_deref()).await?;
            let (record, key) = store.create_api_key(&name, role).await?;
            eprintln!(
                "created {} key `{}` (id {}); it will not be shown again:",
                record.role, record.name, record.id
            );
            println!("{key}");
            Ok(())
        }
        Command::Apikey {
            command:
                ApikeyCommand::List {
                    data_dir,
                    database_url,
                },
        } => {
            let store = serve::open_store(&data_dir, database_url.as_deref()).await?;
            for key in store.list_api_keys().await? {
                println!(
                    "{}\t{}\t{}…\t{}\t{}",
                    key.id,
                    key.role,
                    key.prefix,
                    key.name,
                    key.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
        Command::Apikey {
            command:
                ApikeyCommand::Revoke {
                    id,
                    data_dir,
                    database_url,
                },
        } => {
            let store = serve::open_store(&data_dir, database_url.as_deref()).await?;
            if !store.revoke_api_key(&id).await? {
                anyhow::bail!("no active API key with id {id}; see `riposte apikey list`");
            }
            eprintln!("revoked {id}");
            Ok(())
        }
        Command::Acquire(args) => acquire::run(args).await,
        Command::Investigate(args) => investigate::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Timeline(args) => timeline::run(args).await,
        Command::Alert(args) => alert::run(args),
        Command::Fs { command } => tokio::task::spawn_blocking(move || fs::run(command)).await?,
        Command::Respond(args) => respond::run(args).await,
    }
}
