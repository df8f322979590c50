//! Scheduled hunts: a list of systems (or environment scopes evaluated at run time)
//! investigated on a cron schedule, each run in a project of its own, with a summary sent
//! to webhooks when the run is over.

use crate::tagged::{Tagged, deserialize_tagged};
use crate::{HuntId, HuntRunId, InvestigationType, ProjectId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// When a hunt runs: a five-field cron expression read in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HuntSchedule {
    /// Minute, hour, day of month, month, day of week (`0 2 * * SUN`: Sundays at 02:00);
    /// names (`SUN`, `JAN`), ranges, steps, `L` and `#` as in Vixie cron and croner.
    pub cron: String,
    /// An IANA time zone (`Europe/London`); daylight-saving changes are followed.
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// A schedule that cannot be used, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ScheduleError {
    /// `cron` or `time_zone`.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

impl HuntSchedule {
    fn parsed(&self) -> Result<(croner::Cron, chrono_tz::Tz), ScheduleError> {
        let fields = self.cron.split_whitespace().count();
        if fields != 5 {
            return Err(ScheduleError {
                field: "cron",
                reason: format!(
                    "expected five fields (minute hour day-of-month month day-of-week, e.g. `0 2 * * SUN`), got {fields}"
                ),
            });
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(&self.cron)
            .map_err(|e| ScheduleError {
                field: "cron",
                reason: format!("{e}"),
            })?;
        let zone: chrono_tz::Tz = self.time_zone.trim().parse().map_err(|_| ScheduleError {
            field: "time_zone",
            reason: format!(
                "{:?} is not an IANA time zone (e.g. `Europe/London`, `America/New_York`, `UTC`)",
                self.time_zone
            ),
        })?;
        Ok((cron, zone))
    }

    /// Checks the expression and the time zone, and that the schedule ever fires.
    pub fn check(&self) -> Result<(), ScheduleError> {
        self.next_after(Utc::now()).map(|_| ())
    }

    /// `t` in the schedule's time zone, to the minute: `2026-12-13 02:00 Europe/London`.
    pub fn local_time(&self, t: DateTime<Utc>) -> String {
        match self.time_zone.trim().parse::<chrono_tz::Tz>() {
            Ok(zone) => format!(
                "{} {}",
                t.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
                zone.name()
            ),
            Err(_) => format!("{} UTC", t.format("%Y-%m-%d %H:%M")),
        }
    }

    /// The first time strictly after `after` the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
        let (cron, zone) = self.parsed()?;
        cron.find_next_occurrence(&after.with_timezone(&zone), false)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| ScheduleError {
                field: "cron",
                reason: format!("never fires: {e}"),
            })
    }
}

/// A named system a hunt (or an import) investigates (read as [`Tagged`], so a type
/// error names the field: `systems[0].ip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SystemRef {
    /// An EC2 instance (acquired through an environment's AWS scope).
    Ec2(Ec2System),
    /// A host of an SSH or local scope, by name or address.
    Host(HostSystem),
    /// An existing EBS snapshot, read in place and never deleted (acquired through an
    /// environment's AWS scope covering its account and region).
    EbsSnapshot(SnapshotSystem),
    /// A triage package or a raw disk image in S3, read in place with range requests
    /// (acquired through an environment's AWS scope covering its account and region).
    S3(S3System),
    /// A collection folder (or package or image) inside an environment's local scope.
    Path(PathSystem),
}

impl Tagged for SystemRef {
    const VARIANTS: &'static [&'static str] = &["ec2", "host", "ebs_snapshot", "s3", "path"];

    fn variant<'de, D: Deserializer<'de>>(kind: &str, fields: D) -> Result<Self, D::Error> {
        match kind {
            "ec2" => Ec2System::deserialize(fields).map(SystemRef::Ec2),
            "host" => HostSystem::deserialize(fields).map(SystemRef::Host),
            "ebs_snapshot" => SnapshotSystem::deserialize(fields).map(SystemRef::EbsSnapshot),
            "s3" => S3System::deserialize(fields).map(SystemRef::S3),
            "path" => PathSystem::deserialize(fields).map(SystemRef::Path),
            other => Err(serde::de::Error::unknown_variant(other, Self::VARIANTS)),
        }
    }
}

impl<'de> Deserialize<'de> for SystemRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_tagged(d)
    }
}

