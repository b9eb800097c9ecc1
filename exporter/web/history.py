"""A bounded history of a run for the page's charts, sampled from its snapshots.

A point is kept when the run advanced (a new iteration or a new val loss). When the history is
full, every other point is dropped: it keeps covering the whole run at half the resolution, so
its size stays bounded however long the run."""

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
        self._points: list[tuple] = []
        self._run: str | None = None
        self._lock = threading.Lock()  # the sampling loop writes, HTTP workers read

    def record(self, s: RunSnapshot, power_watts: float | None, now: float) -> None:
        """Add ``s`` (and the GPUs' power) as a point at ``now`` if the run advanced. A new run
        (see ``energy_key``) starts a new history; a run resumed from an earlier iteration
        drops the points past it."""
        if s.iteration is None:
            return
        point = (now, s.iteration, s.loss if s.loss_finite else None, s.eval_losses.get("val"),
                 s.iteration_seconds, power_watts)
        with self._lock:
            if s.energy_key != self._run:
                self._run, self._points = s.energy_key, []
            while self._points and self._points[-1][1] > s.iteration:
                self._points.pop()
            if self._points and self._points[-1][1] == s.iteration and self._points[-1][3] == point[3]:
                return
            self._points.append(point)
            if len(self._points) > self._max_points:
                self._points = self._points[(len(self._points) - 1) % 2::2]  # the latest point stays

    def points(self) -> list[tuple]:
        """The points, oldest first, each a tuple in the order of :data:`COLUMNS`."""
        with self._lock:
            return list(self._points)
