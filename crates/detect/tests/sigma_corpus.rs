//! The Sigma engine over the shared corpus (SigmaHQ rules and regression data, DRL 1.1;
//! EVTX-ATTACK-SAMPLES, GPL-3.0: read in place), events parsed by riposte-artifacts.
//!
//! The regression samples are SigmaHQ's own: for each rule, an EVTX log on which it must
//! fire, the record it must fire on (`<rule id>.json`, its `EventRecordID`) and the match
//! count SigmaHQ's CI expects (`info.yml`).

use riposte_artifacts::{ArtifactContext, open_artifact, parser_for};
use riposte_detect::sigma::UnsupportedReason;
use riposte_detect::{Sigma, SigmaRules, StreamDetector, VerdictPolicy};
use riposte_model::{Event, Severity, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("sigma/rules").is_dir() && dir.join("evtx").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory \
         (the one holding sigma/ and evtx/)",
        dir.display()
    );
    dir
}

/// What Riposte runs by default: the bundled `detections/sigma` (SigmaHQ's three folders at
/// the corpus' commit, Hayabusa's own rules, the level tuning), loaded once.
fn bundled() -> &'static Sigma {
    static BUNDLED: OnceLock<Sigma> = OnceLock::new();
    BUNDLED
        .get_or_init(|| Sigma::new(SigmaRules::load_bundled(None).expect("the bundled rules load")))
}

/// SigmaHQ's three rule folders, loaded once for all tests.
fn sigma() -> &'static Sigma {
    static SIGMA: OnceLock<Sigma> = OnceLock::new();
    SIGMA.get_or_init(|| {
        let root = corpus().join("sigma");
        let rules = SigmaRules::load(&[
            root.join("rules"),
            root.join("rules-emerging-threats"),
            root.join("rules-threat-hunting"),
        ])
        .expect("the rule folders can be listed");
        Sigma::new(rules)
    })
}

fn parse_evtx(path: &Path) -> Vec<Event> {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let original = format!(
        "C:\\Windows\\System32\\winevt\\Logs\\{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("log.evtx")
    );
    let parser = parser_for(&original).expect("a parser claims .evtx");
    let ctx = ArtifactContext {
        host: "evidence-host".into(),
        original_path: original,
        modified: None,
    };
    parser
        .parse(
            &ctx,
            open_artifact(std::io::Cursor::new(bytes)).expect("in memory"),
        )
        .filter_map(Result::ok)
        .collect()
}

#[test]
fn the_whole_sigmahq_set_loads_and_reports_what_it_leaves_out() {
    let rules = sigma().rules();
    let report = rules.report();
    println!("{report}");
    let counts = report.counts();
    // 3,141 + 473 + 140 files in SigmaHQ @ 8eaafff (`find -name '*.yml' | wc -l`).
    assert_eq!(report.files, 3_754);
    assert_eq!(report.loaded, rules.rules().len());
    // Every rule file is accounted for: loaded or reported with a reason.
    assert!(report.loaded + report.unsupported.len() >= report.files);
    assert_eq!(counts.get("parse error"), None, "{report}");
    assert_eq!(counts.get("unreadable"), None, "{report}");
    assert_eq!(counts.get("compile error"), None, "{report}");
    for u in &report.unsupported {
        assert!(u.file.is_file(), "{}", u.file.display());
        if let UnsupportedReason::Logsource(why) = &u.reason {
            assert!(why.contains("no parser produces"), "{why}");
        }
    }
    // Measured. Every rule parses and compiles; the 633 left out are for logsources no
    // parser produces (azure, macos, gcp, okta, web servers, proxies, …).
    assert_eq!(report.loaded, 3_121, "{report}");
    assert_eq!(
        counts.get("logsource without events"),
        Some(&633),
        "{report}"
    );
    assert_eq!(report.unsupported.len(), 633);
}

/// A regression sample: the rule it tests, its log, the record and count it expects.
struct Sample {
    rule_id: String,
    evtx: PathBuf,
    record_id: Option<u64>,
    match_count: Option<usize>,
}

fn samples() -> Vec<Sample> {
    let root = corpus().join("sigma");
    let mut infos = Vec::new();
    let mut stack = vec![root.join("regression_data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("regression_data is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "info.yml") {
                infos.push(path);
            }
        }
    }
    infos.sort();
    infos
        .iter()
        .map(|info| {
            let text = std::fs::read_to_string(info).expect("info.yml is readable");
            let value = |key: &str| {
                text.lines()
                    .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix(key))
                    .map(|v| v.trim().trim_matches(['\'', '"']).to_string())
            };
            // `rule_metadata: - id: …` comes after the file's own `id:`.
            let rule_id = text
                .split("rule_metadata:")
                .nth(1)
                .and_then(|rest| {
                    rest.lines()
                        .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix("id:"))
                })
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| panic!("no rule id in {}", info.display()));
            let evtx = root.join(value("path:").expect("a sample path"));
            let json = evtx.with_extension("json");
            let record_id = std::fs::read_to_string(&json).ok().and_then(|j| {
                let v: serde_json::Value = serde_json::from_str(&j).ok()?;
                v["Event"]["System"]["EventRecordID"].as_u64()
            });
            Sample {
                rule_id,
                evtx,
                record_id,
                match_count: value("match_count:").and_then(|c| c.parse().ok()),
            }
        })
        .collect()
}

