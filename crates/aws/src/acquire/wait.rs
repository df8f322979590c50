//! Waiting for snapshots: `DescribeSnapshots` polled until each one completes, its
//! progress reported as it changes, within a bounded time.

use super::ec2::{Ec2AcquireOptions, InstanceSnapshots, VolumeSnapshot};
use super::error::{DESCRIBE_SNAPSHOTS, Ec2AcquireError, PendingSnapshot};
use aws_sdk_ec2::types::{Snapshot, SnapshotState};
use std::collections::BTreeMap;
use std::time::Instant;

/// How far one snapshot is, as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// The snapshot.
    pub snapshot_id: String,
    /// Its volume.
    pub volume_id: String,
    /// Where the volume is attached.
    pub device_name: String,
    /// Percent done (100 once completed).
    pub percent: u8,
}

/// Polls until every snapshot completes, one fails, or the timeout runs out.
pub(crate) async fn wait(
    ec2: &aws_sdk_ec2::Client,
    options: &Ec2AcquireOptions,
    of: &InstanceSnapshots,
    progress: &mut impl FnMut(&SnapshotProgress),
) -> Result<(), Ec2AcquireError> {
    let started = Instant::now();
    let mut pending: BTreeMap<&str, (&VolumeSnapshot, Option<u8>)> = of
        .snapshots
        .iter()
        .map(|s| (s.snapshot_id.as_str(), (s, None)))
        .collect();
    loop {
        let ids: Vec<String> = pending.keys().map(|k| k.to_string()).collect();
        let out = ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(ids))
            .send()
            .await
            .map_err(|e| DESCRIBE_SNAPSHOTS.error(e))?;
        for snapshot in out.snapshots() {
            let Some(id) = snapshot.snapshot_id() else {
                continue;
            };
            let Some((of_volume, last)) = pending.get_mut(id) else {
                continue;
            };
            let percent = percent(snapshot);
            if *last != Some(percent) {
                *last = Some(percent);
                progress(&SnapshotProgress {
                    snapshot_id: id.to_string(),
                    volume_id: of_volume.volume.volume_id.clone(),
                    device_name: of_volume.volume.device_name.clone(),
                    percent,
                });
            }
            match snapshot.state() {
                Some(SnapshotState::Completed) => {
                    pending.remove(id);
                }
                Some(SnapshotState::Error) => {
                    return Err(Ec2AcquireError::SnapshotFailed {
                        snapshot_id: id.to_string(),
                        volume_id: of_volume.volume.volume_id.clone(),
                        message: snapshot.state_message().unwrap_or("no message").to_string(),
                    });
                }
                _ => {}
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let waited = started.elapsed();
        let Some(left) = options.snapshot_timeout.checked_sub(waited) else {
            return Err(Ec2AcquireError::SnapshotTimeout {
                instance_id: of.instance_id.clone(),
                waited,
                pending: pending
                    .iter()
                    .map(|(id, (s, last))| PendingSnapshot {
                        snapshot_id: id.to_string(),
                        volume_id: s.volume.volume_id.clone(),
                        percent: last.unwrap_or(0),
                    })
                    .collect(),
            });
        };
        tokio::time::sleep(left.min(options.poll_interval)).await;
    }
}

/// A snapshot's progress in percent: AWS reports `"42%"`; a completed one is 100.
fn percent(snapshot: &Snapshot) -> u8 {
    if snapshot.state() == Some(&SnapshotState::Completed) {
        return 100;
    }
    snapshot
        .progress()
        .and_then(|p| p.trim().trim_end_matches('%').parse::<u8>().ok())
        .map_or(0, |p| p.min(100))
}
#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(state: SnapshotState, progress: Option<&str>) -> Snapshot {
        Snapshot::builder()
            .state(state)
            .set_progress(progress.map(str::to_string))
            .build()
    }

    #[test]
    fn progress_is_read_from_aws_percentages_and_completed_is_100() {
        assert_eq!(percent(&snapshot(SnapshotState::Pending, Some("42%"))), 42);
        assert_eq!(percent(&snapshot(SnapshotState::Pending, None)), 0);
        assert_eq!(percent(&snapshot(SnapshotState::Pending, Some("bad"))), 0);
        assert_eq!(
            percent(&snapshot(SnapshotState::Completed, Some("99%"))),
            100
        );
    }
}
