//! Every GuardDuty and Wiz sample of the shared alert corpus is parsed, and each is checked
//! against facts read from the file by hand: accepted with the right ids, severities and
//! targets, or refused with an error naming why. The corpus is not copied into the repo
//! (several samples have unstated licences); it is found through `RIPOSTE_CORPUS`,
//! defaulting to `<workspace>/../shared/corpus`.

use chrono::{DateTime, Utc};
use riposte_model::{Alert, AlertSource, Severity};
use riposte_sources::{SourceError, parser};
use serde_json::{Value, json};
use std::path::PathBuf;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The corpus folder for one source; panics (fails the test) when it is missing.
fn corpus_dir(source: &str) -> PathBuf {
    let root = std::env::var_os("RIPOSTE_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    let dir = root.join("alerts").join(source);
    assert!(
        dir.is_dir(),
        "alert corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus folder",
        dir.display()
    );
    dir
}

/// Every `.json` file of a corpus folder, by name, sorted.
fn samples(source: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(source))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no samples for {source}");
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, value)
        })
        .collect()
}

fn parse(source: AlertSource, payload: &Value) -> Result<Vec<Alert>, SourceError> {
    parser(source).unwrap().parse(payload, now())
}

fn one(source: AlertSource, name: &str, payload: &Value) -> Alert {
    match parse(source, payload) {
        Ok(mut alerts) if alerts.len() == 1 => alerts.remove(0),
        other => panic!("{name}: expected one alert, got {other:?}"),
    }
}

fn ip(s: &str) -> Option<std::net::IpAddr> {
    Some(s.parse().unwrap())
}

fn ips(a: &Alert) -> Vec<String> {
    a.target.ips.iter().map(|ip| ip.to_string()).collect()
}

/// (type, severity, region, account) every GuardDuty sample states at its top level.
fn check_common(a: &Alert, ty: &str, severity: Severity, region: &str, account: &str) {
    assert_eq!(a.finding_type, ty);
    assert_eq!(a.severity, severity, "{ty}");
    assert_eq!(a.target.region.as_deref(), Some(region), "{ty}");
    assert_eq!(a.target.account_id.as_deref(), Some(account), "{ty}");
    assert_eq!(a.target.cloud_provider.as_deref(), Some("aws"));
    assert_eq!(a.vendor, "Amazon Web Services");
    assert_eq!(a.product, "GuardDuty");
}

/// `first_seen` and `last_seen` as RFC 3339 strings.
fn seen(a: &Alert) -> (Option<String>, Option<String>) {
    (
        a.first_seen.map(|t| t.to_rfc3339()),
        a.last_seen.map(|t| t.to_rfc3339()),
    )
}

fn both(first: &str, last: &str) -> (Option<String>, Option<String>) {
    (Some(first.to_string()), Some(last.to_string()))
}

/// `service.eventFirstSeen` / `service.eventLastSeen` as each GuardDuty sample states them.
fn guardduty_seen(name: &str) -> (Option<String>, Option<String>) {
    match name {
        "elastic-ec2-trojan-blackholetraffic-dns.json"
        | "elastic-eks-persistence-anonymous-access.json" => {
            both("2022-11-17T09:33:19+00:00", "2022-11-22T12:22:20+00:00")
        }
        "elastic-rds-anomalous-successful-login.json" => {
            both("2022-12-07T10:28:35+00:00", "2022-12-07T10:28:35+00:00")
        }
        "eventbridge-ec2-backdoor-spambot.json" => both(
            "2021-03-07T00:29:35.498+00:00",
            "2021-03-07T00:29:35.498+00:00",
        ),
        n if n.starts_with("panther-") => {
            both("2018-08-26T14:17:23+00:00", "2018-08-26T14:17:23+00:00")
        }
        n if n.starts_with("sekoia-") => {
            both("2023-03-20T15:33:12+00:00", "2023-03-20T15:33:12+00:00")
        }
        other => panic!("{other}: new GuardDuty sample without first/last seen"),
    }
}

