//! Checking `X-Riposte-Signature` on inbound webhooks: the inverse of [`sign`](crate::sign),
//! with a freshness window so a captured request cannot be replayed later.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A signature that matched: its timestamp and MAC (the replay-guard key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Unix seconds the sender signed at.
    pub timestamp: i64,
    /// The hex MAC, unique per (body, timestamp).
    pub mac: String,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<unix seconds>,v1=<hex>`.
    #[error(
        "malformed signature header: expected `t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`"
    )]
    Malformed,
    /// The timestamp is too far from now.
    #[error(
        "signature timestamp is {age_seconds}s away from the server's clock (allowed: {tolerance_seconds}s); a replayed request or a skewed clock"
    )]
    Stale {
        /// How far off it is.
        age_seconds: i64,
        /// The allowed distance.
        tolerance_seconds: i64,
    },
    /// No `v1` MAC matches the body and the integration's secret.
    #[error("signature does not match the body and the integration's secret")]
    Mismatch,
}

/// Checks `header` (one `t=` and one or more `v1=` entries) against `body` and `secret`,
/// at unix time `now`, allowing `tolerance_seconds` of clock distance either way. The MAC
/// comparison is constant-time.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<VerifiedSignature, SignatureError> {
    let mut timestamp = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", mac)) => macs.push(mac),
            _ => {}
        }
    }
    let (Some(timestamp), false) = (timestamp, macs.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    let age_seconds = now.saturating_sub(timestamp).saturating_abs();
    if age_seconds > tolerance_seconds {
        return Err(SignatureError::Stale {
            age_seconds,
            tolerance_seconds,
        });
    }
    for mac_hex in macs {
        let Ok(given) = hex::decode(mac_hex) else {
            continue;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&given).is_ok() {
            return Ok(VerifiedSignature {
                timestamp,
                mac: mac_hex.to_ascii_lowercase(),
            });
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign;

    #[test]
    fn a_fresh_signature_from_sign_verifies() {
        let header = sign("k", 1_000, b"{}");
        let ok = verify("k", &header, b"{}", 1_010, 300).unwrap();
        assert_eq!(ok.timestamp, 1_000);
        assert!(header.ends_with(&ok.mac));
    }

    #[test]
    fn wrong_secret_body_or_time_is_refused() {
        let header = sign("k", 1_000, b"{}");
        assert_eq!(
            verify("other", &header, b"{}", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("k", &header, b"{ }", 1_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify("k", &header, b"{}", 1_301, 300),
            Err(SignatureError::Stale {
                age_seconds: 301,
                ..
            })
        ));
        assert!(matches!(
            verify("k", &header, b"{}", 699, 300),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn malformed_headers_are_named_as_such() {
        for header in ["", "t=1", "v1=ab", "t=x,v1=ab", "garbage"] {
            assert_eq!(
                verify("k", header, b"", 1, 300),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        // A non-hex MAC is simply not a match.
        assert_eq!(
            verify("k", "t=1,v1=zz", b"", 1, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_of_several_v1_macs_may_match_during_secret_rotation() {
        let good = sign("new", 5, b"b");
        let mac = good.split("v1=").nth(1).unwrap();
        let header = format!("t=5,v1={},v1={mac}", "00".repeat(32));
        assert!(verify("new", &header, b"b", 5, 300).is_ok());
    }
}
