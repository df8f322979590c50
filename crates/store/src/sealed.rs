//! Secrets at rest: integration secrets and XDR credentials are sealed with the server's
//! master key (XChaCha20-Poly1305, random 192-bit nonce) before they reach the database.
//!
//! A sealed value is `v1:<key id>:<base64(nonce ‖ ciphertext)>`. The key id (the first
//! 8 hex digits of SHA-256 of the key) lets a server started with the wrong key say so
//! instead of failing obscurely, and the row's identity is bound in as associated data, so
//! a ciphertext copied onto another row does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// Why a master key could not be loaded or a sealed value opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key material is not 32 bytes of base64.
    #[error(
        "master key must be 32 random bytes, base64-encoded (generate one with `openssl rand -base64 32`): {0}"
    )]
    BadKey(String),
    /// The key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The value was sealed with another master key.
    #[error(
        "secret was sealed with master key {sealed_with}, but this server runs with {current}; start it with the master key it was created with"
    )]
    WrongKey {
        /// Key id in the sealed value.
        sealed_with: String,
        /// Key id of the loaded key.
        current: String,
    },
    /// The value is damaged or does not belong to this row.
    #[error("sealed secret is corrupt or belongs to another record")]
    Corrupt,
}

/// The server's master key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator");
        MasterKey { key }
    }

    /// A key from its base64 text (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| SealError::BadKey(e.to_string()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SealError::BadKey(format!("got {} bytes", b.len())))?;
        Ok(MasterKey { key })
    }

    /// The key's base64 text, for writing a key file.
    pub fn to_base64(&self) -> String {
        B64.encode(self.key)
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a new random key.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        let file_error = |source| SealError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(file_error)?;
                std::io::Write::write_all(&mut file, key.to_base64().as_bytes())
                    .map_err(file_error)?;
                tracing::info!(path = %path.display(), key_id = %key.id(), "created a new master key; back it up: sealed secrets cannot be opened without it");
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// The key id: first 8 hex digits of SHA-256 of the key.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.key)[..4])
    }

    /// Seals `secret`, bound to `context` (e.g. `connection:<id>`).
    pub fn seal(&self, context: &str, secret: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random number generator");
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v1:{}:{}", self.id(), B64.encode(blob))
    }

    /// Opens a value [`seal`](Self::seal)ed with this key and the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Corrupt);
        };
        if key_id != self.id() {
            return Err(SealError::WrongKey {
                sealed_with: key_id.to_string(),
                current: self.id(),
            });
        }
        let blob = B64.decode(body).map_err(|_| SealError::Corrupt)?;
        if blob.len() < 24 {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| SealError::Corrupt)?;
        XChaCha20Poly1305::new((&self.key).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)
    }

    /// Opens a sealed UTF-8 secret.
    pub fn open_string(&self, context: &str, sealed: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal("connection:a", b"client-secret");
        assert!(!sealed.contains("client-secret"));
        assert_eq!(key.open("connection:a", &sealed).unwrap(), b"client-secret");
        assert!(matches!(
            key.open("connection:b", &sealed),
            Err(SealError::Corrupt)
        ));
        let other = MasterKey::generate();
        assert!(matches!(
            other.open("connection:a", &sealed),
            Err(SealError::WrongKey { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(key.open("connection:a", &tampered).is_err());
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let key = MasterKey::generate();
        assert_ne!(key.seal("x", b"s"), key.seal("x", b"s"));
    }

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let created = MasterKey::load_or_create(&path).unwrap();
        let loaded = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(created.id(), loaded.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{created:?}").contains(&created.to_base64()));
        assert!(matches!(
            MasterKey::from_base64("c2hvcnQ="),
            Err(SealError::BadKey(_))
        ));
    }
}
