//! Wiz issues and threat detections. Three shapes are accepted, told apart by their keys:
//!
//! - the webhook issue notification (`issue`, `control`, `resource`), what a Wiz
//!   "Send Webhook" automation action posts;
//! - an issue as the Issues GraphQL API returns it (`sourceRule`, `entitySnapshot`);
//! - a Wiz Defend threat detection (`ruleMatch`, `primaryResource`, `cloudAccounts`).
//!
//! Cloud configuration findings and vulnerability findings are posture inventory, not
//! alerts: they are refused with an error saying what to send instead.

use crate::fields::node::Node;
use crate::fields::{Errors, MAX_TEXT_BYTES, Need, quote};
use crate::{AlertParser, SourceError};
use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertId, AlertSource, Observables, Severity, Target};
use serde_json::Value;

/// Vendor and product name on Wiz alerts.
const WIZ: &str = "Wiz";
/// Wiz's resource type for virtual machines, the only ones given an instance id.
const VM: &str = "VIRTUAL_MACHINE";
/// What the parser accepts, for refusals.
const ACCEPTED: &str = "expected a Wiz webhook issue notification (issue, control, resource), \
    an Issues API issue (sourceRule, entitySnapshot) or a Wiz Defend detection \
    (ruleMatch, primaryResource)";

/// Parses Wiz webhook issues, Issues API issues and Wiz Defend detections.
#[derive(Debug, Clone, Copy, Default)]
pub struct WizParser;

/// The fields every shape yields, before validation is complete.
struct Parts {
    id: Option<String>,
    severity: Option<Severity>,
    title: Option<String>,
    description: Option<String>,
    finding_type: Option<String>,
    time: Option<DateTime<Utc>>,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    target: Target,
    observables: Observables,
}

impl AlertParser for WizParser {
    fn source(&self) -> AlertSource {
        AlertSource::Wiz
    }