impl SystemRef {
    /// A short label for run reports: `ec2 i-0abc (us-east-1)`, `path /srv/lib/web01`.
    pub fn label(&self) -> String {
        match self {
            SystemRef::Ec2(s) => format!("ec2 {} ({})", s.instance_id, s.region),
            SystemRef::Host(h) => match (&h.hostname, &h.ip) {
                (Some(name), _) => format!("host {name}"),
                (None, Some(ip)) => format!("host {ip}"),
                (None, None) => "host (unnamed)".into(),
            },
            SystemRef::EbsSnapshot(s) => format!("ebs_snapshot {} ({})", s.snapshot_id, s.region),
            SystemRef::S3(s) => format!("s3 {}", s.uri),
            SystemRef::Path(p) => format!("path {}", p.path),
        }
    }
}

/// An EC2 instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ec2System {
    /// The instance id.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// A host, by name or address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSystem {
    /// Its host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub ip: Option<IpAddr>,
}

/// An EBS snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSystem {
    /// The snapshot id, `snap-…`.
    pub snapshot_id: String,
    /// Its region.
    pub region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// An object in S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct S3System {
    /// `s3://bucket/key`.
    pub uri: String,
    /// The bucket's region.
    pub region: String,
    /// Its account, when the AWS scope lists accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// A collection folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathSystem {
    /// Absolute path of the host's folder (or package or image).
    pub path: String,
}

/// Every system an environment's scopes cover, listed when a hunt runs: every EC2
/// instance of an AWS scope (in its accounts and regions, with its tags and these), every
/// host folder of a local scope, every single host an SSH scope names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeSelector {
    /// The environment's name or id.
    pub environment: String,
    /// Only this scope of the environment (by position); all its scopes when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_index: Option<usize>,
    /// Tags the EC2 instances must carry besides the scope's (`{"tier": "critical"}`;
    /// the value `*` only asks for the tag to be present).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Only these accounts of an AWS scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Only these regions of an AWS scope (required when the scope covers every region).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Detections a hunt adds to the server's for its own investigations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraDetections {
    /// IOC feeds (CSV, STIX 2.1, MISP, LOKI; `FORMAT:PATH` forces the format), files on
    /// the server inside its evidence library roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ioc_feeds: Vec<String>,
    /// Folders of YARA rules (`.yar`/`.yara`) on the server, inside its evidence library
    /// roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub yara_rules: Vec<String>,
}

impl ExtraDetections {
    /// True when it adds nothing.
    pub fn is_empty(&self) -> bool {
        self.ioc_feeds.is_empty() && self.yara_rules.is_empty()
    }
}

/// What a client sends to create or replace a hunt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HuntSpec {
    /// A unique name, 1 to 100 characters; each run's project is named after it.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// When it runs.
    pub schedule: HuntSchedule,
    /// Named systems (at most 500).
    #[serde(default)]
    pub systems: Vec<SystemRef>,
    /// Environment scopes whose systems are listed at each run.
    #[serde(default)]
    pub scopes: Vec<ScopeSelector>,
    /// Triage (default) or full.
    #[serde(default)]
    pub investigation_type: InvestigationType,
    /// IOC feeds and YARA rules run over this hunt's systems besides the server's.
    #[serde(default, skip_serializing_if = "ExtraDetections::is_empty")]
    pub detections: ExtraDetections,
    /// Webhooks (name or id) told of each system with alarms (`processing_with_alarms`)
    /// and of each run's end (`hunt_completed`).
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// Whether it runs on its schedule (a disabled hunt can still be run by hand).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A stored hunt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hunt {
    /// Id.
    pub id: HuntId,
    /// What it does.
    #[serde(flatten)]
    pub spec: HuntSpec,
    /// When the schedule next fires (absent while disabled).
    pub next_run_at: Option<DateTime<Utc>>,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// How a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HuntTrigger {
    /// The schedule fired.
    Schedule,
    /// `POST /api/v1/hunts/{id}/run`.
    Manual,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HuntRunStatus {
    /// Recorded; a worker is listing and starting its systems.
    Starting,
    /// Its investigations are running.
    Running,
    /// Every investigation finished; the summary was queued for the webhooks.
    Completed,
    /// Not run: the previous run was still going.
    Skipped,
    /// No system could be investigated (each one's reason is in `failed_targets`).
    Failed,
}

impl HuntRunStatus {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            HuntRunStatus::Starting => "starting",
            HuntRunStatus::Running => "running",
            HuntRunStatus::Completed => "completed",
            HuntRunStatus::Skipped => "skipped",
            HuntRunStatus::Failed => "failed",
        }
    }

    /// Parses [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        [
            HuntRunStatus::Starting,
            HuntRunStatus::Running,
            HuntRunStatus::Completed,
            HuntRunStatus::Skipped,
            HuntRunStatus::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the run is still going (a new one would overlap it).
    pub fn is_active(self) -> bool {
        matches!(self, HuntRunStatus::Starting | HuntRunStatus::Running)
    }
}

