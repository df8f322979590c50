//! Cryptocurrency miners: the most common payload on compromised cloud Linux hosts
//! (TeamTNT, Kinsing, 8220 Gang, WatchDog…), ATT&CK T1496 Resource Hijacking.
//!
//! A command line (see `commands`: what ran, cron jobs, systemd units) is a miner when it
//! shows one of these shapes:
//! - a stratum pool URL (`stratum+tcp://`, `stratum+ssl://`), the protocol only miners
//!   speak;
//! - a known miner program run by path or name (`xmrig`, `xmr-stak`, `minerd`,
//!   `cpuminer`, Kinsing's `kdevtmpfsi` and `kinsing`, …);
//! - XMRig-family options (`--donate-level`, `--cpu-max-threads-hint`, `-a rx/0`,
//!   `--coin monero`, …) or a Monero wallet address;
//! - a well-known pool domain (`*.supportxmr.com`, `*.nanopool.org`, `pool.hashvault.pro`,
//!   `*.2miners.com`, `c3pool.com`, `moneroocean.stream`, …) given to `-o`/`--url`.
//!
//! Any of these is High. A pool domain alone (named, not given to a miner option) is
//! Medium. A miner in a cron job or a systemd unit also maps to the persistence technique
//! (T1053.003 / T1543.002). Merely naming a miner as an argument (`pkill xmrig`,
//! `rm /tmp/kdevtmpfsi`) raises nothing: clean-up scripts, and miners killing their
//! rivals, do that.
//!
//! Outside command lines: a connection whose remote host is a pool domain is High, and a
//! file named like a miner binary on disk (a filesystem timeline) is Medium.

use super::commands::carries_command;
use super::commands::{Finding, Findings, Kind, base_name, by, command_lines, techniques};
use crate::{Detector, shorten};
use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
use riposte_model::{Alarm, EntityKind, Event, Severity};
use std::sync::LazyLock;

/// Miner program names (lowercase, without `.exe`).
const MINERS: &[&str] = &[
    "xmrig",
    "xmr-stak",
    "xmr-stak-cpu",
    "xmr-stak-rx",
    "minerd",
    "cpuminer",
    "cpuminer-multi",
    "cpuminer-opt",
    "kdevtmpfsi",
    "kinsing",
    "pwnrig",
    "ccminer",
    "cgminer",
    "bfgminer",
    "sgminer",
    "ethminer",
    "nbminer",
    "lolminer",
    "t-rex",
    "teamredminer",
    "gminer",
    "nanominer",
    "srbminer",
    "srbminer-multi",
    "phoenixminer",
    "xmr-node-proxy",
];

/// Mining pool domains (any subdomain matches).
const POOLS: &[&str] = &[
    "nanopool.org",
    "minexmr.com",
    "supportxmr.com",
    "hashvault.pro",
    "2miners.com",
    "c3pool.com",
    "c3pool.org",
    "moneroocean.stream",
    "xmrpool.eu",
    "xmrpool.net",
    "f2pool.com",
    "ethermine.org",
    "minergate.com",
    "herominers.com",
    "unmineable.com",
    "nicehash.com",
    "dwarfpool.com",
    "monerohash.com",
    "crypto-pool.fr",
    "viabtc.com",
    "antpool.com",
    "slushpool.com",
    "zpool.ca",
    "prohashing.com",
    "rplant.xyz",
    "kryptex.network",
    "woolypooly.com",
    "xmrfast.com",
    "miningpoolhub.com",
    "hashcity.org",
];

/// Pattern indices in [`SIGNALS`].
const STRATUM: usize = 0;
const POOL_HOST: usize = 1;
const MINER_OPTION: usize = 2;
const WALLET: usize = 3;
const POOL_OPTION: usize = 4;

