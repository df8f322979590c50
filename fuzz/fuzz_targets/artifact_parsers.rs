//! Any bytes as every artifact the parsers claim (plain and gzip-sniffed): records may
//! fail, the parser must never panic or stop early on its own.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riposte_artifacts::{ArtifactContext, open_artifact, parsers};

const PATHS: &[&str] = &[
    "/var/log/auth.log", "/var/log/secure", "/root/.bash_history", "/home/a/.zsh_history",
    "/root/.local/share/fish/fish_history", "/var/log/syslog", "/var/log/wtmp", "/var/log/btmp",
    "/var/log/lastlog", "/var/log/audit/audit.log", "/var/log/journal/m/system.journal",
    "/etc/crontab", "/var/spool/cron/crontabs/a", "/etc/systemd/system/a.service",
    "/root/.ssh/authorized_keys", "/etc/passwd", "/etc/shadow", "/etc/group",
    "/var/log/nginx/access.log", "/var/log/dpkg.log", "/var/log/apt/history.log",
    "/var/log/yum.log", "/var/log/dnf.log", "/etc/ld.so.preload",
    "/AWSLogs/1/CloudTrail/us-east-1/2024/01/01/1_CloudTrail_us-east-1_x.json.gz",
    "/$MFT",
    "/Users/a/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
    "/Windows/System32/Tasks/T",
    "/Windows/System32/config/SYSTEM", "/Windows/System32/config/SOFTWARE", "/Users/a/NTUSER.DAT",
    "/Windows/AppCompat/Programs/Amcache.hve", "/Windows/Prefetch/A.EXE-00000000.pf",
];

fuzz_target!(|data: &[u8]| {
    for path in PATHS {
        for parser in parsers().iter().filter(|p| p.claims(path)) {
            let ctx = ArtifactContext { host: "fuzz".into(), original_path: path.to_string(), modified: None };
            if let Ok(reader) = open_artifact(data) {
                for _ in parser.parse(&ctx, reader) {}
            }
        }
    }
});