fn check_guardduty(name: &str, a: &Alert) {
    use Severity::*;
    assert_eq!(seen(a), guardduty_seen(name), "{name}");
    let t = &a.target;
    let tag = |k: &str| t.tags.get(k).map(String::as_str);
    let o = &a.observables;
    match name {
        "elastic-ec2-trojan-blackholetraffic-dns.json" => {
            check_common(
                a,
                "Trojan:EC2/BlackholeTraffic!DNS",
                Medium,
                "us-east-1",
                "123412341234",
            );
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("d6012345678912345678912349f831b8f")
            );
            assert_eq!(t.instance_id.as_deref(), Some("i-99999999"));
            assert_eq!(ips(a), ["175.16.199.1"]);
            assert_eq!(
                t.hostname.as_deref(),
                Some("GeneratedFindingPrivateDnsName")
            );
            assert_eq!(
                tag("GeneratedFindingInstaceTag9"),
                Some("GeneratedFindingInstaceTagValue9")
            );
            assert_eq!(a.time.to_rfc3339(), "2022-11-22T12:22:20.934+00:00");
        }
        "elastic-eks-persistence-anonymous-access.json" => {
            check_common(
                a,
                "Persistence:Kubernetes/SuccessfulAnonymousAccess",
                High,
                "us-east-1",
                "123412341234",
            );
            assert_eq!(t.instance_id, None);
            assert_eq!(tag("resource.type"), Some("EKSCluster"));
            assert_eq!(tag("resource.id"), Some("GeneratedFindingEKSClusterName"));
            assert_eq!(o.source_ip, ip("175.16.199.1"));
            assert_eq!(o.username.as_deref(), Some("system:anonymous"));
        }
        "elastic-rds-anomalous-successful-login.json" => {
            check_common(
                a,
                "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
                High,
                "us-east-1",
                "123412341234",
            );
            assert_eq!(tag("resource.type"), Some("RDSDBInstance"));
            assert_eq!(tag("resource.id"), Some("GeneratedFindingDBInstanceId"));
            assert_eq!(o.source_ip, ip("175.16.199.1"));
            assert_eq!(o.username.as_deref(), Some("GeneratedFindingUserName"));
        }
        "eventbridge-ec2-backdoor-spambot.json" => {
            check_common(
                a,
                "Backdoor:EC2/Spambot",
                Medium,
                "ca-central-1",
                "303697492861",
            );
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("7ebc050b71c556086b524045c9067feb")
            );
            assert_eq!(t.instance_id.as_deref(), Some("i-99999999"));
            assert_eq!(ips(a), ["10.0.0.1", "198.51.100.0"]);
            // OUTBOUND on port 25: the instance is the source.
            assert_eq!((o.source_ip, o.source_port), (ip("10.0.0.23"), Some(2000)));
            assert_eq!(
                (o.destination_ip, o.destination_port),
                (ip("198.51.100.0"), Some(25))
            );
            assert_eq!(a.time.to_rfc3339(), "2021-03-07T00:29:35.498+00:00");
        }
        "panther-ec2-sshbruteforce.json" => {
            check_common(
                a,
                "UnauthorizedAccess:EC2/SSHBruteForce",
                Low,
                "us-east-1",
                "123456789012",
            );
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("70b7e42a3241b4c73d8d8cf7b1781f7e")
            );
            assert_eq!(t.instance_id.as_deref(), Some("i-081de1d7604b11e4a"));
            assert_eq!(t.hostname.as_deref(), Some("ip-172-31-81-237.ec2.internal"));
            assert_eq!(
                ips(a),
                [
                    "172.31.81.237",
                    "54.152.215.140",
                    "2001:db8:85a3::8a2e:370:7334"
                ]
            );
            assert_eq!(tag("tag1"), Some("val1"));
            // INBOUND brute force from 151.80.19.228 to port 22.
            assert_eq!(
                (o.source_ip, o.source_port),
                (ip("151.80.19.228"), Some(32938))
            );
            assert_eq!(o.destination_port, Some(22));
        }
        "panther-ec2-trojan-dgadomainrequest.json" => {
            check_common(
                a,
                "Trojan:EC2/DGADomainRequest.B",
                High,
                "eu-west-1",
                "123456789012",
            );
            assert_eq!(t.instance_id.as_deref(), Some("i-99999999"));
            assert!(t.ips.is_empty());
            assert_eq!((o.source_ip, o.destination_ip), (None, None));
        }
        "panther-iamuser-stealth-loggingconfigurationmodified.json" => {
            check_common(
                a,
                "Stealth:IAMUser/LoggingConfigurationModified",
                Medium,
                "eu-west-1",
                "123456789012",
            );
            assert_eq!(tag("resource.type"), Some("AccessKey"));
            assert_eq!(tag("resource.id"), Some("GeneratedFindingUserName"));
            assert_eq!(o.source_ip, ip("198.51.100.0"));
        }
        "sekoia-container-suspiciousfile-malware-scan.json" => {
            check_common(
                a,
                "Execution:Container/SuspiciousFile",
                Medium,
                "eu-west-2",
                "111111111111",
            );
            assert_eq!(tag("resource.type"), Some("Container"));
            assert_eq!(tag("resource.id"), Some("e6cf2e24515c1df7f4"));
            assert_eq!(t.instance_id, None);
        }
        "sekoia-ec2-torrelay.json" => {
            check_common(
                a,
                "UnauthorizedAccess:EC2/TorRelay",
                High,
                "eu-west-2",
                "111111111111",
            );
            assert_eq!(t.instance_id.as_deref(), Some("i-99999999"));
            assert_eq!(
                (o.destination_ip, o.destination_port),
                (ip("198.51.100.0"), Some(80))
            );
            assert_eq!((o.source_ip, o.source_port), (ip("10.0.0.23"), Some(39677)));
        }
        "sekoia-eks-admin-access-default-sa-namespace.json"
        | "sekoia-eks-admin-access-default-sa.json" => {
            check_common(
                a,
                "Policy:Kubernetes/AdminAccessToDefaultServiceAccount",
                High,
                "eu-west-2",
                "111111111111",
            );
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("df2295bd4966407b84223c9a4ae09eab")
            );
            assert_eq!(tag("resource.id"), Some("GeneratedFindingEKSClusterName"));
            assert_eq!(o.source_ip, ip("198.51.100.0"));
        }
        "sekoia-iamuser-exfiltration-anomalousbehavior.json" => {
            check_common(
                a,
                "Exfiltration:IAMUser/AnomalousBehavior",
                High,
                "eu-west-2",
                "111111111111",
            );
            // The sample also carries instanceDetails, but the resource is the access key.
            assert_eq!(t.instance_id, None);
            assert_eq!(tag("resource.type"), Some("AccessKey"));
        }
        "sekoia-iamuser-maliciousipcaller.json" => {
            check_common(
                a,
                "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
                Medium,
                "eu-west-2",
                "111111111111",
            );
            assert_eq!(o.source_ip, ip("198.51.100.0"));
        }
        "sekoia-s3-discovery-maliciousipcaller-custom.json" => {
            check_common(
                a,
                "Discovery:S3/MaliciousIPCaller.Custom",
                High,
                "eu-west-2",
                "111111111111",
            );
            assert_eq!(tag("resource.type"), Some("S3Bucket"));
            assert_eq!(tag("resource.id"), Some("bucketName"));
            assert_eq!(tag("foo"), Some("bar"));
            assert_eq!(t.instance_id, None);
        }
        other => panic!("{other}: new GuardDuty sample without expectations; add them here"),
    }
}

