//! `riposte investigate <path>`: the pipeline offline, on a triage collection laid out like
//! a host's root filesystem, a triage package (tar, tar.gz or zip from UAC, KAPE,
//! Velociraptor or a plain root filesystem), a disk image (raw/split, E01, VMDK, VHD, VHDX,
//! qcow2 holding ext, XFS, NTFS or FAT filesystems), or a single log file — packages and
//! images recognised by content — or an EBS snapshot read in place
//! (`ebs-snapshot:REGION/snap-…`) or an object in S3 (`s3://bucket/key`), printing a
//! report.

use crate::spill::{SpillWriter, SpilledTimeline};
use anyhow::{Context, Result, bail};
use clap::Args;
use riposte_acquire::FILESYSTEM_TIMELINE;
use riposte_artifacts::ArtifactContext;
use riposte_detect::CollectedFile;
use riposte_model::{Alarm, Event, EvidenceItem, Provenance, VerdictSummary};
use riposte_worker::pipeline::{
    ArtifactStats, Detected, acquire_options, detect_stream, order_artifacts, parse_artifact_with,
    qualify_verdict,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of `investigate`.
#[derive(Args)]
pub struct InvestigateArgs {
    /// A host's triage collection (a folder laid out like its root filesystem), a triage
    /// package (.tar, .tar.gz, .zip), a disk image (raw, split raw, E01, VMDK, VHD, VHDX,
    /// qcow2), or one log file; or `ebs-snapshot:REGION/snap-…`, an EBS snapshot read in
    /// place through the EBS direct APIs with the standard AWS credentials (never
    /// deleted); or `s3://bucket/key`, a package, raw image or log file in S3 read in place
    /// with range requests (region and credentials from the standard AWS chain).
    pub path: PathBuf,
    /// Full acquisition of a disk image: every file, and the filesystem timeline (MACB
    /// events), instead of the triage profile's artifacts.
    #[arg(long)]
    pub full: bool,
    /// Output: a readable report, or JSON.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Host name to report (default: the folder name).
    #[arg(long)]
    pub host: Option<String>,
    /// The alert being investigated (a vendor payload, JSON): events around its time that
    /// share its addresses, paths, hashes, command line or user are linked to it.
    #[arg(long, value_name = "FILE")]
    pub alert: Option<PathBuf>,
    /// The alert's source (generic, secdo, guardduty, crowdstrike, defender, sentinelone,
    /// wiz); default: the first whose parser accepts it.
    #[arg(long, value_name = "NAME", requires = "alert", value_parser = crate::alert::parse_source)]
    pub alert_source: Option<riposte_model::AlertSource>,
    #[command(flatten)]
    pub detection: crate::detection::DetectionArgs,
}

#[derive(Serialize)]
struct ArtifactReport {
    path: String,
    sha256: String,
    size: u64,
    #[serde(flatten)]
    stats: ArtifactStats,
}

#[derive(Serialize)]
pub(crate) struct Report {
    host: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<riposte_acquire::PackageSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<riposte_acquire::ImageReport>,
    /// The layouts detected, the profiles applied, counts.
    acquisition: riposte_model::AcquisitionSummary,
    /// Entries left out, with the reason.
    skipped: Vec<riposte_acquire::SkippedEntry>,
    artifacts: Vec<ArtifactReport>,
    events: usize,
    alarms: Vec<Alarm>,
    verdict: VerdictSummary,
    /// The alert investigated, without its raw payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<serde_json::Value>,
    /// Correlation with the alert, causality chains, scope.
    story: riposte_model::InvestigationStory,
    /// The events the text report shows (the first of each alarm, the correlated ones).
    #[serde(skip)]
    shown: BTreeMap<u64, Event>,
}

/// Hashes what passes through it, so a file is hashed and parsed in one streaming pass.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// One collected item, hashed and parsed.
struct Parsed {
    original_path: String,
    modified: Option<chrono::DateTime<chrono::Utc>>,
    image: Option<riposte_model::ImageLocation>,
    /// Its content on local disk (in place for folders, in the scratch folder otherwise).
    content: PathBuf,
    sha256: String,
    size: u64,
    /// Its events' places in the spilled timeline.
    spilled: std::ops::Range<u32>,
    stats: ArtifactStats,
}

/// Runs `investigate`.
pub async fn run(args: InvestigateArgs) -> Result<()> {
    let InvestigateArgs {
        path,
        format,
        host,
        full,
        alert,
        alert_source,
        detection,
    } = args;
    let alert = match alert {
        Some(file) => Some(read_alert(&file, alert_source)?),
        None => None,
    };
    let evidence = Evidence::from_argument(&path).await?;
    let report = tokio::task::spawn_blocking(move || {
        build_report(&evidence, host, full, alert.as_ref(), &detection)
    })
    .await??;
    print_report(&report, &format)
}

/// Prints `report` as text or, with `format` `json`, as JSON.
pub(crate) fn print_report(report: &Report, format: &str) -> Result<()> {
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_text(report);
    }
    Ok(())
}

