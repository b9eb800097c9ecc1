"""Spikes in a series of numbers (a training loss, a gradient norm): a value far above a robust
rolling baseline, or one that is not finite.

The values are taken in segments: 8 values each at first, twice as many every 8 segments, up to
128, so that a short log has a baseline early and a long one costs little per value. The
baseline of a value is the median of the medians of the last 4 finished segments (each of 16 of
its values, evenly spaced), its spread the median of their interquartile ranges / 1.349 (a normal noise's standard deviation). A value is a
spike above ``baseline + max(sigmas × spread, relative × |baseline|)``, or when it is not finite;
none is before 2 segments are done (the warm-up, where a loss falls fast). Consecutive spikes are
one spike, over at the first value that is not one.

A spike raises an alarm when it has not come back (it still holds ``not_recovered_iterations``
after it began, over two values at least) or when it is the ``repeats``-th to begin within
``repeat_values`` values. Finished segments' medians are left in :attr:`SpikeDetector.points` for
a trend detector to take.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import inf, isfinite

from exporter.health.report import NOT_RECOVERED, REPEATED, Spike, SpikeReport

FIRST_SEGMENT, LAST_SEGMENT, SEGMENTS_PER_SIZE = 8, 128, 8
BASELINE_SEGMENTS, WARMUP_SEGMENTS = 4, 2
IQR_PER_SIGMA = 1.349
STATISTICS_VALUES = 16  # of a segment, evenly spaced, give its median and spread
RECENT_SPIKES = 50  # spikes kept for the page


@dataclass(frozen=True)
class SpikeSettings:
    sigmas: float = 6.0
    relative: float = 0.40
    not_recovered_iterations: int = 10
    repeats: int = 3
    repeat_values: int = 200


class _Episode:
    __slots__ = ("iteration", "values", "ratio", "alarmed")

    def __init__(self, iteration: int, ratio: float) -> None:
        self.iteration, self.values, self.ratio, self.alarmed = iteration, 1, ratio, False


class SpikeDetector:
    def __init__(self, settings: SpikeSettings = SpikeSettings()) -> None:
        self.settings = settings
        self._segment: list[float] = []
        self._size = FIRST_SEGMENT
        self._segments = 0  # finished
        self._medians: deque[float] = deque(maxlen=BASELINE_SEGMENTS)
        self._spreads: deque[float] = deque(maxlen=BASELINE_SEGMENTS)
        self._baseline: float | None = None
        self._threshold = inf
        self._values = 0  # seen so far
        self._spikes = 0
        self._alarms = {NOT_RECOVERED: 0, REPEATED: 0}
        self._starts: deque[int] = deque()  # the value counts at which the spikes in the repeat window began
        self._episode: _Episode | None = None
        self._recent: deque[Spike] = deque(maxlen=RECENT_SPIKES)
        self.points: list[tuple[int, float]] = []  # (last iteration, median) of each finished segment

    def add(self, iteration: int, value: float) -> None:
        self._values += 1
        finite = isfinite(value)
        if not finite or value > self._threshold:
            self._spiking(iteration, value, finite)
        else:
            self._episode = None
        if finite:
            self._segment.append(value)
            if len(self._segment) >= self._size:
                self._close(self._segment, iteration)

    def extend(self, iterations: list[int], values: list[float], finite: bool = False) -> None:
        """``add`` each value in order; a stretch of values with no spike is taken at once.
        ``finite``: the caller knows every value is (the fast path checked the losses)."""
        start, total = 0, len(values)
        while start < total:
            size = self._size
            end = min(total, start + size - len(self._segment))
            chunk = values[start:end]
            if self._episode is None and (finite or isfinite(sum(chunk))):
                if end - start == size:  # a whole segment (the one being filled is empty)
                    if max(chunk) <= self._threshold:
                        self._values += size
                        self._close(chunk, iterations[end - 1])
                        start = end
                        continue
                elif max(chunk) <= self._threshold:
                    self._values += len(chunk)
                    self._segment += chunk
                    if len(self._segment) >= self._size:
                        self._close(self._segment, iterations[end - 1])
                    start = end
                    continue
            for index in range(start, end):
                self.add(iterations[index], values[index])
            start = end

    def _spiking(self, iteration: int, value: float, finite: bool) -> None:
        base = self._baseline
        ratio = value / base if finite and base and base > 0 else inf
        episode = self._episode
        if episode is None:
            self._spikes += 1
            self._starts.append(self._values)
            while self._starts[0] <= self._values - self.settings.repeat_values:
                self._starts.popleft()
            episode = self._episode = _Episode(iteration, ratio)
            self._recent.append(Spike(iteration, value if finite else None, ratio, base))
            if len(self._starts) >= self.settings.repeats:
                self._alarm(REPEATED, episode)
            return
        episode.values += 1
        if ratio > episode.ratio or not finite:
            episode.ratio = max(ratio, episode.ratio)
            self._recent[-1] = Spike(episode.iteration, value if finite else None, episode.ratio, base)
        if (not episode.alarmed and episode.values >= 2
                and iteration - episode.iteration >= self.settings.not_recovered_iterations):
            self._alarm(NOT_RECOVERED, episode)

    def _alarm(self, reason: str, episode: _Episode) -> None:
        self._alarms[reason] += 1
        episode.alarmed = True

    def _close(self, segment: list[float], iteration: int) -> None:
        """A segment is full: the median and spread of 16 of its values, evenly spaced, join the
        baseline (a sort of the whole segment would cost the backfill more than the rest of the
        detectors together)."""
        ordered = sorted(segment[::len(segment) // STATISTICS_VALUES or 1])
        n = len(ordered)
        median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) * 0.5
        medians, spreads = self._medians, self._spreads
        medians.append(median)
        spreads.append((ordered[(3 * n) // 4] - ordered[n // 4]) / IQR_PER_SIGMA)
        self.points.append((iteration, median))
        self._segment = []
        done = self._segments = self._segments + 1
        if done % SEGMENTS_PER_SIZE == 0 and self._size < LAST_SEGMENT:
            self._size *= 2
        if done >= WARMUP_SEGMENTS:  # the median of 4 (or fewer) segments: the middle two of them
            middle, spread = sorted(medians), sorted(spreads)
            k = len(middle) // 2
            base = self._baseline = middle[k] if len(middle) % 2 else (middle[k - 1] + middle[k]) * 0.5
            spread_median = spread[k] if len(spread) % 2 else (spread[k - 1] + spread[k]) * 0.5
            settings = self.settings
            self._threshold = base + max(settings.sigmas * spread_median, settings.relative * abs(base))

    def report(self) -> SpikeReport:
        recent = tuple(self._recent)
        return SpikeReport(self._spikes, tuple(self._alarms.items()), recent[-1] if recent else None,
                           self._baseline, self._episode is not None, recent)
