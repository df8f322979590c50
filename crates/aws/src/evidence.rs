//! The evidence store in an S3 bucket (AWS or any S3-compatible service): where workers
//! put the bytes they collect, content-addressed under a prefix, so that many workers on
//! many machines share one store.
//!
//! `s3://bucket/prefix` names it. Credentials, region and endpoint come from the standard
//! AWS chain (`AWS_ENDPOINT_URL` included); an explicit endpoint and the addressing style
//! (path-style by default, which every S3-compatible service accepts) can be given.
//! Uploads are multipart (5 MiB parts) and retried with backoff by the client.

use crate::s3::builder;
use aws_config::SdkConfig;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, path::Path as ObjectPath};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// An evidence location in S3: a bucket and a key prefix (maybe empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceBucket {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing `/`.
    pub prefix: String,
}

impl fmt::Display for EvidenceBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl FromStr for EvidenceBucket {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3:// URL (s3://bucket/prefix)"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(format!("the prefix {prefix:?} has a `.` or `..` part"));
        }
        Ok(EvidenceBucket {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// How to reach the bucket besides the SDK configuration.
#[derive(Debug, Clone, Default)]
pub struct EvidenceStoreOptions {
    /// An endpoint for an S3-compatible service (else the configuration's, else AWS).
    pub endpoint: Option<String>,
    /// Virtual-hosted-style requests (`bucket.host/key`) instead of path-style.
    pub virtual_hosted: bool,
}

/// Why the evidence bucket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceStoreError {
    /// The client could not be built.
    #[error("cannot set up the S3 client for {location}: {message}")]
    Client {
        /// The location.
        location: EvidenceBucket,
        /// What went wrong.
        message: String,
    },
    /// Listing the prefix failed: no such bucket, no access, no endpoint.
    #[error(
        "cannot use {location} as the evidence store ({message}): check that the bucket exists, that the credentials allow s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject under the prefix, and the endpoint"
    )]
    Unreachable {
        /// The location.
        location: EvidenceBucket,
        /// What S3 said.
        message: String,
    },
}

/// Opens the evidence store at `location`, checking that the prefix can be listed.
pub async fn evidence_store(
    config: &SdkConfig,
    location: &EvidenceBucket,
    options: &EvidenceStoreOptions,
) -> Result<Arc<dyn ObjectStore>, EvidenceStoreError> {
    let mut b =
        builder(config, &location.bucket).map_err(|message| EvidenceStoreError::Client {
            location: location.clone(),
            message,
        })?;
    if let Some(endpoint) = &options.endpoint {
        b = b
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    b = b.with_virtual_hosted_style_request(options.virtual_hosted);
    let s3 = b.build().map_err(|e| EvidenceStoreError::Client {
        location: location.clone(),
        message: e.to_string(),
    })?;
    let store: Arc<dyn ObjectStore> = if location.prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, location.prefix.as_str()))
    };
    store
        .list_with_delimiter(Some(&ObjectPath::from("sha256")))
        .await
        .map_err(|e| EvidenceStoreError::Unreachable {
            location: location.clone(),
            message: e.to_string(),
        })?;
    tracing::info!(store = %location, "evidence store in S3");
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_bad_ones_say_why() {
        let l: EvidenceBucket = "s3://riposte-evidence/prod/eu/".parse().unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("riposte-evidence", "prod/eu")
        );
        assert_eq!(l.to_string(), "s3://riposte-evidence/prod/eu");
        let l: EvidenceBucket = "s3://bucket".parse().unwrap();
        assert_eq!(l.prefix, "");
        for (bad, why) in [
            ("/var/lib/riposte", "is not an s3:// URL"),
            ("s3://Bucket/x", "is not an S3 bucket name"),
            ("s3://ab/x", "is not an S3 bucket name"),
            ("s3://bucket/a/../b", "has a `.` or `..` part"),
        ] {
            let e = bad.parse::<EvidenceBucket>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