static PATTERNS: LazyLock<[String; 5]> = LazyLock::new(|| {
    let pools = POOLS
        .iter()
        .map(|p| regex::escape(p))
        .collect::<Vec<_>>()
        .join("|");
    [
        r"(?i)\bstratum[0-9]?\+(?:tcp|ssl|tls)://[^\s'\x22]+".to_string(),
        format!(r"(?i)(?:^|[^a-z0-9.-])((?:[a-z0-9-]+\.)*(?:{pools}))(?::\d+)?(?:[/\s'\x22:,;)]|$)"),
        concat!(
            r"(?:^|\s)(--donate-level|--cpu-max-threads-hint|--randomx-1gb-pages|--max-cpu-usage",
            r"|--coin[= ](?i:monero|xmr)\b|(?:-a|--algo)[= ](?:rx/0|randomx|cryptonight|cn/r|rx/wow|kawpow|ethash)\b)"
        )
        .to_string(),
        r"(?:^|[\s.='\x22])([48][0-9AB][1-9A-HJ-NP-Za-km-z]{93})(?:$|[\s.'\x22])".to_string(),
        r"(?:^|\s)(?:-o|--url|-u|--user)(?:[= ]|\s)".to_string(),
    ]
});

static SIGNALS: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(PATTERNS.iter()).expect("valid built-in miner patterns"));
static FIND: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|p| Regex::new(p).expect("valid built-in miner pattern"))
        .collect()
});

/// Detects cryptocurrency miners in command lines, connections and file names.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cryptominer;

impl Detector for Cryptominer {
    fn name(&self) -> &'static str {
        "cryptominer"
    }

    fn wants(&self, e: &Event) -> bool {
        if carries_command(e) {
            return true;
        }
        match e.entity {
            EntityKind::Network => e.attr("remote_host").is_some_and(|h| pool_of(h).is_some()),
            EntityKind::File => e
                .attr("file_path")
                .or_else(|| e.attr("path"))
                .is_some_and(|p| is_miner(base_name(p))),
            _ => false,
        }
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut findings = Findings::new(self.name());
        for line in command_lines(events) {
            let Some(signals) = signals(line.text) else {
                continue;
            };
            let e = &events[line.index];
            let scheduled = (line.kind == Kind::Scheduled).then(|| e.attr("persistence"));
            findings.add("cryptominer", line.text, line.index, || {
                command_finding(&signals, line.text, scheduled, e)
            });
        }
        for (index, e) in events.iter().enumerate() {
            match e.entity {
                EntityKind::Network => {
                    if let Some(host) = e.attr("remote_host").filter(|h| pool_of(h).is_some()) {
                        findings.add("cryptominer_pool_connection", host, index, || {
                            connection_finding(host, e)
                        });
                    }
                }
                EntityKind::File => {
                    let path = e.attr("file_path").or_else(|| e.attr("path"));
                    if let Some(path) = path.filter(|p| is_miner(base_name(p))) {
                        findings.add("cryptominer_binary", path, index, || file_finding(path));
                    }
                }
                _ => {}
            }
        }
        findings.into_alarms(events)
    }
}

/// What in a command line says "miner".
struct Signals<'c> {
    stratum: Option<&'c str>,
    pool: Option<&'c str>,
    program: Option<&'c str>,
    option: Option<&'c str>,
    wallet: bool,
    pool_option: bool,
}

impl Signals<'_> {
    fn severity(&self) -> Severity {
        let strong = self.stratum.is_some()
            || self.program.is_some()
            || self.option.is_some()
            || self.wallet
            || (self.pool.is_some() && self.pool_option);
        if strong {
            Severity::High
        } else {
            Severity::Medium
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.program {
            parts.push(format!("miner program `{p}`"));
        }
        if let Some(s) = self.stratum {
            parts.push(format!("stratum pool URL `{}`", shorten(s, 100)));
        } else if let Some(p) = self.pool {
            parts.push(format!("mining pool `{p}`"));
        }
        if let Some(o) = self.option {
            parts.push(format!("miner option `{o}`"));
        }
        if self.wallet {
            parts.push("a Monero wallet address".into());
        }
        parts.join(", ")
    }
}

