//! Options that choose the detection rules, shared by `serve` and `investigate`: Sigma
//! over the timeline, YARA over collected files, IOC feeds over both.

use anyhow::{Context, Result, bail};
use clap::Args;
use riposte_detect::ioc::{self, IocDetector, IocDetectorConfig, IocSet};
use riposte_detect::{DetectionEngine, Sigma, SigmaRules};
use riposte_yara::{RuleSet, YaraConfig, YaraDetector};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which detection rules run over each timeline and each collected file.
#[derive(Args, Debug, Clone)]
pub struct DetectionArgs {
    /// Folder of the bundled SigmaHQ rules (default: `detections/sigma` beside the
    /// binary, in `../share/riposte/`, or in the source tree).
    #[arg(long, env = "RIPOSTE_SIGMA_BUNDLED")]
    pub sigma_bundled: Option<PathBuf>,
    /// A folder of your own Sigma rules, loaded beside the bundled ones (repeatable).
    #[arg(
        long = "sigma-rules",
        env = "RIPOSTE_SIGMA_RULES",
        value_delimiter = ','
    )]
    pub sigma_rules: Vec<PathBuf>,
    /// Run without the bundled SigmaHQ rules (custom `--sigma-rules` still load).
    #[arg(long)]
    pub no_bundled_sigma: bool,
    /// Folder of the bundled YARA rules (default: `detections/yara` beside the binary, in
    /// `../share/riposte/`, or in the source tree).
    #[arg(long, env = "RIPOSTE_YARA_BUNDLED")]
    pub yara_bundled: Option<PathBuf>,
    /// A folder of your own YARA rules (`.yar`/`.yara`), compiled beside the bundled ones
    /// (repeatable).
    #[arg(long = "yara-rules", env = "RIPOSTE_YARA_RULES", value_delimiter = ',')]
    pub yara_rules: Vec<PathBuf>,
    /// Scan without the bundled YARA rules (custom `--yara-rules` still load).
    #[arg(long)]
    pub no_bundled_yara: bool,
    /// Never report YARA rules carrying this tag (repeatable, case-insensitive).
    #[arg(long = "yara-skip-tag", value_delimiter = ',')]
    pub yara_skip_tags: Vec<String>,
    /// Largest collected file scanned with YARA, in bytes; larger ones are recorded as
    /// skipped.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub yara_max_file_size: u64,
    /// Where compiled YARA rule sets are cached (default: `$XDG_CACHE_HOME/riposte/yara`
    /// or `~/.cache/riposte/yara`); the bundled set compiles in seconds, loads from the
    /// cache in a fraction of that.
    #[arg(long, env = "RIPOSTE_YARA_CACHE")]
    pub yara_cache: Option<PathBuf>,
    /// Compile the YARA rules on every start, without the cache.
    #[arg(long)]
    pub no_yara_cache: bool,
    /// Scan the structured logs the artifact parsers read completely too (EVTX, journald,
    /// registry hives, utmp/wtmp/btmp/lastlog, bodyfiles); by default they are recorded as
    /// skipped (parsed log), since YARA rules are not written for them.
    #[arg(long, env = "RIPOSTE_YARA_SCAN_ALL")]
    pub yara_scan_all: bool,
    /// An IOC feed matched against events and collected files (repeatable): CSV, STIX 2.1
    /// bundle, MISP event JSON, or signature-base LOKI hash/C2 lists, recognised from the
    /// file; force a format with `FORMAT:PATH` (`csv`, `stix`, `misp`, `loki-hash`,
    /// `loki-c2`).
    #[arg(long = "ioc", env = "RIPOSTE_IOCS", value_delimiter = ',')]
    pub iocs: Vec<String>,
    /// Minutes before and after the alert (or its first and last sighting) in which
    /// events sharing one of its observables are linked to it.
    #[arg(long, default_value_t = 30)]
    pub correlation_window_minutes: u32,
    /// The verdict policy, a JSON file overriding any of the defaults, e.g.
    /// `{"weights": {"medium": 30}, "malicious_at": 80, "suspicious_at": 20}` (see the
    /// README's "Verdict" section).
    #[arg(long, env = "RIPOSTE_VERDICT_POLICY", value_name = "FILE")]
    pub verdict_policy: Option<PathBuf>,
    /// Memory for detecting over one timeline, in MiB: events stream through the
    /// detectors, and the heuristics' window of candidate events and the story's
    /// process/logon/connection events each get a fifth of it, whatever the number of
    /// events (see the README's "Detection at scale").
    #[arg(long, env = "RIPOSTE_MEMORY_BUDGET_MB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(64..))]
    pub memory_budget_mb: u64,
}

