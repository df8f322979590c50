use super::*;
use chrono::TimeZone;

fn parse_bytes(path: &str, bytes: &[u8]) -> Vec<Result<Event, ArtifactError>> {
    let ctx = ArtifactContext {
        host: "h".into(),
        original_path: path.into(),
        modified: None,
    };
    ShellHistory
        .parse(&ctx, Box::new(std::io::Cursor::new(bytes.to_vec())))
        .collect()
}

fn events(path: &str, text: &str) -> Vec<Event> {
    parse_bytes(path, text.as_bytes())
        .into_iter()
        .map(|r| r.expect("no errors"))
        .collect()
}

fn cmds(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.attr("cmd").unwrap_or_default())
        .collect()
}

fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

#[test]
fn plain_bash_history_has_no_times_and_users_come_from_the_path() {
    let ev = events(
        "/home/bob/.bash_history",
        "ls -la\n\ncd /tmp\r\nwget http://x/a.sh\n",
    );
    assert_eq!(cmds(&ev), ["ls -la", "cd /tmp", "wget http://x/a.sh"]);
    assert!(
        ev.iter()
            .all(|e| e.time.is_none() && e.attr("username") == Some("bob"))
    );
    assert_eq!(ev[0].action, Action::ProcessRun);
    assert_eq!(ev[2].attr("file_name"), Some("wget"));
    assert_eq!(
        ev[2].origin,
        EventOrigin {
            parser: "shell_history".into(),
            path: "/home/bob/.bash_history".into(),
            record: Some(4)
        }
    );
    assert_eq!(ev[2].message, "bob ran: wget http://x/a.sh");
    assert_eq!(ev[0].attr("shell"), Some("bash"));
}

#[test]
fn bash_timestamps_date_only_the_next_command() {
    let ev = events(
        "/root/.bash_history",
        "#1700000000\nid\nwhoami\n#1700000100\n#1700000200\nuname -a\n#1700000300\n",
    );
    assert_eq!(cmds(&ev), ["id", "whoami", "uname -a"]);
    assert_eq!(ev[0].time, at(1_700_000_000));
    assert_eq!(ev[1].time, None);
    assert_eq!(ev[2].time, at(1_700_000_200));
    assert_eq!(ev[2].origin.record, Some(6));
    assert_eq!(ev[0].attr("username"), Some("root"));
    // A comment is a command too, just not a timestamp; tcsh writes `#+epoch`.
    let ev = events("/home/a/.history", "#+1700000000\n# note to self\n");
    assert_eq!(
        (ev[0].attr("cmd"), ev[0].time, ev[0].attr("file_name")),
        (Some("# note to self"), at(1_700_000_000), None)
    );
}

#[test]
fn zsh_extended_history_and_multi_line_commands() {
    let text =
        ": 1700000000:0;ls\n: 1700000005:3;for f in *; do\\\necho $f\\\ndone\nplain command\n";
    let ev = events("/home/zed/.zsh_history", text);
    assert_eq!(
        cmds(&ev),
        ["ls", "for f in *; do\necho $f\ndone", "plain command"]
    );
    assert_eq!(
        (ev[0].time, ev[1].time, ev[2].time),
        (at(1_700_000_000), at(1_700_000_005), None)
    );
    assert_eq!(
        (ev[1].attr("elapsed_seconds"), ev[1].attr("lines")),
        (Some("3"), Some("3"))
    );
    assert_eq!(ev[1].attr("file_name"), None);
    assert_eq!(ev[1].origin.record, Some(2));
    assert_eq!(
        ev[1].message,
        "zed ran: for f in *; do \\n echo $f \\n done"
    );
}

#[test]
fn zsh_metafied_bytes_are_restored() {
    // "σ" is CF 83 in UTF-8; zsh stores the 0x83 byte as 0x83 0xA3.
    let ev = parse_bytes(
        "/home/z/.zsh_history",
        b": 1700000000:0;echo \xcf\x83\xa3\n",
    );
    assert_eq!(ev[0].as_ref().unwrap().attr("cmd"), Some("echo σ"));
}

#[test]
fn bad_zsh_times_are_errors_and_parsing_goes_on() {
    let out = parse_bytes(
        "/home/z/.zsh_history",
        b": 99999999999999999999:0;boom\n: 1700000000:0;ok\n",
    );
    assert!(matches!(
        &out[0],
        Err(ArtifactError::Record { record: 1, .. })
    ));
    assert_eq!(out[1].as_ref().unwrap().attr("cmd"), Some("ok"));
    let out = parse_bytes("/home/b/.bash_history", b"#99999999999999999999\nls\n");
    assert!(out[0].is_err());
    assert_eq!(out[1].as_ref().unwrap().time, None);
}

#[test]
fn invalid_utf8_is_lossy_and_a_dangling_continuation_ends_cleanly() {
    let out = parse_bytes("/home/b/.bash_history", b"echo \xff\xfe\n");
    assert_eq!(
        out[0].as_ref().unwrap().attr("cmd"),
        Some("echo \u{fffd}\u{fffd}")
    );
    let out = parse_bytes("/home/z/.zsh_history", b"echo a\\");
    assert_eq!(out[0].as_ref().unwrap().attr("cmd"), Some("echo a\\"));
}

#[test]
fn program_names_skip_assignments_and_keywords() {
    assert_eq!(program_name("/usr/bin/python3 -c 'x'"), Some("python3"));
    assert_eq!(
        program_name("LD_PRELOAD=/tmp/x.so FOO=1 ./run.sh arg"),
        Some("run.sh")
    );
    assert_eq!(program_name("sudo -i"), Some("sudo"));
    assert_eq!(program_name("ls;"), Some("ls"));
    for cmd in [
        "",
        "   ",
        "for i in 1; do :; done",
        "$(echo x)",
        "'quoted'",
        "(cd /; ls)",
        "{ ls; }",
        "X=1",
    ] {
        assert_eq!(program_name(cmd), None, "{cmd:?}");
    }
}

#[test]
fn users_from_paths() {
    assert_eq!(user_from_path("/home/alice/.bash_history"), Some("alice"));
    assert_eq!(user_from_path("/root/.zsh_history"), Some("root"));
    assert_eq!(user_from_path("/Users/mac/.zsh_history"), Some("mac"));
    assert_eq!(user_from_path("/var/lib/postgresql/.bash_history"), None);
    assert_eq!(user_from_path("/home/.bash_history"), None);
    assert_eq!(user_from_path(".bash_history"), None);
}

#[test]
fn claims_history_files_only() {
    for p in [
        "/root/.bash_history",
        "/home/a/.zsh_history",
        "/home/a/.sh_history",
        "/root/.ash_history",
        "/home/a/.histfile",
    ] {
        assert!(ShellHistory.claims(p), "{p}");
    }
    for p in [
        "/home/a/.bashrc",
        "/home/a/.bash_history.bak",
        "/var/log/auth.log",
    ] {
        assert!(!ShellHistory.claims(p), "{p}");
    }
}
