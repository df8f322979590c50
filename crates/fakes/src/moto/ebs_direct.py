"""Brings moto's EBS direct API closer to AWS for Riposte's tests, then runs moto_server.

moto (5.2.x) answers the EBS direct API from blocks written with StartSnapshot /
PutSnapshotBlock / CompleteSnapshot, but:
  * ListSnapshotBlocks returns BlockIndex as a JSON string (the AWS SDKs expect an
    integer), in insertion order, and ignores maxResults / pageToken /
    startingBlockIndex;
  * an unknown snapshot id is a Python KeyError, i.e. an HTML "500 Internal Server
    Error", where AWS answers 404 ResourceNotFoundException (Reason SNAPSHOT_NOT_FOUND);
  * EC2 DeleteSnapshot leaves the snapshot readable through the EBS direct API;
  * a snapshot made with EC2 CreateSnapshot has no blocks: the EBS direct API does not
    know it, even when its volume was created from a snapshot that has blocks;
  * EC2 CreateSnapshot completes at once (status "completed", progress "100%").

This wrapper changes exactly those things, as AWS documents them: blocks are
listed as integers in ascending order, paginated (maxResults, an opaque pageToken,
startingBlockIndex); unknown or deleted snapshots raise ResourceNotFoundException; an EC2
DeleteSnapshot also removes the snapshot from the EBS direct API; an EC2 CreateSnapshot
of a volume created from a snapshot the EBS direct API knows serves that snapshot's
blocks (a volume is never written in the emulator, so its data is the data it was
created from). Everything else is moto's own code.

When RIPOSTE_MOTO_SNAPSHOT_SECONDS is set, a snapshot made with EC2 CreateSnapshot (or
CreateSnapshots) stays "pending" that many seconds, its progress rising linearly from
0% to 99%, then reads "completed" and "100%" as moto's do. Its blocks are served while
it is pending too (Riposte reads a snapshot only once it is completed). Snapshots
started through the EBS direct API are not delayed.

moto reports BlockSize 512; RIPOSTE_MOTO_EBS_BLOCK_SIZE (bytes) makes it report
another size, e.g. AWS's 524288, for benchmarks.

Usage: python3 ebs_direct.py [moto_server arguments...]
"""

import json
import os
import sys
import threading
import time

from moto.core.exceptions import JsonRESTError
from moto.ebs import models as ebs_models
from moto.ebs import responses as ebs_responses
from moto.ec2 import models as ec2_models
from moto.ec2.models.elastic_block_store import Snapshot as Ec2Snapshot


class ResourceNotFoundException(JsonRESTError):
    code = 404

    def __init__(self, snapshot_id):
        super().__init__(
            "ResourceNotFoundException",
            f"The snapshot '{snapshot_id}' does not exist.",
        )
        self.description = json.dumps(
            {
                "__type": "ResourceNotFoundException",
                "message": self.message,
                "Reason": "SNAPSHOT_NOT_FOUND",
            }
        )


def _snapshot(backend, snapshot_id):
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise ResourceNotFoundException(snapshot_id)
    return snapshot


def _checked(name):
    original = getattr(ebs_models.EBSBackend, name)

    def wrapper(self, snapshot_id, *args, **kwargs):
        _snapshot(self, snapshot_id)
        return original(self, snapshot_id, *args, **kwargs)

    setattr(ebs_models.EBSBackend, name, wrapper)


for _name in (
    "list_snapshot_blocks",
    "get_snapshot_block",
    "put_snapshot_block",
    "complete_snapshot",
):
    _checked(_name)


_block_size = os.environ.get("RIPOSTE_MOTO_EBS_BLOCK_SIZE")
if _block_size:
    _original_init = ebs_models.EBSSnapshot.__init__

    def _init(self, *args, **kwargs):
        _original_init(self, *args, **kwargs)
        self.block_size = int(_block_size)

    ebs_models.EBSSnapshot.__init__ = _init


