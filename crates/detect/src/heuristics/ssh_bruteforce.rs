//! SSH brute force, and a successful logon that follows one.
//!
//! Failed SSH logons (`failed_logon` events of `process=sshd`) are grouped by source
//! (`remote_ip`, else `remote_host`) and counted in a sliding window, summing each event's
//! `count` (1 when absent; syslog's "message repeated N times" gives N). A source with at
//! least `threshold` failures within `window_secs` is brute forcing:
//! - alone → one Medium alarm `ssh_bruteforce` (T1110.001);
//! - followed, within `success_within_secs` of a burst, by a successful logon (`logon`)
//!   from the same source → one High alarm `ssh_bruteforce_success` (T1110.001, T1078)
//!   instead: the password may have been guessed.
//!
//! One SSH attempt is logged several ways, so only one kind is counted per source, by the
//! events' `stage` attribute (see the auth-log parser): sshd's own result lines (`auth`,
//! or no `stage` from other parsers); PAM's `authentication failure` lines (`pam`) only
//! when the source has no `auth` lines, as in logs of old sshd builds. `invalid_user`
//! and `probe` lines are never counted: the attempt they belong to is. Events without a
//! time are ignored.

use crate::{Detector, mitre, shorten};
use chrono::{DateTime, TimeDelta, Utc};
use riposte_model::{Action, Alarm, Event, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Settings of [`SshBruteForce`]; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshBruteForceConfig {
    /// Failures from one source within the window that make a burst (default 10).
    pub threshold: u64,
    /// Length of the sliding window, in seconds (default 600: ten minutes).
    pub window_secs: u32,
    /// How long after a burst a successful logon from the same source is tied to it,
    /// in seconds (default 86 400: a day).
    pub success_within_secs: u32,
    /// Most failure events one alarm references (default 50); the count is in the text.
    pub max_event_refs: usize,
}

impl SshBruteForceConfig {
    /// The defaults: 10 failures within 10 minutes; successes up to a day later.
    pub const DEFAULT: Self = SshBruteForceConfig {
        threshold: 10,
        window_secs: 600,
        success_within_secs: 86_400,
        max_event_refs: 50,
    };

    /// Checks the values make sense, naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.threshold == 0 {
            return Err("ssh_bruteforce.threshold must be at least 1".into());
        }
        if self.window_secs == 0 {
            return Err("ssh_bruteforce.window_secs must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for SshBruteForceConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Detects SSH brute force per source address, and successful logons after it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshBruteForce {
    /// Thresholds and limits.
    pub config: SshBruteForceConfig,
}

impl SshBruteForce {
    /// The detector with [`SshBruteForceConfig::DEFAULT`].
    pub const DEFAULT: Self = SshBruteForce {
        config: SshBruteForceConfig::DEFAULT,
    };

    /// The detector with the given settings.
    pub const fn new(config: SshBruteForceConfig) -> Self {
        SshBruteForce { config }
    }
}

/// One failed or successful logon from a source.
#[derive(Debug, Clone, Copy)]
struct Attempt<'e> {
    index: usize,
    time: DateTime<Utc>,
    count: u64,
    user: Option<&'e str>,
}

/// Everything one source did.
#[derive(Default)]
struct Source<'e> {
    auth: Vec<Attempt<'e>>,
    pam: Vec<Attempt<'e>>,
    successes: Vec<Attempt<'e>>,
}

impl Detector for SshBruteForce {
    fn name(&self) -> &'static str {
        "ssh_bruteforce"
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut sources: BTreeMap<&str, Source<'_>> = BTreeMap::new();
        for (index, e) in events.iter().enumerate() {
            let (Some(time), Some(source)) =
                (e.time, e.attr("remote_ip").or(e.attr("remote_host")))
            else {
                continue;
            };
            if e.attr("process") != Some("sshd") {
                continue;
            }
            let count = e.attr("count").and_then(|c| c.parse().ok()).unwrap_or(1);
            let attempt = Attempt {
                index,
                time,
                count,
                user: e.attr("username"),
            };
            let entry = sources.entry(source).or_default();
            match (e.action, e.attr("stage")) {
                (Action::UserLogonFailed, None | Some("auth")) => entry.auth.push(attempt),
                (Action::UserLogonFailed, Some("pam")) => entry.pam.push(attempt),
                (Action::UserLogon, None | Some("auth")) => entry.successes.push(attempt),
                _ => {}
            }
        }
        let mut found: Vec<(DateTime<Utc>, Alarm)> = sources
            .into_iter()
            .filter_map(|(source, s)| self.judge(source, s, events))
            .collect();
        found.sort_by_key(|(first_burst, _)| *first_burst);
        found.into_iter().map(|(_, alarm)| alarm).collect()
    }
}

/// Where a source's failures reached the threshold.
struct Bursts {
    /// Times at which the window ending there held at least `threshold` failures.
    ends: Vec<DateTime<Utc>>,
    /// Position (in time order) of the first failure of the first such window.
    first_start: Option<usize>,
    /// Most failures in any window.
    peak: u64,
}

