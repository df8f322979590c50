//! An EC2 instance's disks as EBS snapshots: every attached EBS volume is snapshotted
//! (tagged with the investigation and the instance, the volume's own tags copied), the
//! snapshots are awaited with a bounded wait and visible progress, and the snapshots
//! Riposte made are deleted on [`Ec2Acquirer::cleanup`] unless they are to be retained.
//!
//! A retried acquisition (a worker that died mid-read) finds the snapshots an earlier
//! attempt made for the same investigation and instance by their tags and reuses them,
//! so a retry never leaves a second set behind.

use super::error::{
    CREATE_SNAPSHOT, DELETE_SNAPSHOT, DESCRIBE_INSTANCES, DESCRIBE_SNAPSHOTS, DESCRIBE_VOLUMES,
    Ec2AcquireError,
};
use super::wait::{SnapshotProgress, wait};
use aws_config::SdkConfig;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, ResourceType, SnapshotState, Tag, TagSpecification};
use std::collections::BTreeMap;
use std::time::Duration;

/// The tag naming the investigation a snapshot was made for.
pub const TAG_INVESTIGATION: &str = "riposte:investigation";
/// The tag naming the instance whose volume a snapshot is.
pub const TAG_INSTANCE: &str = "riposte:instance";
/// The tag (`true`) marking a snapshot Riposte made, and may therefore delete.
pub const TAG_CREATED: &str = "riposte:created";

/// How an instance is snapshotted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2AcquireOptions {
    /// How long to wait for the snapshots to complete before giving up (default one
    /// hour: a first snapshot of a large volume takes that long).
    pub snapshot_timeout: Duration,
    /// How often the snapshots' progress is asked for (default 15 s).
    pub poll_interval: Duration,
    /// Keep the snapshots Riposte made instead of deleting them on cleanup.
    pub retain_snapshots: bool,
}

impl Default for Ec2AcquireOptions {
    fn default() -> Self {
        Ec2AcquireOptions {
            snapshot_timeout: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(15),
            retain_snapshots: false,
        }
    }
}

impl Ec2AcquireOptions {
    fn validate(&self) -> Result<(), Ec2AcquireError> {
        let invalid = |key, problem: &str| {
            Err(Ec2AcquireError::InvalidOptions {
                key,
                problem: problem.to_string(),
            })
        };
        if self.poll_interval.is_zero() {
            return invalid("poll_interval", "must be above zero");
        }
        if self.snapshot_timeout.is_zero() {
            return invalid("snapshot_timeout", "must be above zero");
        }
        Ok(())
    }
}

/// An EBS volume attached to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedVolume {
    /// Where it is attached (`/dev/xvda`, `/dev/sdf`).
    pub device_name: String,
    /// The volume.
    pub volume_id: String,
    /// Whether it is the instance's root device.
    pub root: bool,
}

/// A completed snapshot of one of the instance's volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSnapshot {
    /// The snapshot, to read with [`crate::EbsSnapshotSource`].
    pub snapshot_id: String,
    /// The volume it is a snapshot of, and where that volume is attached.
    pub volume: AttachedVolume,
    /// Made by an earlier attempt for the same investigation, and reused.
    pub reused: bool,
}

/// The snapshots of every EBS volume of an instance, for one investigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSnapshots {
    /// The investigation they were made for.
    pub investigation: String,
    /// The instance.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// One per attached volume, in device name order.
    pub snapshots: Vec<VolumeSnapshot>,
    /// Other snapshots Riposte made for this investigation and instance (failed, made
    /// twice by concurrent attempts, or of a volume no longer attached): never read,
    /// deleted on cleanup with the rest so that none is left behind.
    pub leftovers: Vec<String>,
}

