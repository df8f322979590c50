//! Sigma rules over timeline events.
//!
//! [`SigmaRules::load`] reads directory trees of Sigma YAML (SigmaHQ's layout, custom
//! folders, multi-document files), parses and compiles every rule once with
//! rsigma-parser/rsigma-eval (the full detection syntax: every modifier, keywords,
//! `1 of`/`all of` with wildcards and `them`), and records each rule it cannot use, with
//! its file and the reason, in a [`LoadReport`]. [`Sigma`] is the [`crate::Detector`]
//! that runs a loaded set: one alarm per rule, listing the events it matched.
//!
//! # Which events a rule sees
//!
//! Each event is classified once ([`logsource::EventClass`]) and sees only the rules
//! whose `logsource` fits its class; within a class, rsigma-eval's index selects the
//! rules an event can match from its literal values (`EventID`, `Image|endswith`, …).
//!
//! | rule logsource | events |
//! | --- | --- |
//! | `product: windows`, `service: X` | EVTX events of the channels of service X (`security` → Security, `sysmon` → Microsoft-Windows-Sysmon/Operational, `powershell` → Microsoft-Windows-PowerShell/Operational, `powershell-classic` → Windows PowerShell, …: [`logsource::WINDOWS_SERVICES`]) |
//! | `product: windows`, `category: process_creation` | Sysmon 1, Security 4688 |
//! | `category: network_connection`, `image_load`, `create_remote_thread`, `process_access`, `file_event`, `registry_add`/`_delete`/`_set`/`_rename`/`_event`, `pipe_created`, `dns_query`, `wmi_event`, `file_delete`, … | Sysmon 3, 7, 8, 10, 11, 12/12/13/14/12–14, 17–18, 22, 19–21, 23/26, … ([`logsource::WINDOWS_CATEGORIES`]) |
//! | `category: ps_module`, `ps_script`; `ps_classic_start`, `ps_classic_provider_start`, `ps_classic_script` | PowerShell/Operational 4103, 4104; Windows PowerShell 400, 600, 800 |
//! | `product: linux`, `service: auth` / `syslog` | auth.log lines / syslog and journald entries; `sshd`, `sudo`, `cron` by the line's program |
//! | `product: linux`, `service: auditd` | auditd record groups |
//! | `product: linux`, `category: process_creation` | auditd groups with an `EXECVE` record |
//! | `product: aws`, `service: cloudtrail` | CloudTrail records |
//!
//! # Field names
//!
//! | events | Sigma field | read from |
//! | --- | --- | --- |
//! | Windows | `EventID`, `Channel`, `Provider_Name`, `Computer`, `EventRecordID` | the System fields (`event_id`, `channel`, `provider`, `computer`, `record_id`) |
//! | Windows | any other (`CommandLine`, `TargetUserName`, …) | the EventData/UserData field of that name |
//! | Security 4688, `process_creation` rules | `Image`, `ParentImage`, `ProcessId`, `ParentProcessId`, `LogonId`, `User` | `NewProcessName`, `ParentProcessName`, `NewProcessId`, `ProcessId`, `SubjectLogonId`, `SubjectUserName` |
//! | auditd | `type`, `a0`, `exe`, `key`, `name`, … | the group's audit records (hex arguments decoded; a field in several records matches any of them) |
//! | auditd, `process_creation` rules | `Image`, `CommandLine`, `User`, `ProcessId`, `ParentProcessId`, `CurrentDirectory` | `exe`, the rebuilt `cmd`, `username`, `pid`, `ppid`, `cwd` |
//! | CloudTrail | `eventName`, `userIdentity.arn`, `requestParameters.x`, … | the record's JSON (parsed once per event) |
//! | Linux lines | keywords | the raw log line |
//!
//! Keywords (field-less values) search every field of a Windows event, the JSON strings
//! of a CloudTrail record and the raw line of Linux logs.

use riposte_model::{MitreTechnique, Severity};
use rsigma_eval::CompiledRule;
use std::path::{Path, PathBuf};

mod alarm;
mod correlate;
mod fields;
mod load;
mod logsource;
mod matching;
mod mitre;

