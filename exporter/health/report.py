"""What the detectors report, frozen: the run snapshot carries it to the metrics, the alert rules
and the live page."""

from __future__ import annotations

from dataclasses import dataclass

NOT_RECOVERED, REPEATED = "not_recovered", "repeated"  # why a spike raised an alarm
RISING, STUCK = "rising", "stuck"  # why the loss counts as diverging


@dataclass(frozen=True)
class Spike:
    """A spike: where it began, the highest value it reached (None when not finite) and that value
    over the baseline it was measured against (inf when not finite)."""

    iteration: int
    value: float | None
    ratio: float
    baseline: float | None


@dataclass(frozen=True)
class SpikeReport:
    spikes: int = 0  # spike episodes so far
    alarms: tuple[tuple[str, int], ...] = ((NOT_RECOVERED, 0), (REPEATED, 0))  # by reason
    last: Spike | None = None
    baseline: float | None = None  # the median the next value is measured against
    ongoing: bool = False  # the latest value is still a spike
    recent: tuple[Spike, ...] = ()  # the latest spikes, oldest first

    @property
    def alarm_count(self) -> int:
        return sum(count for _, count in self.alarms)


@dataclass(frozen=True)
class TrendReport:
    """The loss level over the latest window of points (segment medians or evals): ``reason`` is
    RISING or STUCK while it counts as diverging, else None."""

    reason: str | None
    window_iterations: int  # from the window's first point to its last
    slope_per_iteration: float  # least squares over the window
    rise_ratio: float  # the window's late level over its early one, minus 1
    above_best_ratio: float  # the latest level over the best one, minus 1
    best: float
    source: str  # "train" (the training loss) or "val" (eval losses, in a log without training losses)


@dataclass(frozen=True)
class LearningHealth:
    loss: SpikeReport = SpikeReport()
    grad_norm: SpikeReport | None = None  # None while the log has printed no gradient norm
    latest_grad_norm: float | None = None  # the latest finite one
    trend: TrendReport | None = None  # None until there are enough points
    val_evals_since_best: int | None = None  # evals in a row with a val loss worse than its best

    @property
    def diverging(self) -> bool:
        return self.trend is not None and self.trend.reason is not None
