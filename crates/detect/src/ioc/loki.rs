//! The plain lists of LOKI/THOR and Neo23x0's signature-base (`iocs/hash-iocs.txt`,
//! `iocs/c2-iocs.txt`).
//!
//! Hash list: `HASH;COMMENT` per line (MD5, SHA-1 or SHA-256 by length). C2 list: a domain
//! or IP per line, optionally `;SCORE` (0–100: ≥ 90 critical, ≥ 70 high, ≥ 50 medium,
//! ≥ 30 low); the comment line heading a block (`# FireEye Operation Snowman …`) is the
//! description of the entries under it, up to the next blank line. `#` starts a comment;
//! blank lines are ignored.

use super::indicator::parse_ip;
use super::{Import, IocError, IocImporter, IocKind};
use riposte_model::Severity;

/// Reads a LOKI hash list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LokiHashImporter;

/// Reads a LOKI C2 list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LokiC2Importer;

impl IocImporter for LokiHashImporter {
    fn name(&self) -> &'static str {
        "loki-hash"
    }

    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError> {
        let mut import = Import::default();
        for (place, line, _) in lines(data) {
            let (hash, comment) = line.split_once(';').unwrap_or((line, ""));
            let hash = hash.trim();
            match IocKind::detect(hash) {
                Some(kind @ (IocKind::Md5 | IocKind::Sha1 | IocKind::Sha256)) => {
                    import.add(&place, kind, hash, source, comment.trim(), None)
                }
                _ => import.reject(place, format!("`{hash}` is not an MD5, SHA-1 or SHA-256")),
            }
        }
        Ok(import)
    }
}

impl IocImporter for LokiC2Importer {
    fn name(&self) -> &'static str {
        "loki-c2"
    }

    fn import(&self, data: &[u8], source: &str) -> Result<Import, IocError> {
        let mut import = Import::default();
        for (place, line, heading) in lines(data) {
            let (value, score) = line.split_once(';').unwrap_or((line, ""));
            let value = value.trim();
            let severity = match score.trim() {
                "" => None,
                s => match s.parse::<i64>() {
                    Ok(score) => Some(severity_from_score(score)),
                    Err(_) => {
                        import.reject(place, format!("score `{s}` is not a number"));
                        continue;
                    }
                },
            };
            let kind = if parse_ip(value).is_some() {
                IocKind::Ip
            } else if value.contains("://") {
                IocKind::Url
            } else {
                IocKind::Domain
            };
            import.add(&place, kind, value, source, heading, severity);
        }
        Ok(import)
    }
}

/// The THOR/LOKI score convention as a severity.
fn severity_from_score(score: i64) -> Severity {
    match score {
        90.. => Severity::Critical,
        70..=89 => Severity::High,
        50..=69 => Severity::Medium,
        30..=49 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// Non-comment lines as (`line N`, text, the comment heading its block); a line that is
/// not UTF-8 is given as `\u{fffd}` so it is rejected with its number.
fn lines(data: &[u8]) -> Vec<(String, &str, &str)> {
    let mut heading = "";
    let mut out = Vec::new();
    for (n, raw) in data.split(|b| *b == b'\n').enumerate() {
        let place = format!("line {}", n + 1);
        let Ok(line) = std::str::from_utf8(raw).map(str::trim) else {
            out.push((place, "\u{fffd}", heading));
            continue;
        };
        if line.is_empty() {
            heading = "";
        } else if let Some(comment) = line.strip_prefix('#') {
            if !comment.trim().is_empty() {
                heading = comment.trim();
            }
        } else {
            out.push((place, line, heading));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_take_their_heading_and_scores_their_severity() {
        let c2 = "# LOKI header\n#\n\n# Op X report\nevil.example\n1.2.3.4;95\n\nno-heading.example\nbad value\n";
        let import = LokiC2Importer.import(c2.as_bytes(), "c2").unwrap();
        let got: Vec<_> = import
            .indicators
            .iter()
            .map(|i| (i.value.as_str(), i.description.as_str(), i.severity))
            .collect();
        assert_eq!(
            got,
            vec![
                ("evil.example", "Op X report", None),
                ("1.2.3.4/32", "Op X report", Some(Severity::Critical)),
                ("no-heading.example", "", None),
            ]
        );
        assert_eq!(import.rejected[0].place, "line 9");
        let hashes = LokiHashImporter
            .import(b"abc;x\n\xff\xfe;y\n", "h")
            .unwrap();
        let places: Vec<_> = hashes.rejected.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(places, vec!["line 1", "line 2"]);
    }
}
