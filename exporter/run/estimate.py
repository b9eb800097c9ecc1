"""ETA and stall-timeout maths: pure functions of plain numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A sample this many times above or below the median is an outlier, not a typical iteration.
OUTLIER_FACTOR = 3.0
# Until an eval is measured its cost is estimated; the range around that guess is wide.
PROVISIONAL_EVAL_SPREAD = 0.5
# A progress line is overdue after this many typical gaps between lines ...
STALL_GAPS = 3.0
# ... plus this multiple of the expected eval/checkpoint time when one falls in the next gap.
STALL_EVAL_FACTOR = 2.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of a non-empty sequence (``fraction`` in 0..1)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def evals_between(after: int, through: int, interval: int | None) -> int:
    """How many multiples of ``interval`` lie in ``(after, through]``: the evals still to come."""
    if not interval or interval <= 0 or through <= after:
        return 0
    return through // interval - after // interval


def provisional_eval_seconds(iteration_seconds: float, eval_iters: int, grad_accum: int) -> float:
    """An eval's cost before one is measured: ``eval_iters`` forward passes of one micro-batch for
    each of the train and val splits, a forward pass being about a third of a training micro-step."""
    return 2 * eval_iters * (iteration_seconds / max(grad_accum, 1)) / 3


@dataclass(frozen=True)
class Eta:
    seconds: float
    low: float
    high: float


def eta_seconds(remaining_iterations: int, iteration_seconds: float, evals_left: int, eval_seconds: float) -> float:
    """Remaining regular iterations × typical iteration time + remaining evals × eval overhead."""
    return max(remaining_iterations, 0) * iteration_seconds + max(evals_left, 0) * eval_seconds


def robust_mean(values: Sequence[float]) -> float:
    """The mean of a non-empty sequence, leaving out outliers beyond ``OUTLIER_FACTOR`` × its median
    either way. A sum of future iterations is a sum, so its per-iteration cost is a mean (the median
    of right-skewed step times is short of it), yet a stray pause must not move it."""
    middle = percentile(values, 0.5)
    kept = [v for v in values if middle / OUTLIER_FACTOR <= v <= middle * OUTLIER_FACTOR] or list(values)
    return sum(kept) / len(kept)


def spread(samples: Sequence[float], mean: Callable[[Sequence[float]], float] = robust_mean) -> tuple[float, float, float]:
    """``(p10, mean, p90)`` of recent samples: the typical value and a plausible range."""
    typical = mean(samples)
    return min(percentile(samples, 0.1), typical), typical, max(percentile(samples, 0.9), typical)


def provisional_spread(value: float) -> tuple[float, float, float]:
    return value * (1 - PROVISIONAL_EVAL_SPREAD), value, value * (1 + PROVISIONAL_EVAL_SPREAD)


def progress_timeout(line_gap_seconds: float, eval_due_seconds: float, minimum: float) -> float:
    """How long without a progress line counts as a stall: a few typical gaps between lines, plus
    room for an eval/checkpoint that is due before the next line, never below ``minimum``."""
    return max(minimum, STALL_GAPS * line_gap_seconds + STALL_EVAL_FACTOR * eval_due_seconds)


def evals_left(iteration: int, max_iterations: int, interval: int | None, last_eval_iteration: int | None) -> int:
    """Evals still to come after ``iteration``: the trainer prints an eval at a multiple of
    ``interval`` after that iteration's progress line, so one there not yet seen still counts."""
    left = evals_between(iteration, max_iterations, interval)
    if interval and iteration % interval == 0 and last_eval_iteration != iteration:
        left += 1
    return left


def stall_timeout(typical: float | None, steps_per_line: float, eval_due_seconds: float, minimum: float,
                  startup: float) -> float:
    """How long without a progress line counts as a stall: :func:`progress_timeout` once the
    iteration time is known, else the (longer) start-up allowance."""
    if typical is None:
        return max(minimum, startup)
    return progress_timeout(steps_per_line * typical, eval_due_seconds, minimum)
