"""What lies ahead of a run: evals left, the ETA with its range, and when silence means a stall."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from exporter.run import drift, estimate, interval
from exporter.run.settings import Setting, TrainerSettings
from exporter.run.state import StallTimeouts
from exporter.run.level import Level
from exporter.run.timing import IterationTiming

Spread = tuple[float, float, float]  # (low, typical, high)
FEW_EVALS = 5  # below this many measured evals, their spread is not trusted alone


@dataclass(frozen=True, slots=True)
class Outlook:
    typical_iteration: float | None
    eval_interval: Setting | None
    eval_spread: Spread | None
    eval_provisional: bool  # the eval cost is a guess from the trainer's settings, not measured
    evals_left: int | None
    eta: estimate.Eta | None
    timeout: float
    at_end: bool  # the last iteration was reached
    near_end: bool  # fewer iterations are left than the trainer runs between two progress lines


def eval_spread(timing: IterationTiming, settings: TrainerSettings, typical: float | None) -> tuple[Spread | None, bool]:
    """The measured eval overheads, else a guess from ``eval_iters`` (provisional)."""
    measured = timing.eval_spread()
    if measured is not None:
        return measured, False
    eval_iters = settings.count("eval_iters")
    if typical is None or eval_iters is None:
        return None, True
    grad_accum = settings.count("gradient_accumulation_steps")
    guess = estimate.provisional_eval_seconds(typical, eval_iters.value, grad_accum.value if grad_accum else 1)
    return estimate.provisional_spread(guess), True


def eval_uncertainty(timing: IterationTiming, evals: Spread, provisional: bool) -> interval.EvalUncertainty:
    """How well the eval overhead is known: a guess as if the provisional range were its 80 %
    range; measured, from the spread of the measured ones, but while there are few, never
    narrower than that guess (two evals alike do not make the next one certain)."""
    guessed = (estimate.PROVISIONAL_EVAL_SPREAD * evals[1] / interval.Z_80) ** 2
    measured = timing.eval_overheads
    if provisional or not measured:
        return interval.EvalUncertainty(guessed, 0.0)
    variance = statistics.variance(measured) if len(measured) > 1 else 0.0
    if len(measured) < FEW_EVALS:
        variance = max(variance, guessed)
    return interval.EvalUncertainty(variance / len(measured), variance)


def eta_ahead(timing: IterationTiming, level: Level, iteration: int, remaining: int, evals_left: int,
              evals: Spread, provisional: bool) -> estimate.Eta:
    """The ETA at ``level``'s step time projected along the run's trend, with its 80 % range."""
    typical = level.mean()
    trend = drift.level_trend(level.points(), timing.trend())
    ahead = drift.mean_ahead(typical, level.centre(), trend, iteration, remaining)
    seconds = estimate.eta_seconds(remaining, ahead, evals_left, evals[1])
    variance = interval.remaining_variance(remaining, timing.step_uncertainty(level, iteration), evals_left,
                                           eval_uncertainty(timing, evals, provisional),
                                           ahead / typical if typical > 0 else 1.0)
    rate = interval.slowdown_rate(len(timing.slowdowns), timing.seen_since(iteration), iteration + remaining)
    slowdowns = interval.more_slowdowns(rate, timing.slowdowns, remaining)
    low, high = interval.eta_range(seconds, variance, slowdowns)
    if ahead != typical:  # in case the trend stops, the ETA at today's level is in the range too
        flat = estimate.eta_seconds(remaining, typical, evals_left, evals[1])
        low, high = min(low, flat), max(high, flat)
    return estimate.Eta(seconds, low, high)


def outlook(timing: IterationTiming, settings: TrainerSettings, iteration: int | None,
            max_iterations: int | None, timeouts: StallTimeouts) -> Outlook:
    timing.settle_level()
    remaining = max_iterations - iteration if iteration is not None and max_iterations is not None else None
    level = timing.level_ahead(iteration, remaining)
    typical = level.mean() if level.count else None
    interval = settings.eval_interval(timing.observed_eval_interval())
    every = interval.value if interval else None
    evals, provisional = eval_spread(timing, settings, typical)
    evals_left = eta = None
    if iteration is not None and max_iterations is not None:
        evals_left = estimate.evals_left(iteration, max_iterations, every, timing.last_eval_iteration())
        if typical is not None:
            eta = eta_ahead(timing, level, iteration, remaining, evals_left, evals or (0.0, 0.0, 0.0), provisional)
    steps_per_line = timing.steps_per_line()
    eval_due = 0.0
    if evals and iteration is not None and (
        every is None or estimate.evals_between(iteration, iteration + math.ceil(steps_per_line), every)
    ):
        eval_due = evals[2]
    timeout = estimate.stall_timeout(typical, steps_per_line, eval_due, timeouts.min_progress_seconds,
                                     timeouts.startup_seconds)
    at_end = iteration is not None and max_iterations is not None and iteration >= max_iterations
    near_end = iteration is not None and max_iterations is not None and max_iterations - iteration < steps_per_line
    return Outlook(typical, interval, evals, provisional, evals_left, eta, timeout, at_end, near_end)
