//! Options that choose the detection rules, shared by `serve` and `investigate`.

use anyhow::{Context, Result};
use clap::Args;
use riposte_detect::{DetectionEngine, Sigma, SigmaRules};
use std::path::PathBuf;

/// Which detection rules run over each timeline.
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
}

impl DetectionArgs {
    /// The detection engine: the built-in detectors plus the Sigma rules chosen.
    pub fn engine(&self) -> Result<DetectionEngine> {
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
            return Ok(DetectionEngine::new());
        }
        let rules = SigmaRules::load(&dirs).with_context(|| {
            format!(
                "cannot read the Sigma rule folders {}",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let report = rules.report();
        tracing::info!(
            files = report.files,
            loaded = report.loaded,
            left_out = report.unsupported.len(),
            "detection rules ready"
        );
        Ok(DetectionEngine::new().with(Sigma::new(rules)))
    }
}
