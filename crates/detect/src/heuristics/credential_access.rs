//! Credential theft on cloud Linux hosts: the instance metadata service's role
//! credentials (ATT&CK T1552.005), password hashes in `/etc/shadow` (T1003.008), and
//! cloud CLI credential files (T1552.001): what TeamTNT's scripts collect first.
//!
//! On command lines (see `commands`):
//! - `imds_credentials` (High): a metadata-service credentials path, which hands out the
//!   instance role's temporary keys: AWS `/latest/meta-data/iam/security-credentials/`
//!   (and `identity-credentials/ec2/…`, Alibaba's `ram/security-credentials`), ECS
//!   `169.254.170.2/v2/credentials` or `$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, GCP
//!   `computeMetadata/v1/instance/service-accounts/…/token`, Azure
//!   `metadata/identity/oauth2/token`;
//! - `imds_user_data` (Medium): user data and GCP instance attributes, where bootstrap
//!   secrets (and GKE's `kube-env`) live;
//! - `imds_query` (Low): any other request to the metadata service (`169.254.169.254`,
//!   `[fd00:ec2::254]`, `metadata.google.internal`, …), IMDSv2 token requests
//!   (`PUT /latest/api/token`) included: every query needs one, so alone it is context;
//! - `shadow_read` (Medium): `/etc/shadow` or `/etc/gshadow` read or copied (`cat`,
//!   `cp`, `tar`, `grep`, `base64`, …); `shadow_stolen` (High) when the hashes go to a
//!   cracker (`unshadow`, `john`, `hashcat`) or leave the host (`curl -F …@/etc/shadow`,
//!   `nc … < /etc/shadow`, `scp /etc/shadow host:`);
//! - cloud credential files (`~/.aws/credentials`, `~/.docker/config.json`,
//!   `~/.kube/config`, `/etc/kubernetes/admin.conf`, gcloud and Azure token caches,
//!   `.git-credentials`, `.s3cfg`): `cloud_credentials_read` (Low) when displayed
//!   (`cat`, `grep`, …; routine for their owner), `cloud_credentials_copied` (Medium)
//!   when copied, archived or encoded, `cloud_credentials_stolen` (High) when uploaded
//!   or piped to the network. `cp /etc/kubernetes/admin.conf ~/.kube/config`, the
//!   kubeadm set-up step, raises nothing.
//!
//! Listing (`ls -l /etc/shadow`), permission changes and editors raise nothing.
//!
//! Elsewhere: a connection to the metadata service (a process-level network event) is Low
//! `imds_connection`, one alarm per process; a web request whose URL carries a
//! metadata-service address or path (percent-decoded) is `imds_ssrf`, the Capital One
//! shape: Low when the server refused it, Medium when it answered 2xx, High when it
//! answered 2xx for a credentials path.

use super::commands::carries_command;
use super::commands::{Finding, Findings, Rule, Rules, Scope, techniques};
use crate::{Detector, shorten};
use regex::{Regex, RegexSet};
use riposte_model::{Action, Alarm, Event, Severity};
use std::sync::LazyLock;

/// Metadata-service addresses (IMDS of AWS, Azure, GCP, Alibaba; ECS task endpoint),
/// including the decimal and hex forms of 169.254.169.254 used to dodge filters.
const IMDS_HOSTS: &[&str] = &[
    "169.254.169.254",
    "fd00:ec2::254",
    "metadata.google.internal",
    "metadata.goog",
    "100.100.100.200",
    "169.254.170.2",
    "2852039166",
    "0xa9fea9fe",
];