/// Rules whose regression sample cannot pass here, with the reason. Each was checked by
/// reading the rule and the sample's JSON.
const REGRESSION_EXCLUSIONS: &[(&str, &str)] = &[];

#[test]
fn sigmahq_regression_samples_fire_on_their_record() {
    let sigma = sigma();
    let by_id: HashMap<&str, usize> = sigma
        .rules()
        .rules()
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.id.as_deref().map(|id| (id, i)))
        .collect();
    let samples = samples();
    assert_eq!(samples.len(), 154);
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut excluded = 0;
    for sample in &samples {
        let exclusion = REGRESSION_EXCLUSIONS
            .iter()
            .find(|(id, _)| *id == sample.rule_id);
        let outcome = check_sample(sigma, &by_id, sample);
        match (outcome, exclusion) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some((id, _))) => failures.push(format!("{id}: excluded but passes")),
            (Err(why), None) => failures.push(format!("{}: {why}", sample.rule_id)),
            (Err(why), Some((_, reason))) => {
                excluded += 1;
                println!("excluded {}: {reason} ({why})", sample.rule_id);
            }
        }
    }
    println!(
        "SigmaHQ regression samples: {passed}/{} pass, {excluded} excluded",
        samples.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check_sample(
    sigma: &Sigma,
    by_id: &HashMap<&str, usize>,
    sample: &Sample,
) -> Result<(), String> {
    let rule = *by_id
        .get(sample.rule_id.as_str())
        .ok_or("rule not loaded")?;
    let events = parse_evtx(&sample.evtx);
    let hits: Vec<usize> = sigma
        .matches(&events)
        .into_iter()
        .filter(|(r, _)| *r == rule)
        .map(|(_, position)| position)
        .collect();
    if hits.is_empty() {
        return Err(format!("no match in {} events", events.len()));
    }
    if let Some(record) = sample.record_id {
        let fired_on_record = hits
            .iter()
            .any(|&p| events[p].attr("record_id") == Some(record.to_string().as_str()));
        if !fired_on_record {
            return Err(format!("did not fire on record {record}"));
        }
    }
    // SigmaHQ's count is a floor here: e.g. the sample of c7dcacd0 (administrative shares
    // disabled) sets both AutoShareServer and AutoShareWks to 0, and the rule's
    // `endswith` list names both, yet info.yml says 1 (checked with `strings -el`).
    if let Some(expected) = sample.match_count
        && hits.len() < expected
    {
        return Err(format!(
            "{} matches, SigmaHQ expects {expected}",
            hits.len()
        ));
    }
    Ok(())
}

#[test]
fn attack_samples_raise_alarms_per_tactic() {
    let sigma = bundled();
    let evtx = corpus().join("evtx");
    let mut per_tactic: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let files = evtx_files(&evtx);
    let mut severities: BTreeMap<Severity, usize> = BTreeMap::new();
    let mut verdicts: BTreeMap<String, BTreeMap<Verdict, usize>> = BTreeMap::new();
    for file in &files {
        let tactic = file
            .strip_prefix(&evtx)
            .ok()
            .and_then(|p| p.components().next())
            .filter(|_| file.parent() != Some(evtx.as_path()))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_else(|| "(top level)".into());
        let events = parse_evtx(file);
        let mut alarms = sigma.detect(&events);
        for a in &alarms {
            *severities.entry(a.severity).or_default() += 1;
        }
        let entry = per_tactic.entry(tactic.clone()).or_default();
        entry.1 += 1;
        if !alarms.is_empty() {
            entry.0 += 1;
        }
        // The verdict of the whole engine (heuristics too) with the default policy.
        alarms.extend(riposte_detect::run_detectors(&events));
        let verdict = VerdictPolicy::default().decide(&alarms).verdict;
        *verdicts
            .entry(tactic)
            .or_default()
            .entry(verdict)
            .or_default() += 1;
    }
    for (tactic, (alarmed, total)) in &per_tactic {
        let v = &verdicts[tactic];
        println!(
            "{tactic:<24} {alarmed:>3}/{total:<3} files with at least one alarm; verdicts: {} malicious, {} suspicious, {} no evidence",
            v.get(&Verdict::Malicious).unwrap_or(&0),
            v.get(&Verdict::Suspicious).unwrap_or(&0),
            v.get(&Verdict::NoEvidence).unwrap_or(&0),
        );
    }
    println!("alarms by severity: {severities:?}");
    assert_eq!(files.len(), 228);
    // Floors measured with the SigmaHQ set above: files with at least one alarm, files,
    // and files whose verdict is Suspicious or Malicious (default policy, heuristics too).
    // Hunting-tier hits no longer count toward the verdict (see the hunting test): four
    // files flagged only by one hunting rule each (Defense Evasion, Discovery, Execution,
    // Other) are No Evidence now, the price of not flagging an ordinary Sysmon log.
    let floors: &[(&str, usize, usize, usize)] = &[
        ("(top level)", 1, 1, 0),
        ("AutomatedTestingTools", 8, 8, 8),
        ("Command and Control", 3, 4, 3),
        ("Credential Access", 24, 30, 22),
        ("Defense Evasion", 20, 29, 18),
        ("Discovery", 4, 9, 3),
        ("Execution", 23, 28, 21),
        ("Lateral Movement", 27, 37, 26),
        ("Other", 2, 7, 1),
        ("Persistence", 12, 17, 12),
        ("Privilege Escalation", 54, 58, 52),
    ];
    for (tactic, floor, total, flagged_floor) in floors {
        let (alarmed, seen) = per_tactic.get(*tactic).copied().unwrap_or_default();
        assert_eq!(seen, *total, "{tactic}: files");
        assert!(
            alarmed >= *floor,
            "{tactic}: {alarmed} files with alarms, floor {floor}"
        );
        let v = verdicts.get(*tactic).cloned().unwrap_or_default();
        let flagged =
            v.get(&Verdict::Malicious).unwrap_or(&0) + v.get(&Verdict::Suspicious).unwrap_or(&0);
        assert!(
            flagged >= *flagged_floor,
            "{tactic}: {flagged} files suspicious or malicious, floor {flagged_floor}"
        );
    }
}

/// Every `.evtx` under `dir`, sorted.
fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable folder") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "evtx") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The hunting tier's default is set from data. Hunting hits alone never make anything
/// Malicious, and with the default policy never change a verdict. The data behind the
/// default (`hunting_suspicious_at` = 0, off): the ordinary logs fire up to 6 different
/// hunting rules in one file, and no attack sample that the other detections leave at No
/// Evidence fires more different hunting rules than that, so no threshold would flag an
/// attack nothing else flags without also flagging an ordinary system. This test fails
/// when that stops being true (a new rule set, new samples), and the default should be
/// looked at again.
#[test]
fn hunting_hits_alone_flag_attacks_but_not_ordinary_logs() {
    let sigma = bundled();
    let policy = VerdictPolicy::default();
    let hunting_rules = sigma_rules_hunting();
    assert!(hunting_rules >= 100, "{hunting_rules} hunting rules loaded");
    let distinct = |alarms: &[riposte_model::Alarm]| {
        alarms
            .iter()
            .filter(|a| a.hunting)
            .map(|a| a.detector.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // With the default policy the hunting alarms change nothing: the verdict and score of
    // every file are those of its other alarms.
    let unchanged = |file: &Path, alarms: &[riposte_model::Alarm]| {
        let rest: Vec<_> = alarms.iter().filter(|a| !a.hunting).cloned().collect();
        let (all, without) = (policy.decide(alarms), policy.decide(&rest));
        assert_eq!(
            (all.verdict, all.score),
            (without.verdict, without.score),
            "{}: hunting hits changed the verdict",
            file.display()
        );
        without.verdict
    };
    let mut ordinary_max = 0;
    for file in evtx_files(&corpus().join("evtx-ordinary")) {
        let alarms = sigma.detect(&parse_evtx(&file));
        let hunting = distinct(&alarms);
        println!(
            "ordinary {}: {} hunting rules {:?}",
            file.file_name().unwrap().to_string_lossy(),
            hunting.len(),
            hunting
        );
        ordinary_max = ordinary_max.max(hunting.len());
        unchanged(&file, &alarms);
    }
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    // Distinct hunting rules in attack files the other detections leave at No Evidence.
    let mut unflagged: BTreeMap<usize, usize> = BTreeMap::new();
    for file in evtx_files(&corpus().join("evtx")) {
        let events = parse_evtx(&file);
        let mut alarms = sigma.detect(&events);
        alarms.extend(riposte_detect::run_detectors(&events));
        *histogram.entry(distinct(&alarms).len()).or_default() += 1;
        if unchanged(&file, &alarms) == Verdict::NoEvidence {
            *unflagged.entry(distinct(&alarms).len()).or_default() += 1;
        }
    }
    println!(
        "ordinary logs: at most {ordinary_max} different hunting rules in one file; attack samples: hunting rules per file {histogram:?}, in files nothing else flags {unflagged:?}"
    );
    assert_eq!(policy.hunting_suspicious_at, 0);
    assert!(
        ordinary_max >= 2,
        "ordinary logs fire hunting rules: {ordinary_max}"
    );
    let best_unflagged = unflagged.keys().max().copied().unwrap_or(0);
    assert!(
        best_unflagged <= ordinary_max,
        "an attack sample nothing else flags fires {best_unflagged} different hunting rules, more than any ordinary log ({ordinary_max}): a threshold between them would help"
    );
}

/// How many loaded rules are hunting-tier.
fn sigma_rules_hunting() -> usize {
    let root = corpus().join("sigma");
    SigmaRules::load(&[root.join("rules-threat-hunting")])
        .expect("listable")
        .rules()
        .iter()
        .filter(|r| r.hunting)
        .count()
}

/// Hayabusa's own rules (bundled under `detections/sigma/hayabusa`, DRL 1.1) load: its
/// Sigma rules and correlations run; its deprecated `| count()` rules (each shipped with a
/// correlation twin), its informational timeline labels and one rule without a condition
/// are reported; the rules that only
/// echo the host's Sysmon `RuleName` tag (Hayabusa names them `…_RuleAlert`) are exactly
/// the ones in the hunting tier.
#[test]
fn hayabusa_rules_load_and_their_sysmon_tag_rules_are_leads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../detections/sigma/hayabusa");
    let rules = SigmaRules::load(&[&dir]).expect("the Hayabusa folder loads");
    let report = rules.report();
    println!("{report}");
    assert_eq!(report.files, 193, "{report}");
    let counts = report.counts();
    assert_eq!(counts.get("deprecated aggregation"), Some(&3), "{report}");
    assert_eq!(counts.get("parse error"), Some(&1), "{report}");
    assert_eq!(counts.get("logsource without events"), None, "{report}");
    // Its informational rules label every logon, process start, … for its timeline.
    assert_eq!(counts.get("timeline label"), Some(&100), "{report}");
    assert_eq!(report.loaded, 89, "{report}");
    assert_eq!(report.correlations, 3, "{report}");
    let file_name = |r: &riposte_detect::sigma::SigmaRule| {
        r.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let hunting: Vec<String> = rules
        .rules()
        .iter()
        .filter(|r| r.hunting)
        .map(file_name)
        .collect();
    let rule_alerts: Vec<String> = rules
        .rules()
        .iter()
        .map(file_name)
        .filter(|n| n.contains("RuleAlert"))
        .collect();
    assert_eq!(hunting, rule_alerts);
    assert_eq!(hunting.len(), 18, "{hunting:?}");
}

/// The bundled rules on the ordinary logs: no verdict above the one measured and explained
/// in `testdata/evtx_gaps.md` ("Verdicts on ordinary logs"), and the Sysmon log's verdict
/// owes nothing to the Sysmon-tag rules (they are hunting-tier: checked file by file in
/// `hunting_hits_alone_flag_attacks_but_not_ordinary_logs`).
#[test]
fn ordinary_logs_stay_at_their_explained_verdicts() {
    let ceilings: &[(&str, Verdict)] = &[
        (
            "2-system-Microsoft-Windows-LiveId%4Operational.evtx",
            Verdict::NoEvidence,
        ),
        (
            "2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
            Verdict::NoEvidence,
        ),
        (
            "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
            Verdict::NoEvidence,
        ),
        ("2-vss_7-System.evtx", Verdict::Suspicious),
        (
            "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
            Verdict::NoEvidence,
        ),
        (
            "E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx",
            Verdict::NoEvidence,
        ),
        ("Security_with_size_t.evtx", Verdict::Suspicious),
        ("new-user-security.evtx", Verdict::Suspicious),
        ("post-Security.evtx", Verdict::Suspicious),
        ("security.evtx", Verdict::Suspicious),
        ("sysmon.evtx", Verdict::Malicious),
        ("system.evtx", Verdict::Malicious),
    ];
    let files = evtx_files(&corpus().join("evtx-ordinary"));
    assert_eq!(files.len(), ceilings.len());
    let policy = VerdictPolicy::default();
    for file in files {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let events = parse_evtx(&file);
        let mut alarms = bundled().detect(&events);
        alarms.extend(riposte_detect::run_detectors(&events));
        let decision = policy.decide(&alarms);
        println!(
            "{name}: {:?} {}: {:?}",
            decision.verdict, decision.score, decision.reasons
        );
        let ceiling = ceilings.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert!(
            ceiling.is_some_and(|c| decision.verdict <= c),
            "{name}: {:?} (score {}) above {ceiling:?}: {:?}",
            decision.verdict,
            decision.score,
            decision.reasons
        );
    }
}
