//! Credentials outbound requests carry in `Authorization`: basic auth and bearer tokens
//! (JIRA, any webhook), Elasticsearch API keys, Splunk HEC tokens. Stored sealed as the JSON
//! this type (de)serializes; `Debug` never shows them.

use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An `Authorization` credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// `Basic base64(username:password)` (JIRA Cloud: e-mail and API token).
    Basic {
        /// User name or e-mail.
        username: String,
        /// Password or API token.
        password: String,
    },
    /// `Bearer <token>` (JIRA Data Center personal access tokens).
    Bearer {
        /// The token.
        token: String,
    },
    /// `ApiKey <key>` (Elasticsearch/OpenSearch: the base64 `id:api_key` "encoded" form).
    ApiKey {
        /// The encoded API key.
        key: String,
    },
    /// `Splunk <token>` (a Splunk HTTP Event Collector token).
    Splunk {
        /// The HEC token.
        token: String,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Credential::Basic { .. } => "Basic",
            Credential::Bearer { .. } => "Bearer",
            Credential::ApiKey { .. } => "ApiKey",
            Credential::Splunk { .. } => "Splunk",
        };
        write!(f, "Credential::{kind}(***)")
    }
}

impl Credential {
    /// Parses a credential object, naming the field that is wrong.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        let credential: Credential = serde_json::from_value(value.clone()).map_err(|e| {
            format!("{e} (expected {{\"type\": \"basic\", \"username\", \"password\"}}, {{\"type\": \"bearer\", \"token\"}}, {{\"type\": \"api_key\", \"key\"}} or {{\"type\": \"splunk\", \"token\"}})")
        })?;
        let empty = match &credential {
            Credential::Basic { username, password } => {
                (username.is_empty() || password.is_empty()).then_some("username and password")
            }
            Credential::Bearer { token } | Credential::Splunk { token } => {
                token.is_empty().then_some("token")
            }
            Credential::ApiKey { key } => key.is_empty().then_some("key"),
        };
        match empty {
            Some(what) => Err(format!("{what} must not be empty")),
            None => Ok(credential),
        }
    }

    /// Parses the stored (opened) JSON text.
    pub fn from_stored(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("stored credential: {e}"))?;
        Self::from_value(&value)
    }

    /// The JSON text to seal and store.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        match self {
            Credential::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
            Credential::Bearer { token } => format!("Bearer {token}"),
            Credential::ApiKey { key } => format!("ApiKey {key}"),
            Credential::Splunk { token } => format!("Splunk {token}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_auth_follows_rfc_7617() {
        // RFC 7617 §2's example: Aladdin / open sesame.
        let c = Credential::from_value(
            &json!({"type": "basic", "username": "Aladdin", "password": "open sesame"}),
        )
        .unwrap();
        assert_eq!(c.authorization(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(!format!("{c:?}").contains("sesame"));
        assert_eq!(Credential::from_stored(&c.to_stored()).unwrap(), c);
    }

    #[test]
    fn malformed_credentials_are_explained() {
        assert!(
            Credential::from_value(&json!({"type": "bearer"}))
                .unwrap_err()
                .contains("token")
        );
        assert!(Credential::from_value(&json!({"type": "splunk", "token": ""})).is_err());
        assert!(
            Credential::from_value(&json!({"type": "digest"}))
                .unwrap_err()
                .contains("digest")
        );
    }
}
