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
        // Stored once: an existing blob of the same size is kept (one of another size was
        // damaged in the store, and is replaced).
        let existing = self.inner.head(&final_path).await.ok();
        if existing.is_some_and(|meta| meta.size == size) {
            self.inner.delete(&staging).await?;
        } else {
            self.inner.rename(&staging, &final_path).await?;
            if let Some(root) = &self.local_root {
                crate::private_file(&root.join(&key))?;
            }
        }
        Ok(StoredBlob { sha256, size, key })
    }

    /// A blob as a stream of byte chunks (memory stays bounded by one chunk). A
    /// content-addressed blob is hashed as it is read: reaching its end with other bytes
    /// than those it was stored with is an `InvalidData` error naming the key, so evidence
    /// altered in the store (a shared bucket, a disk fault) is never parsed as if genuine.
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
        Ok(Verified::new(
            key,
            tokio_util::io::StreamReader::new(stream),
        ))
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

/// The SHA-256 a content-addressed key names (`sha256/ab/abcdef…`).
fn key_sha256(key: &str) -> Option<&str> {
    let hex = key.strip_prefix("sha256/")?.split_once('/')?.1;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// A reader that hashes what it reads and, at the end, checks it against the key.
struct Verified<R> {
    inner: R,
    key: String,
    expected: Option<String>,
    hasher: Sha256,
}

impl<R> Verified<R> {
    fn new(key: &str, inner: R) -> Self {
        Verified {
            inner,
            key: key.to_string(),
            expected: key_sha256(key).map(str::to_ascii_lowercase),
            hasher: Sha256::new(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Verified<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            this.hasher.update(read);
        } else if buf.remaining() > 0
            && let Some(expected) = this.expected.take()
        {
            let actual = hex::encode(std::mem::take(&mut this.hasher).finalize());
            if actual != expected {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "evidence blob {} no longer matches its SHA-256 (read {actual}): it was altered in the evidence store; restore it from a backup, or delete it from the store and collect the evidence again",
                        this.key
                    ),
                )));
            }
        }
        std::task::Poll::Ready(Ok(()))
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
        // A blob altered in the store fails at its end, naming its key.
        std::fs::write(dir.path().join(&a.key), vec![8u8; data.len()]).unwrap();
        let mut altered = Vec::new();
        let err = tokio::io::AsyncReadExt::read_to_end(
            &mut store.get_stream(&a.key).await.unwrap(),
            &mut altered,
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains(&a.key), "{err}");
        let empty = store.put_stream(&b""[..]).await.unwrap();
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
