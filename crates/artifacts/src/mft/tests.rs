use super::*;

/// FILETIME of a Unix time.
fn ft(unix: i64) -> u64 {
    ((unix + 11_644_473_600) * 10_000_000) as u64
}

struct Spec<'a> {
    flags: u16,
    sequence: u16,
    /// SI born, modified, changed, accessed.
    si: [i64; 4],
    /// FN born, modified, changed, accessed.
    fn_times: [i64; 4],
    parent: (u64, u16),
    name: &'a str,
    data: Option<u64>,
}

fn attribute(kind: u32, value: &[u8]) -> Vec<u8> {
    let len = (24 + value.len()).div_ceil(8) * 8;
    let mut a = vec![0u8; len];
    a[0..4].copy_from_slice(&kind.to_le_bytes());
    a[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    a[0x10..0x14].copy_from_slice(&(value.len() as u32).to_le_bytes());
    a[0x14..0x16].copy_from_slice(&24u16.to_le_bytes());
    a[24..24 + value.len()].copy_from_slice(value);
    a
}

fn record(spec: &Spec) -> Vec<u8> {
    let mut r = vec![0u8; 1024];
    r[0..4].copy_from_slice(b"FILE");
    r[4..6].copy_from_slice(&0x30u16.to_le_bytes());
    r[6..8].copy_from_slice(&3u16.to_le_bytes());
    r[0x10..0x12].copy_from_slice(&spec.sequence.to_le_bytes());
    r[0x14..0x16].copy_from_slice(&0x38u16.to_le_bytes());
    r[0x16..0x18].copy_from_slice(&spec.flags.to_le_bytes());
    r[0x1C..0x20].copy_from_slice(&1024u32.to_le_bytes());
    let mut si = vec![0u8; 48];
    for (i, t) in spec.si.iter().enumerate() {
        if *t != 0 {
            si[i * 8..i * 8 + 8].copy_from_slice(&ft(*t).to_le_bytes());
        }
    }
    let units: Vec<u16> = spec.name.encode_utf16().collect();
    let mut fname = vec![0u8; 0x42 + 2 * units.len()];
    let parent = spec.parent.0 | (u64::from(spec.parent.1) << 48);
    fname[0..8].copy_from_slice(&parent.to_le_bytes());
    for (i, t) in spec.fn_times.iter().enumerate() {
        fname[8 + i * 8..16 + i * 8].copy_from_slice(&ft(*t).to_le_bytes());
    }
    fname[0x30..0x38].copy_from_slice(&7u64.to_le_bytes());
    fname[0x40] = units.len() as u8;
    fname[0x41] = 1;
    for (i, u) in units.iter().enumerate() {
        fname[0x42 + 2 * i..0x44 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let mut attrs = attribute(0x10, &si);
    attrs.extend(attribute(0x30, &fname));
    if let Some(size) = spec.data {
        attrs.extend(attribute(0x80, &vec![b'x'; size as usize]));
    }
    attrs.extend(u32::MAX.to_le_bytes());
    attrs.extend([0u8; 4]);
    r[0x38..0x38 + attrs.len()].copy_from_slice(&attrs);
    r[0x18..0x1C].copy_from_slice(&((0x38 + attrs.len()) as u32).to_le_bytes());
    // Fixups: sequence number 0x0102 at the end of both sectors.
    r[0x30..0x32].copy_from_slice(&[2, 1]);
    for sector in 0..2 {
        let at = sector * 512 + 510;
        r[0x32 + 2 * sector] = r[at];
        r[0x33 + 2 * sector] = r[at + 1];
        r[at] = 2;
        r[at + 1] = 1;
    }
    r
}

fn dir(name: &str, parent: u64, sequence: u16, flags: u16) -> Vec<u8> {
    record(&Spec {
        flags,
        sequence,
        si: [100, 100, 100, 100],
        fn_times: [100, 100, 100, 100],
        parent: (parent, 0),
        name,
        data: None,
    })
}

fn parse(bytes: Vec<u8>) -> Vec<Result<Event, ArtifactError>> {
    let ctx = ArtifactContext {
        host: "ws01".into(),
        original_path: "/$MFT".into(),
        modified: None,
    };
    Mft.parse(&ctx, Box::new(std::io::Cursor::new(bytes)))
        .collect()
}

fn table() -> Vec<u8> {
    let mut mft = vec![0u8; 1024 * 40];
    let mut put = |n: usize, r: Vec<u8>| mft[n * 1024..(n + 1) * 1024].copy_from_slice(&r);
    put(5, dir(".", 5, 5, 3));
    put(30, dir("Windows", 5, 1, 3));
    put(31, dir("Temp", 30, 1, 3));
    // A file in Temp whose SI birth predates its FN birth (timestomped).
    put(
        32,
        record(&Spec {
            flags: 1,
            sequence: 4,
            si: [1_000, 2_000, 3_000, 2_000],
            fn_times: [5_000, 5_000, 5_000, 5_000],
            parent: (31, 1),
            name: "evil.exe",
            data: Some(300),
        }),
    );
    // A deleted file whose directory (record 33) was deleted and reused.
    put(33, dir("NewDir", 5, 3, 3));
    put(
        34,
        record(&Spec {
            flags: 0,
            sequence: 2,
            si: [7_000, 7_000, 7_000, 7_000],
            fn_times: [7_000, 7_000, 7_000, 7_000],
            parent: (33, 1),
            name: "gone.txt",
            data: Some(5),
        }),
    );
    // Garbage and a torn record.
    mft[35 * 1024..35 * 1024 + 8].copy_from_slice(b"garbage!");
    let mut torn = dir("torn", 5, 1, 3);
    torn[1022] = 0x55;
    mft[36 * 1024..37 * 1024].copy_from_slice(&torn);
    mft
}

#[test]
fn claims_mft_only() {
    assert!(Mft.claims("/$MFT"));
    assert!(Mft.claims("C:\\$mft"));
    assert!(!Mft.claims("/$MFTMirr"));
    assert!(!Mft.claims("/etc/mft"));
}

#[test]
fn files_get_full_paths_macb_events_and_timestomp_marks() {
    let results = parse(table());
    let events: Vec<&Event> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let evil: Vec<&&Event> = events
        .iter()
        .filter(|e| e.attr("file_name") == Some("evil.exe"))
        .collect();
    let summary: Vec<(i64, &str, Option<&str>)> = evil
        .iter()
        .map(|e| {
            (
                e.time.unwrap().timestamp(),
                e.attr("macb").unwrap(),
                e.attr("fn_macb"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1_000, "...b", None),
            (2_000, "ma..", None),
            (3_000, "..c.", None),
            (5_000, "....", Some("macb")),
        ]
    );
    let e = evil[0];
    assert_eq!(e.attr("file_path"), Some("/Windows/Temp/evil.exe"));
    assert_eq!(e.attr("mft_record"), Some("32"));
    assert_eq!(e.attr("size"), Some("300"));
    assert_eq!(e.attr("si_fn_mismatch"), Some("true"));
    assert_eq!(e.action, Action::FileCreate);
    assert_eq!(evil[1].action, Action::FileWrite);
    assert_eq!(evil[2].action, Action::FileExists);
    assert_eq!(evil[3].action, Action::FileCreate);
    assert_eq!(evil[3].attr("time_source"), Some("$FILE_NAME"));
    assert!(e.raw.contains("\"record\":32"));

    let gone = events
        .iter()
        .find(|e| e.attr("file_name") == Some("gone.txt"))
        .unwrap();
    assert_eq!(gone.attr("deleted"), Some("true"));
    assert_eq!(gone.attr("file_path"), Some("/$OrphanFiles/gone.txt"));
    assert_eq!(gone.attr("macb"), Some("macb"));
    assert_eq!(gone.attr("fn_macb"), Some("macb"));

    let root = events.iter().find(|e| e.origin.record == Some(5)).unwrap();
    assert_eq!(root.attr("file_path"), Some("/"));
    let temp = events.iter().find(|e| e.origin.record == Some(31)).unwrap();
    assert_eq!(temp.attr("file_path"), Some("/Windows/Temp"));
    assert_eq!(temp.attr("directory"), Some("true"));
    assert!(temp.attr("si_fn_mismatch").is_none());

    let errors: Vec<u64> = results
        .iter()
        .filter_map(|r| match r {
            Err(ArtifactError::Record { record, .. }) => Some(*record),
            _ => None,
        })
        .collect();
    assert_eq!(errors, vec![35, 36]);
}

#[test]
fn truncated_and_hostile_tables_do_not_panic() {
    let mut mft = table();
    mft.truncate(32 * 1024 + 700);
    let results = parse(mft);
    assert!(matches!(
        results.last(),
        Some(Err(ArtifactError::Record { record: 32, .. }))
    ));
    // A directory loop and self-parented records.
    let mut mft = vec![0u8; 1024 * 12];
    mft[10 * 1024..11 * 1024].copy_from_slice(&dir("a", 11, 1, 3));
    mft[11 * 1024..12 * 1024].copy_from_slice(&dir("b", 10, 1, 3));
    let results = parse(mft);
    assert!(results.iter().all(Result::is_ok));
    assert!(results.iter().all(|r| {
        r.as_ref()
            .unwrap()
            .attr("file_path")
            .unwrap()
            .starts_with("/$OrphanFiles")
    }));
    assert!(parse(Vec::new()).is_empty());
    for len in [1, 4, 100, 1023, 1025] {
        let _ = parse(vec![0x46; len]);
    }
}

#[test]
fn filetimes_convert_with_full_precision() {
    assert_eq!(filetime(0), None);
    let t = filetime(ft(1_700_000_000) + 1234567).unwrap();
    assert_eq!(t.timestamp(), 1_700_000_000);
    assert_eq!(t.timestamp_subsec_nanos(), 123_456_700);
    assert!(filetime(u64::MAX).is_some() || filetime(u64::MAX).is_none());
}
