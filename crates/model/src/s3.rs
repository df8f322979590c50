//! Objects in S3 named by `s3://bucket/key` (evidence imported from a bucket).

use std::fmt;

/// A bucket and key, from `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Address {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
}

impl S3Address {
    /// Parses `s3://bucket/key`; the error says what is wrong.
    pub fn parse(uri: &str) -> Result<S3Address, String> {
        let bad = |problem: &str| format!("{uri}: {problem}");
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| bad("write an S3 object as s3://bucket/key"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| bad("write an S3 object as s3://bucket/key"))?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "the bucket name must be 3 to 63 lowercase letters, digits, dots or hyphens",
            ));
        }
        if key.is_empty() || key.len() > 1024 || key.ends_with('/') {
            return Err(bad(
                "the key must name one object (1 to 1024 bytes, not a folder)",
            ));
        }
        Ok(S3Address {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for S3Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_a_bucket_and_one_object() {
        let a = S3Address::parse("s3://evidence-bucket/cases/web01.tar.gz").unwrap();
        assert_eq!(a.bucket, "evidence-bucket");
        assert_eq!(a.key, "cases/web01.tar.gz");
        assert_eq!(a.to_string(), "s3://evidence-bucket/cases/web01.tar.gz");
        for bad in [
            "evidence/web01.tar.gz",
            "s3://evidence-bucket",
            "s3://evidence-bucket/",
            "s3://evidence-bucket/cases/",
            "s3://Evidence/x",
            "s3://ab/x",
        ] {
            assert!(S3Address::parse(bad).is_err(), "{bad}");
        }
    }
}