impl SshBruteForce {
    /// Slides the window over `failures` (sorted by time).
    fn bursts(&self, failures: &[Attempt<'_>]) -> Bursts {
        let window = TimeDelta::seconds(i64::from(self.config.window_secs));
        let mut bursts = Bursts {
            ends: Vec::new(),
            first_start: None,
            peak: 0,
        };
        let (mut start, mut in_window) = (0, 0u64);
        for f in failures {
            in_window = in_window.saturating_add(f.count);
            while failures[start].time < f.time - window {
                in_window = in_window.saturating_sub(failures[start].count);
                start += 1;
            }
            bursts.peak = bursts.peak.max(in_window);
            if in_window >= self.config.threshold {
                bursts.ends.push(f.time);
                bursts.first_start.get_or_insert(start);
            }
        }
        bursts
    }

    /// The alarm for one source, with the time its first burst completed.
    fn judge(
        &self,
        source: &str,
        s: Source<'_>,
        events: &[Event],
    ) -> Option<(DateTime<Utc>, Alarm)> {
        let from_pam = s.auth.is_empty();
        let mut failures = if from_pam { s.pam } else { s.auth };
        failures.sort_by_key(|a| (a.time, a.index));
        let Bursts {
            ends: burst_ends,
            first_start,
            peak,
        } = self.bursts(&failures);
        let (first_start, first_burst) = (first_start?, *burst_ends.first()?);
        let within = TimeDelta::seconds(i64::from(self.config.success_within_secs));
        let mut successes: Vec<&Attempt<'_>> = s
            .successes
            .iter()
            .filter(|ok| {
                let before = burst_ends.partition_point(|end| *end <= ok.time);
                before > 0 && ok.time - burst_ends[before - 1] <= within
            })
            .collect();
        successes.sort_by_key(|a| (a.time, a.index));

        let total: u64 = failures.iter().map(|f| f.count).sum();
        let users = distinct_users(&failures);
        let mut refs: Vec<u64> = failures[first_start..]
            .iter()
            .take(self.config.max_event_refs)
            .map(|f| f.index as u64)
            .collect();
        refs.extend(successes.iter().take(10).map(|ok| ok.index as u64));
        refs.sort_unstable();
        refs.dedup();

        let window = match self.config.window_secs {
            secs if secs % 60 == 0 => format!("{} min", secs / 60),
            secs => format!("{secs} s"),
        };
        let counted = if from_pam {
            "PAM authentication-failure lines (the log has no sshd result lines for this source)"
        } else {
            "sshd's failed-logon lines, repeats included"
        };
        let burst = format!(
            "{total} failed SSH logons from {source} between {} and {} (up to {peak} within {window}; \
             threshold {}) against {}. Counted from {counted}.",
            failures[0].time.to_rfc3339(),
            failures[failures.len() - 1].time.to_rfc3339(),
            self.config.threshold,
            user_list(&users, 10),
        );
        let alarm = match successes.first() {
            None => Alarm {
                detector: "ssh_bruteforce".into(),
                title: shorten(
                    &format!(
                        "SSH brute force from {source} ({total} failures against {})",
                        user_list(&users, 3)
                    ),
                    160,
                ),
                description: burst,
                severity: Severity::Medium,
                mitre: vec![mitre("credential-access", "T1110.001")],
                event_refs: refs,
                rule_id: None,
                files: Vec::new(),
            },
            Some(first) => {
                let user = first.user.unwrap_or("an unknown user");
                let targeted = if first.user.is_some_and(|u| users.contains(&u)) {
                    "one of the targeted accounts"
                } else {
                    "an account not seen in the failures"
                };
                let method = events
                    .get(first.index)
                    .and_then(|e| e.attr("auth_method"))
                    .unwrap_or("unknown method");
                Alarm {
                    detector: "ssh_bruteforce_success".into(),
                    title: shorten(
                        &format!(
                            "Successful SSH logon after brute force from {source} (user {user})"
                        ),
                        160,
                    ),
                    description: format!(
                        "{user} logged on over SSH from {source} at {} ({method}; {targeted}){}. Before that: {burst} \
                         The password may have been guessed: confirm with the account owner.",
                        first.time.to_rfc3339(),
                        match successes.len() {
                            1 => String::new(),
                            2 => ", then once more".to_string(),
                            n => format!(", then {} more times", n - 1),
                        },
                    ),
                    severity: Severity::High,
                    mitre: vec![
                        mitre("credential-access", "T1110.001"),
                        mitre("initial-access", "T1078"),
                    ],
                    event_refs: refs,
                    rule_id: None,
                    files: Vec::new(),
                }
            }
        };
        Some((first_burst, alarm))
    }
}

/// Distinct user names, most tried first (ties by name).
fn distinct_users<'e>(failures: &[Attempt<'e>]) -> Vec<&'e str> {
    let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
    for f in failures {
        *tally.entry(f.user.unwrap_or("unknown")).or_default() += f.count;
    }
    let mut users: Vec<(&str, u64)> = tally.into_iter().collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    users.into_iter().map(|(u, _)| u).collect()
}

/// `users root, admin, test and 12 more`.
fn user_list(users: &[&str], max: usize) -> String {
    let shown: Vec<&str> = users.iter().take(max).copied().collect();
    let noun = if users.len() == 1 { "user" } else { "users" };
    match users.len().saturating_sub(max) {
        0 => format!("{noun} {}", shown.join(", ")),
        more => format!("{noun} {} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests;
