"""The most likely cause of a slowdown that the GPUs show, and the sentence that says it.

:class:`SlowdownEvidence` is fed, at each tick of the serve loop, whether the run's step time is
slow now and the readings of the GPUs the run uses; it keeps a healthy stretch (the last
``HEALTHY_SECONDS`` while the step time was not slow) and the slow one (the last ``SLOW_SECONDS``
of it), and :func:`cause` compares the two: a clock event reason (throttling) active for most of
the slow stretch and much more than before; a compute process on the run's GPUs that was not
there for most of the healthy stretch; a GPU utilisation fallen well below what it was. A GPU as busy as before, not
throttled and not shared is doing more work per step: the trainer's own schedule (a batch or
sequence length that grows), which is no alert. Without GPU readings the cause is unknown."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exporter.gpu.reading import GpuReading
from exporter.units import duration

THERMAL, HW_SLOWDOWN, POWER_CAP = "thermal", "hw_slowdown", "power_cap"
OTHER_PROCESS, LOW_UTILIZATION, WORKLOAD, UNKNOWN = "other_process", "low_utilization", "workload", "unknown"
REASONS = ((THERMAL, ("hw_thermal_slowdown", "sw_thermal_slowdown")),
           (HW_SLOWDOWN, ("hw_slowdown", "hw_power_brake_slowdown")),
           (POWER_CAP, ("sw_power_cap",)))  # in this order of precedence
HEALTHY_SECONDS = 600.0
SLOW_SECONDS = 300.0
MOST = 0.5  # a reason or process counts when present in more than this share of the slow stretch ...
MORE_THAN_BEFORE = 0.25  # ... and in this much more of it than of the healthy one
UTILIZATION_DROP = 0.15  # utilisation this much (0-1) below the healthy stretch's mean
LOW_UTILIZATION_RATIO = 0.6  # without a healthy stretch: utilisation below this is low
WHY = {
    THERMAL: "the GPU is throttling for heat (thermal slowdown active)",
    HW_SLOWDOWN: "the GPU's hardware slowdown is active (power brake or overheating)",
    POWER_CAP: "the GPU is held at its power cap more than before",
    OTHER_PROCESS: "another process is using the trainer's GPU",
    LOW_UTILIZATION: "the GPU is busy less than before: the input pipeline or the CPU holds it back",
    WORKLOAD: "the GPU is as busy as before and not throttled: the trainer does more work per step "
              "(its own batch or sequence schedule)",
    UNKNOWN: "no GPU reading shows why",
}


@dataclass(frozen=True, slots=True)
class GpuSample:
    """The run's GPUs at one tick: the clock event reasons active on any, their mean utilisation
    (None where none says), the compute processes on them."""

    at: float
    reasons: frozenset[str]
    utilization: float | None
    pids: frozenset[int]


def sample(readings: Iterable[GpuReading], now: float) -> GpuSample | None:
    """The readings of the GPUs that answer, as one sample; None when none does."""
    up = [r for r in readings if r.up]
    if not up:
        return None
    utilizations = [r.utilization_ratio for r in up if r.utilization_ratio is not None]
    return GpuSample(now, frozenset(reason for r in up for reason, on in r.clock_events_active.items() if on),
                     sum(utilizations) / len(utilizations) if utilizations else None,
                     frozenset(pid for r in up for pid, _ in r.processes or ()))


def _share(samples: Sequence[GpuSample], reasons: tuple[str, ...]) -> float:
    return sum(1 for s in samples if s.reasons.intersection(reasons)) / len(samples)


def _mean_utilization(samples: Sequence[GpuSample]) -> float | None:
    values = [s.utilization for s in samples if s.utilization is not None]
    return sum(values) / len(values) if values else None


def cause(healthy: Sequence[GpuSample], slow: Sequence[GpuSample]) -> str:
    """The most likely cause of the slow stretch ``slow`` against the ``healthy`` one before it
    (empty when the exporter did not see the run healthy, e.g. started in the middle of it)."""
    if not slow:
        return UNKNOWN
    for name, reasons in REASONS:
        now = _share(slow, reasons)
        before = _share(healthy, reasons) if healthy else (1.0 if name == POWER_CAP else 0.0)
        if now > MOST and now - before >= MORE_THAN_BEFORE:
            return name
    if healthy:
        seen = Counter(pid for s in healthy for pid in s.pids)
        known = {pid for pid, count in seen.items() if count > MOST * len(healthy)}  # the usual processes
        if sum(1 for s in slow if s.pids - known) > MOST * len(slow):
            return OTHER_PROCESS
    now_busy, before_busy = _mean_utilization(slow), _mean_utilization(healthy)
    if now_busy is None:
        return UNKNOWN
    if before_busy is not None and now_busy <= before_busy - UTILIZATION_DROP \
            or before_busy is None and now_busy < LOW_UTILIZATION_RATIO:
        return LOW_UTILIZATION
    return WORKLOAD


class SlowdownEvidence:
    """The GPU side of one run's slowdown, fed by the serve loop; :attr:`cause` is read from any
    thread (a reference swap)."""

    def __init__(self) -> None:
        self._healthy: deque[GpuSample] = deque()
        self._slow: deque[GpuSample] = deque()
        self.cause: str | None = None  # while the step time is slow

    def observe(self, slow: bool, readings: Iterable[GpuReading], now: float) -> None:
        taken = sample(readings, now)
        window, keep = (self._slow, SLOW_SECONDS) if slow else (self._healthy, HEALTHY_SECONDS)
        if not slow:
            self._slow.clear()
        if taken is not None:
            window.append(taken)
        while window and window[0].at < now - keep:
            window.popleft()
        self.cause = cause(self._healthy, self._slow) if slow else None


def describe(ratio: float, baseline: float, level: float, slow_for: float, since: int | None,
             why: str, eta_cost: float | None) -> str:
    """The sentence under the iteration time and in the alert: how much slower, since when, why,
    and what it costs."""
    since_text = f" since iteration {since}" if since is not None else ""
    cost = f"; +{duration(eta_cost)} to the finish" if eta_cost is not None else ""
    return (f"Step time +{(ratio - 1) * 100:.0f} % over this run's baseline ({baseline * 1000:.0f} ms → "
            f"{level * 1000:.0f} ms) for {duration(slow_for)}{since_text}: {WHY[why]}{cost}.")
