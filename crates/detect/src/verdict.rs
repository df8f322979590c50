//! The verdict policy: from alarms to "was this system compromised?".
//!
//! Scoring, with the defaults in brackets (all configurable):
//! 1. Each alarm is worth the weight of its severity: informational 0, low 5, medium 20,
//!    high 60, critical 100.
//! 2. Repeats do not add up: alarms from the same `detector` at the same severity count
//!    once (`count_repeats = false`). Forty internet scanners brute-forcing SSH are one
//!    finding, not a compromise; findings of different detectors do add up.
//!    Alarms of different rules on exactly the same events are one finding too
//!    (`count_same_events = false`): two rule sets that both judge one 4732 "member added
//!    to Administrators" record count it once, at the more severe alarm's weight, and the
//!    other shows `(+0, same events as …)`.
//! 3. The score is the sum, capped at `max_score` (100).
//! 4. Malicious Activity Identified at `malicious_at` (60) or more, Suspicious Activity at
//!    `suspicious_at` (15) or more, otherwise No Evidence Found. With the defaults one
//!    high alarm is enough for Malicious, one medium for Suspicious, and low or
//!    informational alarms alone never change the verdict.
//!
//! 5. **Hunting-tier alarms** (Sigma rules tagged `detection.threat-hunting`, SigmaHQ's
//!    `rules-threat-hunting/`) add nothing to the score: they are leads, listed in the
//!    reasons as `(+0, hunting)`. They never make a verdict Malicious. With
//!    `hunting_suspicious_at` = N > 0, N or more *different* hunting rules make a verdict
//!    that is otherwise No Evidence Suspicious. The default is 0 (off), set from the
//!    corpus: an ordinary Sysmon log fires 6 different hunting rules, while no attack
//!    sample that the other detections miss fires more than 1, so every threshold either
//!    flags ordinary systems or adds nothing.
//!
//! Reasons list every alarm with a non-zero weight, most severe first, as
//! `[high] Successful SSH logon after brute force … (+60)`; repeats show `(+0, repeat)`,
//! and a capped sum says so in a last line.

use riposte_model::{Alarm, Severity, Verdict, VerdictSummary};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// Points per alarm severity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityWeights {
    /// Weight of an informational alarm (default 0).
    pub informational: u32,
    /// Weight of a low alarm (default 5).
    pub low: u32,
    /// Weight of a medium alarm (default 20).
    pub medium: u32,
    /// Weight of a high alarm (default 60).
    pub high: u32,
    /// Weight of a critical alarm (default 100).
    pub critical: u32,
}

impl SeverityWeights {
    /// The weight of one severity.
    pub fn of(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Informational => self.informational,
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

impl Default for SeverityWeights {
    fn default() -> Self {
        SeverityWeights {
            informational: 0,
            low: 5,
            medium: 20,
            high: 60,
            critical: 100,
        }
    }
}

/// How alarms become a verdict; see the module documentation for the rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictPolicy {
    /// Points per severity.
    pub weights: SeverityWeights,
    /// Whether every alarm of the same detector and severity adds its weight (default
    /// false: they count once).
    pub count_repeats: bool,
    /// The score is capped here (default 100).
    pub max_score: u32,
    /// Score from which the verdict is Malicious (default 60).
    pub malicious_at: u32,
    /// Score from which the verdict is Suspicious (default 15).
    pub suspicious_at: u32,
    /// Different hunting-tier rules that together make a verdict Suspicious (default 0:
    /// hunting hits never change the verdict).
    pub hunting_suspicious_at: u32,
    /// Whether alarms of different rules on exactly the same events all add their weight
    /// (default false: the same events are one finding, worth its most severe alarm).
    pub count_same_events: bool,
}

impl Default for VerdictPolicy {
    fn default() -> Self {
        VerdictPolicy {
            weights: SeverityWeights::default(),
            count_repeats: false,
            max_score: 100,
            malicious_at: 60,
            suspicious_at: 15,
            hunting_suspicious_at: 0,
            count_same_events: false,
        }
    }
}

/// A verdict policy whose thresholds cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A threshold is out of order or unreachable.
    #[error("verdict policy: `{key}` = {value} {problem}")]
    Threshold {
        /// The offending key (e.g. `suspicious_at`).
        key: &'static str,
        /// Its value.
        value: u32,
        /// What is wrong with it.
        problem: String,
    },
}