impl DetectionArgs {
    /// The verdict policy: the defaults, or the file's values over them, validated.
    pub fn verdict_policy(&self) -> Result<riposte_detect::VerdictPolicy> {
        let Some(path) = &self.verdict_policy else {
            return Ok(riposte_detect::VerdictPolicy::default());
        };
        let text = std::fs::read(path)
            .with_context(|| format!("cannot read the verdict policy {}", path.display()))?;
        let policy: riposte_detect::VerdictPolicy = serde_json::from_slice(&text)
            .with_context(|| format!("invalid verdict policy {}", path.display()))?;
        policy
            .validate()
            .with_context(|| format!("invalid verdict policy {}", path.display()))?;
        Ok(policy)
    }

    /// How events are correlated with the alert.
    pub fn correlation(&self) -> riposte_detect::CorrelationConfig {
        riposte_detect::CorrelationConfig {
            window_minutes: self.correlation_window_minutes,
            ..Default::default()
        }
    }

    /// The detection engine: the built-in detectors, the Sigma rules, the YARA rules and
    /// the IOC feeds chosen.
    pub fn engine(&self) -> Result<DetectionEngine> {
        let budget = usize::try_from(self.memory_budget_mb << 20).unwrap_or(usize::MAX);
        let mut engine =
            DetectionEngine::new().with_limits(riposte_detect::Limits::for_budget(budget));
        // The Sigma and YARA sets load side by side (each takes a fraction of a second to
        // a second).
        let (sigma, yara) = std::thread::scope(|scope| {
            let yara = scope.spawn(|| self.yara());
            let sigma = self.sigma();
            let yara = yara
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (sigma, yara)
        });
        if let Some(sigma) = sigma? {
            engine = engine.with(sigma);
        }
        if let Some(iocs) = self.ioc_detector()? {
            engine = engine.with(iocs.clone()).with_files(iocs);
        }
        if let Some(yara) = yara? {
            engine = engine.with_files(yara);
        }
        Ok(engine)
    }

    fn sigma(&self) -> Result<Option<Sigma>> {
        let mut dirs = Vec::new();
        if !self.no_bundled_sigma {
            dirs.push(
                riposte_detect::sigma::bundled_dir(self.sigma_bundled.as_deref()).context(
                    "the bundled Sigma rules were not found: pass --sigma-bundled <dir> (the repository's detections/sigma) or --no-bundled-sigma",
                )?,
            );
        }
        dirs.extend(self.sigma_rules.iter().cloned());
        if dirs.is_empty() {
            return Ok(None);
        }
        let rules = SigmaRules::load(&dirs)
            .with_context(|| format!("cannot read the Sigma rule folders {}", list(&dirs)))?;
        let report = rules.report();
        tracing::info!(
            files = report.files,
            loaded = report.loaded,
            left_out = report.unsupported.len(),
            "Sigma rules ready"
        );
        Ok(Some(Sigma::new(rules)))
    }

    fn yara(&self) -> Result<Option<YaraDetector>> {
        let mut dirs = Vec::new();
        if !self.no_bundled_yara {
            dirs.push(yara_bundled_dir(self.yara_bundled.as_deref())?);
        }
        dirs.extend(self.yara_rules.iter().cloned());
        self.compile_yara(dirs)
    }

    /// The YARA rules of `dirs` compiled (from the cache when it holds them) with this
    /// command's YARA options; `None` without folders.
    fn compile_yara(&self, dirs: Vec<PathBuf>) -> Result<Option<YaraDetector>> {
        if dirs.is_empty() {
            return Ok(None);
        }
        let config = YaraConfig {
            rule_dirs: dirs.clone(),
            skip_tags: self.yara_skip_tags.clone(),
            max_file_size: self.yara_max_file_size,
            ..YaraConfig::default()
        };
        let cache = if self.no_yara_cache {
            None
        } else {
            self.yara_cache
                .clone()
                .or_else(riposte_yara::default_cache_dir)
        };
        let (rules, report) = RuleSet::compile_cached(&config, cache.as_deref())
            .with_context(|| format!("cannot load the YARA rule folders {}", list(&dirs)))?;
        for failure in &report.failures {
            tracing::warn!(file = %failure.path.display(), error = %failure.error, "YARA rule file left out");
        }
        tracing::info!(
            files = report.files_loaded,
            failed = report.failures.len(),
            rules = report.rules,
            from_cache = report.from_cache,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "YARA rules ready"
        );
        Ok(Some(
            YaraDetector::new(Arc::new(rules)).scanning_parsed_logs(self.yara_scan_all),
        ))
    }

