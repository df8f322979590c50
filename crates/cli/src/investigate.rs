//! `riposte investigate <path>`: the pipeline offline, on a triage collection laid out like
//! a host's root filesystem (or on a single log file), printing a report.

use anyhow::{Context, Result, bail};
use clap::Args;
use riposte_acquire::triage_files;
use riposte_artifacts::ArtifactContext;
use riposte_detect::VerdictPolicy;
use riposte_model::{Alarm, Event, VerdictSummary};
use riposte_worker::pipeline::{ArtifactStats, detect, order_events, parse_artifact};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Options of `investigate`.
#[derive(Args)]
pub struct InvestigateArgs {
    /// A host's triage collection (a folder laid out like its root filesystem) or one log file.
    pub path: PathBuf,
    /// Output: a readable report, or JSON.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Host name to report (default: the folder name).
    #[arg(long)]
    pub host: Option<String>,
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
struct Report {
    host: String,
    source: String,
    artifacts: Vec<ArtifactReport>,
    events: usize,
    alarms: Vec<Alarm>,
    verdict: VerdictSummary,
    #[serde(skip)]
    timeline: Vec<Event>,
}

struct Input {
    original_path: String,
    local_path: PathBuf,
    modified: Option<chrono::DateTime<chrono::Utc>>,
    collected: Option<riposte_acquire::CollectedFile>,
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

fn inputs(path: &Path) -> Result<Vec<Input>> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![Input {
            original_path: guess_original_path(path),
            local_path: path.to_path_buf(),
            modified: meta.modified().ok().map(Into::into),
            collected: None,
        }]);
    }
    if !meta.is_dir() {
        bail!("{} is neither a folder nor a regular file", path.display());
    }
    let selection = triage_files(path)
        .with_context(|| format!("cannot select triage files in {}", path.display()))?;
    for skipped in &selection.skipped {
        tracing::warn!(path = %skipped.original_path, reason = %skipped.reason, "skipped");
    }
    Ok(selection
        .files
        .into_iter()
        .map(|f| Input {
            original_path: f.original_path.clone(),
            local_path: f.local_path.clone(),
            modified: f.modified,
            collected: Some(f),
        })
        .collect())
}

/// Runs `investigate`.
pub async fn run(args: InvestigateArgs) -> Result<()> {
    let InvestigateArgs { path, format, host } = args;
    let report = tokio::task::spawn_blocking(move || build_report(&path, host)).await??;
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
    /// Events ordered by time, untimed last.
    pub(crate) events: Vec<Event>,
}

fn build_report(path: &Path, host: Option<String>) -> Result<Report> {
    let Gathered {
        host,
        artifacts,
        events,
    } = gather(path, host)?;
    let (alarms, verdict) = detect(&events, &VerdictPolicy::default());
    Ok(Report {
        host,
        source: path.display().to_string(),
        artifacts,
        events: events.len(),
        alarms,
        verdict,
        timeline: events,
    })
}

/// Selects, hashes and parses the artifacts of a collection (or one file), streaming each.
pub(crate) fn gather(path: &Path, host: Option<String>) -> Result<Gathered> {
    let host = host.unwrap_or_else(|| {
        path.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_else(|| "host".into())
    });
    let mut artifacts = Vec::new();
    let mut events = Vec::new();
    for input in inputs(path)? {
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
        events,
    })
}

fn print_text(r: &Report) {
    println!("Riposte triage report — host {} ({})", r.host, r.source);
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
        }
    }
    println!();
    println!("Verdict: {} (score {})", r.verdict.verdict, r.verdict.score);
    for reason in &r.verdict.reasons {
        println!("  - {reason}");
    }
}
