"""What the alert rules read over time windows, kept by the exporter itself: when the log last grew,
when the nan/inf count last rose, and the recent readings of each GPU (the ``[5m]`` and ``[15m]``
ranges of the Prometheus rules)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from exporter.gpu.reading import GpuReading
from exporter.health import LearningHealth
from exporter.run import RunSnapshot

GPU_WINDOW_SECONDS = 900.0  # the longest range a GPU rule reads (15m)


def linear_fit(points: Sequence[tuple[float, float]], at: float) -> tuple[float, float]:
    """Least-squares line through ``points`` (time, value): its slope and its value at ``at``,
    as Prometheus's ``deriv`` and ``predict_linear`` compute them. Needs two distinct times."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0
    return slope, mean_v + slope * (at - mean_t)


class Recent:
    """The run's and the GPUs' recent past, fed once per evaluation."""

    def __init__(self) -> None:
        self._lines: int | None = None
        self._lines_changed: float | None = None
        self._nonfinite: int | None = None
        self._nonfinite_rose: float | None = None
        self._gpus: dict[str, deque[tuple[float, GpuReading]]] = {}
        self._counted: dict[str, tuple[float, float | None]] = {}  # a counter's last value, when it last rose

    def observe(self, snapshot: RunSnapshot, readings: Iterable[GpuReading], now: float) -> None:
        if snapshot.lines_read != self._lines:
            self._lines, self._lines_changed = snapshot.lines_read, now
        if self._nonfinite is not None and snapshot.nonfinite_losses > self._nonfinite:
            self._nonfinite_rose = now  # an increase needs an earlier value, as increase() does
        self._nonfinite = snapshot.nonfinite_losses
        for key, value in alarm_counts(snapshot.learning):
            self._count(key, value, now)
        for reading in readings:
            window = self._gpus.setdefault(reading.uuid, deque())
            window.append((now, reading))
            while window[0][0] < now - GPU_WINDOW_SECONDS:
                window.popleft()

    def log_silent_seconds(self, now: float) -> float:
        """Since the log last grew (or since it was first seen, which counts as growing)."""
        return 0.0 if self._lines_changed is None else now - self._lines_changed

    def nonfinite_rose_within(self, seconds: float, now: float) -> bool:
        return self._nonfinite_rose is not None and now - self._nonfinite_rose <= seconds

    def _count(self, key: str, value: float, now: float) -> None:
        """As ``increase()`` reads a counter: a rise needs an earlier value; after a reset (a new
        training from scratch) the count starts from 0."""
        previous = self._counted.get(key)
        rose = previous[1] if previous else None
        if previous is not None and value > (previous[0] if value >= previous[0] else 0):
            rose = now
        self._counted[key] = (value, rose)

    def rose_within(self, key: str, seconds: float, now: float) -> bool:
        """Whether the counter ``key`` (of :func:`alarm_counts`) rose in the last ``seconds``."""
        rose = self._counted.get(key, (0, None))[1]
        return rose is not None and now - rose <= seconds

    def gpu(self, uuid: str, seconds: float, now: float) -> list[tuple[float, GpuReading]]:
        """The GPU's answering readings of the last ``seconds``, oldest first."""
        return [(t, r) for t, r in self._gpus.get(uuid, ()) if t >= now - seconds and r.up]


def alarm_counts(h: LearningHealth) -> list[tuple[str, int]]:
    """The health detectors' alarm counters (``training_loss_spike_alarms_total{reason}`` and the
    gradient norm's) by key, ``loss:not_recovered`` for one."""
    series = [("loss", h.loss)] + ([("grad_norm", h.grad_norm)] if h.grad_norm is not None else [])
    return [(f"{name}:{reason}", count) for name, report in series for reason, count in report.alarms]