/// What `investigate` reads: local evidence, or EBS snapshots read in place.
pub(crate) enum Evidence {
    /// A folder, package, image or file.
    Local(PathBuf),
    /// EBS snapshots (an instance's volumes, root first, or one imported snapshot).
    Snapshots(Box<CloudEvidence>),
    /// A package, raw image or file read in place from S3, and its `s3://` name.
    Object(riposte_disk::SharedSource, String),
    /// Items already fetched to a scratch folder (over SSH), with their report.
    Fetched(Box<Fetched>),
}

/// Items fetched from a live host, kept in a scratch folder until the report is built.
pub(crate) struct Fetched {
    /// What the evidence is called in the report (`ssh:user@host:port`).
    pub name: String,
    /// The host label.
    pub host: String,
    /// The items, in the order read.
    pub items: Vec<FetchedItem>,
    /// What the acquisition read and left out.
    pub report: riposte_acquire::AcquisitionReport,
    /// Holds the items' content.
    pub _scratch: tempfile::TempDir,
}

/// One fetched item.
pub(crate) struct FetchedItem {
    /// Its path on the host (or `/$Riposte/live/NAME`).
    pub original_path: String,
    /// Its modification time.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
    /// Its content, in the scratch folder.
    pub local: PathBuf,
}

/// EBS snapshots to read, and how.
pub(crate) struct CloudEvidence {
    /// The runtime that drives the block requests (reads block a thread of their own).
    pub runtime: tokio::runtime::Handle,
    /// Credentials, region and endpoints.
    pub config: riposte_aws::SdkConfig,
    /// The snapshots, root volume first.
    pub volumes: Vec<riposte_model::CloudVolume>,
    /// What the evidence is called in the report (`aws:…:i-…`, `ebs-snapshot:…`).
    pub name: String,
    /// The host label (the instance or snapshot id).
    pub host: String,
}

impl Evidence {
    /// The evidence an argument names: `ebs-snapshot:REGION/snap-…`, else a local path.
    pub(crate) async fn from_argument(argument: &Path) -> Result<Evidence> {
        let text = argument.to_string_lossy();
        if text.starts_with("s3://") {
            let address = riposte_model::S3Address::parse(&text).map_err(anyhow::Error::msg)?;
            let config = riposte_aws::load_sdk_config().await;
            let source = riposte_aws::S3ObjectSource::open(
                &config,
                &address,
                riposte_aws::s3::DEFAULT_CHUNK,
            )
            .await?;
            return Ok(Evidence::Object(
                std::sync::Arc::new(source),
                text.to_string(),
            ));
        }
        let Some(spec) = text.strip_prefix("ebs-snapshot:") else {
            return Ok(Evidence::Local(argument.to_path_buf()));
        };
        let Some((region, snapshot_id)) = spec.split_once('/') else {
            bail!(
                "{text}: write an EBS snapshot as ebs-snapshot:REGION/snap-… (e.g. ebs-snapshot:us-east-1/snap-0123456789abcdef0)"
            );
        };
        if region.is_empty() || !snapshot_id.starts_with("snap-") {
            bail!(
                "{text}: write an EBS snapshot as ebs-snapshot:REGION/snap-… (e.g. ebs-snapshot:us-east-1/snap-0123456789abcdef0)"
            );
        }
        let config = riposte_aws::acquire::acquisition_config(region, None, None, "cli")
            .await
            .context("cannot load AWS credentials")?;
        Ok(Evidence::Snapshots(Box::new(CloudEvidence {
            runtime: tokio::runtime::Handle::current(),
            config,
            volumes: vec![riposte_model::CloudVolume {
                region: region.to_string(),
                snapshot_id: snapshot_id.to_string(),
                ..Default::default()
            }],
            name: text.to_string(),
            host: snapshot_id.to_string(),
        })))
    }

