//! `riposte respond`: response actions on EC2 instances by hand — stop, isolate the role,
//! isolate in an empty security group (each with `--dry-run`), release a recorded action,
//! and list what was done. Every attempt is recorded in the same database as the server's
//! (`--data-dir` / `--database-url`), failures included.
//!
//! AWS credentials come from the standard chain (environment, profile, SSO, instance
//! role); `--role-name` with `--account-id` assumes that role in the target account.
//! Endpoints follow `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_IAM`.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use riposte_model::{ActionId, ActionRecord, Ec2Target, InvestigationId, ResponseAction};
use std::path::PathBuf;

/// Options of `respond`.
#[derive(Args)]
pub struct RespondArgs {
    /// Data directory (the SQLite database lives here unless --database-url is given).
    #[arg(long, env = "RIPOSTE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (default: SQLite in the data directory).
    #[arg(long, env = "RIPOSTE_DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: RespondCommand,
}

#[derive(Subcommand)]
enum RespondCommand {
    /// Stop the instance (ec2:StopInstances); release starts it again.
    StopInstance(TargetArgs),
    /// Put a deny-all inline policy on the instance profile's role; release deletes it.
    IsolateRole(TargetArgs),
    /// Make an empty security group the instance's only group; release restores its groups.
    IsolateSg(TargetArgs),
    /// Undo a succeeded action by its id.
    Release {
        /// The action's id (printed when it ran; see `riposte respond list`).
        action_id: ActionId,
        /// Master key of the deployment (base64), to open the XDR connection's credential
        /// when releasing a host containment.
        #[arg(long, env = "RIPOSTE_MASTER_KEY", hide_env_values = true)]
        master_key: Option<String>,
        /// File holding the master key [default: <data-dir>/master.key].
        #[arg(long, env = "RIPOSTE_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        /// Let the XDR API calls reach this non-public network (repeatable).
        #[arg(long = "outbound-allow")]
        outbound_allow: Vec<ipnet::IpNet>,
    },
    /// List recorded actions, newest first (tab-separated, or JSON lines with --json).
    List {
        /// Only the actions of this investigation.
        #[arg(long)]
        investigation: Option<InvestigationId>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON record per line.
        #[arg(long)]
        json: bool,
    },
}

/// Which instance, and how to reach it.
#[derive(Args)]
struct TargetArgs {
    /// The instance (`i-…`).
    #[arg(long)]
    instance_id: String,
    /// Its region.
    #[arg(long, env = "AWS_REGION")]
    region: String,
    /// Its account (needed with --role-name).
    #[arg(long)]
    account_id: Option<String>,
    /// IAM role to assume in the account (e.g. RiposteResponder).
    #[arg(long, requires = "account_id")]
    role_name: Option<String>,
    /// Check permissions and say what would change, changing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Record the action on this investigation.
    #[arg(long)]
    investigation: Option<InvestigationId>,
}

/// Runs `respond …`.
pub async fn run(args: RespondArgs) -> Result<()> {
    let data_dir = args
        .data_dir
        .context("--data-dir (or RIPOSTE_DATA_DIR) is required: it holds the database the actions are recorded in")?;
    let store = crate::serve::open_store(&data_dir, args.database_url.as_deref()).await?;
    match args.command {
        RespondCommand::StopInstance(t) => execute(&store, ResponseAction::StopInstance, t).await,
        RespondCommand::IsolateRole(t) => execute(&store, ResponseAction::IsolateRole, t).await,
        RespondCommand::IsolateSg(t) => {
            execute(&store, ResponseAction::IsolateSecurityGroup, t).await
        }
        RespondCommand::Release {
            action_id,
            master_key,
            master_key_file,
            outbound_allow,
        } => {
            let xdr = XdrAccess {
                master_key,
                master_key_file: master_key_file.unwrap_or_else(|| data_dir.join("master.key")),
                outbound: riposte_notify::OutboundPolicy {
                    allow: outbound_allow,
                },
            };
            release(&store, action_id, &xdr).await
        }
        RespondCommand::List {
            investigation,
            limit,
            json,
        } => list(&store, investigation, limit, json).await,
    }
}

/// Who is acting, for the record.
fn actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}

async fn execute(
    store: &riposte_store::Store,
    action: ResponseAction,
    args: TargetArgs,
) -> Result<()> {
    let target = Ec2Target {
        instance_id: args.instance_id,
        region: args.region,
        account_id: args.account_id,
        role_name: args.role_name,
    };
    let mut record = riposte_aws::respond::execute(action, &target, args.dry_run)
        .await
        .requested_by(actor());
    if let Some(investigation) = args.investigation {
        record = record.for_investigation(investigation);
    }
    if let Err(e) = store.insert_action_record(&record).await {
        // The change is made: never lose what it was, even when the database fails.
        eprintln!(
            "{}",
            serde_json::to_string(&record).unwrap_or_else(|_| format!("{record:?}"))
        );
        return Err(e).context("the action ran but could not be recorded (record above)");
    }
    println!("{}", record.id);
    match &record.error {
        Some(error) => bail!("{action} on {} failed: {error}", target.instance_id),
        None => {
            eprintln!("{}", record.summary);
            Ok(())
        }
    }
}

/// What releasing a host containment needs: the key to the connection's credential and
/// the outbound policy for the vendor's API.
struct XdrAccess {
    master_key: Option<String>,
    master_key_file: PathBuf,
    outbound: riposte_notify::OutboundPolicy,
}

async fn release(store: &riposte_store::Store, id: ActionId, xdr: &XdrAccess) -> Result<()> {
    let Some(record) = store.action_record(id).await? else {
        bail!("no recorded action {id}; see `riposte respond list`");
    };
    if matches!(record.target, riposte_model::ActionTarget::Xdr(_)) {
        let key = match &xdr.master_key {
            Some(text) => riposte_store::MasterKey::from_base64(text)
                .context("invalid --master-key / RIPOSTE_MASTER_KEY")?,
            None if xdr.master_key_file.is_file() => riposte_store::MasterKey::load_or_create(
                &xdr.master_key_file,
            )
            .with_context(|| {
                format!(
                    "cannot load the master key {}",
                    xdr.master_key_file.display()
                )
            })?,
            None => bail!(
                "no master key at {}: give the server's with --master-key or --master-key-file",
                xdr.master_key_file.display()
            ),
        };
        return record_release(store, &record, Some(&key), &xdr.outbound).await;
    }
    record_release(store, &record, None, &xdr.outbound).await
}

/// Releases the action and says what it did, or fails with why (a vendor's failure is
/// recorded on the action).
async fn record_release(
    store: &riposte_store::Store,
    record: &ActionRecord,
    key: Option<&riposte_store::MasterKey>,
    outbound: &riposte_notify::OutboundPolicy,
) -> Result<()> {
    let note =
        riposte_worker::respond::release_action(store, key, outbound, record, &actor()).await?;
    eprintln!("{note}");
    Ok(())
}

async fn list(
    store: &riposte_store::Store,
    investigation: Option<InvestigationId>,
    limit: i64,
    json: bool,
) -> Result<()> {
    let records = store
        .list_action_records(investigation, limit.max(0), 0)
        .await?;
    for record in &records {
        if json {
            println!("{}", serde_json::to_string(record)?);
        } else {
            println!("{}", line(record));
        }
    }
    Ok(())
}

/// One tab-separated line: id, time, action, instance (or XDR host), region (or XDR
/// vendor), status, summary.
fn line(r: &ActionRecord) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        r.id,
        r.created_at.to_rfc3339(),
        r.action,
        r.target.system_id(),
        r.target.location(),
        r.status,
        r.summary
    )
}
