//! ATT&CK tactics and techniques from a Sigma rule's `tags` (`attack.execution`,
//! `attack.t1059.001`), as the Sigma tags specification writes them.

use riposte_model::MitreTechnique;

/// ATT&CK tactic short names (Enterprise matrix), as Sigma tags spell them.
const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// One entry per technique, paired with each of the rule's tactics (the first tactic
/// when there are several is not more right than the others); a tactic without any
/// technique is kept with an empty technique.
pub fn mitre_from_tags(tags: &[String]) -> Vec<MitreTechnique> {
    let mut tactics = Vec::new();
    let mut techniques = Vec::new();
    for tag in tags {
        let lower = tag.trim().to_ascii_lowercase();
        let Some(name) = lower.strip_prefix("attack.") else {
            continue;
        };
        // Older rules write tactics with underscores (`attack.defense_evasion`).
        let name = name.replace('_', "-");
        if TACTICS.contains(&name.as_str()) {
            if !tactics.contains(&name) {
                tactics.push(name);
            }
        } else if let Some(id) = technique_id(&name)
            && !techniques.contains(&id)
        {
            techniques.push(id);
        }
    }
    if techniques.is_empty() {
        return tactics
            .into_iter()
            .map(|tactic| MitreTechnique {
                tactic,
                technique: String::new(),
            })
            .collect();
    }
    let tactics = if tactics.is_empty() {
        vec![String::new()]
    } else {
        tactics
    };
    tactics
        .iter()
        .flat_map(|tactic| {
            techniques.iter().map(move |technique| MitreTechnique {
                tactic: tactic.clone(),
                technique: technique.clone(),
            })
        })
        .collect()
}

/// `t1059.001` → `T1059.001`; anything else (groups `g0001`, software `s0002`) → none.
fn technique_id(name: &str) -> Option<String> {
    let digits = name.strip_prefix('t')?;
    let (main, sub) = match digits.split_once('.') {
        Some((main, sub)) => (main, Some(sub)),
        None => (digits, None),
    };
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(main, 4) || sub.is_some_and(|s| !all_digits(s, 3)) {
        return None;
    }
    Some(name.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn techniques_are_paired_with_tactics() {
        let m = mitre_from_tags(&tags(&[
            "attack.execution",
            "attack.t1059.001",
            "attack.g0032",
            "car.2013-05-004",
            "attack.defense_evasion",
            "attack.T1027",
        ]));
        let pairs: Vec<(&str, &str)> = m
            .iter()
            .map(|t| (t.tactic.as_str(), t.technique.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("execution", "T1059.001"),
                ("execution", "T1027"),
                ("defense-evasion", "T1059.001"),
                ("defense-evasion", "T1027"),
            ]
        );
    }

    #[test]
    fn a_tactic_alone_or_a_technique_alone_is_kept() {
        let m = mitre_from_tags(&tags(&["attack.persistence"]));
        assert_eq!(
            (m[0].tactic.as_str(), m[0].technique.as_str()),
            ("persistence", "")
        );
        let m = mitre_from_tags(&tags(&["attack.t1003"]));
        assert_eq!(
            (m[0].tactic.as_str(), m[0].technique.as_str()),
            ("", "T1003")
        );
        assert!(mitre_from_tags(&tags(&["attack.t10", "detection.threat-hunting"])).is_empty());
    }
}
