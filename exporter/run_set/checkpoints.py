"""One run's checkpoint directory, found and read at most every ``READ_EVERY_SECONDS`` for the
scrapes, the page and the alerts alike: its free space, its checkpoints, and the saves to come."""

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
        # what was found for which out_dir and log, when: the directory and its reading, or why not
        self._read: tuple[tuple, float, str | None, CheckpointDisk | str] | None = None

    def status(self, s: RunSnapshot) -> tuple[CheckpointStatus | None, str | None]:
        """The run's checkpoint status, or None and why not (no directory found yet, or it cannot
        be read)."""
        out_dir = s.checkpoint_dir or s.trainer_config.get("out_dir")
        key = (out_dir if isinstance(out_dir, str) else None, s.log_path)
        now = self._clock()
        with self._lock:
            if self._read is None or self._read[0] != key or now - self._read[1] >= READ_EVERY_SECONDS:
                self._read = (key, now, *self._find(*key))
            _, _, path, found = self._read
        if isinstance(found, str):
            return None, found
        return status(path, found, s.checkpoints, s.evals_left), None

    def _find(self, out_dir: str | None, log_path: str) -> tuple[str | None, CheckpointDisk | str]:
        path = checkpoints.resolve(self._flag, out_dir, log_path)
        if path is None:
            return None, "no checkpoint directory found yet: pass --checkpoint-dir"
        try:
            return path, CheckpointDisk(*checkpoints.read(path))
        except OSError as exc:
            return path, f"cannot read the checkpoint directory {path}: {exc.strerror or exc}"