    /// How the report names it.
    fn name(&self) -> String {
        match self {
            Evidence::Local(path) => path.display().to_string(),
            Evidence::Snapshots(cloud) => cloud.name.clone(),
            Evidence::Object(_, name) => name.clone(),
            Evidence::Fetched(f) => f.name.clone(),
        }
    }
}

/// The evidence of one collection, parsed: per-artifact reports and the ordered timeline.
pub(crate) struct Gathered {
    host: String,
    artifacts: Vec<ArtifactReport>,
    /// What the acquisition found, selected and left out.
    acquisition: riposte_acquire::AcquisitionReport,
    /// The events on local disk, read back in timeline order.
    pub(crate) timeline: SpilledTimeline,
    /// Every collected file, with its local content, for the file detectors.
    pub(crate) files: Vec<CollectedFile>,
    /// Holds the package or image entries `files` point into until the report is built.
    _scratch: tempfile::TempDir,
}

/// The alert in `file`, parsed by `source`'s parser or by the first that accepts it.
fn read_alert(
    file: &Path,
    source: Option<riposte_model::AlertSource>,
) -> Result<riposte_model::Alert> {
    use riposte_model::AlertSource::*;
    let sources = match source {
        Some(s) => vec![s],
        None => vec![
            GuardDuty,
            CrowdStrike,
            Defender,
            SentinelOne,
            Wiz,
            Secdo,
            Generic,
        ],
    };
    let bytes = crate::alert::read(file)
        .with_context(|| format!("cannot read the alert {}", file.display()))?;
    let name = file.display().to_string();
    let mut problems = Vec::new();
    for source in sources {
        match crate::alert::parse_bytes(source, &name, &bytes) {
            Ok(alerts) => {
                if alerts.len() > 1 {
                    tracing::warn!(
                        alerts = alerts.len(),
                        "the payload holds several alerts; the first is investigated"
                    );
                }
                if let Some(alert) = alerts.into_iter().next() {
                    return Ok(alert);
                }
                problems.push(format!("{source}: no alert in the payload"));
            }
            Err(lines) => problems.push(lines.join("\n  ")),
        }
    }
    bail!(
        "cannot read the alert {}:\n  {}\nname its source with --alert-source",
        file.display(),
        problems.join("\n  ")
    )
}

pub(crate) fn build_report(
    evidence: &Evidence,
    host: Option<String>,
    full: bool,
    alert: Option<&riposte_model::Alert>,
    detection: &crate::detection::DetectionArgs,
) -> Result<Report> {
    // The rules load (seconds for the bundled sets) while the evidence is read and parsed.
    let (engine, gathered) = std::thread::scope(|scope| {
        let engine = scope.spawn(|| detection.engine());
        let gathered = gather(evidence, host, full);
        let engine = engine
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (engine, gathered)
    });
    let Gathered {
        host,
        artifacts,
        acquisition,
        mut timeline,
        files,
        _scratch,
    } = gathered?;
    let engine = engine?;
    let policy = detection.verdict_policy()?;
    let Detected {
        alarms,
        mut verdict,
        story,
        events,
    } = detect_stream(
        &engine,
        &mut timeline,
        &files,
        &policy,
        alert,
        &detection.correlation(),
    )?;
    let mut summary = acquisition.summary();
    if let Evidence::Snapshots(cloud) = evidence {
        summary.snapshots = cloud.volumes.clone();
    }
    qualify_verdict(&mut verdict, &host, &summary);
    let mut shown = BTreeMap::new();
    let listed = alarms
        .iter()
        .flat_map(|a| a.event_refs.iter().take(3))
        .chain(
            story
                .correlation
                .iter()
                .flat_map(|c| c.events.iter().take(10).map(|e| &e.event)),
        );
    for &id in listed {
        if let Some(e) = timeline.get(id)? {
            shown.insert(id, e);
        }
    }
    let alert = alert.map(crate::alert::without_raw).transpose()?;
    Ok(Report {
        host,
        source: evidence.name(),
        package: acquisition.package,
        image: acquisition.image,
        acquisition: summary,
        skipped: acquisition.skipped,
        artifacts,
        events: usize::try_from(events).unwrap_or(usize::MAX),
        alarms,
        verdict,
        alert,
        story,
        shown,
    })
}

