use super::*;
use crate::heuristics::testing::{cron_job, found, history, unit};
use crate::mitre;
use riposte_model::{Action, EventOrigin};

const WALLET: &str = "4AYsJqHjr7ytWhzUqoS3bSJbqfvZousaTMw8CdZTNjRyHZurh9HFSRB5QWUXVL1SdP4cz5CvVZ5SBE3Z4Zi9sUqeGqBHxHX";

fn one(cmd: &str) -> Vec<(String, Severity)> {
    found(&Cryptominer.detect(&history(&[cmd])))
}

#[test]
fn miners_with_pools_options_or_known_names_are_high() {
    for cmd in [
        "./xmrig -o stratum+tcp://pool.supportxmr.com:3333 -u x -p y",
        "nohup /tmp/.x/sysupdate -o pool.hashvault.pro:443 -u 4x --tls > /dev/null 2>&1 &",
        "/dev/shm/dbused --donate-level 1 -o 1.2.3.4:80",
        "/var/tmp/.k/kdevtmpfsi",
        "cd /tmp && ./xmr-stak -c config.txt",
        "xmrig --cpu-max-threads-hint=75 --background",
        "./x -a rx/0 -o xmr.2miners.com:2222",
        "sudo /opt/minerd --url=stratum+ssl://gulf.moneroocean.stream:20128",
        &format!("./svc -u {WALLET} -o 10.0.0.9:3333"),
        "C:\\Users\\Public\\XMRig.exe --coin monero",
    ] {
        assert_eq!(
            one(cmd),
            [("cryptominer".to_string(), Severity::High)],
            "{cmd}"
        );
    }
}

#[test]
fn a_pool_named_without_a_miner_is_medium() {
    assert_eq!(
        one("ping -c1 xmr-eu1.nanopool.org"),
        [("cryptominer".to_string(), Severity::Medium)]
    );
}

#[test]
fn mentions_clean_ups_and_look_alikes_raise_nothing() {
    for cmd in [
        "pkill -9 xmrig",
        "killall kdevtmpfsi kinsing",
        "rm -rf /tmp/kdevtmpfsi /tmp/kinsing",
        "ps aux | grep -v grep | grep xmrig",
        "curl https://example.com/mining-report.pdf -o r.pdf",
        "ssh -o StrictHostKeyChecking=no admin@10.0.0.1",
        "echo $HOME",
        "apt-get install -y minergate-docs-notreal", // not a program run, not a pool host
        "git clone https://github.com/example/poolside.com-clone",
        "ssh root@pool.example.org",
    ] {
        assert_eq!(one(cmd), [], "{cmd}");
    }
}

#[test]
fn scheduled_miners_add_the_persistence_technique() {
    let events = vec![
        cron_job(3, "/tmp/.x/xmrig -o stratum+tcp://c3pool.com:13333"),
        unit(
            "dbus-daemon.service",
            "/usr/local/bin/xmrig --config=/etc/x.json",
        ),
    ];
    let alarms = Cryptominer.detect(&events);
    assert_eq!(alarms.len(), 2);
    assert_eq!(alarms[0].event_refs, [0]);
    assert!(
        alarms[0]
            .title
            .starts_with("Cryptominer scheduled with cron by root")
    );
    assert_eq!(
        alarms[0].mitre,
        [mitre("impact", "T1496"), mitre("persistence", "T1053.003")]
    );
    assert!(
        alarms[1]
            .title
            .starts_with("Cryptominer installed as a systemd service")
    );
    assert_eq!(alarms[1].mitre[1], mitre("persistence", "T1543.002"));
    assert!(alarms[1].description.contains("miner program `xmrig`"));
}

#[test]
fn pool_connections_and_miner_files() {
    let origin = EventOrigin::default();
    let events = vec![
        Event::new(None, "w", Action::NetworkOutgoing, "c", origin.clone())
            .with("remote_host", "xmr-eu1.nanopool.org")
            .with("file_path", "C:\\Windows\\Temp\\svc.exe"),
        Event::new(None, "w", Action::NetworkOutgoing, "c", origin.clone())
            .with("remote_host", "notnanopool.org"),
        Event::new(None, "w", Action::FileCreate, "f", origin.clone())
            .with("path", "/tmp/.x/xmrig"),
        Event::new(None, "w", Action::FileWrite, "f", origin.clone()).with("path", "/tmp/.x/xmrig"),
        Event::new(None, "w", Action::FileCreate, "f", origin).with("path", "/home/bob/xmrig.md"),
    ];
    let alarms = Cryptominer.detect(&events);
    assert_eq!(
        found(&alarms),
        [
            ("cryptominer_pool_connection".to_string(), Severity::High),
            ("cryptominer_binary".to_string(), Severity::Medium)
        ]
    );
    assert_eq!(alarms[1].event_refs, [2, 3]);
}

#[test]
fn pool_of_matches_whole_labels() {
    assert_eq!(
        pool_of("gulf.moneroocean.stream"),
        Some("moneroocean.stream")
    );
    assert_eq!(pool_of("SUPPORTXMR.COM."), Some("supportxmr.com"));
    assert_eq!(pool_of("evilsupportxmr.com"), None);
}
