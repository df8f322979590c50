//! What a matching rule reports: the rule, its metadata and its matched strings.

use riposte_model::Severity;
use serde::Serialize;
use std::collections::BTreeMap;

/// One rule that matched a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YaraMatch {
    /// The rule's identifier.
    pub rule: String,
    /// Its namespace: the rule file's path under its rule folder.
    pub namespace: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its metadata.
    pub meta: RuleMeta,
    /// Its strings that matched (private ones included), in declaration order.
    pub strings: Vec<MatchedString>,
}

/// The metadata of a rule, with the well-known keys picked out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleMeta {
    /// `description`.
    pub description: Option<String>,
    /// `author` (the Detection Rule License asks alarms to keep it).
    pub author: Option<String>,
    /// `reference`.
    pub reference: Option<String>,
    /// `score` (THOR/LOKI convention, 0–100), when an integer.
    pub score: Option<i64>,
    /// `severity`, when it names a [`Severity`].
    pub severity: Option<Severity>,
    /// Every metadata entry as text (the last one wins for repeated keys).
    pub all: BTreeMap<String, String>,
}

/// A string (pattern) of a matching rule and where it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedString {
    /// Its identifier, e.g. `$s1`.
    pub identifier: String,
    /// How many times it matched in the file.
    pub total_hits: usize,
    /// The first matches (at most `max_hits_per_string`).
    pub hits: Vec<StringHit>,
}

/// One match of a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StringHit {
    /// Offset of the match in the file.
    pub offset: u64,
    /// Length of the match, in bytes.
    pub length: u64,
    /// The first `excerpt_bytes` of the match as text, non-printable bytes as `\xNN`.
    pub ascii: String,
    /// The same bytes in lowercase hex.
    pub hex: String,
}

impl YaraMatch {
    /// Reads a matching rule out of yara-x's results.
    pub(crate) fn from_rule(rule: &yara_x::Rule<'_, '_>, max_hits: usize, excerpt: usize) -> Self {
        let tags = rule.tags().map(|t| t.identifier().to_string()).collect();
        let strings = rule
            .patterns()
            .include_private(true)
            .filter_map(|pattern| {
                let matches = pattern.matches();
                let total_hits = matches.len();
                let hits: Vec<_> = matches
                    .take(max_hits)
                    .map(|m| StringHit::new(m.range(), m.data(), excerpt))
                    .collect();
                (total_hits > 0).then(|| MatchedString {
                    identifier: pattern.identifier().to_string(),
                    total_hits,
                    hits,
                })
            })
            .collect();
        YaraMatch {
            rule: rule.identifier().to_string(),
            namespace: rule.namespace().to_string(),
            tags,
            meta: RuleMeta::read(rule.metadata()),
            strings,
        }
    }
}

impl RuleMeta {
    fn read(metadata: yara_x::Metadata<'_, '_>) -> Self {
        let mut meta = RuleMeta::default();
        for (key, value) in metadata {
            let text = match value {
                yara_x::MetaValue::Integer(i) => i.to_string(),
                yara_x::MetaValue::Float(f) => f.to_string(),
                yara_x::MetaValue::Bool(b) => b.to_string(),
                yara_x::MetaValue::String(s) => s.to_string(),
                yara_x::MetaValue::Bytes(b) => escape(b),
            };
            match key {
                "description" => meta.description = Some(text.clone()),
                "author" => meta.author = Some(text.clone()),
                "reference" => meta.reference = Some(text.clone()),
                "score" => meta.score = text.trim().parse().ok(),
                "severity" => meta.severity = text.parse().ok(),
                _ => {}
            }
            meta.all.insert(key.to_string(), text);
        }
        meta
    }
}

impl StringHit {
    fn new(range: std::ops::Range<usize>, data: &[u8], excerpt: usize) -> Self {
        let kept = &data[..data.len().min(excerpt)];
        StringHit {
            offset: range.start as u64,
            length: range.len() as u64,
            ascii: escape(kept),
            hex: hex::encode(kept),
        }
    }
}

/// Printable ASCII as is, anything else as `\xNN`; a backslash as `\\`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_escape_and_are_bounded() {
        let hit = StringHit::new(10..16, b"ab\\\x00\xffz", 5);
        assert_eq!(hit.offset, 10);
        assert_eq!(hit.length, 6);
        assert_eq!(hit.ascii, "ab\\\\\\x00\\xff");
        assert_eq!(hit.hex, "61625c00ff");
    }
}
