//! Durable jobs: every stage after an alert is accepted is one persisted job.

use crate::{JobId, UnknownValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident => $s:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $s)] $variant,)* }

        impl $name {
            /// The name used in the API and the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)*
                    _ => Err(UnknownValue { kind: $kind, value: s.to_string(), expected: concat!($($s, " "),*) }),
                }
            }
        }
    };
}

string_enum!(
    /// The stage a job runs.
    JobKind, "job kind" {
        /// Resolve an accepted alert's target and open (or join) an investigation.
        TriageAlert => "triage_alert",
        /// Copy and hash the target's evidence into the evidence store.
        Collect => "collect",
        /// Parse collected evidence into timeline events.
        Process => "process",
        /// Run detections over the events and reach a verdict.
        Detect => "detect",
        /// Send the investigation's result to the configured webhooks.
        Notify => "notify",
        /// Take the response actions the investigation's rule allows for its verdict.
        Respond => "respond",
        /// List a hunt run's systems and start an investigation of each in its project.
        StartHuntRun => "start_hunt_run",
        /// Send a finished hunt run's summary to the hunt's webhooks.
        NotifyHuntRun => "notify_hunt_run",
    }
);

string_enum!(
    /// A job's state.
    JobStatus, "job status" {
        /// Waiting to run (possibly after a back-off).
        Queued => "queued",
        /// Claimed by a worker that holds a lease on it.
        Running => "running",
        /// Finished successfully.
        Done => "done",
        /// Gave up after its last attempt.
        Failed => "failed",
    }
);

/// A persisted unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The stage it runs.
    pub kind: JobKind,
    /// Stage input (ids, options).
    pub payload: serde_json::Value,
    /// Current state.
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed before the job fails for good.
    pub max_attempts: u32,
    /// Earliest time it may run.
    pub run_at: DateTime<Utc>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// What a long stage is doing now, e.g. `snapshot snap-0a1 of vol-0b2 (/dev/xvda): 40%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
