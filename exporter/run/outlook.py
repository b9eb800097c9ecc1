"""What lies ahead of a run: evals left, the ETA with its range, and when silence means a stall."""

from __future__ import annotations

import math
from dataclasses import dataclass

from exporter.run import drift, estimate
from exporter.run.settings import Setting, TrainerSettings
from exporter.run.state import StallTimeouts
from exporter.run.timing import IterationTiming

Spread = tuple[float, float, float]  # (low, typical, high)


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


def eta_ahead(timing: IterationTiming, iteration: int, remaining: int, iteration_spread: Spread,
              evals_left: int, evals: Spread) -> estimate.Eta:
    """The ETA at the step time projected along the run's trend; its range also covers the ETA at
    today's level, in case the trend stops."""
    level = iteration_spread[1]
    ahead = drift.mean_ahead(level, timing.level_at(), timing.trend(), iteration, remaining)
    if ahead == level or level <= 0:  # no trend, or a step time of 0 (nothing to scale)
        return estimate.eta(remaining, iteration_spread, evals_left, evals)
    projected = estimate.eta(remaining, tuple(v * ahead / level for v in iteration_spread), evals_left, evals)
    flat = estimate.eta(remaining, iteration_spread, evals_left, evals).seconds
    return estimate.Eta(projected.seconds, min(projected.low, flat), max(projected.high, flat))


def outlook(timing: IterationTiming, settings: TrainerSettings, iteration: int | None,
            max_iterations: int | None, timeouts: StallTimeouts) -> Outlook:
    timing.settle_level()
    iteration_spread = timing.iteration_spread()
    typical = iteration_spread[1] if iteration_spread else None
    interval = settings.eval_interval(timing.observed_eval_interval())
    every = interval.value if interval else None
    evals, provisional = eval_spread(timing, settings, typical)
    evals_left = eta = None
    if iteration is not None and max_iterations is not None:
        evals_left = estimate.evals_left(iteration, max_iterations, every, timing.last_eval_iteration())
        if iteration_spread:
            eta = eta_ahead(timing, iteration, max_iterations - iteration, iteration_spread, evals_left,
                            evals or (0.0, 0.0, 0.0))
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
