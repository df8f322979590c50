//! Case-insensitive wildcard patterns (`*` any run of characters, `?` one character), as
//! used for finding types (`Backdoor:EC2/*`), titles and host names. `/` is an ordinary
//! character here, and `[`/`{` have no special meaning, so GuardDuty types such as
//! `Trojan:EC2/DNSDataExfiltration!DNS` are written as they are.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Several patterns compiled into one matcher.
#[derive(Debug, Clone)]
pub struct PatternSet {
    set: GlobSet,
    texts: Vec<String>,
}

/// `[`, `]`, `{`, `}` and `\` are literal in Riposte patterns; escape them for globset.
fn escape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '[' | ']' | '{' | '}' | '\\' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

impl PatternSet {
    /// Compiles `patterns`; the error names the first invalid one.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, (String, String)> {
        let mut builder = GlobSetBuilder::new();
        let mut texts = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            if p.trim().is_empty() {
                return Err((p.to_string(), "a pattern cannot be empty".into()));
            }
            if p.len() > 500 {
                return Err((p.to_string(), "a pattern is at most 500 characters".into()));
            }
            let glob = GlobBuilder::new(&escape(p))
                .case_insensitive(true)
                .literal_separator(false)
                .backslash_escape(false)
                .build()
                .map_err(|e| (p.to_string(), e.kind().to_string()))?;
            builder.add(glob);
            texts.push(p.to_string());
        }
        let set = builder
            .build()
            .map_err(|e| (texts.join(", "), e.to_string()))?;
        Ok(PatternSet { set, texts })
    }

    /// True when `text` matches at least one pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.set.is_match(text)
    }

    /// The first pattern `text` matches.
    pub fn first_match(&self, text: &str) -> Option<&str> {
        self.set
            .matches(text)
            .first()
            .map(|i| self.texts[*i].as_str())
    }

    /// The patterns as given.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_case_insensitive_and_cross_slashes() {
        let p = PatternSet::new(&["backdoor:ec2/*", "*CryptoCurrency*"]).unwrap();
        assert!(p.matches("Backdoor:EC2/C&CActivity.B!DNS"));
        assert!(p.matches("CryptoCurrency:EC2/BitcoinTool.B!DNS"));
        assert!(!p.matches("Recon:EC2/PortProbeUnprotectedPort"));
        assert_eq!(
            p.first_match("Impact:EC2/CryptoCurrencyPool"),
            Some("*CryptoCurrency*")
        );
    }

    #[test]
    fn brackets_and_braces_are_literal() {
        let p = PatternSet::new(&["[Sigma] {x} a\\b?"]).unwrap();
        assert!(p.matches("[sigma] {X} a\\bc"));
        assert!(!p.matches("s {x} a\\bc"));
    }

    #[test]
    fn empty_patterns_are_refused() {
        assert!(PatternSet::new(&[" "]).is_err());
    }
}