def list_snapshot_blocks(self):
    snapshot_id = self.path.split("?")[0].split("/")[-2]
    snapshot = self.ebs_backend.list_snapshot_blocks(snapshot_id=snapshot_id)
    params = self._get_params()
    max_results = int(params.get("maxResults") or 10000)
    start = int(params.get("pageToken") or params.get("startingBlockIndex") or 0)
    indices = sorted(int(i) for i in snapshot.blocks)
    listed = [i for i in indices if i >= start]
    page, rest = listed[:max_results], listed[max_results:]
    body = {
        "Blocks": [
            {"BlockIndex": i, "BlockToken": snapshot.blocks[str(i)].block_token}
            for i in page
        ],
        "VolumeSize": snapshot.volume_size,
        "BlockSize": snapshot.block_size,
    }
    if rest:
        body["NextToken"] = str(rest[0])
    return json.dumps(body)


ebs_responses.EBSResponse.list_snapshot_blocks = list_snapshot_blocks


_original_delete = ec2_models.EC2Backend.delete_snapshot


def delete_snapshot(self, snapshot_id):
    deleted = _original_delete(self, snapshot_id)
    ebs_models.ebs_backends[self.account_id][self.region_name].snapshots.pop(
        snapshot_id, None
    )
    return deleted


ec2_models.EC2Backend.delete_snapshot = delete_snapshot


_EC2_CREATE = threading.local()


def _pending_seconds():
    value = os.environ.get("RIPOSTE_MOTO_SNAPSHOT_SECONDS")
    return float(value) if value else 0.0


def _status(self):
    ready_at = getattr(self, "_riposte_ready_at", None)
    if ready_at is not None and time.monotonic() < ready_at:
        return "pending"
    return self._riposte_status


def _set_status(self, value):
    self._riposte_status = value


def _progress(self):
    ready_at = getattr(self, "_riposte_ready_at", None)
    if ready_at is None or time.monotonic() >= ready_at:
        return "100%"
    total = self._riposte_pending_seconds
    done = 1.0 - (ready_at - time.monotonic()) / total
    return f"{min(99, max(0, int(done * 100)))}%"


# moto assigns `status` in Snapshot.__init__; a property with a setter keeps that value
# and lets a pending window override what is read while it lasts.
Ec2Snapshot.status = property(_status, _set_status)
Ec2Snapshot.progress = property(_progress)


_original_start = ebs_models.EBSBackend.start_snapshot


def start_snapshot(self, *args, **kwargs):
    # The EC2 snapshot behind an EBS StartSnapshot is not an EC2 CreateSnapshot.
    _EC2_CREATE.inside_start = True
    try:
        return _original_start(self, *args, **kwargs)
    finally:
        _EC2_CREATE.inside_start = False


ebs_models.EBSBackend.start_snapshot = start_snapshot


_original_create = ec2_models.EC2Backend.create_snapshot


def create_snapshot(self, volume_id, description, *args, **kwargs):
    snapshot = _original_create(self, volume_id, description, *args, **kwargs)
    if getattr(_EC2_CREATE, "inside_start", False):
        return snapshot
    seconds = _pending_seconds()
    if seconds > 0:
        snapshot._riposte_pending_seconds = seconds
        snapshot._riposte_ready_at = time.monotonic() + seconds
    # A volume is never written in the emulator: its data is the snapshot it was
    # created from, if the EBS direct API holds that snapshot's blocks.
    ebs = ebs_models.ebs_backends[self.account_id][self.region_name]
    origin = ebs.snapshots.get(snapshot.volume.snapshot_id or "")
    if origin is not None:
        copy = ebs_models.EBSSnapshot(account_id=self.account_id, snapshot=snapshot)
        copy.status = "completed"
        copy.block_size = origin.block_size
        copy.blocks = dict(origin.blocks)
        ebs.snapshots[snapshot.id] = copy
    return snapshot


ec2_models.EC2Backend.create_snapshot = create_snapshot


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