const FRAGMENTS: &[(&str, &str)] = &[
    (
        "IMDS",
        r"(?i:169\.254\.169\.254|\[?fd00:ec2::254\]?|metadata\.google\.internal|metadata\.goog\b|100\.100\.100\.200|169\.254\.170\.2\b|2852039166|0xa9fea9fe)",
    ),
    (
        "CRED_PATH",
        r"(?i:latest/meta-data/(?:iam|identity-credentials/ec2|ram)/security-credentials|computeMetadata/v1/instance/service-accounts/\S*token|metadata/identity/oauth2/token|169\.254\.170\.2(?::\d+)?/v2/credentials|\$\{?AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)",
    ),
    (
        "USER_DATA",
        r"(?i:latest/user-data|computeMetadata/v1/(?:instance|project)/attributes|metadata/instance/compute/(?:userData|customData))",
    ),
    ("SHADOW", r"/etc/g?shadow-?(?:$|[\s;&|)'\x22])"),
    (
        "CLOUD_CREDS",
        r"(?:\.aws/credentials|\.docker/config\.json|\.kube/config|/etc/kubernetes/admin\.conf|\.config/gcloud/(?:credentials\.db|access_tokens\.db|application_default_credentials\.json|legacy_credentials)|\.azure/(?:accessTokens\.json|msal_token_cache\.\w+)|\.git-credentials|\.s3cfg|\.passwd-s3fs)\b",
    ),
    // Programs that read or copy a file named later on their command line.
    (
        "READER",
        r"\b(?:cat|tac|less|more|head|tail|nl|strings|xxd|od|hexdump|base64|base32|cp|scp|rsync|tar|zip|7z|gzip|bzip2|grep|egrep|fgrep|awk|gawk|sed|cut|sort|python[0-9.]*|perl|ruby|php|dd|openssl|unshadow)\b",
    ),
    // Programs that display a file named later on their command line.
    (
        "DISPLAY",
        r"\b(?:cat|tac|less|more|head|tail|nl|grep|egrep|fgrep|awk|gawk|sed|cut|sort|python[0-9.]*|perl|ruby|php)\b",
    ),
    // Programs that copy, archive or encode a file named later on their command line.
    (
        "COPIER",
        r"\b(?:cp|scp|rsync|tar|zip|7z|gzip|bzip2|base64|base32|xxd|od|hexdump|strings|dd|openssl)\b",
    ),
    // curl/wget upload options followed by the file.
    (
        "UPLOAD",
        r"\b(?:curl|wget)\b[^;&|]*(?:-F\s*[\x22']?[\w.-]*=@|-T\s*|--upload-file[= ]\s*|--data-binary[= ]\s*@|--data[= ]\s*@|-d\s*@|--post-file[= ])\s*[\x22']?\S*",
    ),
];

