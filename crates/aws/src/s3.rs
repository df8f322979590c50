//! An object in S3 read in place with range requests, as a [`ByteSource`]: a triage
//! package streams through it and a disk image is read where the filesystem walk needs,
//! so an image is never downloaded whole and nothing is written to local disk.
//!
//! [`S3ObjectSource::open`] asks for the object's size and ETag once (`HeadObject`);
//! reads then fetch the chunks they touch (`GetObject` with a `Range`, default 1 MiB) and
//! keep the most recent in a small cache. Every range request carries `If-Match` with the
//! ETag, so an object replaced while it is read fails with a clear error instead of
//! mixing two versions; a range that comes back short (the object was truncated) fails
//! too. Credentials are the SDK configuration's (the standard chain, or an assumed role).
//!
//! Reads block their thread while the runtime the source was opened on fetches: call
//! [`ByteSource::read_at`] from a blocking thread, never from an async task.

use aws_config::SdkConfig;
use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, CredentialProvider, GetOptions, GetRange, ObjectStore, ObjectStoreExt,
    RetryConfig,
};
use riposte_disk::ByteSource;
pub use riposte_model::S3Address;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::runtime::Handle;

/// What can go wrong reading an object in S3.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No such object (or bucket).
    #[error("s3://{bucket}/{key} does not exist: check the bucket, the key and the region")]
    Missing {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// S3 refused the credentials.
    #[error(
        "reading s3://{bucket}/{key} was refused ({message}): the credentials need s3:GetObject on it (and kms:Decrypt on its KMS key if it is encrypted with one)"
    )]
    AccessDenied {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What S3 said.
        message: String,
    },
    /// Any other failure.
    #[error("reading s3://{bucket}/{key} failed: {message}")]
    Request {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// What happened.
        message: String,
    },
}

/// Bytes per range request by default.
pub const DEFAULT_CHUNK: u64 = 1 << 20;
/// Chunks kept in memory.
const CACHED_CHUNKS: usize = 32;

/// An S3 object read in place. Clones share the cache.
#[derive(Clone)]
pub struct S3ObjectSource {
    shared: Arc<Shared>,
}

struct Shared {
    store: AmazonS3,
    address: S3Address,
    path: ObjectPath,
    len: u64,
    etag: Option<String>,
    chunk: u64,
    runtime: Handle,
    cache: Mutex<VecDeque<(u64, bytes::Bytes)>>,
}

impl fmt::Debug for S3ObjectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3ObjectSource")
            .field("address", &self.shared.address)
            .field("len", &self.shared.len)
            .finish()
    }
}

impl S3ObjectSource {
    /// Opens `address` with the credentials, region and endpoint of `config`, reading
    /// `chunk` bytes per request. Must be awaited on the runtime that will run the reads.
    pub async fn open(
        config: &SdkConfig,
        address: &S3Address,
        chunk: u64,
    ) -> Result<Self, S3Error> {
        let runtime = Handle::try_current().map_err(|_| S3Error::Request {
            bucket: address.bucket.clone(),
            key: address.key.clone(),
            message: "S3ObjectSource::open must run inside a tokio runtime".into(),
        })?;
        let builder = builder(config, &address.bucket).map_err(|message| S3Error::Request {
            bucket: address.bucket.clone(),
            key: address.key.clone(),
            message,
        })?;
        let store = builder.build().map_err(|e| S3Error::Request {
            bucket: address.bucket.clone(),
            key: address.key.clone(),
            message: e.to_string(),
        })?;
        let path = ObjectPath::from(address.key.as_str());
        let meta = store.head(&path).await.map_err(|e| classify(address, e))?;
        tracing::info!(object = %address, bytes = meta.size, "S3 object opened");
        Ok(S3ObjectSource {
            shared: Arc::new(Shared {
                store,
                address: address.clone(),
                path,
                len: meta.size,
                etag: meta.e_tag,
                chunk: chunk.max(64 << 10),
                runtime,
                cache: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The object's address.
    pub fn address(&self) -> &S3Address {
        &self.shared.address
    }

    fn chunk(&self, index: u64) -> io::Result<bytes::Bytes> {
        let shared = &self.shared;
        if let Some((_, data)) = lock(&shared.cache).iter().find(|(i, _)| *i == index) {
            return Ok(data.clone());
        }
        let start = index * shared.chunk;
        let end = (start + shared.chunk).min(shared.len);
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            if_match: shared.etag.clone(),
            ..GetOptions::default()
        };
        let data = shared
            .runtime
            .block_on(async {
                shared
                    .store
                    .get_opts(&shared.path, options)
                    .await?
                    .bytes()
                    .await
            })
            .map_err(|e| match e {
                object_store::Error::Precondition { .. } => io::Error::other(format!(
                    "{} changed while it was read (its ETag no longer matches): read it again",
                    shared.address
                )),
                other => io::Error::other(classify(&shared.address, other)),
            })?;
        if (data.len() as u64) < end - start {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} returned {} bytes at offset {start} where {} were expected: the object is truncated",
                    shared.address,
                    data.len(),
                    end - start
                ),
            ));
        }
        let mut cache = lock(&shared.cache);
        if cache.len() >= CACHED_CHUNKS {
            cache.pop_front();
        }
        cache.push_back((index, data.clone()));
        Ok(data)
    }
}

