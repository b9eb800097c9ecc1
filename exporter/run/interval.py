"""The ETA's 80 % range: how far the true time left may lie from the estimate. Pure maths.

The time left is a sum over the iterations and evals still to come, so its uncertainty is the sum
of independent parts, each a variance in seconds²:

- the level: the mean step time is known only so well (the variance of the mean), and it counts
  once for every iteration left;
- the iterations' own noise, which averages out over many (it grows with √n, not n);
- drift: where the level's samples drift (their slope beyond the trend, and beyond what their
  scatter alone would give), the mean step time ahead moves the more, the longer the horizon (a
  drift is carried no further ahead than four times as far as it was seen);
- the evals: the mean overhead's uncertainty for each eval left, and each one's own noise.

The range is log-normal around the estimate, so its low end stays above 0 and a wide range
reaches further up than down. Once the run has shown slowdowns (level shifts up), more may come:
they arrive at the rate seen so far, each as large as those seen, at any time in the horizon; that
reaches only the high end (the ETA itself stays at today's level, as one slowdown is not a
staircase)."""

from __future__ import annotations

import math
from dataclasses import dataclass

DRIFT_REACH = 4  # a drift is carried at most this many times as far ahead as the level has been measured
MAX_EXPONENT = 20.0  # a range reaches at most e^20 times the ETA either way: absurd logs never overflow
Z_80 = 1.2815515655446004  # the standard normal's 90th percentile: an 80 % range between the 10th and 90th


@dataclass(frozen=True)
class StepUncertainty:
    """What is known of the step time, per iteration: the variance of the level's estimate, the
    variance of one iteration, the square of the level's drift (seconds per iteration), and how
    many iterations ago the level was measured (the middle of its samples)."""

    level_variance: float
    step_variance: float
    drift: float = 0.0
    lag: float = 0.0


@dataclass(frozen=True)
class EvalUncertainty:
    """The variance of the mean eval overhead's estimate and of one eval's."""

    mean_variance: float
    variance: float


def remaining_variance(iterations: int, steps: StepUncertainty, evals: int, overhead: EvalUncertainty,
                       scale: float = 1.0) -> float:
    """The variance of the time left over ``iterations`` and ``evals`` still to come; ``scale``
    (the projected step time over today's level) scales the step-time parts."""
    n, e = max(iterations, 0), max(evals, 0)
    moved = steps.drift * min(steps.lag + n / 2, DRIFT_REACH * steps.lag) ** 2
    step_part = n * n * (steps.level_variance + moved) + n * steps.step_variance
    return step_part * scale * scale + e * e * overhead.mean_variance + e * overhead.variance


def slowdown_rate(count: int, iterations: float, run_length: float) -> float:
    """Slowdowns per iteration after ``count`` in ``iterations``: as if a whole run of
    ``run_length`` iterations without any had been seen as well (so that one shift early in a run
    does not promise dozens more)."""
    return count / (max(iterations, 0.0) + max(run_length, 1.0))


def more_slowdowns(rate: float, sizes: list[float], iterations: int) -> tuple[float, float]:
    """The mean and variance that slowdowns still to come add to the log of the mean step time
    over the next ``iterations``: a Poisson number at ``rate`` per iteration, each of a size
    (log of new over old level) drawn from ``sizes``, at a uniform time within the horizon."""
    if not sizes or rate <= 0 or iterations <= 0:
        return 0.0, 0.0
    expected = rate * iterations
    mean_size = sum(sizes) / len(sizes)
    mean_square = sum(j * j for j in sizes) / len(sizes)
    return expected * mean_size / 2, expected * mean_square / 3


def eta_range(seconds: float, variance: float, slowdowns: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """The 80 % range around ``seconds`` for a time left of ``variance`` (log-normal), its high
    end raised by :func:`more_slowdowns`' ``(mean, variance)``."""
    if seconds <= 0:
        return 0.0, 0.0
    relative = max(variance, 0.0) / (seconds * seconds)
    extra_mean, extra_variance = slowdowns
    low = seconds * math.exp(-min(Z_80 * math.sqrt(relative), MAX_EXPONENT))
    return low, seconds * math.exp(min(extra_mean + Z_80 * math.sqrt(relative + extra_variance), MAX_EXPONENT))