impl VerdictPolicy {
    /// Checks that 0 < `suspicious_at` ≤ `malicious_at` ≤ `max_score`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fail = |key, value, problem: String| {
            Err(PolicyError::Threshold {
                key,
                value,
                problem,
            })
        };
        if self.suspicious_at == 0 {
            return fail(
                "suspicious_at",
                0,
                "must be at least 1 (0 would make every investigation suspicious)".into(),
            );
        }
        if self.suspicious_at > self.malicious_at {
            return fail(
                "suspicious_at",
                self.suspicious_at,
                format!("is above malicious_at ({})", self.malicious_at),
            );
        }
        if self.malicious_at > self.max_score {
            return fail(
                "malicious_at",
                self.malicious_at,
                format!("can never be reached: max_score is {}", self.max_score),
            );
        }
        Ok(())
    }

    /// Scores the alarms and decides the verdict, with one reason per contributing alarm.
    pub fn decide(&self, alarms: &[Alarm]) -> VerdictSummary {
        let mut ranked: Vec<&Alarm> = alarms
            .iter()
            .filter(|a| !a.hunting && self.weights.of(a.severity) > 0)
            .collect();
        ranked.sort_by_key(|a| std::cmp::Reverse(a.severity)); // stable: detector order within a level
        let mut counted: HashSet<(&str, Severity)> = HashSet::new();
        // The event sets already counted, with the title of the alarm that counted them.
        let mut findings: HashMap<Vec<u64>, &str> = HashMap::new();
        let mut sum: u32 = 0;
        let mut reasons = Vec::with_capacity(ranked.len() + 1);
        for alarm in ranked {
            let weight = self.weights.of(alarm.severity);
            let first = counted.insert((alarm.detector.as_str(), alarm.severity));
            let mut events = alarm.event_refs.clone();
            events.sort_unstable();
            events.dedup();
            let same_events = match findings.get(&events) {
                Some(title) if !events.is_empty() && !self.count_same_events => Some(*title),
                _ => None,
            };
            if let Some(title) = same_events {
                reasons.push(format!(
                    "[{}] {} (+0, same events as {title})",
                    alarm.severity, alarm.title
                ));
                continue;
            }
            findings.entry(events).or_insert(alarm.title.as_str());
            if first || self.count_repeats {
                sum = sum.saturating_add(weight);
                reasons.push(format!("[{}] {} (+{weight})", alarm.severity, alarm.title));
            } else {
                reasons.push(format!(
                    "[{}] {} (+0, repeat of {})",
                    alarm.severity, alarm.title, alarm.detector
                ));
            }
        }
        let score = sum.min(self.max_score);
        if score < sum {
            reasons.push(format!("score capped at {} (sum {sum})", self.max_score));
        }
        let mut verdict = if score >= self.malicious_at {
            Verdict::Malicious
        } else if score >= self.suspicious_at {
            Verdict::Suspicious
        } else {
            Verdict::NoEvidence
        };
        let mut hunting: Vec<&Alarm> = alarms.iter().filter(|a| a.hunting).collect();
        hunting.sort_by_key(|a| std::cmp::Reverse(a.severity));
        let distinct: HashSet<&str> = hunting.iter().map(|a| a.detector.as_str()).collect();
        for alarm in &hunting {
            reasons.push(format!(
                "[{}] {} (+0, hunting)",
                alarm.severity, alarm.title
            ));
        }
        let mut score = score;
        if verdict == Verdict::NoEvidence
            && self.hunting_suspicious_at > 0
            && distinct.len() >= self.hunting_suspicious_at as usize
        {
            verdict = Verdict::Suspicious;
            score = score.max(self.suspicious_at);
            reasons.push(format!(
                "{} different hunting rules fired (Suspicious from {})",
                distinct.len(),
                self.hunting_suspicious_at
            ));
        }
        VerdictSummary {
            verdict,
            score,
            reasons,
            inconclusive: false,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(detector: &str, severity: Severity, title: &str) -> Alarm {
        Alarm {
            detector: detector.into(),
            title: title.into(),
            description: String::new(),
            severity,
            mitre: Vec::new(),
            event_refs: Vec::new(),
            rule_id: None,
            files: Vec::new(),
            hunting: false,
        }
    }

    #[test]
    fn hunting_hits_add_nothing_by_default_and_several_make_suspicious_when_asked() {
        let hunt = |n: u32| Alarm {
            hunting: true,
            ..alarm(
                &format!("sigma:hunt-{n}"),
                Severity::High,
                &format!("lead {n}"),
            )
        };
        let leads: Vec<Alarm> = (0..4).map(hunt).chain([hunt(0)]).collect();
        let v = VerdictPolicy::default().decide(&leads);
        assert_eq!((v.verdict, v.score), (Verdict::NoEvidence, 0));
        assert_eq!(v.reasons.len(), 5);
        assert!(
            v.reasons.iter().all(|r| r.ends_with("(+0, hunting)")),
            "{:?}",
            v.reasons
        );
        let asking = VerdictPolicy {
            hunting_suspicious_at: 4,
            ..Default::default()
        };
        // Four different rules (a repeat does not count twice): Suspicious, never more.
        let v = asking.decide(&leads);
        assert_eq!((v.verdict, v.score), (Verdict::Suspicious, 15));
        assert_eq!(
            v.reasons.last().unwrap(),
            "4 different hunting rules fired (Suspicious from 4)"
        );
        let v = asking.decide(&leads[..3]);
        assert_eq!(v.verdict, Verdict::NoEvidence);
        // With a real finding, the finding decides.
        let mut with_finding = leads.clone();
        with_finding.push(alarm("ssh", Severity::High, "logon after brute force"));
        assert_eq!(asking.decide(&with_finding).verdict, Verdict::Malicious);
    }

    #[test]
    fn rules_on_the_very_same_events_are_one_finding() {
        let on = |detector: &str, severity, events: &[u64]| Alarm {
            event_refs: events.to_vec(),
            ..alarm(detector, severity, detector)
        };
        // Two rule sets judging one 4732 record, and a third rule on another record.
        let alarms = [
            on("sigma:sigmahq-admin-group", Severity::Medium, &[7]),
            on("sigma:hayabusa-admin-group", Severity::Low, &[7]),
            on("sigma:user-created", Severity::Low, &[3]),
        ];
        let v = VerdictPolicy::default().decide(&alarms);
        assert_eq!((v.verdict, v.score), (Verdict::Suspicious, 25));
        assert!(
            v.reasons.contains(
                &"[low] sigma:hayabusa-admin-group (+0, same events as sigma:sigmahq-admin-group)"
                    .to_string()
            ),
            "{:?}",
            v.reasons
        );
        // Overlapping but different event sets, and alarms without events, still add up.
        let alarms = [
            on("a", Severity::Medium, &[7, 8]),
            on("b", Severity::Medium, &[8, 7, 9]),
            on("c", Severity::Medium, &[]),
            on("d", Severity::Medium, &[]),
        ];
        assert_eq!(VerdictPolicy::default().decide(&alarms).score, 80);
        // Asked for, the same events count once per rule.
        let counting = VerdictPolicy {
            count_same_events: true,
            ..Default::default()
        };
        let alarms = [
            on("a", Severity::Medium, &[7]),
            on("b", Severity::Medium, &[7]),
        ];
        assert_eq!(counting.decide(&alarms).score, 40);
        assert_eq!(VerdictPolicy::default().decide(&alarms).score, 20);
    }

    #[test]
    fn no_alarms_is_no_evidence() {
        let v = VerdictPolicy::default().decide(&[]);
        assert_eq!(
            (v.verdict, v.score, v.reasons.len()),
            (Verdict::NoEvidence, 0, 0)
        );
    }

    #[test]
    fn one_high_alarm_is_malicious_and_reasons_say_why() {
        let alarms = [
            alarm(
                "ssh_bruteforce",
                Severity::Medium,
                "SSH brute force from 1.2.3.4",
            ),
            alarm(
                "ssh_bruteforce_success",
                Severity::High,
                "Successful SSH logon after brute force",
            ),
        ];
        let v = VerdictPolicy::default().decide(&alarms);
        assert_eq!((v.verdict, v.score), (Verdict::Malicious, 80));
        assert_eq!(
            v.reasons,
            [
                "[high] Successful SSH logon after brute force (+60)",
                "[medium] SSH brute force from 1.2.3.4 (+20)"
            ]
        );
    }

    #[test]
    fn repeats_of_a_finding_do_not_add_up_but_distinct_findings_do() {
        let scanners: Vec<Alarm> = (0..6)
            .map(|i| {
                alarm(
                    "ssh_bruteforce",
                    Severity::Medium,
                    &format!("SSH brute force from 10.0.0.{i}"),
                )
            })
            .collect();
        let v = VerdictPolicy::default().decide(&scanners);
        assert_eq!(
            (v.verdict, v.score, v.reasons.len()),
            (Verdict::Suspicious, 20, 6)
        );
        assert_eq!(
            v.reasons[1],
            "[medium] SSH brute force from 10.0.0.1 (+0, repeat of ssh_bruteforce)"
        );

        let counting = VerdictPolicy {
            count_repeats: true,
            ..Default::default()
        };
        let v = counting.decide(&scanners);
        assert_eq!((v.verdict, v.score), (Verdict::Malicious, 100));
        assert_eq!(v.reasons.last().unwrap(), "score capped at 100 (sum 120)");

        let mut mixed = scanners;
        mixed.push(alarm(
            "tty_upgrade",
            Severity::Medium,
            "Shell upgraded to a TTY",
        ));
        assert_eq!(VerdictPolicy::default().decide(&mixed).score, 40);
    }

    #[test]
    fn low_and_informational_alarms_alone_stay_below_suspicious() {
        let alarms = [
            alarm("download_exec", Severity::Low, "Downloaded file executed"),
            alarm("x", Severity::Low, "Something else"),
            alarm("info", Severity::Informational, "Context"),
        ];
        let v = VerdictPolicy::default().decide(&alarms);
        assert_eq!(
            (v.verdict, v.score, v.reasons.len()),
            (Verdict::NoEvidence, 10, 2)
        );
    }

    #[test]
    fn policy_deserializes_with_defaults_and_validates_naming_the_key() {
        let p: VerdictPolicy =
            serde_json::from_str(r#"{"malicious_at": 80, "weights": {"high": 50}}"#).unwrap();
        assert_eq!(
            (
                p.malicious_at,
                p.suspicious_at,
                p.weights.high,
                p.weights.medium
            ),
            (80, 15, 50, 20)
        );
        assert!(p.validate().is_ok());
        assert!(serde_json::from_str::<VerdictPolicy>(r#"{"malicous_at": 80}"#).is_err());
        let bad = VerdictPolicy {
            suspicious_at: 70,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("`suspicious_at` = 70")
        );
        let bad = VerdictPolicy {
            malicious_at: 120,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("`malicious_at`")
        );
        assert!(VerdictPolicy::default().validate().is_ok());
    }
}
