//! Host key verification: the server must prove it holds a key the scope pins (OpenSSH
//! `known_hosts` lines or `SHA256:` fingerprints), or one Riposte remembered when it first
//! met the host under trust on first use. Anything else refuses the connection, naming the
//! key the server offered so an operator can check it and pin it.

use hmac::{KeyInit, Mac};
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, KnownHosts, Marker};
use russh::keys::{HashAlg, PublicKey};

/// What the host's key must be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKeyPolicy {
    /// OpenSSH `known_hosts` lines (plain or hashed host names, `[host]:port`, wildcards,
    /// `!` negations, `@revoked`) and `SHA256:…` fingerprints valid for any host.
    pub known_hosts: Vec<String>,
    /// Accept a host with no known key, to be remembered by the caller.
    pub trust_on_first_use: bool,
    /// Fingerprints remembered for this host from an earlier first use.
    pub remembered: Vec<String>,
}

/// Why the key was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKeyTrust {
    /// A pinned `known_hosts` line or fingerprint matches.
    Pinned,
    /// The key Riposte remembered on first use.
    Remembered,
    /// Seen for the first time and accepted because the scope trusts on first use: the
    /// caller records it so a different key is refused later.
    FirstUse,
}

/// The server's key and why it was trusted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostKeyCheck {
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`, …
    pub algorithm: String,
    /// Why it was accepted.
    pub trust: HostKeyTrust,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyRefusal {
    /// No pinned key for the host, and the scope does not trust on first use.
    Unknown,
    /// The host has pinned or remembered keys and this is none of them.
    Changed {
        /// The fingerprints expected.
        expected: Vec<String>,
    },
    /// A `@revoked` line names this key.
    Revoked,
}

/// The `SHA256:…` fingerprint of `key`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl HostKeyPolicy {
    /// Checks the key `host` (reached on `port`) presented.
    pub fn check(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
    ) -> Result<HostKeyTrust, HostKeyRefusal> {
        let offered = fingerprint(key);
        let mut expected = Vec::new();
        for line in &self.known_hosts {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("SHA256:") {
                if line == offered {
                    return Ok(HostKeyTrust::Pinned);
                }
                continue;
            }
            for entry in KnownHosts::new(line).flatten() {
                if !entry_matches(&entry, host, port) {
                    continue;
                }
                let same = entry.public_key().key_data() == key.key_data();
                match entry.marker() {
                    Some(Marker::Revoked) if same => return Err(HostKeyRefusal::Revoked),
                    Some(_) => {}
                    None if same => return Ok(HostKeyTrust::Pinned),
                    None => expected.push(fingerprint(entry.public_key())),
                }
            }
        }
        if self.remembered.contains(&offered) {
            return Ok(HostKeyTrust::Remembered);
        }
        expected.extend(self.remembered.iter().cloned());
        if !expected.is_empty() {
            expected.sort();
            expected.dedup();
            return Err(HostKeyRefusal::Changed { expected });
        }
        if self.trust_on_first_use {
            return Ok(HostKeyTrust::FirstUse);
        }
        Err(HostKeyRefusal::Unknown)
    }
}

/// True when a `known_hosts` entry's host patterns name `host` on `port`.
fn entry_matches(entry: &Entry, host: &str, port: u16) -> bool {
    let name = if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    };
    match entry.host_patterns() {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.update(name.as_bytes());
            mac.finalize().into_bytes().as_slice() == hash.as_slice()
        }
        HostPatterns::Patterns(patterns) => {
            let mut matched = false;
            for pattern in patterns {
                let pattern = pattern.to_ascii_lowercase();
                if let Some(negated) = pattern.strip_prefix('!') {
                    if glob(negated, &name) {
                        return false;
                    }
                } else if glob(&pattern, &name) {
                    matched = true;
                }
            }
            matched
        }
    }
}

/// `*` any run of characters, `?` one character (OpenSSH's host pattern syntax).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn policy(lines: &[&str], tofu: bool) -> HostKeyPolicy {
        HostKeyPolicy {
            known_hosts: lines.iter().map(|l| l.to_string()).collect(),
            trust_on_first_use: tofu,
            remembered: Vec::new(),
        }
    }

    #[test]
    fn a_known_hosts_line_pins_its_hosts_and_ports() {
        let p = policy(&[&format!("web01,10.0.0.7 {ED25519}")], false);
        assert_eq!(
            p.check("web01", 22, &key(ED25519)),
            Ok(HostKeyTrust::Pinned)
        );
        assert_eq!(
            p.check("10.0.0.7", 22, &key(ED25519)),
            Ok(HostKeyTrust::Pinned)
        );
        assert!(matches!(
            p.check("web01", 22, &key(OTHER)),
            Err(HostKeyRefusal::Changed { .. })
        ));
        // Port 2222 is another host entry in OpenSSH's terms.
        assert_eq!(
            p.check("web01", 2222, &key(ED25519)),
            Err(HostKeyRefusal::Unknown)
        );
        let p = policy(&[&format!("[web*]:2222,![web09]:2222 {ED25519}")], false);
        assert_eq!(
            p.check("WEB02", 2222, &key(ED25519)),
            Ok(HostKeyTrust::Pinned)
        );
        assert_eq!(
            p.check("web09", 2222, &key(ED25519)),
            Err(HostKeyRefusal::Unknown)
        );
    }

    #[test]
    fn a_hashed_host_name_matches_like_openssh() {
        // `ssh-keygen -H` of "web01": HMAC-SHA1 of the name under the salt.
        let salt = [7u8; 20];
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"web01");
        let hash = mac.finalize().into_bytes();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = format!("|1|{}|{} {ED25519}", b64.encode(salt), b64.encode(hash));
        let p = policy(&[&line], false);
        assert_eq!(
            p.check("web01", 22, &key(ED25519)),
            Ok(HostKeyTrust::Pinned)
        );
        assert_eq!(
            p.check("web02", 22, &key(ED25519)),
            Err(HostKeyRefusal::Unknown)
        );
    }

    #[test]
    fn fingerprints_pin_any_host_and_first_use_is_only_for_unknown_hosts() {
        let fp = fingerprint(&key(ED25519));
        assert!(fp.starts_with("SHA256:"));
        let p = policy(&[&fp], false);
        assert_eq!(
            p.check("anything", 22, &key(ED25519)),
            Ok(HostKeyTrust::Pinned)
        );
        assert_eq!(
            p.check("anything", 22, &key(OTHER)),
            Err(HostKeyRefusal::Unknown)
        );
        let mut p = policy(&[], true);
        assert_eq!(p.check("new", 22, &key(OTHER)), Ok(HostKeyTrust::FirstUse));
        p.remembered = vec![fp.clone()];
        assert_eq!(
            p.check("new", 22, &key(ED25519)),
            Ok(HostKeyTrust::Remembered)
        );
        assert_eq!(
            p.check("new", 22, &key(OTHER)),
            Err(HostKeyRefusal::Changed { expected: vec![fp] })
        );
    }

    #[test]
    fn a_revoked_key_is_refused_even_under_trust_on_first_use() {
        let p = policy(&[&format!("@revoked * {ED25519}")], true);
        assert_eq!(
            p.check("web01", 22, &key(ED25519)),
            Err(HostKeyRefusal::Revoked)
        );
    }
}
