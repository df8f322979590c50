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
//!
//! It judges events as they stream, in timeline order, with bounded state per source
//! address: the failures of the last `window_secs` (a sliding window), counters, the
//! first `max_event_refs` references, up to [`MAX_USERS_PER_SOURCE`] user names and the
//! first ten successes after a burst.

use crate::engine::{Batch, Pass};
use crate::{Detector, mitre, shorten};
use chrono::{DateTime, TimeDelta, Utc};
use riposte_model::{Action, Alarm, Event, Severity};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};

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

/// Most distinct user names counted per source (further names still count as failures).
pub const MAX_USERS_PER_SOURCE: usize = 10_000;
/// Most successful logons listed per source (the count is in the text).
const MAX_SUCCESSES: usize = 10;

/// A successful logon that followed a burst.
#[derive(Debug, Clone)]
struct Success {
    id: u64,
    time: DateTime<Utc>,
    user: Option<String>,
    method: Option<String>,
}

/// One kind of failure line (`auth` or `pam`) from one source, judged as it streams:
/// a sliding window of the last `window_secs`, counters, the first references.
#[derive(Default)]
struct Failures {
    /// (time, count, id) of the failures inside the window, oldest first.
    window: VecDeque<(DateTime<Utc>, u64, u64)>,
    in_window: u64,
    total: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    peak: u64,
    /// When the first burst completed.
    first_burst: Option<DateTime<Utc>>,
    /// When the last burst completed.
    last_burst: Option<DateTime<Utc>>,
    /// The failures from the start of the first burst's window on (at most `max_event_refs`).
    refs: Vec<u64>,
    users: BTreeMap<String, u64>,
    /// Successful logons within `success_within_secs` of a burst of this kind.
    successes: Vec<Success>,
    success_count: u64,
}

impl Failures {
    fn failure(
        &mut self,
        config: &SshBruteForceConfig,
        id: u64,
        time: DateTime<Utc>,
        count: u64,
        user: Option<&str>,
    ) {
        let window = TimeDelta::seconds(i64::from(config.window_secs));
        self.total = self.total.saturating_add(count);
        self.first.get_or_insert(time);
        self.last = Some(time);
        let user = user.unwrap_or("unknown");
        if let Some(n) = self.users.get_mut(user) {
            *n += count;
        } else if self.users.len() < MAX_USERS_PER_SOURCE {
            self.users.insert(user.to_string(), count);
        }
        self.window.push_back((time, count, id));
        self.in_window = self.in_window.saturating_add(count);
        while let Some(&(oldest, n, _)) = self.window.front() {
            if oldest >= time - window {
                break;
            }
            self.in_window = self.in_window.saturating_sub(n);
            self.window.pop_front();
        }
        self.peak = self.peak.max(self.in_window);
        if self.first_burst.is_some() {
            if self.refs.len() < config.max_event_refs {
                self.refs.push(id);
            }
        } else if self.in_window >= config.threshold {
            self.first_burst = Some(time);
            self.refs = self
                .window
                .iter()
                .map(|&(_, _, id)| id)
                .take(config.max_event_refs)
                .collect();
        }
        if self.in_window >= config.threshold {
            self.last_burst = Some(time);
        }
    }

    fn success(&mut self, config: &SshBruteForceConfig, ok: &Success) {
        let within = TimeDelta::seconds(i64::from(config.success_within_secs));
        if self.last_burst.is_some_and(|end| ok.time - end <= within) {
            self.success_count += 1;
            if self.successes.len() < MAX_SUCCESSES {
                self.successes.push(ok.clone());
            }
        }
    }
}

/// Everything one source did.
#[derive(Default)]
struct Source {
    auth: Failures,
    pam: Failures,
}

/// One pass of [`SshBruteForce`]: per source, its two kinds of failures.
struct BruteForcePass<'d> {
    detector: &'d SshBruteForce,
    sources: BTreeMap<String, Source>,
}

