//! Settings of rule loading and scanning.

use crate::YaraError;
use serde::Deserialize;
use std::path::PathBuf;

/// The bundled rule folder, relative to the repository root (signature-base, DRL 1.1).
pub const BUNDLED_RULES_DIR: &str = "detections/yara";

/// How rules are loaded and files scanned; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YaraConfig {
    /// Folders searched recursively for `.yar`/`.yara` files, in order (default: the
    /// bundled [`BUNDLED_RULES_DIR`]); add custom folders here.
    pub rule_dirs: Vec<PathBuf>,
    /// Rules carrying any of these tags (case-insensitive) are never reported.
    pub skip_tags: Vec<String>,
    /// Largest file scanned, in bytes (default 64 MiB); larger ones are recorded as skipped.
    pub max_file_size: u64,
    /// Longest a single scan may run, in seconds (default 60).
    pub timeout_secs: u64,
    /// Matches kept per string of a matching rule (default 5); the total is still counted.
    pub max_hits_per_string: usize,
    /// Bytes of matched data kept in a hit's excerpt (default 32).
    pub excerpt_bytes: usize,
    /// Threads of [`crate::RuleSet::scan_files`] (default 0: rayon's global pool, one per core).
    pub threads: usize,
}

impl YaraConfig {
    /// The defaults: the bundled rules, 64 MiB, 60 s per scan.
    pub fn new() -> Self {
        YaraConfig {
            rule_dirs: vec![PathBuf::from(BUNDLED_RULES_DIR)],
            skip_tags: Vec::new(),
            max_file_size: 64 * 1024 * 1024,
            timeout_secs: 60,
            max_hits_per_string: 5,
            excerpt_bytes: 32,
            threads: 0,
        }
    }

    /// Checks the values make sense, naming the offending key.
    pub fn validate(&self) -> Result<(), YaraError> {
        let fail = |msg: &str| Err(YaraError::Config(msg.to_string()));
        if self.max_file_size == 0 {
            return fail("yara.max_file_size must be at least 1");
        }
        if usize::try_from(self.max_file_size).is_err() {
            return fail("yara.max_file_size does not fit in memory on this platform");
        }
        if self.timeout_secs == 0 {
            return fail("yara.timeout_secs must be at least 1");
        }
        if self.excerpt_bytes > 4096 {
            return fail("yara.excerpt_bytes must be at most 4096");
        }
        Ok(())
    }
}

impl Default for YaraConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        assert!(YaraConfig::default().validate().is_ok());
        let config: YaraConfig = serde_json::from_str(r#"{"timeout_secs": 0}"#).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("yara.timeout_secs"), "{err}");
        assert!(serde_json::from_str::<YaraConfig>(r#"{"timeout": 1}"#).is_err());
    }
}
