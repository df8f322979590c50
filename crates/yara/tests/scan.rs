//! YARA scanning with real rules: signature-base as bundled in `detections/yara` (DRL 1.1)
//! over the EICAR test file and real logs from the shared corpus (`$RIPOSTE_CORPUS`).
//!
//! Expected values come from outside this code: the EICAR file's SHA-256 and the rule that
//! must match it are documented in signature-base's `SUSP_Just_EICAR` (its `hash1` meta and
//! `$s1 … at 0` condition); the rule-file count is a plain directory walk.

use riposte_model::Severity;
use riposte_yara::{RuleSet, ScanOutcome, SkipReason, YaraConfig};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("yara/eicar.com").is_file(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory",
        dir.display()
    );
    dir
}

fn eicar() -> PathBuf {
    corpus().join("yara/eicar.com")
}

fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../detections/yara")
}

fn config(dirs: &[&Path]) -> YaraConfig {
    YaraConfig {
        rule_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        ..YaraConfig::default()
    }
}

/// The bundled rules, compiled once for every test of this binary.
fn bundled() -> &'static (RuleSet, riposte_yara::CompileReport) {
    static SET: OnceLock<(RuleSet, riposte_yara::CompileReport)> = OnceLock::new();
    SET.get_or_init(|| RuleSet::compile(&config(&[&bundled_dir()])).unwrap())
}

#[test]
fn bundled_rules_compile_and_failures_name_their_file() {
    let (set, report) = bundled();
    eprintln!(
        "{} rules from {} files in {:.1?}; failed: {:#?}",
        report.rules, report.files_loaded, report.elapsed, report.failures
    );
    let files = walkdir::WalkDir::new(bundled_dir())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yar" || x == "yara")
        })
        .count();
    assert_eq!(report.files_loaded + report.failures.len(), files);
    assert!(
        report.files_loaded * 10 >= files * 9,
        "most files load: {report:#?}"
    );
    for failure in &report.failures {
        assert!(
            failure.path.is_file() && !failure.error.is_empty(),
            "{failure:?}"
        );
    }
    assert_eq!(report.rules, set.len());
    assert!(set.len() > 1000, "{}", set.len());
}

#[test]
fn eicar_matches_its_rule_with_hash_string_and_severity() {
    let (set, _) = bundled();
    let scan = set.scanner().scan_file(&eicar());
    assert_eq!(scan.sha256.as_deref(), Some(EICAR_SHA256));
    assert_eq!(scan.size, 68);
    let m = scan
        .matches()
        .iter()
        .find(|m| m.rule == "SUSP_Just_EICAR")
        .unwrap_or_else(|| panic!("{scan:#?}"));
    assert_eq!(
        m.namespace,
        "signature-base/yara/gen_suspicious_strings.yar"
    );
    assert_eq!(
        m.meta.all.get("hash1").map(String::as_str),
        Some(EICAR_SHA256)
    );
    assert_eq!(m.meta.score, Some(40));
    assert_eq!(
        m.meta.author.as_deref(),
        Some("Florian Roth (Nextron Systems)")
    );
    assert_eq!(m.strings.len(), 1);
    assert_eq!(m.strings[0].identifier, "$s1");
    assert_eq!(m.strings[0].hits[0].offset, 0);
    assert_eq!(
        m.strings[0].hits[0].ascii,
        "X5O!P%@AP[4\\\\PZX54(P^)7CC)7}$EICA"
    );
    assert_eq!(m.severity(), Severity::Low);
    let alarm = scan
        .alarms()
        .into_iter()
        .find(|a| a.title.contains("SUSP_Just_EICAR"))
        .unwrap();
    assert_eq!(alarm.detector, "yara");
    assert!(alarm.description.contains(EICAR_SHA256) && alarm.description.contains("Florian Roth"));
}

#[test]
fn real_logs_do_not_match_and_files_scan_in_parallel_in_order() {
    let (set, _) = bundled();
    let clean = corpus().join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log");
    let missing = corpus().join("yara/no-such-file");
    let scans = set
        .scan_files(&[
            eicar(),
            clean.clone(),
            missing.clone(),
            corpus().join("yara"),
        ])
        .unwrap();
    assert_eq!(scans.len(), 4);
    assert_eq!(scans[0].path, eicar());
    assert!(!scans[0].matches().is_empty());
    assert_eq!(scans[1].path, clean);
    assert!(
        matches!(&scans[1].outcome, ScanOutcome::Scanned { matches } if matches.is_empty()),
        "{:#?}",
        scans[1]
    );
    assert!(
        matches!(&scans[2].outcome, ScanOutcome::Failed { error } if error.contains("cannot read"))
    );
    assert!(matches!(
        &scans[3].outcome,
        ScanOutcome::Skipped {
            skip: SkipReason::NotAFile
        }
    ));
}