/// A target of a run that could not be investigated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedTarget {
    /// The system or scope, e.g. `ec2 i-0abc (us-east-1)`, `scopes[0] (prod, scope 1)`.
    pub target: String,
    /// Why.
    pub reason: String,
}

/// What a run found, system by system (filled when it completes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HuntCounts {
    /// Investigations started.
    pub systems: u32,
    /// Verdict `Malicious Activity Identified`.
    pub malicious: u32,
    /// Verdict `Suspicious Activity`.
    pub suspicious: u32,
    /// Verdict `No Evidence Found`.
    pub no_evidence: u32,
    /// Investigations that failed.
    pub failed: u32,
    /// Targets that could not be investigated at all.
    pub failed_targets: u32,
    /// The hosts whose investigation raised alarms.
    pub with_alarms: Vec<String>,
}

/// One run of a hunt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HuntRun {
    /// Id.
    pub id: HuntRunId,
    /// The hunt.
    pub hunt_id: HuntId,
    /// How it started.
    pub trigger: HuntTrigger,
    /// The schedule's time it stands for (scheduled runs).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Where it is.
    pub status: HuntRunStatus,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// The project holding its investigations.
    pub project_id: Option<ProjectId>,
    /// Targets that could not be investigated, each with its reason.
    pub failed_targets: Vec<FailedTarget>,
    /// Verdict counts (when completed).
    pub counts: Option<HuntCounts>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it completed, was skipped or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str, zone: &str) -> HuntSchedule {
        HuntSchedule {
            cron: cron.into(),
            time_zone: zone.into(),
        }
    }

    #[test]
    fn sunday_two_am_in_london_follows_daylight_saving() {
        let sunday = schedule("0 2 * * SUN", "Europe/London");
        // Monday 2026-03-23: the next Sunday is the 29th, the day clocks go forward at
        // 01:00 UTC, so 02:00 local (BST) is 01:00 UTC.
        let after = Utc.with_ymd_and_hms(2026, 3, 23, 12, 0, 0).unwrap();
        let next = sunday.next_after(after).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
        // In winter 02:00 London is 02:00 UTC.
        let after = Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
        assert_eq!(
            sunday.next_after(after).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 13, 2, 0, 0).unwrap()
        );
        // Strictly after: the firing instant itself gives the next week.
        let at = Utc.with_ymd_and_hms(2026, 12, 13, 2, 0, 0).unwrap();
        assert_eq!(
            sunday.next_after(at).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 20, 2, 0, 0).unwrap()
        );
    }

    #[test]
    fn bad_schedules_name_their_field() {
        for (cron, zone, field) in [
            ("0 2 * *", "UTC", "cron"),
            ("0 0 2 * * SUN", "UTC", "cron"),
            ("61 2 * * SUN", "UTC", "cron"),
            ("0 2 * * FUNDAY", "UTC", "cron"),
            ("0 2 31 2 *", "UTC", "cron"),
            ("0 2 * * SUN", "Mars/Olympus_Mons", "time_zone"),
            ("0 2 * * SUN", "", "time_zone"),
        ] {
            let err = schedule(cron, zone).check().unwrap_err();
            assert_eq!(err.field, field, "{cron:?} {zone:?}: {err}");
        }
        schedule("*/15 * * * *", "UTC").check().unwrap();
        schedule("0 2 * * 0", "America/New_York").check().unwrap();
    }

    #[test]
    fn hunt_specs_refuse_unknown_fields_and_kinds() {
        let spec: HuntSpec = serde_json::from_value(serde_json::json!({
            "name": "Sunday", "schedule": {"cron": "0 2 * * SUN"},
            "systems": [{"kind": "ec2", "instance_id": "i-0123456789abcdef0", "region": "us-east-1"}],
            "scopes": [{"environment": "prod", "tags": {"tier": "critical"}}]
        }))
        .unwrap();
        assert_eq!(spec.schedule.time_zone, "UTC");
        assert!(spec.enabled);
        assert_eq!(
            spec.systems[0].label(),
            "ec2 i-0123456789abcdef0 (us-east-1)"
        );
        let err = serde_json::from_value::<HuntSpec>(serde_json::json!({
            "name": "x", "schedule": {"cron": "0 2 * * SUN"}, "systems": [{"kind": "vm"}]
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("vm"), "{err}");
        assert!(
            serde_json::from_value::<HuntSpec>(serde_json::json!({
                "name": "x", "schedule": {"cron": "0 2 * * SUN"}, "every": "sunday"
            }))
            .is_err()
        );
    }
}
