//! Evidence bytes in an object store (a local directory by default), content-addressed
//! by SHA-256 and hashed while they stream in.

use crate::Result;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Where evidence bytes live.
#[derive(Clone, Debug)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// The directory of a local store: its files are made 0600 once written.
    local_root: Option<std::path::PathBuf>,
}

/// A blob after it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Key in the store (`sha256/ab/abcdef…`).
    pub key: String,
}

const CHUNK: usize = 256 * 1024;

impl BlobStore {
    /// A store in a local directory (created if missing).
    /// The directory is mode 0700 and every blob 0600 (see [`crate::private_dir`]).
    pub fn local(dir: &Path) -> Result<Self> {
        crate::private_dir(dir)?;
        Ok(BlobStore {
            local_root: Some(dir.to_path_buf()),
            ..Self::new(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
        })
    }

    /// A store over any object store (S3-compatible, in-memory for tests).
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        BlobStore {
            inner,
            local_root: None,
        }
    }

    /// Streams `reader` into the store, hashing as it goes; memory stays bounded by one chunk
    /// per in-flight part. Identical content is stored once.
    pub async fn put_stream(&self, mut reader: impl AsyncRead + Unpin) -> Result<StoredBlob> {
        let staging = ObjectPath::from(format!("staging/{}", uuid::Uuid::new_v4()));
        let upload = self.inner.put_multipart(&staging).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        let sha256 = hex::encode(hasher.finalize());
        let key = format!("sha256/{}/{}", &sha256[..2], sha256);
        let final_path = ObjectPath::from(key.as_str());
        if self.inner.head(&final_path).await.is_ok() {
            self.inner.delete(&staging).await?;
        } else {
            self.inner.rename(&staging, &final_path).await?;
            if let Some(root) = &self.local_root {
                crate::private_file(&root.join(&key))?;
            }
        }
        Ok(StoredBlob { sha256, size, key })
    }

    /// A blob as a stream of byte chunks (memory stays bounded by one chunk).
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<impl tokio::io::AsyncRead + Send + Unpin + 'static> {
        use futures::TryStreamExt;
        let stream = self
            .inner
            .get(&ObjectPath::from(key))
            .await?
            .into_stream()
            .map_err(std::io::Error::other);
        Ok(tokio_util::io::StreamReader::new(stream))
    }

    /// All bytes of a stored blob.
    pub async fn get(&self, key: &str) -> Result<bytes::Bytes> {
        Ok(self
            .inner
            .get(&ObjectPath::from(key))
            .await?
            .bytes()
            .await?)
    }

    /// Reads a blob back and checks it still hashes to its key (chain of custody).
    pub async fn verify(&self, blob: &StoredBlob) -> Result<bool> {
        let bytes = self.get(&blob.key).await?;
        Ok(hex::encode(Sha256::digest(&bytes)) == blob.sha256 && bytes.len() as u64 == blob.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_hash_and_deduplicate_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let data = vec![7u8; 3 * CHUNK + 17];
        let a = store.put_stream(&data[..]).await.unwrap();
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(a.size, data.len() as u64);
        let b = store.put_stream(&data[..]).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(store.get(&a.key).await.unwrap().as_ref(), &data[..]);
        assert!(store.verify(&a).await.unwrap());
        let mut streamed = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(
            &mut store.get_stream(&a.key).await.unwrap(),
            &mut streamed,
        )
        .await
        .unwrap();
        assert_eq!(streamed, data);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dir.path()), 0o700);
            assert_eq!(mode(&dir.path().join(&a.key)), 0o600);
        }
        let empty = store.put_stream(&b""[..]).await.unwrap();
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
