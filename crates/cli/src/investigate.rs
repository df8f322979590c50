//! `riposte investigate <path>`: the pipeline offline, on a triage collection laid out like
//! a host's root filesystem, a triage package (tar, tar.gz or zip from UAC, KAPE,
//! Velociraptor or a plain root filesystem), a disk image (raw/split, E01, VMDK, VHD, VHDX,
//! qcow2 holding ext, XFS, NTFS or FAT filesystems), or a single log file — packages and
//! images recognised by content — printing a report.

use anyhow::{Context, Result, bail};
use clap::Args;
use riposte_acquire::{TriageProfile, triage_files};
use riposte_artifacts::ArtifactContext;
use riposte_detect::CollectedFile;
use riposte_model::{Alarm, Event, EvidenceItem, Provenance, VerdictSummary};
use riposte_worker::pipeline::{ArtifactStats, detect, order_events, parse_artifact};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Options of `investigate`.
#[derive(Args)]
pub struct InvestigateArgs {
    /// A host's triage collection (a folder laid out like its root filesystem), a triage
    /// package (.tar, .tar.gz, .zip), a disk image (raw, split raw, E01, VMDK, VHD, VHDX,
    /// qcow2), or one log file.
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

/// What was read from a triage package.
#[derive(Serialize)]
pub(crate) struct PackageSummary {
    format: riposte_acquire::PackageFormat,
    layout: riposte_acquire::Layout,
    /// Entries refused (traversal, links, special files, limits), with the reason.
    refused: Vec<riposte_acquire::RefusedEntry>,
    /// Entries that are the collector's own output.
    ignored: u64,
}

#[derive(Serialize)]
struct Report {
    host: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<PackageSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<riposte_acquire::ImageReport>,
    artifacts: Vec<ArtifactReport>,
    events: usize,
    alarms: Vec<Alarm>,
    verdict: VerdictSummary,
    /// The alert investigated, without its raw payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<serde_json::Value>,
    /// Correlation with the alert, causality chains, scope.
    story: riposte_model::InvestigationStory,
    #[serde(skip)]
    timeline: Vec<Event>,
}

struct Input {
    original_path: String,
    local_path: PathBuf,
    modified: Option<chrono::DateTime<chrono::Utc>>,
    collected: Option<riposte_acquire::CollectedFile>,
}

/// Where the filesystem timeline of a full image acquisition is filed among the artifacts.
const FILESYSTEM_TIMELINE: &str = "/$Riposte/filesystem-timeline.body";

/// What [`inputs`] found besides the files.
#[derive(Default)]
struct Found {
    package: Option<PackageSummary>,
    image: Option<riposte_acquire::ImageReport>,
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

/// Where a lone file most likely lived, so the right parser claims it.
fn guess_original_path(file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let absolute = file.to_string_lossy().to_string();
    for candidate in [
        absolute,
        format!("/var/log/{name}"),
        format!("/root/{name}"),
    ] {
        if riposte_artifacts::parser_for(&candidate).is_some() {
            return candidate;
        }
    }
    format!("/{name}")
}

/// The files of a triage package, streamed into numbered files of `scratch` (never by their
/// archive names).
fn package_inputs(path: &Path, scratch: &Path) -> Result<(Vec<Input>, PackageSummary)> {
    let mut inputs = Vec::new();
    let report = riposte_acquire::read_package(
        path,
        &riposte_acquire::PackageLimits::default(),
        // Unix paths go through the same triage profile as a folder; Windows paths (no
        // Windows profile yet) are all taken: the collector already chose them.
        &|original| !original.starts_with('/') || TriageProfile::linux().matches(original),
        &mut |entry, reader| {
            let local_path = scratch.join(format!("{:06}", inputs.len()));
            let mut out = std::fs::File::create(&local_path)?;
            std::io::copy(reader, &mut out)?;
            inputs.push(Input {
                original_path: entry.original_path.clone(),
                local_path,
                modified: entry.modified,
                collected: None,
            });
            Ok(())
        },
    )
    .with_context(|| format!("cannot read the package {}", path.display()))?;
    for refused in &report.refused {
        tracing::warn!(entry = %refused.archive_path, reason = %refused.reason, "package entry refused");
    }
    let summary = PackageSummary {
        format: report.format,
        layout: report.layout,
        refused: report.refused,
        ignored: report.ignored,
    };
    Ok((inputs, summary))
}

/// The files of a disk image (triage profile, or every file with `full`), streamed into
/// numbered files of `scratch`; with `full`, the filesystem timeline too.
fn image_inputs(
    path: &Path,
    scratch: &Path,
    full: bool,
) -> Result<(Vec<Input>, riposte_acquire::ImageReport)> {
    let mut inputs = Vec::new();
    let selection = if full {
        riposte_acquire::ImageSelection::Full
    } else {
        riposte_acquire::ImageSelection::Triage
    };
    // A spinner on standard error (drawn only on a terminal): images take a while.
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut copied = 0u64;
    let body_path = scratch.join("filesystem-timeline.body");
    let mut body = std::io::BufWriter::new(
        std::fs::File::create(&body_path).context("cannot write the filesystem timeline")?,
    );
    let report = riposte_acquire::read_image(
        path,
        selection,
        &riposte_acquire::TriageOptions::default(),
        &mut |item, reader| {
            let local_path = scratch.join(format!("{:06}", inputs.len()));
            let mut out = std::fs::File::create(&local_path)?;
            copied += std::io::copy(reader, &mut out)?;
            progress.set_message(format!(
                "{}: {} files, {} MiB collected — {}",
                path.display(),
                inputs.len() + 1,
                copied >> 20,
                item.original_path
            ));
            inputs.push(Input {
                original_path: item.original_path.to_string(),
                local_path,
                modified: item.entry.times.modified,
                collected: None,
            });
            Ok(())
        },
        full.then_some(&mut body as &mut dyn std::io::Write),
    )
    .with_context(|| format!("cannot read the disk image {}", path.display()))?;
    progress.finish_and_clear();
    std::io::Write::flush(&mut body).context("cannot write the filesystem timeline")?;
    if full {
        inputs.push(Input {
            original_path: FILESYSTEM_TIMELINE.into(),
            local_path: body_path,
            modified: None,
            collected: None,
        });
    }
    for volume in &report.volumes {
        for problem in &volume.problems {
            tracing::warn!(partition = volume.index, %problem, "image volume problem");
        }
    }
    Ok((inputs, report))
}

fn inputs(path: &Path, scratch: &Path, full: bool) -> Result<(Vec<Input>, Found)> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file()
        && riposte_acquire::PackageFormat::detect(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .is_some()
    {
        let (inputs, summary) = package_inputs(path, scratch)?;
        let found = Found {
            package: Some(summary),
            ..Found::default()
        };
        return Ok((inputs, found));
    }
    if meta.is_file() && riposte_acquire::is_disk_image(path) {
        let (inputs, report) = image_inputs(path, scratch, full)?;
        let found = Found {
            image: Some(report),
            ..Found::default()
        };
        return Ok((inputs, found));
    }
    if meta.is_file() {
        let single = Input {
            original_path: guess_original_path(path),
            local_path: path.to_path_buf(),
            modified: meta.modified().ok().map(Into::into),
            collected: None,
        };
        return Ok((vec![single], Found::default()));
    }
    if !meta.is_dir() {
        bail!("{} is neither a folder nor a regular file", path.display());
    }
    let selection = triage_files(path)
        .with_context(|| format!("cannot select triage files in {}", path.display()))?;
    for skipped in &selection.skipped {
        tracing::warn!(path = %skipped.original_path, reason = %skipped.reason, "skipped");
    }
    if selection.files.is_empty() {
        return Ok((loose_logs(path)?, Found::default()));
    }
    let inputs = selection
        .files
        .into_iter()
        .map(|f| Input {
            original_path: f.original_path.clone(),
            local_path: f.local_path.clone(),
            modified: f.modified,
            collected: Some(f),
        })
        .collect();
    Ok((inputs, Found::default()))
}

/// Most files read from a folder that is not laid out like a root filesystem.
const LOOSE_MAX_FILES: usize = 100_000;

/// A folder that holds no triage artifact at their usual places (say, a folder of exported
/// `.evtx` logs or of log files): every file some parser recognises by its name, as a
/// single file would be read. Links are not followed.
fn loose_logs(dir: &Path) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .max_depth(16)
        .sort_by_file_name()
    {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let original_path = guess_original_path(entry.path());
        if riposte_artifacts::parser_for(&original_path).is_none() {
            continue;
        }
        if inputs.len() == LOOSE_MAX_FILES {
            tracing::warn!(dir = %dir.display(), max = LOOSE_MAX_FILES, "too many files; the rest are not read");
            break;
        }
        inputs.push(Input {
            original_path,
            local_path: entry.path().to_path_buf(),
            modified: entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .map(Into::into),
            collected: None,
        });
    }
    Ok(inputs)
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
    let report = tokio::task::spawn_blocking(move || {
        build_report(&path, host, full, alert.as_ref(), &detection)
    })
    .await??;
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// The evidence of one collection, parsed: per-artifact reports and the ordered timeline.
pub(crate) struct Gathered {
    host: String,
    artifacts: Vec<ArtifactReport>,
    package: Option<PackageSummary>,
    image: Option<riposte_acquire::ImageReport>,
    /// Events ordered by time, untimed last.
    pub(crate) events: Vec<Event>,
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

fn build_report(
    path: &Path,
    host: Option<String>,
    full: bool,
    alert: Option<&riposte_model::Alert>,
    detection: &crate::detection::DetectionArgs,
) -> Result<Report> {
    let Gathered {
        host,
        artifacts,
        package,
        image,
        events,
        files,
        _scratch,
    } = gather(path, host, full)?;
    let engine = detection.engine()?;
    let policy = detection.verdict_policy()?;
    let (alarms, verdict) = detect(&engine, &events, &files, &policy);
    let story = riposte_worker::pipeline::story(&alarms, &events, alert, &detection.correlation());
    let alert = alert.map(crate::alert::without_raw).transpose()?;
    Ok(Report {
        host,
        source: path.display().to_string(),
        package,
        image,
        artifacts,
        events: events.len(),
        alarms,
        verdict,
        alert,
        story,
        timeline: events,
    })
}

/// Selects, hashes and parses the artifacts of a collection (or one file), streaming each.
pub(crate) fn gather(path: &Path, host: Option<String>, full: bool) -> Result<Gathered> {
    let host = host.unwrap_or_else(|| {
        path.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
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
    });
    let mut artifacts = Vec::new();
    let mut events = Vec::new();
    // Package entries are streamed here first; removed when the report is built.
    let scratch = tempfile::tempdir().context("cannot create a scratch folder for the package")?;
    let (inputs, found) = inputs(path, scratch.path(), full)?;
    let investigation_id = riposte_model::InvestigationId::new();
    let mut files = Vec::with_capacity(inputs.len());
    for input in inputs {
        // A collected file is reopened through `open`, which refuses one swapped for a link.
        let file = match &input.collected {
            Some(c) => c.open()?,
            None => std::fs::File::open(&input.local_path)
                .with_context(|| format!("cannot read {}", input.local_path.display()))?,
        };
        let mut reader = HashingReader {
            inner: std::io::BufReader::new(file),
            hasher: Sha256::new(),
            size: 0,
        };
        let ctx = ArtifactContext {
            host: host.clone(),
            original_path: input.original_path.clone(),
            modified: input.modified,
        };
        let (mut evs, stats) = parse_artifact(&ctx, &mut reader);
        // Parsers may stop early on a broken stream; hash the rest so the digest covers the whole file.
        std::io::copy(&mut reader, &mut std::io::sink())?;
        events.append(&mut evs);
        let sha256 = hex::encode(reader.hasher.finalize());
        if input.original_path != FILESYSTEM_TIMELINE {
            files.push(CollectedFile {
                item: EvidenceItem {
                    id: riposte_model::EvidenceId::new(),
                    investigation_id,
                    sha256: sha256.clone(),
                    size: reader.size,
                    provenance: Provenance {
                        method: "investigate".into(),
                        source: path.display().to_string(),
                        host: host.clone(),
                        original_path: input.original_path.clone(),
                        modified: input.modified,
                        image: None,
                    },
                    storage_key: input.local_path.display().to_string(),
                    collected_at: chrono::Utc::now(),
                },
                content: Some(input.local_path.clone()),
            });
        }
        artifacts.push(ArtifactReport {
            path: input.original_path,
            sha256,
            size: reader.size,
            stats,
        });
    }
    order_events(&mut events);
    Ok(Gathered {
        host,
        artifacts,
        package: found.package,
        image: found.image,
        events,
        files,
        _scratch: scratch,
    })
}

fn print_text(r: &Report) {
    println!("Riposte triage report — host {} ({})", r.host, r.source);
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
                "  [{:<8}] {}  {}",
                a.severity.as_str().to_uppercase(),
                a.title,
                if mitre.is_empty() {
                    String::new()
                } else {
                    format!("({})", mitre.join(", "))
                }
            );
            for &i in a.event_refs.iter().take(3) {
                if let Some(e) = r.timeline.get(i as usize) {
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
    println!("Verdict: {} (score {})", r.verdict.verdict, r.verdict.score);
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
                .timeline
                .get(e.event as usize)
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
