"""Checkpoint-disk collector: the free space where the trainer saves, the latest checkpoint's size
and the saves still to come and that fit. A collector of its own: a directory that cannot be found
or read gives it success 0 and no families, and nothing else."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector, CollectorStats, gauge
from exporter.health.checkpoint_disk import UNBOUNDED
from exporter.run import RunSnapshot
from exporter.run_set.checkpoints import CheckpointProbe


class CheckpointCollector(Collector):
    name = "checkpoint_disk"

    def __init__(self, stats: CollectorStats, probe: CheckpointProbe) -> None:
        super().__init__(stats)
        self._probe = probe

    def scrape(self, s: RunSnapshot) -> tuple[bool, Iterable[Metric]]:
        status, _problem = self._probe.status(s)
        if status is None:
            return False, []
        run = [s.run]
        families = [
            gauge("training_checkpoint_info", "The directory the run's checkpoints are saved to.", ["run", "path"],
                  [s.run, status.path], 1),
            gauge("training_checkpoint_disk_free_bytes", "Free space of the checkpoint directory's file system.",
                  ["run"], run, status.disk.free_bytes),
        ]
        if status.disk.latest_bytes is not None:
            families.append(gauge("training_checkpoint_bytes", "Size of the latest checkpoint.", ["run"], run,
                                  status.disk.latest_bytes))
        if status.saves_to_come is not None:
            families.append(gauge("training_checkpoint_saves_to_come", "Checkpoint saves still to come (at most "
                                  "one per eval left).", ["run"], run, status.saves_to_come))
        if status.saves_fit is not None and status.saves_fit < UNBOUNDED:
            families.append(gauge("training_checkpoint_saves_fit", "Checkpoint saves that still fit in the free "
                                  "space (absent: every save fits).", ["run"], run, status.saves_fit))
        return True, families