const RULES: &[Rule] = &[
    Rule {
        id: "imds_credentials",
        title: "Cloud role credentials requested from the metadata service",
        why: "The instance metadata service's credentials endpoint was queried: it returns \
              the instance role's temporary access keys, which work from anywhere until they \
              expire. Check CloudTrail (or the provider's audit log) for calls with this \
              role's keys from outside the instance.",
        severity: Severity::High,
        mitre: &[("credential-access", "T1552.005")],
        scope: Scope::Any,
        alternatives: &[&[r"{CRED_PATH}"]],
    },
    Rule {
        id: "imds_user_data",
        title: "Instance user data read from the metadata service",
        why: "Instance user data (or instance attributes) was read from the metadata service; \
              bootstrap scripts often hold passwords, tokens or cluster join secrets.",
        severity: Severity::Medium,
        mitre: &[("credential-access", "T1552.005")],
        scope: Scope::Any,
        alternatives: &[&[r"{USER_DATA}"]],
    },
    Rule {
        id: "imds_query",
        title: "Cloud metadata service queried",
        why: "The instance metadata service was queried (or an IMDSv2 token requested): \
              routine for cloud tooling, and the first step of role-credential theft.",
        severity: Severity::Low,
        mitre: &[("discovery", "T1580"), ("credential-access", "T1552.005")],
        scope: Scope::Any,
        alternatives: &[
            &[r"(?i:https?://)\[?{IMDS}"],
            &[
                r"\b(?:curl|wget|Invoke-WebRequest|Invoke-RestMethod|iwr|irm)\b[^;&|]*\s[\x22']?\[?{IMDS}",
            ],
        ],
    },
    Rule {
        id: "shadow_stolen",
        title: "Password hashes sent to a cracker or off the host",
        why: "The shadow password hashes were fed to a password cracker or sent over the \
              network: every local password that falls to cracking is a credential for this \
              host and any other sharing it.",
        severity: Severity::High,
        mitre: &[
            ("credential-access", "T1003.008"),
            ("credential-access", "T1110.002"),
        ],
        scope: Scope::Ran,
        alternatives: &[
            &[r"\bunshadow\b"],
            &[r"\b(?:john|hashcat)\b[^;&|]*(?:shadow|--wordlist|--format[= ]|-m\s*1800\b)"],
            &[r"{UPLOAD}/etc/g?shadow"],
            &[r"\b(?:nc|ncat|netcat|socat)\b[^;&|]*<\s*{SHADOW}"],
            &[r"{SHADOW}[^;&]*\|\s*(?:curl|wget|nc|ncat|netcat|socat)\b"],
            &[r"\bscp\b[^;&|]*\s{SHADOW}\s*\S*:"],
        ],
    },
    Rule {
        id: "shadow_read",
        title: "Password hashes read from /etc/shadow",
        why: "/etc/shadow (or /etc/gshadow) holds the local password hashes; reading or \
              copying it is the first step to cracking them offline.",
        severity: Severity::Medium,
        mitre: &[("credential-access", "T1003.008")],
        scope: Scope::Ran,
        alternatives: &[&[r"{READER}[^;&|]*\s{SHADOW}"], &[r"<\s*{SHADOW}"]],
    },
    Rule {
        id: "cloud_credentials_stolen",
        title: "Cloud credential file sent off the host",
        why: "A cloud or container credential file was uploaded or piped to the network: its \
              keys now work for whoever received them. Rotate them and review their use.",
        severity: Severity::High,
        mitre: &[
            ("credential-access", "T1552.001"),
            ("exfiltration", "T1048"),
        ],
        scope: Scope::Any,
        alternatives: &[
            &[r"{UPLOAD}{CLOUD_CREDS}"],
            &[r"{CLOUD_CREDS}[^;&]*\|\s*(?:curl|wget|nc|ncat|netcat|socat)\b"],
            &[r"\b(?:nc|ncat|netcat|socat)\b[^;&|]*<\s*\S*{CLOUD_CREDS}"],
        ],
    },
    Rule {
        id: "cloud_credentials_copied",
        title: "Cloud credential file copied or encoded",
        why: "A file holding cloud or container credentials (AWS keys, registry logins, \
              cluster certificates, tokens) was copied, archived or encoded: TeamTNT-style \
              scripts collect exactly these files before sending them away.",
        severity: Severity::Medium,
        mitre: &[("credential-access", "T1552.001")],
        scope: Scope::Ran,
        alternatives: &[&[r"{COPIER}[^;&|]*\s[\x22']?\S*{CLOUD_CREDS}"]],
    },
    Rule {
        id: "cloud_credentials_read",
        title: "Cloud credential file read",
        why: "A file holding cloud or container credentials (AWS keys, registry logins, \
              cluster certificates, tokens) was displayed: routine for its owner, and the \
              way an intruder looks for keys to take.",
        severity: Severity::Low,
        mitre: &[("credential-access", "T1552.001")],
        scope: Scope::Ran,
        alternatives: &[&[r"{DISPLAY}[^;&|]*\s[\x22']?\S*{CLOUD_CREDS}"]],
    },
];

static COMPILED: LazyLock<Rules> = LazyLock::new(|| Rules::compile(RULES, FRAGMENTS));

/// `cp /etc/kubernetes/admin.conf $HOME/.kube/config`: the kubeadm set-up step.
static KUBEADM_SETUP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:sudo\s+)?cp\s+(?:-\S+\s+)*/etc/kubernetes/admin\.conf\s+\S*\.kube/config\s*$")
        .expect("valid built-in pattern")
});

/// For web requests: [IMDS host, credentials path, user data path].
static REQUEST: LazyLock<RegexSet> = LazyLock::new(|| {
    let fragment = |name: &str| {
        FRAGMENTS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, p)| p)
    };
    RegexSet::new([
        fragment("IMDS"),
        fragment("CRED_PATH"),
        fragment("USER_DATA"),
    ])
    .expect("valid built-in patterns")
});

/// Detects metadata-service credential theft, shadow reads and cloud credential files.
#[derive(Debug, Clone, Copy, Default)]
pub struct CredentialAccess;