    fn ioc_detector(&self) -> Result<Option<IocDetector>> {
        load_iocs(&self.iocs)
    }

    /// What loads a hunt's own IOC feeds and YARA rule folders on top of the server's
    /// detectors, for the workers (with this command's YARA options).
    pub fn hunt_detections(&self) -> riposte_worker::ExtraDetectionsLoader {
        let args = self.clone();
        Arc::new(
            move |engine: DetectionEngine, extra: &riposte_model::ExtraDetections| {
                let mut engine = engine;
                if let Some(iocs) = load_iocs(&extra.ioc_feeds).map_err(|e| format!("{e:#}"))? {
                    engine = engine.with(iocs.clone()).with_files(iocs);
                }
                let dirs = extra.yara_rules.iter().map(PathBuf::from).collect();
                if let Some(yara) = args.compile_yara(dirs).map_err(|e| format!("{e:#}"))? {
                    engine = engine.with_files(yara);
                }
                Ok(engine)
            },
        )
    }
}

/// The IOC feeds `specs` (`PATH` or `FORMAT:PATH`) as one detector; `None` without feeds.
fn load_iocs(specs: &[String]) -> Result<Option<IocDetector>> {
    if specs.is_empty() {
        return Ok(None);
    }
    let mut indicators = Vec::new();
    for spec in specs {
        let (format, path) = split_format(spec);
        let path = Path::new(path);
        let data = std::fs::read(path)
            .with_context(|| format!("cannot read the IOC feed {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let format = match format {
            Some(f) => f,
            None => ioc::guess_format(&name, &data)
                .with_context(|| format!("the IOC feed {} is empty", path.display()))?,
        };
        let import = ioc::importer(format)?
            .import(&data, &name)
            .with_context(|| format!("cannot import the IOC feed {}", path.display()))?;
        for rejected in &import.rejected {
            tracing::warn!(feed = %path.display(), place = %rejected.place, reason = %rejected.reason, "IOC left out");
        }
        if import.indicators.is_empty() {
            bail!(
                "the IOC feed {} yielded no indicator as {format} ({} item(s) left out); force the format with FORMAT:PATH",
                path.display(),
                import.rejected.len()
            );
        }
        tracing::info!(feed = %path.display(), format, indicators = import.indicators.len(), left_out = import.rejected.len(), "IOC feed loaded");
        indicators.extend(import.indicators);
    }
    let set = Arc::new(IocSet::new(indicators));
    Ok(Some(IocDetector::new(set, IocDetectorConfig::default())))
}

/// `FORMAT:PATH` → the format and the path, when FORMAT is an importer's name.
fn split_format(spec: &str) -> (Option<&'static str>, &str) {
    if let Some((prefix, rest)) = spec.split_once(':')
        && let Some(importer) = ioc::importers().iter().find(|i| i.name() == prefix)
    {
        return (Some(importer.name()), rest);
    }
    (None, spec)
}

/// Where the bundled YARA rules are: `configured` when given; else `detections/yara` where
/// the bundled Sigma rules are looked for too.
fn yara_bundled_dir(configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = configured {
        if dir.is_dir() {
            return Ok(dir.to_path_buf());
        }
        bail!("--yara-bundled {} is not a folder", dir.display());
    }
    riposte_detect::bundled_rules_dir(riposte_yara::BUNDLED_RULES_DIR).map_err(|looked| {
        anyhow::anyhow!(
            "the bundled YARA rules were not found (looked in {looked}): pass --yara-bundled <dir> (the repository's detections/yara) or --no-bundled-yara"
        )
    })
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::split_format;

    #[test]
    fn a_format_prefix_is_taken_only_when_it_names_an_importer() {
        assert_eq!(
            split_format("stix:feeds/a.json"),
            (Some("stix"), "feeds/a.json")
        );
        assert_eq!(split_format("loki-c2:c2.txt"), (Some("loki-c2"), "c2.txt"));
        assert_eq!(split_format("C:/feeds/a.csv"), (None, "C:/feeds/a.csv"));
        assert_eq!(split_format("feeds/a.csv"), (None, "feeds/a.csv"));
    }
}