    fn parse(
        &self,
        payload: &Value,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Alert>, SourceError> {
        let obj = payload.as_object().ok_or(SourceError::NotAnObject)?;
        let mut errs = Errors::default();
        let root = Node::root(obj, "");
        // Detections also carry an `issue` key (null or a bare id), so they are told first.
        let parts = if obj.contains_key("ruleMatch") || obj.contains_key("primaryResource") {
            Some(detection(&mut errs, &root))
        } else if obj.contains_key("sourceRule") || obj.contains_key("entitySnapshot") {
            Some(api_issue(&mut errs, &root))
        } else if obj.contains_key("issue") {
            Some(webhook(&mut errs, &root))
        } else {
            refuse(&mut errs, &root);
            None
        };
        let Some(p) = parts else {
            return Err(errs.into_error());
        };
        let (Some(id), Some(severity), Some(title)) = (p.id, p.severity, p.title) else {
            return Err(errs.into_error());
        };
        errs.check()?;
        Ok(vec![Alert {
            id: AlertId::new(),
            source: AlertSource::Wiz,
            vendor: WIZ.to_string(),
            product: WIZ.to_string(),
            vendor_event_id: Some(id),
            finding_type: p.finding_type.unwrap_or_else(|| title.clone()),
            title,
            description: p.description.unwrap_or_default(),
            severity,
            time: p.time.unwrap_or(received_at),
            first_seen: p.first_seen,
            last_seen: p.last_seen,
            received_at,
            target: p.target,
            observables: p.observables,
            raw: payload.clone(),
        }])
    }
}

/// Explains why a payload of no accepted shape is refused.
fn refuse(errs: &mut Errors, root: &Node<'_>) {
    if root.obj.contains_key("vulnerableAsset") {
        let problem = format!("a Wiz vulnerability finding is not an alert; {ACCEPTED}");
        errs.push("vulnerableAsset", problem);
    } else if root.obj.contains_key("rule") && root.obj.contains_key("result") {
        let problem = format!("a Wiz cloud configuration finding is not an alert; {ACCEPTED}");
        errs.push("result", problem);
    } else {
        errs.push("issue", format!("missing; {ACCEPTED}"));
    }
}

/// `{"issue": …, "control": …, "resource": …}` from a webhook automation.
fn webhook(errs: &mut Errors, root: &Node<'_>) -> Parts {
    let req = Need::Required("mandatory");
    let issue = root.child(errs, "issue", req);
    let control = root.child(errs, "control", Need::Optional);
    let id = issue.as_ref().and_then(|i| i.string(errs, "id", req));
    // The issue's own severity wins; the control's is the default it was raised with.
    let severity = match &issue {
        Some(i) if i.has("severity") || control.as_ref().is_none_or(|c| !c.has("severity")) => {
            severity(errs, i)
        }
        _ => control.as_ref().and_then(|c| severity(errs, c)),
    };
    let title = match &control {
        Some(c) => c.string(errs, "name", Need::Required("the control's name")),
        None => {
            errs.push(
                "control",
                "missing (mandatory: names the control that raised the issue)",
            );
            None
        }
    };
    let description = control
        .as_ref()
        .and_then(|c| c.text(errs, "description", MAX_TEXT_BYTES));
    let (updated, created) = match &issue {
        Some(i) => (i.time(errs, "updated"), i.time(errs, "created")),
        None => (None, None),
    };
    let finding_type = issue
        .as_ref()
        .and_then(|i| i.string(errs, "type", Need::Optional));
    let mut target = Target::default();
    if let Some(r) = root.child(errs, "resource", Need::Optional) {
        describe(errs, &r, &mut target);
    }
    Parts {
        id,
        severity,
        title,
        description,
        finding_type: finding_type.or(Some("ISSUE".to_string())),
        time: updated.or(created),
        // An issue is created when Wiz first detects it; `updated` also moves with
        // status changes, so it is no last observation.
        first_seen: created,
        last_seen: None,
        target,
        observables: Observables::default(),
    }
}

/// An issue from the Issues GraphQL API.
fn api_issue(errs: &mut Errors, root: &Node<'_>) -> Parts {
    let rule = root.child(errs, "sourceRule", Need::Required("mandatory"));
    let title = rule
        .as_ref()
        .and_then(|r| r.string(errs, "name", Need::Required("the rule's name")));
    let description = rule
        .as_ref()
        .and_then(|r| r.text(errs, "controlDescription", MAX_TEXT_BYTES));
    let (updated, created) = (root.time(errs, "updatedAt"), root.time(errs, "createdAt"));
    let mut target = Target::default();
    if let Some(entity) = root.child(errs, "entitySnapshot", Need::Optional) {
        describe(errs, &entity, &mut target);
    }
    Parts {
        id: root.string(errs, "id", Need::Required("mandatory")),
        severity: severity(errs, root),
        title,
        description,
        finding_type: root.string(errs, "type", Need::Optional),
        time: updated.or(created),
        first_seen: created,
        last_seen: None,
        target,
        observables: Observables::default(),
    }
}

/// A Wiz Defend threat detection.
fn detection(errs: &mut Errors, root: &Node<'_>) -> Parts {
    let rule = root
        .child(errs, "ruleMatch", Need::Required("mandatory"))
        .and_then(|m| m.child(errs, "rule", Need::Required("mandatory")));
    let title = rule
        .as_ref()
        .and_then(|r| r.string(errs, "name", Need::Required("the rule's name")));
    let mut target = Target::default();
    if let Some(account) = root.first(errs, "cloudAccounts") {
        target.account_id = account.string(errs, "externalId", Need::Optional);
        target.cloud_provider = account
            .string(errs, "cloudProvider", Need::Optional)
            .map(|p| provider(&p));
    }
    if let Some(primary) = root.child(errs, "primaryResource", Need::Optional) {
        describe(errs, &primary, &mut target);
        // The resources list repeats the primary resource with its provider id (an ARN).
        let primary_id = primary.string(errs, "id", Need::Optional);
        let same = root
            .children(errs, "resources")
            .into_iter()
            .find(|r| primary_id.is_some() && r.string(errs, "id", Need::Optional) == primary_id);
        if let Some(r) = same {
            describe(errs, &r, &mut target);
        }
    }
    let (updated, created) = (root.time(errs, "updatedAt"), root.time(errs, "createdAt"));
    let mut observables = Observables::default();
    let events = root
        .child(errs, "triggeringEvents", Need::Optional)
        .map(|t| t.children(errs, "nodes"))
        .unwrap_or_default();
    if let Some(event) = events.first() {
        observables.source_ip = event.ip(errs, "actorIP");
        observables.command_line = event.text(errs, "commandLine", MAX_TEXT_BYTES);
    }
    // The payload may list only some triggering events; the detection's creation shows
    // activity at least that early.
    let seen: Vec<DateTime<Utc>> = events
        .iter()
        .filter_map(|e| e.time(errs, "timestamp"))
        .collect();
    let first_seen = seen.iter().copied().chain(created).min();
    let last_seen = seen.iter().copied().max();
    Parts {
        id: root.string(errs, "id", Need::Required("mandatory")),
        severity: severity(errs, root),
        finding_type: title.clone(),
        title,
        description: root.text(errs, "description", MAX_TEXT_BYTES),
        time: updated.or(created),
        first_seen,
        last_seen,
        target,
        observables,
    }
}

/// The mandatory `severity`: INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL, any case.
fn severity(errs: &mut Errors, node: &Node<'_>) -> Option<Severity> {
    const EXPECTED: &str = "INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL";
    let why = format!("mandatory; one of {EXPECTED}");
    let name = node.string(errs, "severity", Need::Required(&why))?;
    let found = name.parse().ok();
    if found.is_none() {
        let path = node.get("severity").0;
        errs.push(path, format!("must be {EXPECTED}, got {}", quote(&name)));
    }
    found
}

/// `AWS` → `aws`, `Azure` → `azure`, `GCP` → `gcp`; others lowercased as sent.
fn provider(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Fills `target` from a Wiz resource (webhook `resource`, `entitySnapshot`,
/// `primaryResource`). Fields already set are kept: the first description wins.
fn describe(errs: &mut Errors, r: &Node<'_>, target: &mut Target) {
    let opt = Need::Optional;
    let kind = r.string(errs, "type", opt);
    let name = r.string(errs, "name", opt);
    let ids: Vec<String> = ["providerId", "providerUniqueId", "externalId"]
        .into_iter()
        .filter_map(|k| r.string(errs, k, opt))
        .collect();
    let wiz_id = r.string(errs, "id", opt);
    let platform = r.string(errs, "cloudPlatform", opt);
    let subscription = r.child(errs, "subscription", opt);
    let sub_provider = subscription
        .as_ref()
        .and_then(|s| s.string(errs, "cloudProvider", opt));
    let sub_external = subscription
        .as_ref()
        .and_then(|s| s.string(errs, "externalId", opt));
    let account = [
        r.string(errs, "subscriptionExternalId", opt),
        sub_external,
        r.string(errs, "subscriptionId", opt),
    ];
    let region = r.string(errs, "region", opt);

    fill(&mut target.region, region);
    fill(&mut target.account_id, account.into_iter().flatten().next());
    fill(
        &mut target.cloud_provider,
        platform.or(sub_provider).map(|p| provider(&p)),
    );
    for (k, v) in r.tags(errs, "tags") {
        target.tags.entry(k).or_insert(v);
    }
    if kind.as_deref() == Some(VM) {
        fill(&mut target.hostname, name.clone());
        fill(
            &mut target.instance_id,
            ids.iter().find_map(|i| instance_id(i)),
        );
    }
    let resource_id = ids.into_iter().next().or(wiz_id);
    let ours = [
        ("resource.type", kind),
        ("resource.id", resource_id),
        ("resource.name", name),
    ];
    for (k, v) in ours {
        if let Some(v) = v {
            target.tags.entry(k.to_string()).or_insert(v);
        }
    }
}

/// Sets `slot` when it is empty.
fn fill(slot: &mut Option<String>, value: Option<String>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// An EC2 instance id (`i-` and hex digits), bare or as the last segment of an
/// `…:instance/i-…` ARN. Anything else (Azure resource paths, GCP numbers) is no
/// instance id Riposte can act on, so it stays in the `resource.id` tag only.
fn instance_id(id: &str) -> Option<String> {
    let tail = match id.rsplit_once(":instance/") {
        Some((_, tail)) => tail,
        None => id,
    };
    let hex = tail.strip_prefix("i-")?;
    let ok = (1..=32).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| tail.to_string())
}

#[cfg(test)]
mod tests;
