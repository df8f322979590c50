//! SSH keys planted for persistence (ATT&CK T1098.004): commands that write an
//! `authorized_keys` file, the first thing TeamTNT-style scripts do after getting in.
//!
//! Shapes, on command lines (see `commands`):
//! - a key fetched from the network into the file (`curl … >> ~/.ssh/authorized_keys`,
//!   `wget -O /root/.ssh/authorized_keys …`, `curl … | tee -a …`) → High
//!   `ssh_key_downloaded`: the key came from somewhere else, not from a user's hand
//!   (Medium when it is a user's public key list on GitHub, GitLab or Launchpad over
//!   https, which is how many administrators install their own keys);
//! - a write by redirection, `tee`, or copy (`echo ssh-rsa … >> …`, `cat x.pub >> …`,
//!   `cp key /root/.ssh/authorized_keys`) → `ssh_key_added`: Medium when the key looks
//!   planted (a literal key or a variable, a source in a temporary directory, or root's
//!   file), Low otherwise (`cat ~/.ssh/id_ed25519.pub >> ~/.ssh/authorized_keys`
//!   is how users set up their own logons);
//! - the file made immutable (`chattr +i …authorized_keys`) → Medium
//!   `ssh_keys_locked` (also T1222.002): locks the planted key in and the owner out of
//!   removing it.
//!
//! Reading the file (`cat ~/.ssh/authorized_keys`) or `ssh-copy-id` (which writes on the
//! remote side) raises nothing. `authorized_keys` files themselves have no time, so they
//! are not flagged here: every key would look the same.

use super::commands::carries_command;
use super::commands::{Findings, Rule, Rules, Scope};
use crate::Detector;
use regex::Regex;
use riposte_model::{Alarm, Event, Severity};
use std::sync::LazyLock;

const FRAGMENTS: &[(&str, &str)] = &[
    // The file, by any path (`~/.ssh/authorized_keys`, `/root/.ssh/authorized_keys2`).
    ("KEYS", r#"["']?[^\s;&|<>"']*authorized_keys2?\b"#),
];

const RULES: &[Rule] = &[
    Rule {
        id: "ssh_key_downloaded",
        title: "SSH key downloaded into authorized_keys",
        why: "A public key fetched from the network was written into an authorized_keys file: \
              whoever holds the private key can now log on, whatever the passwords.",
        severity: Severity::High,
        mitre: &[
            ("persistence", "T1098.004"),
            ("command-and-control", "T1105"),
        ],
        scope: Scope::Any,
        alternatives: &[
            &[
                r"\b(?:curl|wget)\b[^;&|]*(?:>>?|\s-[a-zA-Z]*[oO]\s*|--output(?:-document)?[= ])\s*{KEYS}",
            ],
            &[r"\b(?:curl|wget)\b[^;&]*\|\s*(?:sudo\s+)?tee\b[^;&|]*{KEYS}"],
            &[r"\b(?:curl|wget)\b[^;&]*\|\s*(?:sudo\s+)?(?:cat|sh\s+-c)\b[^;&|]*>>?\s*{KEYS}"],
        ],
    },
    Rule {
        id: "ssh_key_added",
        title: "SSH key added to authorized_keys",
        why: "A key was written into an authorized_keys file: whoever holds the matching \
              private key can log on as that user. Check the key's comment and fingerprint \
              against the keys the owners know.",
        severity: Severity::Medium,
        mitre: &[("persistence", "T1098.004")],
        scope: Scope::Any,
        alternatives: &[
            &[r">>?\s*{KEYS}"],
            &[r"\btee\b[^;&|]*\s{KEYS}"],
            &[r"\b(?:cp|mv|install|scp|rsync)\b[^;&|]*\s\S+\s+{KEYS}\s*(?:$|[;&|])"],
            &[r"\bdd\b[^;&|]*\bof={KEYS}"],
        ],
    },
    Rule {
        id: "ssh_keys_locked",
        title: "authorized_keys made immutable",
        why: "An authorized_keys file was given the immutable attribute: a planted key \
              cannot be removed, even by root, until the attribute is cleared.",
        severity: Severity::Medium,
        mitre: &[
            ("persistence", "T1098.004"),
            ("defense-evasion", "T1222.002"),
        ],
        scope: Scope::Any,
        alternatives: &[&[r"\bchattr\s+(?:-\S+\s+)*\+[a-zA-Z]*i[a-zA-Z]*\b[^;&|]*{KEYS}"]],
    },
];

/// A user's public keys as a code-hosting site serves them (`https://github.com/bob.keys`).
static PUBLIC_KEY_LIST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^|;&]*\bhttps://(?:github\.com/|gitlab\.com/|launchpad\.net/~)[\w.-]+(?:/\+sshkeys|\.keys)\b[^|;&]*(?:$|[|;&])")
        .expect("valid built-in pattern")
});

/// What makes a written key look planted: a literal key or a variable (not a file of
/// the user's), a source in a temporary directory, or root's own file.
static PLANTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-\S+|sk-ssh-\S+)\s+AAAA|\$\{?\w|(?:^|[\s=])(?:/tmp|/var/tmp|/dev/shm)/|/root/\.ssh/authorized_keys")
        .expect("valid built-in pattern")
});

static COMPILED: LazyLock<Rules> = LazyLock::new(|| Rules::compile(RULES, FRAGMENTS));

/// Detects commands that plant SSH keys in `authorized_keys`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SshKeyPersistence;

impl Detector for SshKeyPersistence {
    fn name(&self) -> &'static str {
        "ssh_key_persistence"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        COMPILED.scan(events, &mut findings, |rule, line| {
            Some(match rule.id {
                "ssh_key_downloaded" if PUBLIC_KEY_LIST.is_match(line.text) => Severity::Medium,
                "ssh_key_added" if !PLANTED.is_match(line.text) => Severity::Low,
                _ => rule.severity,
            })
        });
        findings.into_alarms(events)
    }
}

#[cfg(test)]
mod tests;
