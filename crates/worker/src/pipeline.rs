//! The stages' pure work, shared by the durable worker and the offline `investigate` command:
//! parse one artifact into events, and turn events into alarms and a verdict.

use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::{CollectedFile, DetectionEngine, VerdictPolicy};
use riposte_model::{Alarm, Event, VerdictSummary};
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

/// Parses one artifact (gunzipping it if needed). Bad records are counted, never fatal.
pub fn parse_artifact(
    ctx: &ArtifactContext,
    input: impl Read + Send,
) -> (Vec<Event>, ArtifactStats) {
    let Some(parser) = parser_for(&ctx.original_path) else {
        return (
            Vec::new(),
            ArtifactStats {
                parser: "none".into(),
                ..Default::default()
            },
        );
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
            return (Vec::new(), stats);
        }
    };
    let mut events = Vec::new();
    for record in parser.parse(ctx, reader) {
        match record {
            Ok(e) => events.push(e),
            Err(e) => {
                stats.errors += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(e.to_string());
                }
            }
        }
    }
    stats.events = events.len() as u64;
    stats.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (events, stats)
}

/// Orders events by time (untimed last), keeping the artifacts' order among equals.
pub fn order_events(events: &mut [Event]) {
    events.sort_by_key(|e| e.time.map(|t| t.timestamp_micros()).unwrap_or(i64::MAX));
}

/// Runs every detector of the engine — over the events, then over the collected files —
/// and the verdict policy.
pub fn detect(
    engine: &DetectionEngine,
    events: &[Event],
    files: &[CollectedFile],
    policy: &VerdictPolicy,
) -> (Vec<Alarm>, VerdictSummary) {
    let mut alarms = engine.run(events);
    alarms.extend(engine.run_files(files));
    let verdict = policy.decide(&alarms);
    (alarms, verdict)
}

/// The story of the alarms: the events correlated with the alert (when there is one), the
/// causality chains of the alarms' events, and the scope drawn from both.
pub fn story(
    alarms: &[Alarm],
    events: &[Event],
    alert: Option<&riposte_model::Alert>,
    correlation: &riposte_detect::CorrelationConfig,
) -> riposte_model::InvestigationStory {
    let correlated = alert.map(|a| riposte_detect::correlate(a, events, correlation));
    let chains = riposte_detect::chains(alarms, events);
    let empty = riposte_model::Correlation::default();
    let scope = riposte_detect::scope(
        alarms,
        events,
        &chains,
        correlated.as_ref().unwrap_or(&empty),
    );
    riposte_model::InvestigationStory {
        correlation: correlated,
        chains,
        scope,
    }
}
