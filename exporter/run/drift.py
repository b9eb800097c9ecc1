"""Step times that move: a level shift in the recent samples, and a steady trend over the run.

Pure functions of plain numbers. A shift (another job starts on the machine, throttling, a bigger
batch) is found as the split of the recent samples whose two sides differ most, counted only when
the difference is large against the noise and the new level has lasted a few samples. A trend (a
sequence length or batch that grows with the iterations) is the Theil-Sen slope of the step time
over the run's history, used only when most pairs of points agree on its direction."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from functools import reduce
from operator import add

from exporter.run.estimate import percentile

SHIFT_MIN_SAMPLES = 8  # a new level counts once it has lasted this many samples
SHIFT_MIN_RATIO = 0.1  # ... and differs from the old one by this share
SHIFT_MIN_SCORE = 10.0  # ... by this many noise units (robust t-statistic)
SHIFT_AGREEMENT = 0.8  # ... and this share of the samples since lie beyond the old level
MIN_SLOPE_POINTS = 8  # points before a slope's uncertainty is worked out
TREND_CONTRADICTED = 3.0  # standard errors between the level's own slope and the run's trend
TREND_AGREEMENT = 0.8  # the share of point pairs that must agree on the trend's direction
HISTORY_POINTS = 64


def level_start(samples: Sequence[float], least: int = SHIFT_MIN_SAMPLES) -> int:
    """Where the current level of ``samples`` starts: the index after the most significant level
    shift, or 0 when there is none; each side of it has ``least`` samples or more (fewer where each
    sample is the mean of many)."""
    n = len(samples)
    if n < 2 * least:
        return 0
    samples = list(samples)
    middle = percentile(samples, 0.5)
    if middle <= 0:  # step times of 0: no level to speak of
        return 0
    noise = percentile([abs(v - middle) for v in samples], 0.5) * 1.4826 or middle * 0.01
    prefix = [0.0]
    for value in samples:
        prefix.append(prefix[-1] + value)
    best, best_score = 0, SHIFT_MIN_SCORE
    for split in range(least, n - least + 1):
        before = prefix[split] / split
        after = (prefix[n] - prefix[split]) / (n - split)
        if abs(after - before) < SHIFT_MIN_RATIO * before:
            continue
        score = abs(after - before) / noise * (split * (n - split) / n) ** 0.5
        if score > best_score and _persists(samples, split):
            best, best_score = split, score
    return best


def _persists(samples: Sequence[float], split: int) -> bool:
    """Whether the samples after ``split`` sit on a new level, not on a few stray slow steps: their
    median differs from the earlier median by the minimum share, and most of them lie past the
    midpoint between the two."""
    before, after = percentile(samples[:split], 0.5), samples[split:]
    moved = percentile(after, 0.5) - before
    if abs(moved) < SHIFT_MIN_RATIO * before:
        return False
    midway = before + moved / 2
    beyond = sum(1 for v in after if (v - midway) * moved > 0)
    return beyond >= SHIFT_AGREEMENT * len(after)


def moved_from(old: float, old_count: int, recent: Sequence[float]) -> bool:
    """Whether the ``recent`` samples sit on another level than the ``old_count`` samples before
    them, whose mean is ``old``: :func:`level_start`'s rules for a split between the two."""
    n = len(recent)
    if n < SHIFT_MIN_SAMPLES or old_count < SHIFT_MIN_SAMPLES or old <= 0:
        return False
    after = sum(recent) / n
    middle = percentile(recent, 0.5)
    moved = middle - old
    if min(abs(after - old), abs(moved)) < SHIFT_MIN_RATIO * old:
        return False
    noise = percentile([abs(v - middle) for v in recent], 0.5) * 1.4826 or middle * 0.01
    if abs(after - old) / noise * (old_count * n / (old_count + n)) ** 0.5 < SHIFT_MIN_SCORE:
        return False
    midway = old + moved / 2
    return sum(1 for v in recent if (v - midway) * moved > 0) >= SHIFT_AGREEMENT * n