pub use correlate::{CorrelationKind, SigmaCorrelation};
pub use load::{LoadReport, Unsupported, UnsupportedReason};
pub use logsource::{EventClass, FieldMap, Product, RuleScope};
pub use matching::Sigma;

/// Directory of the bundled SigmaHQ rules, relative to the repository or the install.
pub const BUNDLED_DIR: &str = "detections/sigma";

/// Errors that stop a rule set from loading at all (a single bad rule never does: it is
/// in the [`LoadReport`]).
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// A rule directory does not exist or is not a directory.
    #[error("Sigma rule directory {0} does not exist or is not a directory")]
    NotADirectory(PathBuf),
    /// A rule directory could not be listed.
    #[error("cannot list Sigma rule directory {dir}: {message}")]
    Walk {
        /// The directory being listed.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No bundled rule directory was found.
    #[error("no bundled Sigma rules found (looked in {0}); pass a rule directory explicitly")]
    NoBundledRules(String),
}

/// One loaded, compiled rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// The rule's title.
    pub title: String,
    /// The rule's id (a UUID in SigmaHQ).
    pub id: Option<String>,
    /// Its `level` as a severity.
    pub severity: Severity,
    /// ATT&CK tactics and techniques from its tags.
    pub mitre: Vec<MitreTechnique>,
    /// Its description.
    pub description: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// The events it applies to.
    pub scope: RuleScope,
    /// Its `name` (what correlation rules may reference it by, besides its id).
    pub name: Option<String>,
    /// A hunting-tier rule (tagged `detection.threat-hunting`): its alarms are marked
    /// `hunting`.
    pub hunting: bool,
    compiled: CompiledRule,
}

/// A loaded rule set and what loading it left out.
#[derive(Debug, Clone)]
pub struct SigmaRules {
    rules: Vec<SigmaRule>,
    correlations: Vec<SigmaCorrelation>,
    report: LoadReport,
}

impl SigmaRules {
    /// Loads every rule of every `.yml`/`.yaml` file under the directories (e.g.
    /// SigmaHQ's `rules/` and a custom folder). Fails only when a directory cannot be
    /// listed; bad rules are in [`SigmaRules::report`].
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Result<SigmaRules, SigmaError> {
        let mut files = Vec::new();
        for dir in dirs {
            files.extend(load::rule_files(dir.as_ref())?);
        }
        let (mut rules, parsed, mut report) = load::load_files(&files);
        let mut correlations = correlate::resolve(parsed, &rules, &mut report.unsupported);
        report.correlations = correlations.len();
        for dir in dirs {
            let levels = load::level_tuning(dir.as_ref(), &mut report.unsupported);
            report.tuned += tune_levels(&levels, &mut rules, &mut correlations);
        }
        tracing::info!(
            files = report.files,
            loaded = report.loaded,
            correlations = report.correlations,
            left_out = report.unsupported.len(),
            "Sigma rules loaded"
        );
        Ok(SigmaRules {
            rules,
            correlations,
            report,
        })
    }

    /// Loads the rules of one YAML text; `source` names it in the report.
    pub fn from_yaml(source: &str, yaml: &str) -> SigmaRules {
        let (rules, parsed, mut unsupported) = load::load_yaml(Path::new(source), yaml);
        let correlations = correlate::resolve(parsed, &rules, &mut unsupported);
        let report = LoadReport {
            files: 1,
            loaded: rules.len(),
            correlations: correlations.len(),
            tuned: 0,
            unsupported,
        };
        SigmaRules {
            rules,
            correlations,
            report,
        }
    }

    /// The correlation rules that run, their references resolved.
    pub fn correlations(&self) -> &[SigmaCorrelation] {
        &self.correlations
    }

    /// Loads the bundled SigmaHQ rules from [`bundled_dir`]`(configured)`.
    pub fn load_bundled(configured: Option<&Path>) -> Result<SigmaRules, SigmaError> {
        SigmaRules::load(&[bundled_dir(configured)?])
    }

