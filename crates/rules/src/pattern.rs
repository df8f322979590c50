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

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 500;

/// Why a list of patterns cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// One pattern is invalid on its own.
    #[error("{problem}")]
    Pattern {
        /// Its position in the list.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// Each pattern is valid, but together they exceed the matcher's size limit.
    #[error(
        "these patterns together compile to a matcher over its size limit ({problem}); use fewer or shorter patterns, with fewer wildcards"
    )]
    TooLarge {
        /// The compiler's words.
        problem: String,
    },
}

impl PatternSet {
    /// Compiles `patterns` into one matcher, exactly as rules and scopes use them. The
    /// compiled automaton is bounded (globset refuses one over 10 MiB); the error names
    /// the first invalid pattern, or says the set as a whole is too large.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut builder = GlobSetBuilder::new();
        let mut texts = Vec::with_capacity(patterns.len());
        for (index, p) in patterns.iter().enumerate() {
            let p = p.as_ref();
            let refuse = |problem: String| PatternError::Pattern { index, problem };
            if p.trim().is_empty() {
                return Err(refuse("a pattern cannot be empty".into()));
            }
            if p.len() > MAX_PATTERN_BYTES {
                return Err(refuse(format!(
                    "a pattern is at most {MAX_PATTERN_BYTES} bytes"
                )));
            }
            let glob = GlobBuilder::new(&escape(p))
                .case_insensitive(true)
                .literal_separator(false)
                .backslash_escape(false)
                .build()
                .map_err(|e| refuse(e.kind().to_string()))?;
            builder.add(glob);
            texts.push(p.to_string());
        }
        let set = builder.build().map_err(|e| {
            // The message of a set-wide failure carries no pattern, so it stays short.
            let mut problem = e.to_string();
            problem.truncate(300);
            PatternError::TooLarge { problem }
        })?;
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

    /// The hostile tester's rule: 2000 patterns, each valid alone, that together blow
    /// the automaton's size limit. Compiling is refused as a whole, with a short message.
    #[test]
    fn patterns_valid_alone_can_be_too_large_together() {
        let one = format!("0000{}", "?".repeat(490));
        assert!(PatternSet::new(&[&one]).is_ok());
        let many = vec![one; 2000];
        match PatternSet::new(&many) {
            Err(e @ PatternError::TooLarge { .. }) => assert!(e.to_string().len() < 600, "{e}"),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
