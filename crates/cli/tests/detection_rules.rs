//! `riposte investigate` runs the bundled SigmaHQ rules and the analyst's own rule folders
//! over the timeline: a folder of exported attack logs from the corpus (read where it is)
//! comes out malicious because of Sigma rules, and the options to leave the bundled rules
//! out and add a custom folder do what they say.

mod common;

use common::{corpus, investigate};
use serde_json::Value;
use std::process::Command;

fn sigma_titles(report: &Value) -> Vec<String> {
    report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["detector"].as_str().unwrap().starts_with("sigma:"))
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bundled_sigma_rules_find_the_attacks_in_a_folder_of_exported_logs() {
    let logs = corpus().join("evtx/Execution");
    let report = investigate(&logs, &[]);
    let evtx_files = std::fs::read_dir(&logs)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "evtx")
        })
        .count();
    assert_eq!(
        report["artifacts"].as_array().unwrap().len(),
        evtx_files,
        "a folder that is not a root filesystem is read file by file"
    );
    let titles = sigma_titles(&report);
    // Exec_sysmon_meterpreter_reversetcp_msipackage.evtx: cmd.exe spawned by msiexec
    // running as SYSTEM, which SigmaHQ's rule 1e53dd56-8d83-4eb4-a43e-b790a05510aa names.
    assert!(
        titles
            .iter()
            .any(|t| t == "Always Install Elevated MSI Spawned Cmd And Powershell"),
        "{titles:?}"
    );
    assert_eq!(
        report["verdict"]["verdict"],
        "Malicious Activity Identified"
    );
    let tagged = report["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["mitre"]
                .as_array()
                .is_some_and(|m| m.iter().any(|t| t["technique"] == "T1548.002"))
        })
        .count();
    assert!(tagged >= 1, "ATT&CK techniques come from the rules' tags");

    let without = investigate(&logs, &["--no-bundled-sigma"]);
    assert!(sigma_titles(&without).is_empty());
}

#[test]
fn a_custom_rule_folder_is_loaded_beside_or_instead_of_the_bundled_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("whoami.yml"),
        "title: Our whoami watch\nid: 0d9f6b7e-1b7e-4c52-9a55-0a4f2c1b9e01\nstatus: test\nlevel: high\ntags:\n  - attack.discovery\n  - attack.t1033\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\whoami.exe'\n  condition: selection\n",
    )
    .unwrap();
    let logs = corpus().join("evtx/Execution/Exec_sysmon_meterpreter_reversetcp_msipackage.evtx");
    let report = investigate(
        &logs,
        &[
            "--no-bundled-sigma",
            "--sigma-rules",
            rules.to_str().unwrap(),
        ],
    );
    assert_eq!(sigma_titles(&report), vec!["Our whoami watch".to_string()]);
    let alarm = &report["alarms"][0];
    assert_eq!(
        alarm["detector"],
        "sigma:0d9f6b7e-1b7e-4c52-9a55-0a4f2c1b9e01"
    );
    assert_eq!(alarm["severity"], "high");

    let missing = Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["investigate", "--sigma-bundled"])
        .arg(tmp.path().join("nowhere"))
        .arg(&logs)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--no-bundled-sigma"), "{stderr}");
}