    /// The loaded rules, in file order.
    pub fn rules(&self) -> &[SigmaRule] {
        &self.rules
    }

    /// What was read and what was left out (printable).
    pub fn report(&self) -> &LoadReport {
        &self.report
    }
}

/// Sets the level of every rule and correlation whose id `levels` names (the last entry
/// for an id wins); returns how many changed.
fn tune_levels(
    levels: &[(String, Severity)],
    rules: &mut [SigmaRule],
    correlations: &mut [SigmaCorrelation],
) -> usize {
    if levels.is_empty() {
        return 0;
    }
    let by_id: std::collections::HashMap<&str, Severity> =
        levels.iter().map(|(id, s)| (id.as_str(), *s)).collect();
    let mut tuned = 0;
    let mut tune = |id: Option<&String>, severity: &mut Severity| {
        if let Some(&level) = id.and_then(|id| by_id.get(id.as_str())) {
            tuned += usize::from(*severity != level);
            *severity = level;
        }
    };
    for rule in rules.iter_mut() {
        tune(rule.id.as_ref(), &mut rule.severity);
    }
    for correlation in correlations.iter_mut() {
        tune(correlation.id.as_ref(), &mut correlation.severity);
    }
    tuned
}

/// Where the bundled rules are: `configured` when given; else `detections/sigma` next to
/// the running binary, in `../share/riposte/` from it, or in the source tree this crate
/// was built from (the repository's `detections/sigma`).
pub fn bundled_dir(configured: Option<&Path>) -> Result<PathBuf, SigmaError> {
    if let Some(dir) = configured {
        return if dir.is_dir() {
            Ok(dir.to_path_buf())
        } else {
            Err(SigmaError::NotADirectory(dir.to_path_buf()))
        };
    }
    crate::bundled_rules_dir(BUNDLED_DIR).map_err(SigmaError::NoBundledRules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectionEngine, StreamDetector};
    use riposte_model::{Action, Event, EventOrigin};

    const RULES: &str = r#"
title: Whoami From Any Process Creation
id: 11111111-2222-3333-4444-555555555555
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    filter:
        ParentImage|endswith: '\explorer.exe'
    condition: selection and not filter
level: high
tags:
    - attack.discovery
    - attack.t1033
---
title: Azure Sign-In
logsource:
    product: azure
    service: signinlogs
detection:
    selection:
        ResultType: 50126
    condition: selection
---
title: Many Whoamis
correlation:
    type: event_count
    rules:
        - 11111111-2222-3333-4444-555555555555
    group-by:
        - Computer
    timespan: 1h
    condition:
        gte: 10
    generate: true
"#;

    #[test]
    fn rules_tagged_threat_hunting_raise_hunting_alarms() {
        let yaml = r#"
title: Whoami Lead
id: 99999999-2222-3333-4444-555555555555
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
level: medium
tags:
    - attack.discovery
    - detection.threat-hunting
"#;
        let hunting = SigmaRules::from_yaml("hunt.yml", yaml);
        assert!(hunting.rules()[0].hunting);
        let plain = SigmaRules::from_yaml("rules.yml", RULES);
        assert!(!plain.rules()[0].hunting);
        let mut event = evtx("Microsoft-Windows-Sysmon/Operational", "1", 1);
        event
            .attributes
            .insert("Image".into(), "C:\\Windows\\System32\\whoami.exe".into());
        event
            .attributes
            .insert("ParentImage".into(), "C:\\Windows\\cmd.exe".into());
        let alarms = Sigma::new(hunting).detect(std::slice::from_ref(&event));
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].hunting);
        let alarms = Sigma::new(plain).detect(std::slice::from_ref(&event));
        assert!(
            alarms.iter().all(|a| !a.hunting) && !alarms.is_empty(),
            "{alarms:?}"
        );
    }

    /// A Hayabusa-style Sysmon rule on process creation (EventID 1) and `RuleName`.
    fn sysmon_rule(rule_name: &str, condition: &str) -> String {
        format!(
            r#"
title: Proc Exec (Sysmon Alert)
id: 99999999-2222-3333-4444-000000000001
level: high
logsource:
    product: windows
    service: sysmon
detection:
    selection_basic:
        Channel: Microsoft-Windows-Sysmon/Operational
        EventID: 1
    rule_name:
{rule_name}
    condition: {condition}
ruletype: Hayabusa
"#
        )
    }

    #[test]
    fn rules_that_echo_the_hosts_sysmon_tags_join_the_hunting_tier() {
        let empty = "        - RuleName: ''\n        - RuleName: '-'";
        let tagged = "        RuleName|contains: 'technique_id='";
        let tier = |rule_name, condition| {
            let rules = SigmaRules::from_yaml("sysmon.yml", &sysmon_rule(rule_name, condition));
            assert_eq!(rules.rules().len(), 1, "{}", rules.report());
            rules.rules()[0].hunting
        };
        // Fires on every tagged event: the configuration's judgement, not the rule's.
        assert!(tier(empty, "selection_basic and not rule_name"));
        assert!(tier(empty, "selection_basic and not 1 of rule_*"));
        assert!(tier(tagged, "selection_basic and rule_name"));
        // Keeps the untagged events (Hayabusa's "Proc Injection"): judged on its own.
        assert!(!tier(empty, "selection_basic and rule_name"));
        assert!(!tier(tagged, "selection_basic and not rule_name"));
        // The alarm of a tag echo is a hunting alarm.
        let mut event = evtx("Microsoft-Windows-Sysmon/Operational", "1", 1);
        event
            .attributes
            .insert("RuleName".into(), "technique_id=T1059".into());
        let rules = SigmaRules::from_yaml(
            "sysmon.yml",
            &sysmon_rule(empty, "selection_basic and not rule_name"),
        );
        let alarms = Sigma::new(rules).detect(std::slice::from_ref(&event));
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].hunting);
    }

    #[test]
    fn deprecated_aggregations_are_reported_as_such() {
        let yaml = r#"
title: Password Guessing
id: 99999999-2222-3333-4444-000000000002
level: medium
logsource:
    product: windows
    service: security
detection:
    selection:
        Channel: Security
        EventID: 4625
    condition: selection | count() by IpAddress >= 5
    timeframe: 5m
"#;
        let rules = SigmaRules::from_yaml("count.yml", yaml);
        assert!(rules.rules().is_empty());
        let report = rules.report();
        assert_eq!(
            report.counts().get("deprecated aggregation"),
            Some(&1),
            "{report}"
        );
        assert!(
            report.to_string().contains(
                "deprecated aggregation `selection | count() by IpAddress >= 5`: not run; write it as a correlation rule"
            ),
            "{report}"
        );
    }

    #[test]
    fn a_level_tuning_file_changes_levels_by_id_and_reports_bad_lines() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("rule.yml"), RULES).expect("writable");
        let id = SigmaRules::from_yaml("rules.yml", RULES).rules()[0]
            .id
            .clone()
            .expect("the test rule has an id");
        let before = SigmaRules::load(&[dir.path()]).expect("loads");
        assert_eq!(before.report().tuned, 0);
        std::fs::write(
            dir.path().join(load::LEVEL_TUNING_FILE),
            format!(
                "id,new_level\n# why\n{id},critical # was lower\nnot-a-line\n99999999-0000-0000-0000-000000000000,extreme\n"
            ),
        )
        .expect("writable");
        let tuned = SigmaRules::load(&[dir.path()]).expect("loads");
        assert_eq!(tuned.rules()[0].severity, Severity::Critical);
        assert_ne!(before.rules()[0].severity, Severity::Critical);
        assert_eq!(tuned.report().tuned, 1);
        let bad: Vec<String> = tuned
            .report()
            .unsupported
            .iter()
            .filter(|u| matches!(u.reason, UnsupportedReason::LevelTuning(_)))
            .map(|u| u.reason.to_string())
            .collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(
            bad[0].contains("line 4") && bad[1].contains("line 5"),
            "{bad:?}"
        );
    }

    const CORRELATIONS: &str = r#"