#[test]
fn every_guardduty_sample_parses_to_the_facts_it_states() {
    let samples = samples("guardduty");
    assert_eq!(samples.len(), 14);
    for (name, payload) in &samples {
        let alert = one(AlertSource::GuardDuty, name, payload);
        assert_eq!(&alert.raw, payload, "{name}");
        check_guardduty(name, &alert);
        // The same finding in a list, and an EventBridge event inside an SNS notification.
        let finding = payload.get("detail").unwrap_or(payload);
        let list = json!({"findings": [finding, finding]});
        assert_eq!(
            parse(AlertSource::GuardDuty, &list).unwrap().len(),
            2,
            "{name}"
        );
        if payload.get("detail-type").is_some() {
            let sns = json!({"Type": "Notification", "TopicArn": "arn:aws:sns:ca-central-1:1:t",
                             "Message": payload.to_string()});
            check_guardduty(name, &one(AlertSource::GuardDuty, name, &sns));
        }
    }
}

fn check_wiz(name: &str, result: Result<Vec<Alert>, SourceError>) {
    let refused = |field: &str, why: &str| match &result {
        Err(SourceError::InvalidFields(errs)) => {
            assert_eq!(errs.len(), 1, "{name}: {errs:?}");
            assert_eq!(errs[0].field, field, "{name}");
            assert!(errs[0].problem.contains(why), "{name}: {}", errs[0].problem);
        }
        other => panic!("{name}: expected a refusal, got {other:?}"),
    };
    if name == "sekoia-cloud-configuration-finding.json" {
        return refused("result", "cloud configuration finding is not an alert");
    }
    if name == "sekoia-vulnerability-finding.json" {
        return refused("vulnerableAsset", "vulnerability finding is not an alert");
    }
    let a = match result {
        Ok(mut alerts) if alerts.len() == 1 => alerts.remove(0),
        other => panic!("{name}: expected one alert, got {other:?}"),
    };
    assert_eq!((a.vendor.as_str(), a.product.as_str()), ("Wiz", "Wiz"));
    // Detections: earliest of createdAt and the triggering events, latest triggering event.
    // Issues: createdAt only (updatedAt also moves with status changes).
    let expected_seen = match name {
        "elastic-defend-detection-guardduty-origin-sshbruteforce.json" => both(
            "2026-07-01T15:05:03.533+00:00",
            "2026-07-01T15:05:03.533+00:00",
        ),
        "elastic-defend-threat-sensor-generated.json" => both(
            "2026-06-30T10:53:40.878210500+00:00",
            "2026-07-01T08:18:21.326+00:00",
        ),
        "sekoia-defend-threat-suspicious-database-access.json" => {
            both("2024-01-15T10:25:00+00:00", "2024-01-15T10:25:00+00:00")
        }
        "sekoia-issue-critical-vulnerability-findings.json" => {
            (Some("2025-02-11T13:56:41.048452+00:00".into()), None)
        }
        _ => (Some("2023-08-23T07:56:09.903743+00:00".into()), None),
    };
    assert_eq!(seen(&a), expected_seen, "{name}");
    let t = &a.target;
    let tag = |k: &str| t.tags.get(k).map(String::as_str);
    match name {
        "elastic-defend-detection-guardduty-origin-sshbruteforce.json" => {
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("edb74e2d-e1bd-49a6-bcd7-ec6b2f5e4980")
            );
            assert_eq!(a.severity, Severity::Low);
            assert_eq!(a.title, "UnauthorizedAccess:EC2/SSHBruteForce");
            assert_eq!(t.instance_id.as_deref(), Some("i-0000000000000001"));
            assert_eq!(t.hostname.as_deref(), Some("example-vm-1"));
            assert_eq!(t.region.as_deref(), Some("us-east-2"));
            assert_eq!(t.account_id.as_deref(), Some("100000000001"));
            assert_eq!(t.cloud_provider.as_deref(), Some("aws"));
            assert_eq!(a.observables.source_ip, ip("192.0.2.10"));
            assert_eq!(a.time.to_rfc3339(), "2026-07-01T15:13:36.318130100+00:00");
        }
        "elastic-defend-threat-sensor-generated.json" => {
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("1456bbb9-19ef-4847-a80c-a2b400ba3db7")
            );
            assert_eq!(a.severity, Severity::Medium);
            assert_eq!(a.title, "Service account token was accessed");
            assert_eq!(t.instance_id.as_deref(), Some("i-0000000000000002"));
            assert_eq!(t.hostname.as_deref(), Some("example-vm-2"));
            assert_eq!(t.account_id.as_deref(), Some("100000000001"));
            assert_eq!(a.observables.source_ip, ip("192.0.2.13"));
            assert_eq!(
                a.observables.command_line.as_deref(),
                Some("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
            );
        }
        "sekoia-defend-threat-suspicious-database-access.json" => {
            assert_eq!(a.vendor_event_id.as_deref(), Some("detection-abc123"));
            assert_eq!(a.severity, Severity::High);
            assert_eq!(a.title, "Suspicious Database Access");
            assert_eq!(
                a.description,
                "Suspicious database access detected from unusual location"
            );
            assert_eq!(
                (t.instance_id.as_deref(), t.hostname.as_deref()),
                (None, None)
            );
            assert_eq!(tag("resource.type"), Some("DATABASE"));
            assert_eq!(tag("resource.name"), Some("production-database"));
            assert_eq!(t.region.as_deref(), Some("us-east-1"));
            assert_eq!(t.account_id.as_deref(), Some("123456789012"));
        }
        "sekoia-issue-critical-vulnerability-findings.json" => {
            assert_eq!(
                a.vendor_event_id.as_deref(),
                Some("xxxxxxx-xxxxxxx-xxxxxxx")
            );
            assert_eq!(a.severity, Severity::Medium);
            assert_eq!(a.title, "Findings with Critical Severity Vulnerabilities");
            assert_eq!(a.finding_type, "TOXIC_COMBINATION");
            assert_eq!(tag("resource.type"), Some("SECURITY_TOOL_FINDING"));
            // cloudPlatform null, region "": nothing to say.
            assert_eq!(
                (t.cloud_provider.as_deref(), t.region.as_deref()),
                (None, None)
            );
            assert_eq!(a.time.to_rfc3339(), "2025-02-11T13:56:41.048452+00:00");
        }
        "sekoia-issue-toxic-combination-data-finding.json"
        | "sekoia-issue-toxic-combination-security-tool-finding.json" => {
            assert_eq!(a.vendor_event_id.as_deref(), Some("eventId1"));
            assert_eq!(a.severity, Severity::High);
            assert_eq!(a.title, "Publicly Exposed Assets with DataFindings");
            assert_eq!(tag("resource.name"), Some("GDPR 2415"));
            let kind = if name.contains("data-finding") {
                "DATA_FINDING"
            } else {
                "SECURITY_TOOL_FINDING"
            };
            assert_eq!(tag("resource.type"), Some(kind));
            assert_eq!(a.time.to_rfc3339(), "2023-09-12T08:33:16.327851+00:00");
        }
        other => panic!("{other}: new Wiz sample without expectations; add them here"),
    }
}