/// The host a local evidence path is named after: its file or folder name without the
/// package or image extension.
fn default_host(path: &Path) -> String {
    host_from_name(path.canonicalize().ok().as_deref().unwrap_or(path))
}

/// The last component of `path` without a package or image extension.
fn host_from_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .map(|name| {
            [
                ".tar.gz", ".tgz", ".tar", ".zip", ".E01", ".e01", ".vmdk", ".vhdx", ".vhd",
                ".qcow2", ".raw", ".dd", ".img", ".000", ".001",
            ]
            .iter()
            .find_map(|ext| name.strip_suffix(ext).map(str::to_string))
            .unwrap_or(name)
        })
        .unwrap_or_else(|| "host".into())
}

/// Selects, hashes and parses the artifacts of a collection (or one file), streaming each.
pub(crate) fn gather(evidence: &Evidence, host: Option<String>, full: bool) -> Result<Gathered> {
    let (path, host) = match evidence {
        Evidence::Local(path) => (path.as_path(), host.unwrap_or_else(|| default_host(path))),
        Evidence::Snapshots(cloud) => (
            Path::new(cloud.name.as_str()),
            host.unwrap_or_else(|| cloud.host.clone()),
        ),
        Evidence::Object(_, name) => (
            Path::new(name.as_str()),
            host.unwrap_or_else(|| host_from_name(Path::new(name))),
        ),
        Evidence::Fetched(f) => (
            Path::new(f.name.as_str()),
            host.unwrap_or_else(|| f.host.clone()),
        ),
    };
    // Package and image entries are streamed here first; removed when the report is built.
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    // A spinner on standard error (drawn only on a terminal): images take a while.
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut spill = SpillWriter::new()?;
    let mut copied = 0u64;
    let mut visit = |item: &riposte_acquire::AcquiredItem<'_>,
                     content: &mut dyn std::io::Read|
     -> std::io::Result<()> {
        let ctx = ArtifactContext {
            host: host.clone(),
            original_path: item.original_path.to_string(),
            modified: item.modified,
        };
        let (local, reader) = match item.local {
            // A local file is read in place, reopened through `open`, which refuses one
            // swapped for a link since it was selected.
            Some(local) => (
                local.local_path.clone(),
                std::io::BufReader::new(local.open().map_err(std::io::Error::other)?),
            ),
            None => {
                let local = scratch.path().join(format!("{:06}", parsed.len()));
                let mut out = std::fs::File::create(&local)?;
                std::io::copy(content, &mut out)?;
                let reader = std::io::BufReader::new(std::fs::File::open(&local)?);
                (local, reader)
            }
        };
        let mut reader = HashingReader {
            inner: reader,
            hasher: Sha256::new(),
            size: 0,
        };
        let first = spill.len();
        let stats = parse_artifact_with(&ctx, &mut reader, &mut |e| spill.push(&e));
        // Parsers may stop early on a broken stream; hash the rest so the digest covers the whole file.
        std::io::copy(&mut reader, &mut std::io::sink())?;
        copied += reader.size;
        progress.set_message(format!(
            "{}: {} files, {} MiB read — {}",
            path.display(),
            parsed.len() + 1,
            copied >> 20,
            item.original_path
        ));
        parsed.push(Parsed {
            original_path: item.original_path.to_string(),
            modified: item.modified,
            image: item.image.clone(),
            content: local,
            sha256: hex::encode(reader.hasher.finalize()),
            size: reader.size,
            spilled: first..spill.len(),
            stats,
        });
        Ok(())
    };
    let options = acquire_options(full);
    let acquisition = match evidence {
        Evidence::Local(path) => riposte_acquire::acquire(path, &options, &mut visit)
            .with_context(|| format!("cannot read {}", path.display()))?,
        Evidence::Snapshots(cloud) => {
            let ebs = riposte_aws::EbsReadOptions::default();
            riposte_aws::acquire::read_snapshots(
                &cloud.runtime,
                &cloud.config,
                &cloud.volumes,
                &options,
                &ebs,
                &mut |_, item, content| visit(item, content),
            )
            .with_context(|| format!("cannot read {}", cloud.name))?
            .report
        }
        Evidence::Object(source, name) => {
            riposte_acquire::acquire_source(source, name, &options, &mut visit)
                .with_context(|| format!("cannot read {name}"))?
        }
        Evidence::Fetched(fetched) => {
            for item in &fetched.items {
                let mut content = std::fs::File::open(&item.local)?;
                let acquired = riposte_acquire::AcquiredItem {
                    original_path: &item.original_path,
                    modified: item.modified,
                    image: None,
                    local: None,
                };
                visit(&acquired, &mut content)?;
            }
            fetched.report.clone()
        }
    };
    progress.finish_and_clear();
    for skipped in &acquisition.skipped {
        tracing::warn!(path = %skipped.path, reason = %skipped.reason, "skipped");
    }
    // The worker's order: artifacts by original path, then events by time.
    order_artifacts(&mut parsed, |p| p.original_path.as_str());
    let investigation_id = riposte_model::InvestigationId::new();
    let mut artifacts = Vec::with_capacity(parsed.len());
    let mut files = Vec::with_capacity(parsed.len());
    let ranges: Vec<std::ops::Range<u32>> = parsed.iter().map(|p| p.spilled.clone()).collect();
    for p in parsed {
        if p.original_path != FILESYSTEM_TIMELINE {
            files.push(CollectedFile {
                item: EvidenceItem {
                    id: riposte_model::EvidenceId::new(),
                    investigation_id,
                    sha256: p.sha256.clone(),
                    size: p.size,
                    provenance: Provenance {
                        method: "investigate".into(),
                        source: path.display().to_string(),
                        host: host.clone(),
                        original_path: p.original_path.clone(),
                        modified: p.modified,
                        image: p.image.clone(),
                        cloud: None,
                        ssh: None,
                    },
                    storage_key: p.content.display().to_string(),
                    collected_at: chrono::Utc::now(),
                },
                content: Some(p.content.clone()),
            });
        }
        artifacts.push(ArtifactReport {
            path: p.original_path,
            sha256: p.sha256,
            size: p.size,
            stats: p.stats,
        });
    }
    let timeline = spill.finish(&ranges)?;
    Ok(Gathered {
        host,
        artifacts,
        acquisition,
        timeline,
        files,
        _scratch: scratch,
    })
}

