"""A bounded history of a run for the page's charts, sampled from its snapshots.

A point is taken when the run advanced (a new iteration or a new val loss). Every ``stride``-th
point is kept, and the latest one is always shown; when the kept points fill the history, every
other one is dropped and the stride doubles. The history keeps covering the whole run, evenly, at
a lower resolution: its size stays bounded however long the run."""

from __future__ import annotations

import threading

from exporter.run import RunSnapshot

MAX_POINTS = 600
COLUMNS = ("timestamp", "iteration", "loss", "val_loss", "iteration_seconds", "power_watts")


class History:
    def __init__(self, max_points: int = MAX_POINTS) -> None:
        if max_points < 2:
            raise ValueError("a history needs room for at least two points")
        self._max_points = max_points
        self._lock = threading.Lock()  # the sampling loop writes, HTTP workers read
        self._start(None)

    def _start(self, run: str | None) -> None:
        self._run = run
        self._kept: list[tuple] = []
        self._latest: tuple | None = None  # the latest point, when it is not kept
        self._stride = 1
        self._since_kept = 0  # points taken since the latest kept one

    def record(self, s: RunSnapshot, power_watts: float | None, now: float) -> None:
        """Add ``s`` (and the GPUs' power) as a point at ``now`` if the run advanced. A new run
        (see ``energy_key``) starts a new history; a run resumed from an earlier iteration
        drops the points past it."""
        if s.iteration is None:
            return
        self.add(s.energy_key, (now, s.iteration, s.loss if s.loss_finite else None, s.eval_losses.get("val"),
                                s.iteration_seconds, power_watts))

    def fill(self, run: str, points: list[tuple]) -> None:
        """Points read back from the log (:mod:`exporter.web.backfill`) before the live ones:
        what the history holds already (taken while the log was read) stays after them."""
        with self._lock:
            newest = points[-1][1] if points else -1
            live = [point for point in self._points() if point[1] > newest] if self._run == run else []
            self._start(run)
            for point in points:
                self._add(point)
            for point in live:
                self._add(point)

    def add(self, run: str, point: tuple) -> None:
        with self._lock:
            if run != self._run:
                self._start(run)
            self._add(point)

    def _add(self, point: tuple) -> None:
        last = self._latest or (self._kept[-1] if self._kept else None)
        if last is not None and last[1] > point[1]:
            self._latest, self._since_kept = None, 0
            while self._kept and self._kept[-1][1] > point[1]:
                self._kept.pop()
        elif last is not None and last[1] == point[1] and last[3] == point[3]:
            return
        self._take(point)

    def _take(self, point: tuple) -> None:
        self._since_kept += 1
        if self._since_kept < self._stride:
            self._latest = point
            return
        self._kept.append(point)
        self._latest, self._since_kept = None, 0
        if len(self._kept) > self._max_points - 1:  # room for the latest point besides
            if (len(self._kept) - 1) % 2:  # the last kept point goes: its points count since
                self._since_kept = self._stride
            self._kept = self._kept[::2]
            self._stride *= 2

    def points(self) -> list[tuple]:
        """The points, oldest first, each a tuple in the order of :data:`COLUMNS`."""
        with self._lock:
            return self._points()

    def _points(self) -> list[tuple]:
        return self._kept + ([self._latest] if self._latest else [])
