//! One `GetSnapshotBlock`: the block's bytes, checked against the length and SHA-256
//! checksum AWS sent with them before anyone reads them. Hashing uses aws-lc (already
//! linked for TLS): its assembly SHA-256 keeps up with many blocks in flight even in
//! unoptimised builds.

use super::error::{EbsError, GET_SNAPSHOT_BLOCK, call_error};
use aws_lc_rs::digest::{SHA256, digest};
use aws_sdk_ebs::types::ChecksumAlgorithm;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

/// Where a block is and how big it must be.
pub(super) struct BlockRequest<'a> {
    /// The snapshot.
    pub(super) snapshot: &'a str,
    /// Its region, for messages.
    pub(super) region: &'a str,
    /// The block index.
    pub(super) index: u64,
    /// Its token from the listing.
    pub(super) token: &'a str,
    /// The snapshot's block size.
    pub(super) block_size: u64,
    /// Attempts per request, for messages.
    pub(super) attempts: u32,
}

/// Fetches and verifies one block.
pub(super) async fn fetch_block(
    client: &aws_sdk_ebs::Client,
    request: &BlockRequest<'_>,
) -> Result<Bytes, EbsError> {
    let BlockRequest {
        snapshot,
        region,
        index,
        token,
        block_size,
        attempts,
    } = *request;
    let failed = |message: String| EbsError::Request {
        snapshot: snapshot.to_string(),
        operation: GET_SNAPSHOT_BLOCK,
        block: Some(index),
        message,
    };
    let block_index = i32::try_from(index).map_err(|_| {
        failed(format!(
            "block index {index} does not fit the API's 32 bits"
        ))
    })?;
    let output = client
        .get_snapshot_block()
        .snapshot_id(snapshot)
        .block_index(block_index)
        .block_token(token)
        .send()
        .await
        .map_err(|e| {
            call_error(
                e,
                snapshot,
                region,
                GET_SNAPSHOT_BLOCK,
                Some(index),
                attempts,
            )
        })?;
    let checksum = output.checksum().map(str::to_string);
    let algorithm = output.checksum_algorithm().cloned();
    let data = output
        .block_data
        .collect()
        .await
        .map_err(|e| failed(format!("the block's data stopped arriving: {e}")))?
        .into_bytes();
    verify(snapshot, index, block_size, &data, checksum, algorithm)?;
    Ok(data)
}

/// Checks a block's length and SHA-256 checksum.
fn verify(
    snapshot: &str,
    index: u64,
    block_size: u64,
    data: &[u8],
    checksum: Option<String>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<(), EbsError> {
    let bad = |problem: String| EbsError::BadBlock {
        snapshot: snapshot.to_string(),
        block: index,
        problem,
    };
    if data.len() as u64 != block_size {
        return Err(bad(format!(
            "{} bytes arrived, the snapshot's block size is {block_size}",
            data.len()
        )));
    }
    match algorithm {
        Some(ChecksumAlgorithm::ChecksumAlgorithmSha256) => {}
        other => {
            return Err(bad(format!(
                "checksum algorithm {other:?} is not SHA256: the data cannot be verified"
            )));
        }
    }
    let Some(expected) = checksum else {
        return Err(bad(
            "no checksum came with the data: it cannot be verified".into()
        ));
    };
    let actual = BASE64.encode(digest(&SHA256, data));
    if actual != expected {
        return Err(EbsError::ChecksumMismatch {
            snapshot: snapshot.to_string(),
            block: index,
            expected,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_algorithm_and_checksum_are_checked() {
        let data = vec![7u8; 512];
        let good = BASE64.encode(digest(&SHA256, &data));
        let sha = || Some(ChecksumAlgorithm::ChecksumAlgorithmSha256);
        assert!(verify("snap-1", 3, 512, &data, Some(good.clone()), sha()).is_ok());
        let err = verify("snap-1", 3, 1024, &data, Some(good.clone()), sha()).unwrap_err();
        assert!(err.to_string().contains("block size is 1024"), "{err}");
        let err = verify("snap-1", 3, 512, &data, Some(good.clone()), None).unwrap_err();
        assert!(err.to_string().contains("not SHA256"), "{err}");
        let err = verify("snap-1", 3, 512, &data, None, sha()).unwrap_err();
        assert!(err.to_string().contains("no checksum"), "{err}");
        let other = BASE64.encode(digest(&SHA256, &[1u8]));
        let err = verify("snap-1", 3, 512, &data, Some(other), sha()).unwrap_err();
        assert!(
            matches!(err, EbsError::ChecksumMismatch { block: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("snap-1"), "{err}");
    }
}