#[test]
fn serialized_rules_scan_the_same() {
    let (set, _) = bundled();
    let bytes = set.serialize().unwrap();
    let again = RuleSet::deserialize(&bytes, &YaraConfig::default()).unwrap();
    assert_eq!(again.len(), set.len());
    let rules = |s: &RuleSet| {
        s.scanner()
            .scan_file(&eicar())
            .matches()
            .iter()
            .map(|m| m.rule.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(rules(&again), rules(set));
    assert!(RuleSet::deserialize(b"not rules", &YaraConfig::default()).is_err());
}

/// A folder with the real EICAR rule file plus the given extra files.
fn rule_dir(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let real = bundled_dir().join("signature-base/yara/gen_suspicious_strings.yar");
    std::fs::copy(real, dir.path().join("gen_suspicious_strings.yar")).unwrap();
    for (name, text) in extra {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn a_broken_file_is_reported_whole_and_the_rest_loads() {
    let dir = rule_dir(&[(
        "custom/broken.yara",
        "rule good_but_in_a_bad_file { strings: $a = \"EICAR\" condition: $a }\nrule broken { condition: }\n",
    )]);
    let (set, report) = RuleSet::compile(&config(&[dir.path()])).unwrap();
    assert_eq!(report.files_loaded, 1);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].path.ends_with("custom/broken.yara"));
    assert!(
        report.failures[0].error.contains("broken.yara"),
        "{}",
        report.failures[0].error
    );
    let rules: Vec<_> = set
        .scanner()
        .scan_file(&eicar())
        .matches()
        .iter()
        .map(|m| m.rule.clone())
        .collect();
    assert!(rules.contains(&"SUSP_Just_EICAR".to_string()));
    assert!(
        !rules.contains(&"good_but_in_a_bad_file".to_string()),
        "{rules:?}"
    );
}

#[test]
fn includes_resolve_relative_to_the_including_file() {
    let dir = rule_dir(&[
        (
            "nested/main.yar",
            "include \"parts/eicar_part.yar\"\nrule uses_part { condition: eicar_part }\n",
        ),
        (
            "nested/parts/eicar_part.yar",
            "rule eicar_part { strings: $a = \"EICAR-STANDARD\" condition: $a }\n",
        ),
    ]);
    let (set, report) = RuleSet::compile(&config(&[dir.path()])).unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let rules: Vec<_> = set
        .scanner()
        .scan_file(&eicar())
        .matches()
        .iter()
        .map(|m| m.rule.clone())
        .collect();
    assert!(rules.contains(&"uses_part".to_string()), "{rules:?}");
}

#[test]
fn tags_skip_rules_and_the_size_cap_skips_files() {
    let dir = rule_dir(&[(
        "noisy.yar",
        "rule noisy_eicar : Noisy { strings: $a = \"EICAR\" condition: $a }\n",
    )]);
    let mut cfg = config(&[dir.path()]);
    let (set, report) = RuleSet::compile(&cfg).unwrap();
    assert_eq!(report.rules_skipped_by_tag, 0);
    let rules = |s: &RuleSet| {
        s.scanner()
            .scan_file(&eicar())
            .matches()
            .iter()
            .map(|m| m.rule.clone())
            .collect::<Vec<_>>()
    };
    assert!(rules(&set).contains(&"noisy_eicar".to_string()));

    cfg.skip_tags = vec!["NOISY".into()];
    let (skipping, report) = RuleSet::compile(&cfg).unwrap();
    assert_eq!(report.rules_skipped_by_tag, 1);
    assert!(!rules(&skipping).contains(&"noisy_eicar".to_string()));
    assert!(rules(&skipping).contains(&"SUSP_Just_EICAR".to_string()));

    cfg.max_file_size = 67;
    let (small, _) = RuleSet::compile(&cfg).unwrap();
    let scan = small.scanner().scan_file(&eicar());
    assert_eq!(
        scan.outcome,
        ScanOutcome::Skipped {
            skip: SkipReason::TooLarge {
                size: Some(68),
                limit: 67
            }
        }
    );
    let from_reader = small.scanner().scan_reader(
        std::fs::File::open(eicar()).unwrap(),
        Path::new("eicar.com"),
    );
    assert_eq!(
        from_reader.outcome,
        ScanOutcome::Skipped {
            skip: SkipReason::TooLarge {
                size: None,
                limit: 67
            }
        }
    );
    cfg.max_file_size = 68;
    let (exact, _) = RuleSet::compile(&cfg).unwrap();
    assert!(!exact.scanner().scan_file(&eicar()).matches().is_empty());
}

#[test]
fn a_missing_rule_folder_is_an_error_naming_it() {
    let err = RuleSet::compile(&config(&[Path::new("/nonexistent/rules")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/rules"), "{err}");
}

#[test]
fn the_cache_reuses_a_compiled_set_until_a_rule_file_changes() {
    let rules = rule_dir(&[(
        "broken.yar",
        "rule broken { strings: $a = \"x\" condition: $b }",
    )]);
    let cache = tempfile::tempdir().unwrap();
    let config = config(&[rules.path()]);
    let (first, report) = RuleSet::compile_cached(&config, Some(cache.path())).unwrap();
    assert!(!report.from_cache);
    assert_eq!(report.failures.len(), 1);
    let (second, cached) = RuleSet::compile_cached(&config, Some(cache.path())).unwrap();
    assert!(
        cached.from_cache,
        "the second load must come from the cache"
    );
    assert_eq!(cached.rules, report.rules);
    assert_eq!(cached.files_loaded, report.files_loaded);
    assert_eq!(
        cached.failures, report.failures,
        "the compile report survives the cache"
    );
    let scan = |set: &RuleSet| {
        let scan = set.scanner().scan_file(&eicar());
        scan.matches()
            .iter()
            .map(|m| m.rule.clone())
            .collect::<Vec<_>>()
    };
    assert!(scan(&first).contains(&"SUSP_Just_EICAR".to_string()));
    assert_eq!(scan(&first), scan(&second));

    // Any edit to a rule file compiles afresh, with the new rule in the set.
    std::fs::write(
        rules.path().join("extra.yar"),
        "rule Extra_Eicar { strings: $a = \"EICAR-STANDARD\" condition: $a }",
    )
    .unwrap();
    let (third, report) = RuleSet::compile_cached(&config, Some(cache.path())).unwrap();
    assert!(!report.from_cache);
    assert!(scan(&third).contains(&"Extra_Eicar".to_string()));

    // A damaged entry is compiled again and replaced.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "yarac") {
            std::fs::write(&path, b"damaged").unwrap();
        }
    }
    let (_, report) = RuleSet::compile_cached(&config, Some(cache.path())).unwrap();
    assert!(!report.from_cache);
    let (_, report) = RuleSet::compile_cached(&config, Some(cache.path())).unwrap();
    assert!(report.from_cache);
}

#[test]
fn the_file_detector_names_files_by_their_original_path_and_skips_unfetched_ones() {
    use riposte_detect::{CollectedFile, FileDetector};
    use riposte_model::{EvidenceItem, Provenance};
    let rules = rule_dir(&[]);
    let (set, _) = RuleSet::compile(&config(&[rules.path()])).unwrap();
    let detector = riposte_yara::YaraDetector::new(std::sync::Arc::new(set));
    assert_eq!(detector.content_limit(), Some(64 * 1024 * 1024));
    let item = |path: &str, size: u64| EvidenceItem {
        id: riposte_model::EvidenceId::new(),
        investigation_id: riposte_model::InvestigationId::new(),
        sha256: EICAR_SHA256.into(),
        size,
        provenance: Provenance {
            host: "web-1".into(),
            original_path: path.into(),
            ..Provenance::default()
        },
        storage_key: "k".into(),
        collected_at: chrono::Utc::now(),
    };
    let files = [
        CollectedFile {
            item: item("/tmp/.x/eicar.com", 68),
            content: Some(eicar()),
        },
        CollectedFile {
            item: item("/var/tmp/huge.bin", 1 << 40),
            content: None,
        },
    ];
    let alarms = detector.detect_files(&files);
    let eicar_alarm = alarms
        .iter()
        .find(|a| {
            a.rule_id
                .as_deref()
                .is_some_and(|r| r.ends_with(":SUSP_Just_EICAR"))
        })
        .expect("EICAR alarm");
    assert_eq!(eicar_alarm.detector, "yara");
    assert!(
        eicar_alarm.title.contains("/tmp/.x/eicar.com"),
        "{}",
        eicar_alarm.title
    );
    assert_eq!(eicar_alarm.files.len(), 1);
    assert_eq!(eicar_alarm.files[0].path, "/tmp/.x/eicar.com");
    assert_eq!(eicar_alarm.files[0].sha256.as_deref(), Some(EICAR_SHA256));
    assert!(
        eicar_alarm.files[0]
            .matched
            .iter()
            .any(|m| m.starts_with("$s1 at 0")),
        "{:?}",
        eicar_alarm.files[0].matched
    );
    assert!(
        alarms
            .iter()
            .all(|a| a.files[0].path != "/var/tmp/huge.bin")
    );
}

#[test]
fn structured_logs_the_parsers_read_are_skipped_unless_asked_and_other_files_still_scan() {
    use riposte_detect::{CollectedFile, FileDetector};
    use riposte_model::{EvidenceItem, Provenance};
    // A rule for a string that a real Security.evtx of the corpus holds.
    let evtx = corpus().join("evtx/Credential Access/CA_DCSync_4662.evtx");
    let rules = rule_dir(&[(
        "evtx.yar",
        "rule Evtx_Magic { strings: $a = \"ElfChnk\" condition: $a }",
    )]);
    let (set, _) = RuleSet::compile(&config(&[rules.path()])).unwrap();
    let set = std::sync::Arc::new(set);
    let item = |path: &str| EvidenceItem {
        id: riposte_model::EvidenceId::new(),
        investigation_id: riposte_model::InvestigationId::new(),
        sha256: "00".repeat(32),
        size: 1,
        provenance: Provenance {
            host: "dc-1".into(),
            original_path: path.into(),
            ..Provenance::default()
        },
        storage_key: "k".into(),
        collected_at: chrono::Utc::now(),
    };
    let dir = tempfile::tempdir().unwrap();
    let wtmp = dir.path().join("wtmp");
    std::fs::write(&wtmp, b"ElfChnk inside a login record").unwrap();
    let files = [
        // Named like anything: recognised by its content.
        CollectedFile {
            item: item("C:/Windows/System32/winevt/Logs/Security.evtx"),
            content: Some(evtx.clone()),
        },
        CollectedFile {
            item: item("/var/log/wtmp"),
            content: Some(wtmp.clone()),
        },
        CollectedFile {
            item: item("/tmp/eicar.com"),
            content: Some(eicar()),
        },
    ];
    let detector = riposte_yara::YaraDetector::new(set.clone());
    let scans = detector.scan(&files);
    let outcome = |path: &str| {
        scans
            .iter()
            .find(|s| s.path == Path::new(path))
            .map(|s| s.outcome.clone())
            .unwrap_or_else(|| panic!("no scan of {path}: {scans:#?}"))
    };
    for (path, format) in [
        ("C:/Windows/System32/winevt/Logs/Security.evtx", "evtx"),
        ("/var/log/wtmp", "utmp"),
    ] {
        assert_eq!(
            outcome(path),
            ScanOutcome::Skipped {
                skip: SkipReason::ParsedLog {
                    format: format.into()
                }
            }
        );
    }
    assert!(matches!(
        outcome("/tmp/eicar.com"),
        ScanOutcome::Scanned { .. }
    ));
    let alarms = detector.detect_files(&files);
    assert!(
        alarms.iter().all(|a| a.files[0].path == "/tmp/eicar.com"),
        "{alarms:#?}"
    );
    // Asked to, it scans them and finds the string.
    let all = riposte_yara::YaraDetector::new(set).scanning_parsed_logs(true);
    let alarms = all.detect_files(&files);
    let paths: Vec<&str> = alarms.iter().map(|a| a.files[0].path.as_str()).collect();
    assert!(
        paths.contains(&"C:/Windows/System32/winevt/Logs/Security.evtx"),
        "{paths:?}"
    );
    assert!(paths.contains(&"/var/log/wtmp"), "{paths:?}");
}
