//! SSH credentials: what Riposte logs in to a host with. Stored sealed with the server's
//! master key and never shown again; their `Debug` hides the secret.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The secret of an SSH credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SshSecret {
    /// An OpenSSH (or PEM, PuTTY) private key, optionally protected by a passphrase.
    PrivateKey {
        /// The key file's text (`-----BEGIN OPENSSH PRIVATE KEY-----…`).
        private_key: String,
        /// Its passphrase, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passphrase: Option<String>,
    },
    /// A password.
    Password {
        /// The password.
        password: String,
    },
}

impl SshSecret {
    /// `private_key` or `password`.
    pub fn kind(&self) -> &'static str {
        match self {
            SshSecret::PrivateKey { .. } => "private_key",
            SshSecret::Password { .. } => "password",
        }
    }
}

impl fmt::Debug for SshSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SshSecret({}, hidden)", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = SshSecret::Password {
            password: "hunter2".into(),
        };
        assert_eq!(format!("{s:?}"), "SshSecret(password, hidden)");
        let k: SshSecret = serde_json::from_value(serde_json::json!({
            "kind": "private_key", "private_key": "-----BEGIN", "passphrase": "pp"
        }))
        .unwrap();
        assert!(!format!("{k:?}").contains("pp"));
    }
}