title: Failed Logon
id: aaaaaaaa-0000-4000-8000-000000000001
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
---
title: Successful Logon
id: aaaaaaaa-0000-4000-8000-000000000002
name: good_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
level: informational
---
title: Brute Force From One Address
id: bbbbbbbb-0000-4000-8000-000000000001
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - IpAddress
    timespan: 5m
    condition:
        gte: 3
level: high
---
title: Password Spray
id: bbbbbbbb-0000-4000-8000-000000000002
correlation:
    type: value_count
    rules:
        - failed_logon
    group-by:
        - IpAddress
    timespan: 5m
    condition:
        gte: 3
        field: TargetUserName
level: high
---
title: Failures Then Success
id: bbbbbbbb-0000-4000-8000-000000000003
correlation:
    type: temporal_ordered
    rules:
        - failed_logon
        - good_logon
    group-by:
        - IpAddress
    timespan: 10m
    condition:
        gte: 2
level: critical
---
title: Average Of Something
correlation:
    type: value_sum
    rules:
        - failed_logon
    timespan: 5m
    condition:
        gte: 3
        field: Status
"#;

    #[test]
    fn correlations_count_values_and_order_within_their_window() {
        use chrono::{Duration, TimeZone, Utc};
        let rules = SigmaRules::from_yaml("corr.yml", CORRELATIONS);
        assert_eq!(rules.report().loaded, 2);
        assert_eq!(rules.correlations().len(), 3);
        let left: Vec<String> = rules
            .report()
            .unsupported
            .iter()
            .map(|u| u.reason.to_string())
            .collect();
        assert_eq!(
            left,
            ["correlation rule: value_sum correlations are not evaluated"]
        );
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let logon = |id: &str, seconds: i64, ip: &str, user: &str, record: u64| {
            let mut e = evtx("Security", id, record)
                .with("IpAddress", ip)
                .with("TargetUserName", user);
            e.time = Some(t0 + Duration::seconds(seconds));
            e
        };
        let events = vec![
            logon("4625", 0, "10.0.0.1", "alice", 1),
            // One address slowly: never three in five minutes.
            logon("4625", 10, "10.0.0.2", "bob", 2),
            logon("4625", 60, "10.0.0.1", "bob", 3),
            logon("4625", 120, "10.0.0.1", "carol", 4),
            logon("4625", 250, "10.0.0.2", "bob", 5),
            logon("4624", 180, "10.0.0.1", "carol", 6),
            logon("4625", 500, "10.0.0.2", "bob", 7),
        ];
        let mut ordered = events.clone();
        ordered.sort_by_key(|e| e.time);
        let alarms = Sigma::new(rules).detect(&ordered);
        let by_title = |title: &str| alarms.iter().find(|a| a.title == title);
        let records = |a: &riposte_model::Alarm| -> Vec<u64> {
            a.event_refs
                .iter()
                .map(|&i| ordered[i as usize].origin.record.unwrap())
                .collect()
        };
        let brute = by_title("Brute Force From One Address").expect("event_count fires");
        assert_eq!(records(brute), [1, 3, 4]);
        assert_eq!(brute.severity, Severity::High);
        assert!(
            brute.description.contains("grouped by IpAddress"),
            "{}",
            brute.description
        );
        let spray = by_title("Password Spray").expect("value_count fires");
        assert_eq!(records(spray), [1, 3, 4]);
        let then = by_title("Failures Then Success").expect("temporal_ordered fires");
        assert!(records(then).contains(&6), "{:?}", records(then));
        // The referenced rules raise nothing of their own (generate: false).
        assert!(by_title("Failed Logon").is_none() && by_title("Successful Logon").is_none());
        assert_eq!(alarms.len(), 3, "{alarms:#?}");

        // Out of order: a success before the failures is not "failures then success".
        let early: Vec<Event> = [
            logon("4624", 0, "10.0.0.9", "dave", 10),
            logon("4625", 30, "10.0.0.9", "dave", 11),
        ]
        .to_vec();
        let rules = SigmaRules::from_yaml("corr.yml", CORRELATIONS);
        let alarms = Sigma::new(rules).detect(&early);
        assert!(
            alarms.iter().all(|a| a.title != "Failures Then Success"),
            "{alarms:#?}"
        );
    }

    fn evtx(channel: &str, event_id: &str, record: u64) -> Event {
        let origin = EventOrigin {
            parser: "evtx".into(),
            path: "C:\\Windows\\System32\\winevt\\Logs\\x.evtx".into(),
            record: Some(record),
        };
        Event::new(None, "ws1", Action::ProcessRun, "m", origin)
            .with("channel", channel)
            .with("event_id", event_id)
    }

    #[test]
    fn one_alarm_per_rule_over_sysmon_and_security_events() {
        let rules = SigmaRules::from_yaml("custom/whoami.yml", RULES);
        let report = rules.report();
        assert_eq!(report.loaded, 1);
        let reasons: Vec<&str> = report.unsupported.iter().map(|u| u.reason.kind()).collect();
        assert_eq!(reasons, ["logsource without events"]);
        assert_eq!(report.correlations, 1);
        assert!(
            report
                .to_string()
                .contains("custom/whoami.yml (Azure Sign-In)")
        );

        let events = vec![
            evtx("Microsoft-Windows-Sysmon/Operational", "1", 1)
                .with("Image", "C:\\Windows\\System32\\whoami.exe")
                .with("ParentImage", "C:\\Windows\\System32\\cmd.exe"),
            // Filtered out: started from Explorer.
            evtx("Microsoft-Windows-Sysmon/Operational", "1", 2)
                .with("Image", "C:\\Windows\\System32\\whoami.exe")
                .with("ParentImage", "C:\\Windows\\explorer.exe"),
            // Security 4688 under the process_creation field names.
            evtx("Security", "4688", 3)
                .with("NewProcessName", "C:\\Windows\\System32\\WHOAMI.EXE")
                .with("ParentProcessName", "C:\\Windows\\System32\\cmd.exe"),
            // Not a process creation: an Image field in a Sysmon 11 is not seen by the rule.
            evtx("Microsoft-Windows-Sysmon/Operational", "11", 4)
                .with("Image", "C:\\Windows\\System32\\whoami.exe"),
        ];
        let sigma = Sigma::new(rules);
        let alarms = sigma.detect(&events);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        let alarm = &alarms[0];
        assert_eq!(alarm.title, "Whoami From Any Process Creation");
        assert_eq!(alarm.severity, Severity::High);
        assert_eq!(alarm.event_refs, [0, 2]);
        assert_eq!(alarm.mitre.len(), 1);
        assert_eq!(
            (
                alarm.mitre[0].tactic.as_str(),
                alarm.mitre[0].technique.as_str()
            ),
            ("discovery", "T1033")
        );
        assert!(
            alarm
                .description
                .contains("11111111-2222-3333-4444-555555555555")
        );
        assert!(alarm.description.contains("custom/whoami.yml"));
        assert!(alarm.description.contains("matched 2 events"));

        // Alongside the heuristics: nothing else fires on these events.
        let all = DetectionEngine::new().with(sigma).run(&events);
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn alarms_list_a_bounded_number_of_events() {
        let rules = SigmaRules::from_yaml("r.yml", RULES);
        let events: Vec<Event> = (0..alarm::MAX_EVENT_REFS as u64 + 5)
            .map(|i| {
                evtx("Microsoft-Windows-Sysmon/Operational", "1", i)
                    .with("Image", "C:\\x\\whoami.exe")
            })
            .collect();
        let alarms = Sigma::new(rules).detect(&events);
        assert_eq!(alarms.len(), 1);
        assert_eq!(
            alarms[0].detector, "sigma:11111111-2222-3333-4444-555555555555",
            "each rule is its own detector, so different rules add up in the verdict"
        );
        assert_eq!(alarms[0].event_refs.len(), alarm::MAX_EVENT_REFS);
        assert!(alarms[0].description.contains(&format!(
            "matched {} events (the first {} listed)",
            events.len(),
            alarm::MAX_EVENT_REFS
        )));
    }

    /// Titles of the rules of `yaml` that fire on `events`.
    fn fired(yaml: &str, events: &[Event]) -> Vec<String> {
        let alarms = Sigma::new(SigmaRules::from_yaml("r.yml", yaml)).detect(events);
        alarms.into_iter().map(|a| a.title).collect()
    }

    #[test]
    fn data_is_the_unnamed_event_data_of_application_events() {
        // The detection of SigmaHQ's win_esent_ntdsutil_abuse, and an ESENT 325 shaped as
        // logged: eight unnamed <Data> elements, the database path in the fifth.
        let rule = r#"
title: NTDS.DIT Creation By Uncommon Process
logsource:
    product: windows
    service: application
detection:
    selection:
        Provider_Name: 'ESENT'
        EventID:
            - 216
            - 325
            - 326
            - 327
        Data|contains: 'ntds.dit'
    condition: selection
level: medium
"#;
        let esent = |path: &str| {
            evtx("Application", "325", 2)
                .with("provider", "ESENT")
                .with("Data[1]", "NTDS")
                .with("Data[2]", "3392")
                .with("Data[3]", "")
                .with("Data[4]", "2")
                .with("Data[5]", path)
                .with("Data[6]", "0")
        };
        let events = [
            esent("C:\\Users\\bob\\Desktop\\ntds\\Active Directory\\ntds.dit"),
            esent("C:\\ProgramData\\app\\store.edb"),
        ];
        assert_eq!(
            Sigma::new(SigmaRules::from_yaml("r.yml", rule)).detect(&events)[0].event_refs,
            [0]
        );
        // A single unnamed <Data> is `Data` itself; named fields are not `Data`.
        let single = evtx("Application", "216", 3)
            .with("provider", "ESENT")
            .with("Data", "D:\\ntds.dit");
        let named = evtx("Application", "216", 4)
            .with("provider", "ESENT")
            .with("DbPath", "D:\\ntds.dit");
        assert_eq!(fired(rule, &[single]).len(), 1);
        assert!(fired(rule, &[named]).is_empty());
    }

    #[test]
    fn access_right_codes_answer_to_their_names_and_as_logged() {
        // SigmaHQ's win_security_svcctl_remote_service (by name) and the code form of
        // win_security_susp_group_policy_startup_script_added_to_gpo, over a 5145 whose
        // AccessList holds the codes one per line, as the Security log writes them.
        let by_name = r#"
title: Remote Service Activity via SVCCTL Named Pipe
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 5145
        ShareName: '\\\\\*\\IPC$'
        RelativeTargetName: svcctl
        AccessList|contains: 'WriteData'
    condition: selection
level: medium
---
title: By Code
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 5145
        AccessList|contains: '%%4417'
    condition: selection
level: medium
---
title: Exact Code
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 5145
        AccessList: '%%4417'
    condition: selection
level: medium
"#;
        let share = |access: &str| {
            evtx("Security", "5145", 1)
                .with("ShareName", "\\\\*\\IPC$")
                .with("RelativeTargetName", "svcctl")
                .with("AccessList", access)
        };
        let write = share("%%1538\n\t\t\t\t%%1541\n\t\t\t\t%%4416\n\t\t\t\t%%4417\n\t\t\t\t");
        assert_eq!(
            fired(by_name, &[write]),
            ["Remote Service Activity via SVCCTL Named Pipe", "By Code"]
        );
        let read = share("%%1541\n\t\t\t\t%%4416\n\t\t\t\t");
        assert!(fired(by_name, &[read]).is_empty());
        assert_eq!(fired(by_name, &[share("%%4417")]).len(), 3);
    }

    #[test]
    fn bundled_rules_are_found_in_the_repository_and_a_missing_directory_is_an_error() {
        let dir = bundled_dir(None).expect("the repository's detections/sigma");
        assert!(dir.join("rules").is_dir() && dir.join("LICENSE").is_file());
        let missing = bundled_dir(Some(Path::new("/nonexistent/sigma"))).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/sigma"));
        assert!(SigmaRules::load(&[Path::new("/nonexistent/sigma")]).is_err());
    }
}