impl InstanceSnapshots {
    /// The snapshots as volumes to read, the root volume first, in `account_id` when
    /// known: what [`read_snapshots`](super::read_snapshots) takes.
    pub fn volumes(&self, account_id: Option<&str>) -> Vec<riposte_model::CloudVolume> {
        let mut ordered: Vec<&VolumeSnapshot> = self.snapshots.iter().collect();
        ordered.sort_by_key(|s| (!s.volume.root, s.volume.device_name.clone()));
        ordered
            .into_iter()
            .map(|s| riposte_model::CloudVolume {
                account_id: account_id.map(str::to_string),
                region: self.region.clone(),
                instance_id: Some(self.instance_id.clone()),
                volume_id: Some(s.volume.volume_id.clone()),
                snapshot_id: s.snapshot_id.clone(),
                device_name: Some(s.volume.device_name.clone()),
                created_by_riposte: true,
            })
            .collect()
    }
}

/// A snapshot Riposte made for an investigation, found by its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSnapshot {
    /// The snapshot.
    pub snapshot_id: String,
    /// The volume it is a snapshot of.
    pub volume_id: Option<String>,
    /// AWS reports it failed (state `error`).
    pub failed: bool,
}

/// What a cleanup did with each snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Deleted now.
    pub deleted: Vec<String>,
    /// Already gone (an earlier cleanup, or a person).
    pub already_gone: Vec<String>,
    /// Kept, because snapshots are retained.
    pub retained: Vec<String>,
}

/// Snapshots EC2 instances' volumes in one account and region.
#[derive(Debug, Clone)]
pub struct Ec2Acquirer {
    ec2: aws_sdk_ec2::Client,
    region: String,
    options: Ec2AcquireOptions,
}

impl Ec2Acquirer {
    /// An acquirer using `config`'s region, credentials and endpoints.
    pub fn new(config: &SdkConfig, options: Ec2AcquireOptions) -> Result<Self, Ec2AcquireError> {
        options.validate()?;
        Ok(Ec2Acquirer {
            ec2: aws_sdk_ec2::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            options,
        })
    }