fn print_text(r: &Report) {
    println!("Riposte triage report — host {} ({})", r.host, r.source);
    let names = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let layouts: Vec<String> = r
        .acquisition
        .layouts
        .iter()
        .map(|l| l.as_str().to_string())
        .collect();
    println!(
        "Acquisition: layout {}; selection {}; {} item(s), {} parsable, {} skipped",
        names(&layouts),
        names(&r.acquisition.profiles),
        r.acquisition.items,
        r.acquisition.parsable,
        r.acquisition.skipped
    );
    for s in &r.acquisition.snapshots {
        println!(
            "EBS snapshot {} ({}) of {} {}{}",
            s.snapshot_id,
            s.region,
            s.volume_id.as_deref().unwrap_or("an unknown volume"),
            s.device_name.as_deref().unwrap_or(""),
            if s.created_by_riposte {
                ", made for this acquisition"
            } else {
                ""
            }
        );
    }
    if let Some(p) = &r.package {
        println!(
            "Package: {:?}, {} layout; {} entries refused, {} collector files ignored",
            p.format,
            p.layout,
            p.refused.len(),
            p.ignored
        );
        for refused in &p.refused {
            println!("  refused {}: {}", refused.archive_path, refused.reason);
        }
    }
    if let Some(image) = &r.image {
        println!(
            "Disk image: {} ({} bytes, {} file(s))",
            image.format,
            image.size,
            image.files.len()
        );
        for v in &image.volumes {
            println!(
                "  partition {:>2} {:<4} {:<28} {:<5} {:>8} entries, {:>6} collected",
                v.index,
                v.scheme.to_string(),
                v.description,
                v.filesystem.map_or("-".to_string(), |k| k.to_string()),
                v.entries,
                v.collected
            );
            for problem in &v.problems {
                println!("    problem: {problem}");
            }
        }
        for skipped in &image.skipped {
            println!("  skipped {}: {}", skipped.original_path, skipped.reason);
        }
    }
    println!();
    println!(
        "Evidence ({} artifacts, {} events)",
        r.artifacts.len(),
        r.events
    );
    for a in &r.artifacts {
        let errors = if a.stats.errors > 0 {
            format!(", {} unparsed records", a.stats.errors)
        } else {
            String::new()
        };
        println!(
            "  {:<40} {:>6} events  [{}{}]  sha256 {}",
            a.path,
            a.stats.events,
            a.stats.parser,
            errors,
            &a.sha256[..16]
        );
    }
    println!();
    if r.alarms.is_empty() {
        println!("Alarms: none");
    } else {
        println!("Alarms ({})", r.alarms.len());
        for a in &r.alarms {
            let mitre: Vec<&str> = a.mitre.iter().map(|m| m.technique.as_str()).collect();
            println!(
                "  [{:<8}] {}{}  {}",
                a.severity.as_str().to_uppercase(),
                if a.hunting { "(hunting) " } else { "" },
                a.title,
                if mitre.is_empty() {
                    String::new()
                } else {
                    format!("({})", mitre.join(", "))
                }
            );
            for i in a.event_refs.iter().take(3) {
                if let Some(e) = r.shown.get(i) {
                    let time = e
                        .time
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "no time".into());
                    println!("             {time}  {}", e.message);
                }
            }
            if a.event_refs.len() > 3 {
                println!("             … and {} more events", a.event_refs.len() - 3);
            }
            for f in a.files.iter().take(3) {
                println!(
                    "             file {}  sha256 {}  {}",
                    f.path,
                    f.sha256.as_deref().unwrap_or("-"),
                    f.matched.first().map(String::as_str).unwrap_or("")
                );
            }
            if a.files.len() > 3 {
                println!("             … and {} more files", a.files.len() - 3);
            }
        }
    }
    print_story(r);
    println!();
    println!(
        "Verdict: {} (score {})",
        r.verdict.display_label(),
        r.verdict.score
    );
    for warning in &r.verdict.warnings {
        println!("  ! {warning}");
    }
    for reason in &r.verdict.reasons {
        println!("  - {reason}");
    }
}