impl ByteSource for S3ObjectSource {
    fn len(&self) -> u64 {
        self.shared.len
    }

    /// Reads from the object, blocking this thread while the chunk is fetched. One call
    /// reads at most to the end of one chunk; callers loop.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.shared.len || buf.is_empty() {
            return Ok(0);
        }
        let index = offset / self.shared.chunk;
        let data = self.chunk(index)?;
        let within = (offset - index * self.shared.chunk) as usize;
        let available = data.len().saturating_sub(within);
        let n = available.min(buf.len());
        buf[..n].copy_from_slice(&data[within..within + n]);
        Ok(n)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn classify(address: &S3Address, e: object_store::Error) -> S3Error {
    let bucket = address.bucket.clone();
    let key = address.key.clone();
    match e {
        object_store::Error::NotFound { .. } => S3Error::Missing { bucket, key },
        object_store::Error::PermissionDenied { source, .. }
        | object_store::Error::Unauthenticated { source, .. } => S3Error::AccessDenied {
            bucket,
            key,
            message: source.to_string(),
        },
        other => S3Error::Request {
            bucket,
            key,
            message: other.to_string(),
        },
    }
}

/// An S3 client for `bucket` with the credentials, region and endpoint of `config`,
/// retries with backoff (6) and a 120 s request timeout.
pub(crate) fn builder(config: &SdkConfig, bucket: &str) -> Result<AmazonS3Builder, String> {
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| "no AWS credentials are configured".to_string())?;
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(
            config
                .region()
                .map_or_else(|| "us-east-1".to_string(), |r| r.to_string()),
        )
        .with_credentials(Arc::new(SdkCredentials {
            provider: credentials,
            cached: Mutex::new(None),
        }))
        .with_retry(RetryConfig {
            max_retries: 6,
            ..RetryConfig::default()
        })
        .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(120)));
    if let Some(endpoint) = config.endpoint_url() {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    Ok(builder)
}

/// The SDK configuration's credentials for object_store's S3 client, cached until five
/// minutes before they expire.
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl fmt::Debug for SdkCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkCredentials")
    }
}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        if let Some((credential, expiry)) = lock(&self.cached).as_ref() {
            let fresh = expiry.is_none_or(|at| {
                at.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(300))
            });
            if fresh {
                return Ok(credential.clone());
            }
        }
        let credentials = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Unauthenticated {
                path: String::new(),
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: credentials.access_key_id().to_string(),
            secret_key: credentials.secret_access_key().to_string(),
            token: credentials.session_token().map(str::to_string),
        });
        *lock(&self.cached) = Some((credential.clone(), credentials.expiry()));
        Ok(credential)
    }
}