    /// The instances of this account and region carrying every tag of `tags` (the value
    /// `*` only asks for the tag), not terminated, in id order: what a hunt over an AWS
    /// scope investigates.
    pub async fn list_instances(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, Ec2AcquireError> {
        let mut filters = vec![
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    ["pending", "running", "stopping", "stopped"]
                        .map(String::from)
                        .to_vec(),
                ))
                .build(),
        ];
        for (key, value) in tags {
            filters.push(if value == "*" {
                Filter::builder().name("tag-key").values(key).build()
            } else {
                Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build()
            });
        }
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .ec2
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|err| DESCRIBE_INSTANCES.error(err))?;
            ids.extend(
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(|i| i.instance_id().map(str::to_string)),
            );
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The instance's attached EBS volumes, in device name order.
    pub async fn attached_volumes(
        &self,
        instance_id: &str,
    ) -> Result<Vec<AttachedVolume>, Ec2AcquireError> {
        let unknown = || Ec2AcquireError::UnknownInstance {
            instance_id: instance_id.to_string(),
            region: self.region.clone(),
        };
        let out = match self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err)
                if err
                    .code()
                    .is_some_and(|c| c.starts_with("InvalidInstanceID")) =>
            {
                return Err(unknown());
            }
            Err(err) => return Err(DESCRIBE_INSTANCES.error(err)),
        };
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .ok_or_else(unknown)?;
        let root = instance.root_device_name();
        let mut volumes: Vec<AttachedVolume> = instance
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                let device_name = m.device_name()?.to_string();
                let volume_id = m.ebs()?.volume_id()?.to_string();
                Some(AttachedVolume {
                    root: root == Some(device_name.as_str()),
                    device_name,
                    volume_id,
                })
            })
            .collect();
        volumes.sort_by(|a, b| a.device_name.cmp(&b.device_name));
        Ok(volumes)
    }

    /// Snapshots every EBS volume of `instance_id` for `investigation` and waits until
    /// they complete, calling `progress` whenever a snapshot's percentage changes.
    /// Snapshots an earlier attempt made for the same investigation and instance are
    /// reused. When the wait fails (timeout, a failed snapshot), the snapshots are
    /// deleted before the error is returned, unless they are retained.
    pub async fn snapshot_instance(
        &self,
        investigation: &str,
        instance_id: &str,
        mut progress: impl FnMut(&SnapshotProgress),
    ) -> Result<InstanceSnapshots, Ec2AcquireError> {
        let volumes = self.attached_volumes(instance_id).await?;
        if volumes.is_empty() {
            return Err(Ec2AcquireError::NoVolumes {
                instance_id: instance_id.to_string(),
            });
        }
        let mut result = InstanceSnapshots {
            investigation: investigation.to_string(),
            instance_id: instance_id.to_string(),
            region: self.region.clone(),
            snapshots: Vec::new(),
            leftovers: Vec::new(),
        };
        // One earlier snapshot per attached volume is reused (the lowest id, so every
        // retry picks the same); any other is a leftover to delete.
        let mut earlier = BTreeMap::new();
        for found in self.find_snapshots(investigation, instance_id).await? {
            match found.volume_id {
                Some(volume)
                    if !found.failed
                        && !earlier.contains_key(&volume)
                        && volumes.iter().any(|v| v.volume_id == volume) =>
                {
                    earlier.insert(volume, found.snapshot_id);
                }
                _ => result.leftovers.push(found.snapshot_id),
            }
        }
        let missing: Vec<&str> = volumes
            .iter()
            .filter(|v| !earlier.contains_key(&v.volume_id))
            .map(|v| v.volume_id.as_str())
            .collect();
        let volume_tags = self.volume_tags(&missing).await?;
        for volume in volumes {
            if let Some(snapshot_id) = earlier.remove(&volume.volume_id) {
                tracing::info!(%investigation, instance = %instance_id, volume = %volume.volume_id, snapshot = %snapshot_id, "reusing the snapshot of an earlier attempt");
                result.snapshots.push(VolumeSnapshot {
                    snapshot_id,
                    volume,
                    reused: true,
                });
                continue;
            }
            let tags = volume_tags
                .get(&volume.volume_id)
                .cloned()
                .unwrap_or_default();
            match self.create_snapshot(&result, &volume, tags).await {
                Ok(snapshot_id) => result.snapshots.push(VolumeSnapshot {
                    snapshot_id,
                    volume,
                    reused: false,
                }),
                Err(err) => return Err(self.abandon(&result, err).await),
            }
        }
        match wait(&self.ec2, &self.options, &result, &mut progress).await {
            Ok(()) => Ok(result),
            Err(err) => Err(self.abandon(&result, err).await),
        }
    }

    /// Every snapshot Riposte made of `instance_id`'s volumes for `investigation`, in
    /// snapshot id order.
    pub async fn find_snapshots(
        &self,
        investigation: &str,
        instance_id: &str,
    ) -> Result<Vec<FoundSnapshot>, Ec2AcquireError> {
        let tag = |key: &str, value: &str| {
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build()
        };
        let mut pages = self
            .ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(tag(TAG_INVESTIGATION, investigation))
            .filters(tag(TAG_INSTANCE, instance_id))
            .filters(tag(TAG_CREATED, "true"))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| DESCRIBE_SNAPSHOTS.error(e))?;
            found.extend(page.snapshots().iter().filter_map(|s| {
                Some(FoundSnapshot {
                    snapshot_id: s.snapshot_id()?.to_string(),
                    volume_id: s.volume_id().map(str::to_string),
                    failed: s.state() == Some(&SnapshotState::Error),
                })
            }));
        }
        found.sort_by(|a, b| a.snapshot_id.cmp(&b.snapshot_id));
        Ok(found)
    }

    /// Deletes the snapshots Riposte made (all of `snapshots`, made now or by an earlier
    /// attempt, and the leftovers), unless they are retained. Idempotent: a snapshot already gone is
    /// reported as such. Every snapshot is tried; the first failure is returned.
    pub async fn cleanup(&self, snapshots: &InstanceSnapshots) -> Result<Cleanup, Ec2AcquireError> {
        let mut cleanup = Cleanup::default();
        let ids = snapshots
            .snapshots
            .iter()
            .map(|s| s.snapshot_id.clone())
            .chain(snapshots.leftovers.iter().cloned());
        if self.options.retain_snapshots {
            cleanup.retained.extend(ids);
            tracing::info!(investigation = %snapshots.investigation, retained = ?cleanup.retained, "snapshots retained");
            return Ok(cleanup);
        }
        let mut failure = None;
        for id in ids {
            match self.ec2.delete_snapshot().snapshot_id(&id).send().await {
                Ok(_) => cleanup.deleted.push(id),
                Err(err) if err.code() == Some("InvalidSnapshot.NotFound") => {
                    cleanup.already_gone.push(id);
                }
                Err(err) => {
                    let err = DELETE_SNAPSHOT.error(err);
                    tracing::warn!(snapshot = %id, error = %err, "snapshot not deleted");
                    failure.get_or_insert(err);
                }
            }
        }
        tracing::info!(investigation = %snapshots.investigation, deleted = ?cleanup.deleted, already_gone = ?cleanup.already_gone, "snapshots cleaned up");
        failure.map_or(Ok(cleanup), Err)
    }

    /// Cleans up after a failed acquisition and returns its error; a cleanup failure is
    /// logged (the snapshots keep their tags, so a later cleanup finds them).
    async fn abandon(
        &self,
        snapshots: &InstanceSnapshots,
        err: Ec2AcquireError,
    ) -> Ec2AcquireError {
        if let Err(cleanup) = self.cleanup(snapshots).await {
            tracing::warn!(error = %cleanup, "snapshots of a failed acquisition not deleted");
        }
        err
    }

    /// The tags of `volume_ids` a snapshot can carry (not AWS's own `aws:` tags, nor
    /// Riposte's), by volume id.
    async fn volume_tags(
        &self,
        volume_ids: &[&str],
    ) -> Result<BTreeMap<String, Vec<Tag>>, Ec2AcquireError> {
        if volume_ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .ec2
            .describe_volumes()
            .set_volume_ids(Some(volume_ids.iter().map(|v| v.to_string()).collect()))
            .send()
            .await
            .map_err(|e| DESCRIBE_VOLUMES.error(e))?;
        Ok(out
            .volumes()
            .iter()
            .filter_map(|v| {
                let tags = v
                    .tags()
                    .iter()
                    .filter(|t| {
                        t.key()
                            .is_some_and(|k| !k.starts_with("aws:") && !k.starts_with("riposte:"))
                    })
                    .cloned()
                    .collect();
                Some((v.volume_id()?.to_string(), tags))
            })
            .collect())
    }

    async fn create_snapshot(
        &self,
        of: &InstanceSnapshots,
        volume: &AttachedVolume,
        volume_tags: Vec<Tag>,
    ) -> Result<String, Ec2AcquireError> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Snapshot)
            .set_tags(Some(volume_tags))
            .tags(tag(TAG_INVESTIGATION, &of.investigation))
            .tags(tag(TAG_INSTANCE, &of.instance_id))
            .tags(tag(TAG_CREATED, "true"))
            .build();
        let out = self
            .ec2
            .create_snapshot()
            .volume_id(&volume.volume_id)
            .description(format!(
                "Riposte investigation {}: {} of {} ({})",
                of.investigation, volume.volume_id, of.instance_id, volume.device_name
            ))
            .tag_specifications(tags)
            .send()
            .await
            .map_err(|e| CREATE_SNAPSHOT.error(e))?;
        let id = out.snapshot_id().ok_or_else(|| Ec2AcquireError::Request {
            operation: CREATE_SNAPSHOT.operation,
            code: None,
            message: format!("no snapshot id returned for volume {}", volume.volume_id),
        })?;
        tracing::info!(investigation = %of.investigation, instance = %of.instance_id, volume = %volume.volume_id, device = %volume.device_name, snapshot = %id, "snapshot created");
        Ok(id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_waits_are_refused_naming_the_key() {
        let options = Ec2AcquireOptions {
            poll_interval: Duration::ZERO,
            ..Ec2AcquireOptions::default()
        };
        let err = options.validate().expect_err("a zero poll interval");
        assert!(err.to_string().contains("poll_interval"), "{err}");
    }
}