impl Detector for CredentialAccess {
    fn name(&self) -> &'static str {
        "credential_access"
    }

    fn wants(&self, e: &Event) -> bool {
        carries_command(e)
            || match e.action {
                Action::NetworkOutgoing | Action::NetworkFailed => e
                    .attr("remote_ip")
                    .or_else(|| e.attr("remote_host"))
                    .is_some_and(is_imds_host),
                Action::NetworkIncoming => e.attr("url").or_else(|| e.attr("request")).is_some(),
                _ => false,
            }
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        COMPILED.scan(events, &mut findings, |rule, line| match rule.id {
            "cloud_credentials_copied" if KUBEADM_SETUP.is_match(line.text.trim()) => None,
            _ => Some(rule.severity),
        });
        for (index, e) in events.iter().enumerate() {
            match e.action {
                Action::NetworkOutgoing | Action::NetworkFailed => {
                    let remote = e.attr("remote_ip").or_else(|| e.attr("remote_host"));
                    if remote.is_some_and(is_imds_host) {
                        let process = e.attr("file_path").unwrap_or("unknown process");
                        findings.add("imds_connection", process, index, || connection(process, e));
                    }
                }
                Action::NetworkIncoming => {
                    if let Some(url) = e.attr("url").or_else(|| e.attr("request")) {
                        let decoded = percent_decode(url);
                        let hits = REQUEST.matches(&decoded);
                        if hits.matched_any() {
                            let (creds, user_data) = (hits.matched(1), hits.matched(2));
                            findings
                                .add("imds_ssrf", url, index, || ssrf(url, creds, user_data, e));
                        }
                    }
                }
                _ => {}
            }
        }
        findings.into_alarms(events)
    }
}

fn is_imds_host(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']).trim_end_matches('.');
    IMDS_HOSTS.iter().any(|h| host.eq_ignore_ascii_case(h))
}

/// `%2F` → `/`, `+` kept; invalid escapes are kept as they are. Decodes twice at most
/// (double-encoding is a common filter bypass) and bounds the input.
pub(crate) fn percent_decode(s: &str) -> String {
    const MAX: usize = 16 * 1024;
    let mut text: String = s.chars().take(MAX).collect();
    for _ in 0..2 {
        if !text.contains('%') {
            break;
        }
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
                (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                    let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                    out.push(value as u8);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        text = String::from_utf8_lossy(&out).into_owned();
    }
    text
}

fn connection(process: &str, e: &Event) -> Finding {
    let remote = e
        .attr("remote_ip")
        .or_else(|| e.attr("remote_host"))
        .unwrap_or("?");
    Finding {
        rule: "imds_connection",
        title: format!("{process} connected to the cloud metadata service ({remote})"),
        why: format!(
            "{process} connected to the instance metadata service at {remote}. Cloud agents \
             do this routinely; any other program may be collecting the instance role's \
             credentials."
        ),
        severity: Severity::Low,
        mitre: techniques(&[("credential-access", "T1552.005")]),
    }
}

fn ssrf(url: &str, creds: bool, user_data: bool, e: &Event) -> Finding {
    let answered = e.attr("status").is_some_and(|s| s.starts_with('2'));
    let severity = if !answered {
        Severity::Low
    } else if creds {
        Severity::High
    } else {
        Severity::Medium
    };
    let from = e
        .attr("remote_ip")
        .or_else(|| e.attr("remote_host"))
        .map(|r| format!(" from {r}"))
        .unwrap_or_default();
    let status = e.attr("status").unwrap_or("?");
    let what = if creds {
        "the metadata service's role-credentials path"
    } else if user_data {
        "the metadata service's user-data path"
    } else {
        "the metadata service's address"
    };
    Finding {
        rule: "imds_ssrf",
        title: format!("Server-side request forgery towards the metadata service{from}: {url}"),
        why: format!(
            "A web request{from} carried {what} in its URL, asking the server to fetch it \
             (server-side request forgery); the server answered {status}. A 2xx answer to a \
             credentials path may mean the instance role's keys were handed out, as in the \
             2019 Capital One breach. Request: `{}`",
            shorten(url, 2000)
        ),
        severity,
        mitre: techniques(&[
            ("initial-access", "T1190"),
            ("credential-access", "T1552.005"),
        ]),
    }
}

#[cfg(test)]
mod tests;
