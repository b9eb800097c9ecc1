"""Whether the checkpoints still to come fit on the disk the trainer saves them to. Pure.

How much room a save takes depends on how the trainer keeps its checkpoints: one that keeps every
save (a new file or folder each time, as many as the saves seen) takes the latest checkpoint's size
again at each save; one that overwrites a single file or keeps only the last few needs room for
one new checkpoint at a time (written before the old one goes)."""

from __future__ import annotations

from dataclasses import dataclass

UNBOUNDED = 10**9  # "every save fits"


@dataclass(frozen=True, slots=True)
class CheckpointDisk:
    """What the checkpoint directory shows at one moment."""

    free_bytes: int
    latest_bytes: int | None  # the newest checkpoint (a file, or a folder's files together)
    entries: int  # checkpoints in the directory


def keeps_every_save(disk: CheckpointDisk, saves_seen: int) -> bool:
    """Whether each save adds a checkpoint: every save seen is still there, the one being written
    perhaps not yet (nanoGPT says it saves before it does); until that can tell, assume so."""
    return disk.entries >= saves_seen - 1 or saves_seen < 3


def saves_that_fit(disk: CheckpointDisk, saves_seen: int) -> int | None:
    """How many more saves fit in the free space (``UNBOUNDED`` when saves take no new room
    beyond one checkpoint and it fits); None before there is a checkpoint to measure."""
    if not disk.latest_bytes:
        return None
    if keeps_every_save(disk, saves_seen):
        return min(disk.free_bytes // disk.latest_bytes, UNBOUNDED)
    return UNBOUNDED if disk.free_bytes >= disk.latest_bytes else 0


def will_fill(fit: int | None, saves_to_come: int | None) -> bool:
    """Whether a save still to come will not fit."""
    return fit is not None and saves_to_come is not None and fit < saves_to_come


@dataclass(frozen=True, slots=True)
class CheckpointStatus:
    """The checkpoint directory of a run and what its saves still to come need."""

    path: str
    disk: CheckpointDisk
    saves_to_come: int | None  # at most one per eval left (nanoGPT saves after an eval)
    saves_fit: int | None

    @property
    def will_fill(self) -> bool:
        return will_fill(self.saves_fit, self.saves_to_come)


def status(path: str, disk: CheckpointDisk, saves_seen: int, saves_to_come: int | None) -> CheckpointStatus:
    return CheckpointStatus(path, disk, saves_to_come, saves_that_fit(disk, saves_seen))