/// The correlation with the alert, the root causes and the scope, for people.
fn print_story(r: &Report) {
    let story = &r.story;
    if let Some(c) = &story.correlation {
        println!();
        println!(
            "Correlated with the alert: {} event(s){}",
            c.total,
            if (c.events.len() as u64) < c.total {
                format!(" ({} listed)", c.events.len())
            } else {
                String::new()
            }
        );
        for e in c.events.iter().take(10) {
            let message = r
                .shown
                .get(&e.event)
                .map(|ev| ev.message.as_str())
                .unwrap_or("");
            let matched: Vec<String> = e
                .matched
                .iter()
                .map(|m| format!("{:?}={}", m.observable, m.value))
                .collect();
            println!(
                "  {}  {}  [{}]",
                e.time.map(|t| t.to_rfc3339()).unwrap_or_default(),
                message,
                matched.join(", ")
            );
        }
    }
    if !story.chains.is_empty() {
        println!();
        println!("Root cause ({} chain(s))", story.chains.len());
        for chain in story.chains.iter().take(10) {
            println!("  {}", chain.summary);
            for (n, link) in chain.links.iter().enumerate() {
                println!(
                    "    {:>2}. {}  {}",
                    n + 1,
                    link.time
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "?".into()),
                    link.description
                );
            }
        }
        if story.chains.len() > 10 {
            println!("  … and {} more chains", story.chains.len() - 10);
        }
    }
    let scope = &story.scope;
    if scope.events > 0 {
        let names = |entries: &[riposte_model::ScopeEntry]| {
            entries
                .iter()
                .take(8)
                .map(|e| format!("{} ({})", e.value, e.events))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!();
        println!("Scope ({} events)", scope.events);
        println!("  hosts:     {}", names(&scope.hosts));
        println!("  users:     {}", names(&scope.users));
        println!(
            "  addresses: {}",
            scope
                .ips
                .iter()
                .take(8)
                .map(|i| format!("{} {:?} ({})", i.ip, i.locality, i.events))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  processes: {}", names(&scope.processes));
        println!(
            "  files:     {}",
            scope
                .files
                .iter()
                .take(8)
                .map(|f| f.path.clone())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