#[test]
fn every_wiz_sample_parses_or_is_refused_with_a_reason() {
    let samples = samples("wiz");
    assert_eq!(samples.len(), 8);
    for (name, payload) in &samples {
        check_wiz(name, parse(AlertSource::Wiz, payload));
    }
}

#[test]
fn each_parser_refuses_the_other_vendors_samples() {
    for (name, payload) in samples("wiz") {
        assert!(parse(AlertSource::GuardDuty, &payload).is_err(), "{name}");
    }
    for (name, payload) in samples("guardduty") {
        assert!(parse(AlertSource::Wiz, &payload).is_err(), "{name}");
    }
}

/// Every JSON pointer of a value (objects' fields and arrays' items, all depths).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => map.iter().for_each(|(k, c)| {
            let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(p.clone());
            pointers(c, p, out);
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, c)| {
            let p = format!("{at}/{i}");
            out.push(p.clone());
            pointers(c, p, out);
        }),
        _ => {}
    }
}

#[test]
fn mutated_samples_never_panic() {
    let replacements = [
        json!(null),
        json!(-1.5e300),
        json!(u64::MAX),
        json!([1, "a", null]),
        json!("not-an-ip:99999"),
        json!({}),
    ];
    let mut checked = 0;
    for (source, dir) in [
        (AlertSource::GuardDuty, "guardduty"),
        (AlertSource::Wiz, "wiz"),
    ] {
        for (name, payload) in samples(dir) {
            let mut paths = Vec::new();
            pointers(&payload, String::new(), &mut paths);
            for path in &paths {
                for r in &replacements {
                    let mut p = payload.clone();
                    *p.pointer_mut(path).unwrap() = r.clone();
                    match parse(source, &p) {
                        Ok(alerts) => assert!(!alerts.is_empty(), "{name}{path}"),
                        Err(e) => assert!(!e.field_errors().is_empty(), "{name}{path}: {e}"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}
