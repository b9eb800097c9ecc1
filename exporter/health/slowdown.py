"""A step time that has risen above the segment's own baseline, and for how long.

Pure: fed the step-time samples of one segment (a start or resume) in order, as the run's timing
records them (warm-up iterations and evals already left out). The baseline is the median step time
of the segment's first steady stretch (after ``SETTLE_SECONDS`` of training, over
``BASELINE_SECONDS``); it stays fixed for the segment. The step time is *slow* while the median of
the last ``RECENT_SAMPLES`` samples is ``SLOW_RATIO`` or more above the baseline, and slow no more
once that median is back under ``RECOVERED_RATIO``; a stretch whose own median is not
``SLOW_RATIO`` above the baseline is not shown as slow (noise around the threshold). Durations are training time (the trainer's own
step times times the iterations they cover), so a log read back gives the same verdicts as one
followed live, and a stall or an eval never counts as slowness."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add, mul, sub
from statistics import median

SLOW_RATIO = 1.2  # a step time 20 % above the baseline is slow
RECOVERED_RATIO = 1.1  # ... until it is back under 10 % above
SLOW_SECONDS = 300.0  # slow for this much training time: TrainingSlowdown
SETTLE_SECONDS = 60.0  # training time after warm-up before the baseline is taken
BASELINE_SECONDS = 120.0  # the baseline is the median over this much training time ...
BASELINE_MIN_SAMPLES = 20  # ... and at least this many samples
RECENT_SAMPLES = 5  # the current step time: the median of this many latest samples
LEVEL_SAMPLES = 64  # the slow level: the median of at most this many samples since it began


@dataclass(frozen=True, slots=True)
class SlowdownView:
    """What a snapshot shows: the baseline, the current slow stretch (if any) and its level."""

    baseline_seconds: float | None = None
    slow_level_seconds: float | None = None  # the median step time since the step time became slow
    slow_for_seconds: float = 0.0  # training time since it became slow (0: not slow)
    slow_since_iteration: int | None = None

    @property
    def ratio(self) -> float | None:
        """The slow level over the baseline (None while not slow)."""
        if self.slow_level_seconds is None or not self.baseline_seconds:
            return None
        return self.slow_level_seconds / self.baseline_seconds


class SegmentSlowdown:
    """The slowdown state of one segment, fed its samples in order."""

    def __init__(self) -> None:
        self._trained = 0.0  # training seconds of this segment's samples so far
        self._last_iteration: int | None = None
        self._baseline_samples: list[float] = []
        self._baseline_from: float | None = None  # training time the baseline stretch began at
        self.baseline: float | None = None
        self._recent: deque[float] = deque(maxlen=RECENT_SAMPLES)
        self._level: deque[float] = deque(maxlen=LEVEL_SAMPLES)
        self._slow_from: float | None = None
        self._slow_since_iteration: int | None = None

    def add_all(self, iterations: Sequence[int], seconds: Sequence[float]) -> None:
        """Record the samples ``zip(iterations, seconds)`` (the step time at each iteration)."""
        if not iterations:
            return
        baseline, slow = self.baseline, self._slow_from is not None
        # without a loop in Python where no sample can change the state: a healthy run's samples
        # all under the slow threshold, or a slow stretch's all over the recovery threshold
        if baseline is not None and (max(seconds) < baseline * SLOW_RATIO if not slow
                                     else min(seconds) >= baseline * RECOVERED_RATIO):
            previous = iterations[0] if self._last_iteration is None else self._last_iteration
            steps = map(sub, iterations, (previous, *iterations[:-1]))
            self._trained = reduce(add, map(mul, seconds, steps), self._trained)
            self._last_iteration = iterations[-1]
            self._recent.extend(seconds[-RECENT_SAMPLES:])
            if slow:
                self._level.extend(seconds[-LEVEL_SAMPLES:])
            return
        for iteration, value in zip(iterations, seconds):
            self.add(iteration, value)

    def add(self, iteration: int, seconds: float) -> None:
        steps = 1 if self._last_iteration is None else max(iteration - self._last_iteration, 0)
        self._last_iteration = iteration
        self._trained += seconds * steps
        if self.baseline is None:
            self._learn_baseline(seconds)
            return
        self._recent.append(seconds)
        current = median(self._recent)
        if self._slow_from is None:
            if len(self._recent) == RECENT_SAMPLES and current >= SLOW_RATIO * self.baseline:
                self._slow_from, self._slow_since_iteration = self._trained, iteration
                self._level.clear()
                self._level.extend(v for v in self._recent if v >= SLOW_RATIO * self.baseline)
        elif current < RECOVERED_RATIO * self.baseline:
            self._slow_from = self._slow_since_iteration = None
        else:
            self._level.append(seconds)

    def _learn_baseline(self, seconds: float) -> None:
        if self._trained < SETTLE_SECONDS:
            return
        if self._baseline_from is None:
            self._baseline_from = self._trained
        self._baseline_samples.append(seconds)
        if len(self._baseline_samples) >= BASELINE_MIN_SAMPLES and self._trained - self._baseline_from >= BASELINE_SECONDS:
            baseline = median(self._baseline_samples)
            self.baseline = baseline if baseline > 0 else None  # step times of 0: try the next stretch
            self._baseline_samples, self._baseline_from = [], None

    def view(self) -> SlowdownView:
        """A stretch counts as slow while its own median is 20 % or more above the baseline too
        (a few noisy lines that tip the recent median over do not make a slow stretch)."""
        level = median(self._level) if self._slow_from is not None and self._level else None
        if level is None or self.baseline is None or level < SLOW_RATIO * self.baseline:
            return SlowdownView(self.baseline)
        return SlowdownView(self.baseline, level, self._trained - self._slow_from, self._slow_since_iteration)


def eta_cost_seconds(view: SlowdownView, iterations_left: int | None) -> float | None:
    """How much later the run ends at the slow level than at the baseline: the iterations left
    times the difference (None while not slow or without a maximum)."""
    if view.slow_level_seconds is None or view.baseline_seconds is None or iterations_left is None:
        return None
    return max(iterations_left, 0) * max(view.slow_level_seconds - view.baseline_seconds, 0.0)
