"""Slowdown collector: the step time against the run's own baseline, how long it has been slow,
what that costs in ETA, and the cause the serve loop found on the run's GPUs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import Metric

from exporter.collectors.base import Collector, CollectorStats, gauge
from exporter.health.slowdown import eta_cost_seconds
from exporter.run import RunSnapshot

CAUSE_HELP = ("1 for the most likely cause of the current slowdown: thermal, hw_slowdown, power_cap (a GPU "
              "throttle reason), other_process (on the run's GPU), low_utilization (input pipeline or CPU bound), "
              "workload (the GPU as busy as before: the trainer's own schedule), unknown (no GPU readings).")


class SlowdownCollector(Collector):
    name = "slowdown"

    def __init__(self, stats: CollectorStats, cause: Callable[[], str | None]) -> None:
        super().__init__(stats)
        self._cause = cause

    def scrape(self, s: RunSnapshot) -> tuple[bool, Iterable[Metric]]:
        view, run = s.slowdown, [s.run]
        if view.baseline_seconds is None:
            return s.state != "waiting", []
        families = [
            gauge("training_iteration_baseline_seconds", "This segment's baseline step time (after warm-up, evals "
                  "left out).", ["run"], run, view.baseline_seconds),
            gauge("training_slowdown_duration_seconds", "Training time the step time has been 20 % or more above "
                  "the baseline (0: not slow).", ["run"], run, view.slow_for_seconds),
        ]
        if view.slow_level_seconds is not None:
            families.append(gauge("training_iteration_slow_seconds", "The step time while slow: the median since "
                                  "it rose above the baseline.", ["run"], run, view.slow_level_seconds))
        left = None if s.iteration is None or not s.max_iterations else s.max_iterations - s.iteration
        cost = eta_cost_seconds(view, left)
        if cost is not None:
            families.append(gauge("training_slowdown_eta_cost_seconds", "How much later the run ends at the slow "
                                  "step time than at the baseline.", ["run"], run, cost))
        cause = self._cause()
        if view.slow_level_seconds is not None and cause is not None:
            families.append(gauge("training_slowdown_cause", CAUSE_HELP, ["run", "cause"], [s.run, cause], 1))
        return True, families
