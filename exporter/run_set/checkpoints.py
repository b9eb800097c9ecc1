"""One run's checkpoint directory, read at most every ``READ_EVERY_SECONDS`` for the scrapes and
the alerts alike: its free space, its checkpoints, and the saves still to come."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from exporter.health.checkpoint_disk import CheckpointDisk, CheckpointStatus, status
from exporter.run import RunSnapshot
from exporter.trainer import checkpoints

READ_EVERY_SECONDS = 10.0


class CheckpointProbe:
    def __init__(self, flag: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._flag = flag
        self._clock = clock
        self._lock = threading.Lock()
        self._read: tuple[str, float, CheckpointDisk] | None = None  # path, when, what

    def status(self, s: RunSnapshot) -> tuple[CheckpointStatus | None, str | None]:
        """The run's checkpoint status, or None and why not (no directory found yet, or it cannot
        be read)."""
        out_dir = s.checkpoint_dir or s.trainer_config.get("out_dir")
        path = checkpoints.resolve(self._flag, out_dir if isinstance(out_dir, str) else None, s.log_path)
        if path is None:
            return None, "no checkpoint directory found yet: pass --checkpoint-dir"
        now = self._clock()
        with self._lock:
            read = self._read
            if read is None or read[0] != path or now - read[1] >= READ_EVERY_SECONDS:
                try:
                    found = checkpoints.read(path)
                except OSError as exc:
                    return None, f"cannot read the checkpoint directory {path}: {exc.strerror or exc}"
                read = self._read = path, now, CheckpointDisk(*found)
        return status(path, read[2], s.checkpoints, s.evals_left), None
