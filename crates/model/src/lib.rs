//! The core model of Riposte: the nouns every stage of the flow passes along.
//!
//! Nothing here knows about HTTP, SQL or cloud SDKs; other crates depend on this one
//! and convert to and from their own representations at their edges.

mod alarm;
mod alert;
mod environment;
mod event;
mod event_query;
mod evidence;
mod hunt;
mod ids;
mod investigation;
mod job;
mod response;
mod rule;
mod s3;
mod severity;
mod ssh_credential;
mod story;
mod tagged;
mod target;
mod verdict;

pub use alarm::{Alarm, AlarmFile, MitreTechnique};
pub use alert::{Alert, AlertSource, Observables};
pub use environment::{
    Accounts, Acquisition, AwsResourceType, AwsScope, Environment, EnvironmentSpec, LocalScope,
    Scope, ScopeMatch, SshScope,
};
pub use event::{Action, EntityKind, Event, EventOrigin};
pub use event_query::{ATTRIBUTES, AttrCondition, EventQuery, Field, QueryError};
pub use evidence::{
    AcquisitionSummary, CloudVolume, EvidenceForm, EvidenceItem, ImageLocation, Provenance,
    SshOrigin, SystemLayout,
};
pub use hunt::{
    Ec2System, ExtraDetections, FailedTarget, HostSystem, Hunt, HuntCounts, HuntRun, HuntRunStatus,
    HuntSchedule, HuntSpec, HuntTrigger, PathSystem, S3System, ScheduleError, ScopeSelector,
    SnapshotSystem, SystemRef,
};
pub use ids::{
    ActionId, AlertId, EnvironmentId, EvidenceId, HuntId, HuntRunId, InvestigationId, JobId,
    ProjectId, RuleId,
};
pub use investigation::{Investigation, InvestigationStatus};
pub use job::{Job, JobKind, JobStatus};
pub use response::{
    ActionChange, ActionError, ActionRecord, ActionStatus, ActionTarget, Ec2Target, XdrHost,
};
pub use rule::{
    ActionTrigger, AlertDecision, DetectionRule, InvestigationPlan, InvestigationType,
    NotificationEvent, ResponseAction, RuleAction, RuleEvaluation, RuleFilters, RuleNotification,
    RuleOutcome, RuleRef, RuleSource, RuleSpec, TargetKind,
};
pub use s3::S3Address;
pub use severity::Severity;
pub use story::{
    CausalityChain, ChainLink, ChainOrigin, CorrelatedEvent, Correlation, IncidentScope,
    InvestigationStory, IpLocality, LinkKind, LinkRelation, Observable, ObservableMatch,
    OriginKind, ScopeEntry, ScopeFile, ScopeIp,
};
pub use tagged::{TAG_FIELD, Tagged, deserialize_tagged};
pub use target::Target;
pub use verdict::{Verdict, VerdictSummary};

/// Error returned when a string does not name a known enum value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownValue {
    /// What was being parsed (e.g. "severity").
    pub kind: &'static str,
    /// The value that was given.
    pub value: String,
    /// The accepted values, comma separated.
    pub expected: &'static str,
}
pub use ssh_credential::SshSecret;
