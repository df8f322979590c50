//! The stages' pure work, shared by the durable worker and the offline `investigate` command:
//! acquire evidence with the same options, parse one artifact into events, order the
//! artifacts the same way, and stream the timeline into alarms, a verdict and a story.

use riposte_acquire::AcquireOptions;
use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::story::StoryBuilder;
use riposte_detect::{Batch, CollectedFile, DetectionEngine, VerdictPolicy};
use riposte_model::{AcquisitionSummary, Alarm, Event, Verdict, VerdictSummary};
use serde::Serialize;
use std::io::Read;

/// Per-artifact parsing statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArtifactStats {
    /// The parser used (`none` when no parser claims the file).
    pub parser: String,
    /// Events produced.
    pub events: u64,
    /// Records that failed to parse.
    pub errors: u64,
    /// The first error message.
    pub first_error: Option<String>,
    /// Time spent parsing, in milliseconds.
    pub duration_ms: u64,
}

/// True when some artifact parser reads a file at `original_path`.
pub fn parsable(original_path: &str) -> bool {
    parser_for(original_path).is_some()
}

/// The acquisition options of a triage (or, with `full`, full) investigation: the same for
/// `riposte investigate` and the worker's collect stage.
pub fn acquire_options(full: bool) -> AcquireOptions<'static> {
    AcquireOptions::new(full, &parsable)
}

/// Says when a verdict could not rest on the evidence: when the acquisition of `host`
/// gave nothing any parser reads, "No Evidence Found" is marked inconclusive and a warning
/// says why, so it never reads as a clean host.
pub fn qualify_verdict(verdict: &mut VerdictSummary, host: &str, acquisition: &AcquisitionSummary) {
    if acquisition.parsable > 0 {
        return;
    }
    let layouts: Vec<String> = acquisition
        .layouts
        .iter()
        .map(|l| l.as_str().to_string())
        .collect();
    let found = if acquisition.items == 0 {
        "nothing was collected".to_string()
    } else {
        format!(
            "{} item(s) collected, none of them an artifact Riposte parses",
            acquisition.items
        )
    };
    verdict.warnings.push(format!(
        "no parsable evidence collected from {host}: {found} (layout: {}; selection: {}; {} entries skipped) — check that the collection holds the host's logs at their usual paths (e.g. var/log/auth.log, C/Windows/System32/winevt/Logs)",
        if layouts.is_empty() { "none recognised".to_string() } else { layouts.join(", ") },
        if acquisition.profiles.is_empty() { "none".to_string() } else { acquisition.profiles.join(", ") },
        acquisition.skipped,
    ));
    if verdict.verdict == Verdict::NoEvidence {
        verdict.inconclusive = true;
    }
}

/// Orders per-artifact results the way both paths do before the events are ordered in
/// time: by original path, so equal times keep one order whoever parsed them.
pub fn order_artifacts<T>(results: &mut [T], original_path: impl Fn(&T) -> &str) {
    results.sort_by(|a, b| original_path(a).cmp(original_path(b)));
}

/// Parses one artifact (gunzipping it if needed), handing each event to `sink` as it is
/// read, so an artifact of any size is never held in memory. Bad records are counted,
/// never fatal.
pub fn parse_artifact_with(
    ctx: &ArtifactContext,
    input: impl Read + Send,
    sink: &mut dyn FnMut(Event),
) -> ArtifactStats {
    let Some(parser) = parser_for(&ctx.original_path) else {
        return ArtifactStats {
            parser: "none".into(),
            ..Default::default()
        };
    };
    let started = std::time::Instant::now();
    let mut stats = ArtifactStats {
        parser: parser.name().to_string(),
        ..Default::default()
    };
    let reader = match open_artifact(input) {
        Ok(r) => r,
        Err(e) => {
            stats.errors = 1;
            stats.first_error = Some(format!("{}: cannot open: {e}", ctx.original_path));
            return stats;
        }
    };
    for record in parser.parse(ctx, reader) {
        match record {
            Ok(e) => {
                stats.events += 1;
                sink(e);
            }
            Err(e) => {
                stats.errors += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(e.to_string());
                }
            }
        }
    }
    stats.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    stats
}

/// Events per batch streamed through detection.
pub const DETECT_BATCH: usize = 4096;

/// An investigation's timeline as detection reads it: every event once, in timeline
/// order (time, untimed last, then stored id), and single events by stored id.
pub trait EventSource {
    /// What reading can fail with.
    type Error: Send;
    /// Calls `each` with the events in timeline order, a batch at a time.
    fn for_each_batch(&mut self, each: &mut dyn FnMut(Batch<'_>)) -> Result<(), Self::Error>;
    /// The events of these stored ids (those that exist).
    fn fetch(&mut self, ids: &[u64]) -> Result<Vec<(u64, Event)>, Self::Error>;
}

/// What detection concluded.
#[derive(Debug)]
pub struct Detected {
    /// Alarms over the events (references are stored ids), then over the files.
    pub alarms: Vec<Alarm>,
    /// The verdict of the policy.
    pub verdict: VerdictSummary,
    /// Correlation with the alert, causality chains, scope.
    pub story: riposte_model::InvestigationStory,
    /// Events read.
    pub events: u64,
}

/// Runs every detector of the engine over the timeline streamed from `source` (the
/// file detectors over `files` at the same time, on another thread), then the verdict
/// policy and the story. Memory is bounded by the engine's [`riposte_detect::Limits`],
/// not by the number of events.
pub fn detect_stream<S: EventSource>(
    engine: &DetectionEngine,
    source: &mut S,
    files: &[CollectedFile],
    policy: &VerdictPolicy,
    alert: Option<&riposte_model::Alert>,
    correlation: &riposte_detect::CorrelationConfig,
) -> Result<Detected, S::Error> {
    let mut story = StoryBuilder::new(alert, correlation, engine.limits().story_bytes);
    let (streamed, file_alarms) = std::thread::scope(|scope| {
        let files = scope.spawn(|| engine.run_files(files));
        let mut run = engine.start();
        let streamed = source.for_each_batch(&mut |batch| {
            run.observe(batch);
            story.observe(batch);
        });
        let events = run.events();
        let alarms = run.finish();
        // A file detector that panicked is a bug: surface it rather than lose alarms.
        let file_alarms = files
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (streamed.map(|()| (alarms, events)), file_alarms)
    });
    let (mut alarms, events) = streamed?;
    // The story reads the alarms over events; file alarms reference no event.
    let story = story.finish(&alarms, |ids| source.fetch(ids))?;
    alarms.extend(file_alarms);
    let verdict = policy.decide(&alarms);
    Ok(Detected {
        alarms,
        verdict,
        story,
        events,
    })
}
