//! Where collectors put what they read: each item streamed into the evidence store from
//! the blocking thread that reads it, hashed on the way (nothing is extracted to disk;
//! blobs are content-addressed, so re-collecting after a crash stores nothing twice).

use riposte_model::Provenance;
use riposte_store::{BlobStore, StoredBlob};
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::runtime::Handle;

/// Collected items, stored as they come.
pub(crate) struct BlobSink {
    runtime: Handle,
    blobs: BlobStore,
    /// Each item's provenance and blob, in the order read.
    pub items: Vec<(Provenance, StoredBlob)>,
}

impl BlobSink {
    /// A sink storing into `blobs`, driven by `runtime` (the caller runs on a blocking
    /// thread of it).
    pub fn new(runtime: Handle, blobs: BlobStore) -> Self {
        BlobSink {
            runtime,
            blobs,
            items: Vec::new(),
        }
    }

    /// Streams `content` into the store and keeps it with its `provenance`.
    pub fn put(&mut self, provenance: Provenance, content: &mut dyn Read) -> io::Result<()> {
        let blob = self
            .runtime
            .block_on(self.blobs.put_stream(BlockingReader(content)))
            .map_err(io::Error::other)?;
        self.items.push((provenance, blob));
        Ok(())
    }
}

/// A synchronous reader as an `AsyncRead`, for a future driven by `block_on` on a
/// blocking thread (never on the runtime's workers): each poll reads synchronously.
struct BlockingReader<'a>(&'a mut dyn Read);

impl AsyncRead for BlockingReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.get_mut().0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}