fn signals(cmd: &str) -> Option<Signals<'_>> {
    let program = miner_program(cmd);
    let hits = SIGNALS.matches(cmd);
    if program.is_none() && !hits.matched_any() {
        return None;
    }
    let find = |i: usize| -> Option<&str> {
        if !hits.matched(i) {
            return None;
        }
        let c = FIND[i].captures(cmd)?;
        Some(c.get(1).unwrap_or(c.get(0)?).as_str().trim())
    };
    let s = Signals {
        stratum: find(STRATUM),
        pool: find(POOL_HOST),
        program,
        option: find(MINER_OPTION),
        wallet: hits.matched(WALLET),
        pool_option: hits.matched(POOL_OPTION),
    };
    let any = s.stratum.is_some()
        || s.pool.is_some()
        || s.program.is_some()
        || s.option.is_some()
        || (s.wallet && s.pool_option);
    any.then_some(s)
}

/// Any miner name anywhere, to skip splitting the commands that name none.
static NAMED: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(MINERS.iter().chain(&["xmrig"]))
        .expect("valid built-in miner names")
});

/// The miner a command line runs as its program (`./xmrig`, `/tmp/kdevtmpfsi`,
/// `nohup xmrig-notls …`), not one it merely names.
fn miner_program(cmd: &str) -> Option<&str> {
    if !NAMED.is_match(cmd) {
        return None;
    }
    super::commands::segments(cmd).find_map(|segment| {
        let words = super::commands::words(segment);
        let (program, _) = super::commands::program_and_args(&words)?;
        is_miner(base_name(program)).then(|| base_name(program))
    })
}

fn is_miner(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix(".exe").unwrap_or(&lower);
    // Builds and renames of XMRig: `xmrig-notls`, `xmrig64`, `xmrig_6.21` (not `xmrig.md`).
    let xmrig_build = lower.strip_prefix("xmrig").is_some_and(|rest| {
        rest.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    MINERS.contains(&lower) || xmrig_build
}

/// The pool domain a host name belongs to.
fn pool_of(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    POOLS
        .iter()
        .copied()
        .find(|p| host == *p || host.strip_suffix(p).is_some_and(|rest| rest.ends_with('.')))
}

fn command_finding(
    s: &Signals<'_>,
    cmd: &str,
    scheduled: Option<Option<&str>>,
    e: &Event,
) -> Finding {
    let severity = s.severity();
    let mut mitre = vec![("impact", "T1496")];
    let (title, persistence) = match scheduled {
        Some(Some("systemd")) => {
            mitre.push(("persistence", "T1543.002"));
            (
                "Cryptominer installed as a systemd service",
                " It restarts with the host.",
            )
        }
        Some(_) => {
            mitre.push(("persistence", "T1053.003"));
            (
                "Cryptominer scheduled with cron",
                " It restarts on schedule.",
            )
        }
        None if severity == Severity::High => ("Cryptominer run", ""),
        None => ("Mining pool named", ""),
    };
    Finding {
        rule: "cryptominer",
        title: format!("{title}{}: {cmd}", by(e)),
        why: format!(
            "The command shows {}. Miners hijack the host's CPU for someone else's profit \
             and almost always arrive through a compromise: find how it got here.{persistence} \
             Command: `{}`",
            s.describe(),
            shorten(cmd, 2000)
        ),
        severity,
        mitre: techniques(&mitre),
    }
}

fn connection_finding(host: &str, e: &Event) -> Finding {
    let process = e
        .attr("file_path")
        .map(|p| format!(" by {p}"))
        .unwrap_or_default();
    Finding {
        rule: "cryptominer_pool_connection",
        title: format!("Connection to mining pool {host}{process}"),
        why: format!(
            "A connection went to {host}, a cryptocurrency mining pool{process}: a miner is \
             running on this host."
        ),
        severity: Severity::High,
        mitre: techniques(&[("impact", "T1496")]),
    }
}

fn file_finding(path: &str) -> Finding {
    Finding {
        rule: "cryptominer_binary",
        title: format!("Miner binary on disk: {path}"),
        why: format!(
            "{path} bears the name of a cryptocurrency miner. Check its hash and whether it \
             ran (command lines, cron jobs, services)."
        ),
        severity: Severity::Medium,
        mitre: techniques(&[("impact", "T1496")]),
    }
}

#[cfg(test)]
mod tests;
