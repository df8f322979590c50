//! `riposte acquire ec2`: the server's EC2 acquisition, offline. The instance's EBS
//! volumes are snapshotted (tagged `riposte:created=true` with a `cli-…` investigation
//! id), read in place through the EBS direct APIs, triaged like `riposte investigate`,
//! and the snapshots deleted afterwards — after a failure too — unless `--keep-snapshots`.

use crate::investigate::{CloudEvidence, Evidence, build_report, print_report};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use riposte_aws::acquire::{
    AssumeRole, EXTERNAL_ID_ENV, Ec2AcquireOptions, Ec2Acquirer, acquisition_config, assume_role,
};
use std::time::Duration;

/// Options of `acquire`.
#[derive(Args)]
pub struct AcquireArgs {
    #[command(subcommand)]
    command: AcquireCommand,
}

#[derive(Subcommand)]
enum AcquireCommand {
    /// Snapshot an EC2 instance's EBS volumes, read them in place, triage them and print
    /// the report; the snapshots are deleted afterwards unless --keep-snapshots.
    Ec2(Ec2Args),
    /// Log in to a running Linux host over SSH (host key verified), read its triage files
    /// over SFTP and its live state (processes, sockets, logins, modules, mounts, units,
    /// crontabs), triage them and print the report.
    Ssh(crate::acquire_ssh::SshArgs),
}

/// Options of `acquire ec2`.
#[derive(Args)]
struct Ec2Args {
    /// The instance, `i-…`.
    #[arg(long)]
    instance_id: String,
    /// Its region.
    #[arg(long)]
    region: String,
    /// A role to assume first (another account's), `arn:aws:iam::ACCOUNT:role/NAME`; its
    /// external id, if the role asks for one, comes from RIPOSTE_AWS_EXTERNAL_ID.
    #[arg(long)]
    role_arn: Option<String>,
    /// Every file of every volume and the filesystem timeline, instead of the triage
    /// profile's artifacts.
    #[arg(long)]
    full: bool,
    /// Keep the snapshots after reading them (they are tagged riposte:created=true).
    #[arg(long)]
    keep_snapshots: bool,
    /// Longest wait for the snapshots to complete, in seconds.
    #[arg(long, default_value_t = 3600)]
    snapshot_timeout_secs: u64,
    /// Seconds between checks of pending snapshots.
    #[arg(long, default_value_t = 15)]
    snapshot_poll_secs: u64,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    #[command(flatten)]
    detection: crate::detection::DetectionArgs,
}

/// Runs `acquire`.
pub async fn run(args: AcquireArgs) -> Result<()> {
    match args.command {
        AcquireCommand::Ec2(args) => ec2(args).await,
        AcquireCommand::Ssh(args) => crate::acquire_ssh::run(args).await,
    }
}

async fn ec2(args: Ec2Args) -> Result<()> {
    let label = format!("cli-{}", riposte_model::InvestigationId::new());
    let mut config = acquisition_config(&args.region, None, None, &label)
        .await
        .context("cannot load AWS credentials")?;
    if let Some(role_arn) = &args.role_arn {
        let role = AssumeRole {
            role_arn: role_arn.clone(),
            external_id: std::env::var(EXTERNAL_ID_ENV)
                .ok()
                .filter(|v| !v.is_empty()),
        };
        config = assume_role(&config, &role, &label).await?;
    }
    let acquirer = Ec2Acquirer::new(
        &config,
        Ec2AcquireOptions {
            snapshot_timeout: Duration::from_secs(args.snapshot_timeout_secs),
            poll_interval: Duration::from_secs(args.snapshot_poll_secs.max(1)),
            retain_snapshots: args.keep_snapshots,
        },
    )?;
    let bar = indicatif::ProgressBar::new(100).with_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} [{bar:30}] {pos}% {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("snapshotting the volumes of {}", args.instance_id));
    let mut percents = std::collections::BTreeMap::new();
    let snapshots = acquirer
        .snapshot_instance(&label, &args.instance_id, |p| {
            percents.insert(p.snapshot_id.clone(), p.percent);
            let least = percents.values().copied().min().unwrap_or(0);
            bar.set_position(u64::from(least));
            bar.set_message(format!(
                "{} ({}) {}%",
                p.snapshot_id, p.device_name, p.percent
            ));
        })
        .await?;
    bar.finish_and_clear();
    let volumes = snapshots.volumes(None);
    for v in &volumes {
        eprintln!(
            "snapshot {} of {} ({})",
            v.snapshot_id,
            v.volume_id.as_deref().unwrap_or("-"),
            v.device_name.as_deref().unwrap_or("-")
        );
    }
    let evidence = Evidence::Snapshots(Box::new(CloudEvidence {
        runtime: tokio::runtime::Handle::current(),
        config: config.clone(),
        volumes,
        name: format!("aws:{}:{}", args.region, args.instance_id),
        host: args.instance_id.clone(),
    }));
    let detection = args.detection;
    let full = args.full;
    let report =
        tokio::task::spawn_blocking(move || build_report(&evidence, None, full, None, &detection))
            .await?;
    // The snapshots go whatever the triage gave.
    let cleanup = acquirer.cleanup(&snapshots).await;
    match &cleanup {
        Ok(c) if !c.retained.is_empty() => {
            eprintln!("kept snapshots {}", c.retained.join(", "))
        }
        Ok(c) => eprintln!(
            "deleted snapshots {}",
            c.deleted
                .iter()
                .chain(c.already_gone.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => eprintln!("could not delete the snapshots: {e}"),
    }
    let report = report?;
    cleanup.context("the evidence was read, but its snapshots could not be deleted")?;
    print_report(&report, &args.format)
}
