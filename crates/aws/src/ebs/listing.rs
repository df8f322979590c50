//! The snapshot's block listing: every written block and its token, from
//! `ListSnapshotBlocks` page by page, checked against the volume's geometry.

use super::error::{EbsError, LIST_SNAPSHOT_BLOCKS, call_error};
use std::collections::{BTreeMap, HashSet};

/// Largest block size accepted (AWS uses 512 KiB); bounds the memory of one block.
const MAX_BLOCK_SIZE: u64 = 64 << 20;
/// Largest volume accepted, in GiB (EBS volumes end at 64 TiB).
const MAX_VOLUME_GIB: u64 = 64 << 10;

/// The written blocks of a snapshot. A block that is not listed was never written and
/// reads as zeros.
#[derive(Debug)]
pub(super) struct BlockMap {
    /// Bytes per block, as AWS reported it.
    pub(super) block_size: u64,
    /// The volume's size in bytes.
    pub(super) volume_bytes: u64,
    /// Block index → block token.
    tokens: BTreeMap<u64, Box<str>>,
    /// `ListSnapshotBlocks` calls made.
    pub(super) pages: u64,
}

impl BlockMap {
    /// The token of a written block; `None` for a block never written.
    pub(super) fn token(&self, index: u64) -> Option<&str> {
        self.tokens.get(&index).map(|t| &**t)
    }

    /// Written blocks in `from..to`, in order.
    pub(super) fn listed_in(&self, from: u64, to: u64) -> impl Iterator<Item = u64> + '_ {
        self.tokens.range(from..to).map(|(i, _)| *i)
    }

    /// How many blocks are written.
    pub(super) fn len(&self) -> u64 {
        self.tokens.len() as u64
    }
}

/// One page as received, before checks.
struct Page {
    blocks: Vec<(Option<i32>, Option<String>)>,
    block_size: Option<i32>,
    volume_size: Option<i64>,
    next_token: Option<String>,
}

/// Lists every block of `snapshot`, following `NextToken` until the last page.
pub(super) async fn list_blocks(
    client: &aws_sdk_ebs::Client,
    snapshot: &str,
    region: &str,
    page_size: i32,
    attempts: u32,
) -> Result<BlockMap, EbsError> {
    let mut geometry: Option<(u64, u64)> = None;
    let mut tokens = BTreeMap::new();
    let mut next: Option<String> = None;
    let mut seen_tokens = HashSet::new();
    let mut pages = 0u64;
    loop {
        let output = client
            .list_snapshot_blocks()
            .snapshot_id(snapshot)
            .max_results(page_size)
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| call_error(e, snapshot, region, LIST_SNAPSHOT_BLOCKS, None, attempts))?;
        pages += 1;
        let page = Page {
            blocks: output
                .blocks()
                .iter()
                .map(|b| (b.block_index(), b.block_token().map(str::to_string)))
                .collect(),
            block_size: output.block_size(),
            volume_size: output.volume_size(),
            next_token: output.next_token().map(str::to_string),
        };
        next = add_page(snapshot, page, &mut geometry, &mut tokens)?;
        match &next {
            None => break,
            Some(token) if !seen_tokens.insert(token.clone()) => {
                return Err(bad(
                    snapshot,
                    format!("NextToken {token:?} came back twice"),
                ));
            }
            Some(_) => {}
        }
    }
    let (block_size, volume_bytes) = match geometry {
        Some(g) => g,
        None => {
            return Err(bad(
                snapshot,
                "no page gave the block and volume sizes".into(),
            ));
        }
    };
    tracing::debug!(
        snapshot,
        blocks = tokens.len(),
        block_size,
        volume_bytes,
        pages,
        "EBS: listed blocks"
    );
    Ok(BlockMap {
        block_size,
        volume_bytes,
        tokens,
        pages,
    })
}

fn bad(snapshot: &str, problem: String) -> EbsError {
    EbsError::BadListing {
        snapshot: snapshot.to_string(),
        problem,
    }
}

/// A size from the listing, checked to be in `1..=max`.
fn in_range(snapshot: &str, what: &str, value: Option<i64>, max: u64) -> Result<u64, EbsError> {
    value
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| bad(snapshot, format!("{what} {value:?} is not in 1..={max}")))
}

/// Checks one page and adds its blocks; returns its `NextToken`.
fn add_page(
    snapshot: &str,
    page: Page,
    geometry: &mut Option<(u64, u64)>,
    tokens: &mut BTreeMap<u64, Box<str>>,
) -> Result<Option<String>, EbsError> {
    let block_size = in_range(
        snapshot,
        "block size",
        page.block_size.map(i64::from),
        MAX_BLOCK_SIZE,
    )?;
    let volume_gib = in_range(
        snapshot,
        "volume size (GiB)",
        page.volume_size,
        MAX_VOLUME_GIB,
    )?;
    let this = (block_size, volume_gib << 30);
    match geometry {
        Some(first) if *first != this => {
            return Err(bad(
                snapshot,
                format!(
                    "pages disagree on the geometry: {first:?} then {this:?} (block size, volume bytes)"
                ),
            ));
        }
        _ => *geometry = Some(this),
    }
    let blocks_in_volume = this.1.div_ceil(block_size);
    for (index, token) in page.blocks {
        let index = index
            .and_then(|i| u64::try_from(i).ok())
            .filter(|i| *i < blocks_in_volume)
            .ok_or_else(|| {
                bad(
                    snapshot,
                    format!(
                        "block index {index:?} is outside the volume's {blocks_in_volume} blocks"
                    ),
                )
            })?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad(snapshot, format!("block {index} has no block token")))?;
        tokens.insert(index, token.into_boxed_str());
    }
    Ok(page.next_token.filter(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(blocks: &[(i32, &str)], block_size: i32, next: Option<&str>) -> Page {
        Page {
            blocks: blocks
                .iter()
                .map(|(i, t)| (Some(*i), Some(t.to_string())))
                .collect(),
            block_size: Some(block_size),
            volume_size: Some(1),
            next_token: next.map(str::to_string),
        }
    }

    #[test]
    fn pages_are_merged_and_checked() {
        let mut geometry = None;
        let mut tokens = BTreeMap::new();
        let next = add_page(
            "snap-1",
            page(&[(7, "a"), (3, "b")], 512, Some("n")),
            &mut geometry,
            &mut tokens,
        );
        assert_eq!(next.unwrap().as_deref(), Some("n"));
        add_page(
            "snap-1",
            page(&[(9, "c")], 512, None),
            &mut geometry,
            &mut tokens,
        )
        .unwrap();
        assert_eq!(tokens.keys().copied().collect::<Vec<_>>(), vec![3, 7, 9]);
        assert_eq!(geometry, Some((512, 1 << 30)));

        let err =
            add_page("snap-1", page(&[], 1024, None), &mut geometry, &mut tokens).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
        let err = add_page(
            "snap-1",
            page(&[(2 << 21, "x")], 512, None),
            &mut geometry,
            &mut tokens,
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside the volume"), "{err}");
        let err = add_page("snap-1", page(&[], 0, None), &mut None, &mut tokens).unwrap_err();
        assert!(err.to_string().contains("block size"), "{err}");
        let err = add_page(
            "snap-1",
            page(&[(-1, "x")], 512, None),
            &mut None,
            &mut tokens,
        )
        .unwrap_err();
        assert!(err.to_string().contains("snap-1"), "{err}");
    }
}
