"""One thread reads every followed log: a log that grows is read every ``poll_interval`` seconds,
one that has not grown for a while less often (a tenth of the time since it last grew, at most
:data:`MAX_IDLE_POLL_SECONDS`), so a directory of finished runs costs no thread and next to no CPU.
A log whose trainer's process is watched is read at the full rate, so the trainer's end is seen
at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from exporter.errors import LogOnce
from exporter.log.watch import POLL_INTERVAL_SECONDS, LogWatcher
from exporter.threads import Repeating

log = logging.getLogger(__name__)

MAX_IDLE_POLL_SECONDS = 15.0  # a log quiet for 150 s or more is read this often (Prometheus scrapes every 15 s)
IDLE_FRACTION = 0.1  # a quiet log is read after this part of the time since it last grew


def poll_interval(base: float, quiet_seconds: float | None) -> float:
    """Seconds until a log quiet for ``quiet_seconds`` (None: unknown) is read again."""
    if quiet_seconds is None:
        return base
    return min(max(base, quiet_seconds * IDLE_FRACTION), max(base, MAX_IDLE_POLL_SECONDS))


@dataclass(eq=False)
class _Scheduled:
    watcher: LogWatcher
    due: float


class LogPoller:
    def __init__(self, poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._base = poll_interval_seconds
        self._clock, self._wall = clock, wall
        self._scheduled: dict[LogWatcher, _Scheduled] = {}
        self._lock = threading.Lock()  # held while one log is read, and to add or remove one
        self._loop = Repeating("log-poller", self.step, self._failed, poll_interval_seconds)
        self._log_failure = LogOnce(log, logging.ERROR)

    def add(self, watcher: LogWatcher) -> None:
        """Read ``watcher``'s log from now on (its first read at the next step)."""
        with self._lock:
            self._scheduled[watcher] = _Scheduled(watcher, self._clock())

    def remove(self, watcher: LogWatcher) -> None:
        """Stop reading ``watcher``'s log and close it (after a read of it under way)."""
        with self._lock:
            self._scheduled.pop(watcher, None)
            watcher.close()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(join_seconds=5)
        with self._lock:
            for scheduled in self._scheduled.values():
                scheduled.watcher.close()

    def step(self) -> float:
        """Read every log that is due; returns the seconds until the next one is."""
        now = self._clock()
        with self._lock:
            due = [s for s in self._scheduled.values() if s.due <= now]
        for scheduled in due:
            if self._loop.stopping.is_set():
                break
            with self._lock:
                if self._scheduled.get(scheduled.watcher) is scheduled:
                    scheduled.due = self._clock() + self._read(scheduled.watcher)
        with self._lock:
            following = min((s.due for s in self._scheduled.values()), default=now + self._base)
        return min(max(0.0, following - self._clock()), self._base)

    def _read(self, watcher: LogWatcher) -> float:
        """Read ``watcher``'s log once; the seconds until it is read again."""
        try:
            lines = watcher.poll()
        except Exception as exc:  # noqa: BLE001 - one log's trouble never stops the others'
            self._log_failure(watcher.path, "reading %s failed", watcher.path, exc_info=exc)
            return self._base
        if lines or watcher.watches_trainer or watcher.modified is None:
            return self._base
        return poll_interval(self._base, self._wall() - watcher.modified)

    def _failed(self, exc: Exception) -> None:
        log.error("the log poller failed", exc_info=exc)