def least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The least-squares slope of ``points`` (``(iteration, seconds)``, means of equal sample
    counts) and its variance, from the points' scatter about the line; None for fewer than
    ``MIN_SLOPE_POINTS`` or a single iteration."""
    m = len(points)
    if m < MIN_SLOPE_POINTS:
        return None
    mean_x = sum(x for x, _ in points) / m
    mean_y = sum(y for _, y in points) / m
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    scatter = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in points) / (m - 2)
    return slope, scatter / sxx


def level_trend(points: Sequence[tuple[float, float]], trend: float) -> float:
    """The run's ``trend``, unless the current level's own ``points`` contradict it (their slope
    lies more than ``TREND_CONTRADICTED`` standard errors from it): a staircase of level shifts
    reads as a trend over the run, yet within its last stage the step time holds still."""
    fit = least_squares(points)
    if fit is None or trend == 0:
        return trend
    slope, variance = fit
    return 0.0 if (slope - trend) ** 2 > TREND_CONTRADICTED**2 * variance else trend


def drift_variance(points: Sequence[tuple[float, float]], trend: float) -> float:
    """How fast the step time over ``points`` drifts beyond ``trend``, as a squared slope: the
    least-squares slope's square less its own variance (what the points' scatter alone would give
    it), so that a level that holds still shows (on average) no drift."""
    fit = least_squares(points)
    if fit is None:
        return 0.0
    slope, variance = fit
    return max((slope - trend) ** 2 - variance, 0.0)


def trend_slope(points: Sequence[tuple[float, float]]) -> float:
    """The Theil-Sen slope of ``(iteration, seconds)`` points, or 0 when fewer than
    ``TREND_AGREEMENT`` of the pairs agree on its sign (no clear trend)."""
    return _agreed_slope(sorted(_slopes(points)))


def _slopes(points: Sequence[tuple[float, float]], first: int = 1) -> list[float]:
    """The slopes between every pair of ``points`` whose later point's index is ``first`` or more."""
    return [(y2 - y1) / (x2 - x1) for j in range(first, len(points)) for x2, y2 in (points[j],)
            for x1, y1 in points[:j] if x2 != x1]


def _agreed_slope(ordered: Sequence[float]) -> float:
    """:func:`trend_slope` of the pairs' slopes ``ordered`` (ascending)."""
    if len(ordered) < 10:
        return 0.0
    slope = percentile(ordered, 0.5)
    return slope if _agreeing(ordered, slope) >= TREND_AGREEMENT * len(ordered) else 0.0


def _agreeing(ordered: Sequence[float], slope: float) -> int:
    """How many of the slopes ``ordered`` (ascending) have the sign of ``slope`` (a product > 0)."""
    if slope > 0:
        first = bisect_right(ordered, 0.0)  # the positive ones: their products rise with them
        if first == len(ordered) or ordered[first] * slope > 0:
            return len(ordered) - first
    elif slope < 0:
        end = bisect_left(ordered, 0.0)  # the negative ones
        if end == 0 or ordered[end - 1] * slope > 0:
            return end
    return sum(1 for s in ordered if s * slope > 0)  # a product too small for a float: count each


def mean_ahead(level: float, level_at: float, slope: float, now: int, remaining: int) -> float:
    """The mean step time over the ``remaining`` iterations after ``now``, for a step time of
    ``level`` at iteration ``level_at`` that changes by ``slope`` per iteration; kept between half
    and twice the current level, so that noise never makes an absurd ETA."""
    projected = level + slope * (now + remaining / 2 - level_at)
    return min(max(projected, level / 2), level * 2)


class History:
    """The run's step times in at most ``HISTORY_POINTS`` points of equal iteration counts: when it
    is full, neighbouring points are merged and each new point covers twice as many samples. The
    slopes between its points are kept in order as points come, for :meth:`trend`."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []
        self._per_point = 1
        self._sum_x = self._sum_y = 0.0
        self._count = 0
        self._ordered_slopes = array("d")  # 8 bytes a slope, not a float object's 32: runs keep many
        self._trend: float | None = None  # of the current points, once worked out

    def add(self, iteration: int, seconds: float) -> None:
        self.add_all((iteration,), (seconds,))

    def add_all(self, iterations: Sequence[int], seconds: Sequence[float]) -> None:
        """Add the samples ``zip(iterations, seconds)`` in order (as many calls of :meth:`add`). The
        sums of a point are taken a run of samples at a time, in the order one by one would."""
        sum_x, sum_y, count, per_point = self._sum_x, self._sum_y, self._count, self._per_point
        start, end = 0, len(iterations)
        while start < end:
            stop = min(start + per_point - count, end)
            sum_x = reduce(add, iterations[start:stop], sum_x)
            sum_y = reduce(add, seconds[start:stop], sum_y)
            count += stop - start
            start = stop
            if count < per_point:
                break
            self.points.append((sum_x / count, sum_y / count))
            for slope in _slopes(self.points, len(self.points) - 1):
                insort(self._ordered_slopes, slope)
            self._trend = None
            sum_x = sum_y = 0.0
            count = 0
            if len(self.points) >= HISTORY_POINTS:
                pairs = zip(self.points[::2], self.points[1::2])
                self.points = [((x1 + x2) / 2, (y1 + y2) / 2) for (x1, y1), (x2, y2) in pairs]
                self._ordered_slopes = array("d", sorted(_slopes(self.points)))
                per_point = self._per_point = per_point * 2
        self._sum_x, self._sum_y, self._count = sum_x, sum_y, count

    def trend(self) -> float:
        """:func:`trend_slope` of the points."""
        if self._trend is None:
            self._trend = _agreed_slope(self._ordered_slopes)
        return self._trend