impl Pass for BruteForcePass<'_> {
    fn observe(&mut self, batch: Batch<'_>) {
        let config = &self.detector.config;
        for (id, e) in batch.iter() {
            if !self.detector.wants(e) {
                continue;
            }
            let (Some(time), Some(source)) =
                (e.time, e.attr("remote_ip").or(e.attr("remote_host")))
            else {
                continue;
            };
            let count = e.attr("count").and_then(|c| c.parse().ok()).unwrap_or(1);
            let user = e.attr("username");
            let entry = match self.sources.get_mut(source) {
                Some(entry) => entry,
                None => self.sources.entry(source.to_string()).or_default(),
            };
            match (e.action, e.attr("stage")) {
                (Action::UserLogonFailed, None | Some("auth")) => {
                    entry.auth.failure(config, id, time, count, user);
                }
                (Action::UserLogonFailed, Some("pam")) => {
                    entry.pam.failure(config, id, time, count, user);
                }
                (Action::UserLogon, None | Some("auth")) => {
                    let ok = Success {
                        id,
                        time,
                        user: user.map(str::to_string),
                        method: e.attr("auth_method").map(str::to_string),
                    };
                    entry.auth.success(config, &ok);
                    entry.pam.success(config, &ok);
                }
                _ => {}
            }
        }
    }

    fn finish(self: Box<Self>) -> Vec<Alarm> {
        let mut found: Vec<(DateTime<Utc>, Alarm)> = self
            .sources
            .into_iter()
            .filter_map(|(source, s)| self.detector.judge(&source, s))
            .collect();
        found.sort_by_key(|(first_burst, _)| *first_burst);
        found.into_iter().map(|(_, alarm)| alarm).collect()
    }
}

impl Detector for SshBruteForce {
    fn name(&self) -> &'static str {
        "ssh_bruteforce"
    }

    fn wants(&self, e: &Event) -> bool {
        e.time.is_some()
            && e.attr("process") == Some("sshd")
            && e.attr("remote_ip").or(e.attr("remote_host")).is_some()
    }

    fn detect(&self, events: &[Event]) -> Vec<Alarm> {
        let mut pass = self.pass();
        let ids: Vec<u64> = (0..events.len() as u64).collect();
        pass.observe(Batch::new(&ids, events));
        pass.finish()
    }

    fn stream(&self) -> Option<Box<dyn Pass + '_>> {
        Some(self.pass())
    }
}

impl SshBruteForce {
    /// A streaming pass (this detector keeps bounded state: see the module's doc).
    fn pass(&self) -> Box<dyn Pass + '_> {
        Box::new(BruteForcePass {
            detector: self,
            sources: BTreeMap::new(),
        })
    }

    /// The alarm for one source, with the time its first burst completed.
    fn judge(&self, source: &str, s: Source) -> Option<(DateTime<Utc>, Alarm)> {
        let from_pam = s.auth.total == 0;
        let failures = if from_pam { s.pam } else { s.auth };
        let first_burst = failures.first_burst?;
        let successes = &failures.successes;
        let total = failures.total;
        let peak = failures.peak;
        let users = distinct_users(&failures.users);
        let mut refs = failures.refs.clone();
        refs.extend(successes.iter().map(|ok| ok.id));
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
            failures.first.map(|t| t.to_rfc3339()).unwrap_or_default(),
            failures.last.map(|t| t.to_rfc3339()).unwrap_or_default(),
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
                hunting: false,
            },
            Some(first) => {
                let user = first.user.as_deref().unwrap_or("an unknown user");
                let targeted = if first.user.as_deref().is_some_and(|u| users.contains(&u)) {
                    "one of the targeted accounts"
                } else {
                    "an account not seen in the failures"
                };
                let method = first.method.as_deref().unwrap_or("unknown method");
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
                        match failures.success_count {
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
                    hunting: false,
                }
            }
        };
        Some((first_burst, alarm))
    }
}

/// Distinct user names, most tried first (ties by name).
fn distinct_users(tally: &BTreeMap<String, u64>) -> Vec<&str> {
    let mut users: Vec<(&str, u64)> = tally.iter().map(|(u, n)| (u.as_str(), *n)).collect();
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
