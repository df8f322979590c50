//! Reading the snapshots of an acquisition: each EBS snapshot opened in place through the
//! EBS direct APIs and acquired exactly like a disk image file
//! ([`riposte_acquire::acquire_opened_image`]: the triage profile of the operating system
//! each volume holds, or everything when the acquisition is full), the volumes' reports
//! merged into one. The root volume is read first; a path another volume already gave is
//! kept from the first and listed as skipped, and each further volume's filesystem
//! timeline is named after its device so no timeline is lost.

use crate::ebs::{EbsError, EbsReadOptions, EbsReadStats, EbsSnapshotSource};
use aws_config::SdkConfig;
use riposte_acquire::{
    AcquireError, AcquireOptions, AcquiredItem, AcquisitionReport, FILESYSTEM_TIMELINE,
    acquire_opened_image,
};
use riposte_disk::{Image, ImageFormat, SharedSource};
use riposte_model::CloudVolume;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::runtime::Handle;

/// What reading snapshots can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotReadError {
    /// The snapshot could not be opened (listing its blocks failed, or was refused).
    #[error("cannot open snapshot {snapshot_id}: {source}")]
    Open {
        /// The snapshot.
        snapshot_id: String,
        /// Why.
        #[source]
        source: EbsError,
    },
    /// Reading the disk failed as a whole (a block failed its checksum, the snapshot was
    /// deleted under the reader, the visitor failed).
    #[error("cannot read snapshot {snapshot_id}: {source}")]
    Read {
        /// The snapshot.
        snapshot_id: String,
        /// Why.
        #[source]
        source: AcquireError,
    },
}

/// What the visitor is handed with each item: the volume it was read from.
pub type SnapshotVisit<'v> =
    dyn FnMut(&CloudVolume, &AcquiredItem<'_>, &mut dyn Read) -> io::Result<()> + 'v;

/// The merged report of every snapshot read, and each snapshot's read counters.
#[derive(Debug)]
pub struct SnapshotsRead {
    /// The acquisition's report (the first volume's image report kept).
    pub report: AcquisitionReport,
    /// Per snapshot id: blocks listed, fetched, bytes, … (what triage cost).
    pub stats: Vec<(String, EbsReadStats)>,
}

/// Reads `snapshots` in order (put the root volume first) with `config`'s credentials
/// and region, handing every selected item to `visit`. Blocking: call it from a blocking
/// thread (`spawn_blocking`), with `runtime` the runtime that drives the block requests.
pub fn read_snapshots(
    runtime: &Handle,
    config: &SdkConfig,
    snapshots: &[CloudVolume],
    options: &AcquireOptions<'_>,
    ebs: &EbsReadOptions,
    visit: &mut SnapshotVisit<'_>,
) -> Result<SnapshotsRead, SnapshotReadError> {
    let mut merged: Option<AcquisitionReport> = None;
    let mut stats = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, volume) in snapshots.iter().enumerate() {
        let source = runtime
            .block_on(EbsSnapshotSource::open(
                config,
                &volume.snapshot_id,
                ebs.clone(),
            ))
            .map_err(|source| SnapshotReadError::Open {
                snapshot_id: volume.snapshot_id.clone(),
                source,
            })?;
        let image = Image {
            format: ImageFormat::Raw,
            files: vec![PathBuf::from(source.image_name())],
            source: Arc::new(source.clone()) as SharedSource,
        };
        let timeline = timeline_path(index, volume);
        let mut duplicates = Vec::new();
        let mut report = acquire_opened_image(&image, options, &mut |item, reader| {
            // Only a later volume's filesystem timeline is handed over under another name.
            let renamed;
            let item = if item.original_path == FILESYSTEM_TIMELINE && index > 0 {
                renamed = AcquiredItem {
                    original_path: &timeline,
                    modified: item.modified,
                    image: item.image.clone(),
                    local: item.local,
                };
                &renamed
            } else {
                item
            };
            if !seen.insert(item.original_path.to_string()) {
                duplicates.push(item.original_path.to_string());
                return Ok(());
            }
            visit(volume, item, reader)
        })
        .map_err(|source| SnapshotReadError::Read {
            snapshot_id: volume.snapshot_id.clone(),
            source,
        })?;
        // The duplicates were handed over (and counted) but not kept.
        report.items = report.items.saturating_sub(duplicates.len() as u64);
        for path in duplicates {
            report.skip(
                path,
                format!(
                    "also on {} ({}): the copy of the volume read first is kept",
                    volume.device_name.as_deref().unwrap_or("another volume"),
                    volume.snapshot_id
                ),
            );
        }
        stats.push((volume.snapshot_id.clone(), source.stats()));
        tracing::info!(
            snapshot = %volume.snapshot_id,
            device = volume.device_name.as_deref().unwrap_or("-"),
            items = report.items,
            blocks_fetched = source.stats().blocks_fetched,
            "snapshot read"
        );
        match merged.as_mut() {
            Some(all) => all.absorb(report),
            None => merged = Some(report),
        }
    }
    let report = merged.ok_or_else(|| SnapshotReadError::Read {
        snapshot_id: String::new(),
        source: AcquireError::Unsafe {
            path: PathBuf::from("(no snapshot)"),
            problem: "no snapshot to read".into(),
        },
    })?;
    Ok(SnapshotsRead { report, stats })
}

/// The filesystem timeline's name for the `index`th volume: the usual one for the first,
/// one naming the device (or snapshot) for the others.
fn timeline_path(index: usize, volume: &CloudVolume) -> String {
    if index == 0 {
        return FILESYSTEM_TIMELINE.to_string();
    }
    let name = volume
        .device_name
        .as_deref()
        .and_then(|d| d.rsplit('/').next())
        .filter(|d| !d.is_empty())
        .unwrap_or(&volume.snapshot_id);
    FILESYSTEM_TIMELINE.replace(".body", &format!("-{name}.body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_further_volume_gets_its_own_timeline_name() {
        let volume = |device: Option<&str>| CloudVolume {
            snapshot_id: "snap-1".into(),
            device_name: device.map(str::to_string),
            ..CloudVolume::default()
        };
        assert_eq!(
            timeline_path(0, &volume(Some("/dev/xvda"))),
            FILESYSTEM_TIMELINE
        );
        assert_eq!(
            timeline_path(1, &volume(Some("/dev/sdf"))),
            "/$Riposte/filesystem-timeline-sdf.body"
        );
        assert_eq!(
            timeline_path(2, &volume(None)),
            "/$Riposte/filesystem-timeline-snap-1.body"
        );
    }
}
