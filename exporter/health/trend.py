"""Divergence: a smoothed loss (segment medians of the training loss, or eval losses) trending up
over a window, or stuck far above its best.

Over the last ``window`` points, the median of the last three over the median of the first three
is the rise: ``rising`` when it is at least ``rise``, the least-squares slope is above 0 and the
latest level is that far above the best too. ``stuck`` when the last ``stuck`` points in a row were
all more than ``far`` above the best. No verdict before ``warmup`` points."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import isfinite

from exporter.health.report import RISING, STUCK, TrendReport

EDGE = 3  # points whose median is a window's early or late level


@dataclass(frozen=True)
class TrendSettings:
    window: int = 6
    warmup: int = 12
    rise: float = 0.10
    far: float = 0.20
    stuck: int = 4


def _middle(a: float, b: float, c: float) -> float:
    return a + b + c - min(a, b, c) - max(a, b, c)


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of ``points`` (iteration, level); 0 where the iterations do not spread."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def _above(level: float, best: float) -> float:
    """How far ``level`` is above ``best``, as a ratio of ``best``'s size."""
    return (level - best) / abs(best) if best else 0.0


class TrendDetector:
    def __init__(self, source: str, settings: TrendSettings = TrendSettings()) -> None:
        self.source = source
        self.settings = settings
        self._points: deque[tuple[int, float]] = deque(maxlen=settings.window)
        self._seen = 0
        self._best: float | None = None
        self._far_in_a_row = 0
        self._report: TrendReport | None = None

    def add(self, iteration: int, level: float) -> None:
        if not isfinite(level):
            return
        s = self.settings
        self._seen += 1
        self._points.append((iteration, level))
        self._best = level if self._best is None else min(self._best, level)
        self._far_in_a_row = self._far_in_a_row + 1 if _above(level, self._best) > s.far else 0
        self._report = None  # judged again when asked for: a backfill adds thousands of points at once

    def _judge(self) -> TrendReport:
        s, points, best = self.settings, list(self._points), self._best
        early, late = _middle(*(y for _, y in points[:EDGE])), _middle(*(y for _, y in points[-EDGE:]))
        rise, per_iteration, latest = _above(late, early), slope(points), points[-1][1]
        reason = None
        if rise >= s.rise and per_iteration > 0 and _above(late, best) >= s.rise:
            reason = RISING
        elif self._far_in_a_row >= s.stuck:
            reason = STUCK
        return TrendReport(reason, points[-1][0] - points[0][0], per_iteration, rise, _above(latest, best), best,
                           self.source)

    def report(self) -> TrendReport | None:
        if self._report is None and self._seen >= max(self.settings.warmup, self.settings.window, 2 * EDGE):
            self._report = self._judge()
        return self._report
