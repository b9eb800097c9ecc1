"""Energy and cost collector: the run's energy so far, recent power, projections and plan figures.

Planned figures for the live run, to set against the actual ones on a dashboard:

* ``training_plan_flops`` = 6 · parameters (as the trainer prints them) · planned tokens.
* ``training_plan_energy_joules`` = recent mean power × the run's planned wall time, the planned
  wall time being ``max_iterations`` × the typical iteration time + every eval × the eval
  overhead: what the whole run costs at today's pace from iteration 0, without warm-up, stalls and
  restarts. ``training_energy_projected_joules`` is the actual counterpart (spent + still to spend).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.plan import formulas
from exporter.collectors.base import Collector, CollectorStats, gauge
from exporter.energy import RunEnergy
from exporter.run import RunSnapshot


class EnergyCollector(Collector):
    name = "energy"

    def __init__(self, energy: RunEnergy, stats: CollectorStats) -> None:
        super().__init__(stats)
        self._energy = energy

    def scrape(self, snapshot: RunSnapshot) -> tuple[bool, Iterable[Metric]]:
        families: list[Metric] = list(self._plan_families(snapshot))
        if not self._energy.has_data:
            return False, families
        run, currency = [snapshot.run], self._energy.settings.currency
        figures = self._energy.figures(snapshot)
        joules, power, projected = figures.joules, figures.power_watts, figures.projected_joules

        energy = CounterMetricFamily(
            "training_energy_joules", "Energy of the run so far at the wall: its share of each GPU's energy (its "
            "processes' memory over all compute processes' on the GPU: training_run_gpu_share_ratio) plus other_watts "
            "(shared equally by the runs counting at the time), divided by psu_efficiency.",
            labels=["run"],
        )
        energy.add_metric(run, joules)
        families.append(energy)
        families.append(gauge("training_electricity_cost", "Electricity cost so far at price_per_kwh.",
                               ["run", "currency"], [snapshot.run, currency], self._energy.cost(joules)))
        if self._energy.settings.budget is not None:
            families.append(gauge("training_budget", "The most the run's electricity may cost (--budget).",
                                  ["run", "currency"], [snapshot.run, currency], self._energy.settings.budget))
        if power is not None:
            families.append(gauge("training_power_watts", "Recent mean power of the run.", ["run"], run, power))
        if projected is not None:
            families.append(gauge("training_energy_projected_joules",
                                   "Energy so far plus recent mean power times the ETA.", ["run"], run, projected))
            families.append(gauge("training_electricity_cost_projected", "Projected cost at completion.",
                                   ["run", "currency"], [snapshot.run, currency], self._energy.cost(projected)))
        emissions = self._energy.emissions_grams(joules)
        if emissions is not None:
            families.append(gauge("training_emissions_grams", "CO2e so far at carbon_g_per_kwh.", ["run"], run,
                                   emissions))
            if projected is not None:
                families.append(gauge("training_emissions_projected_grams", "Projected CO2e at completion.",
                                       ["run"], run, self._energy.emissions_grams(projected)))
        planned = self._planned_energy(snapshot, power)
        if planned is not None:
            families.append(gauge("training_plan_energy_joules",
                                   "Planned energy of the whole run at the recent power and pace.", ["run"], run,
                                   planned))
        return True, families

    @staticmethod
    def _plan_families(snapshot: RunSnapshot) -> Iterable[Metric]:
        if snapshot.parameters and snapshot.tokens_planned:
            yield gauge("training_plan_flops", "Planned training FLOPs (6 N D).", ["run"], [snapshot.run],
                         formulas.flops_6nd(snapshot.parameters, snapshot.tokens_planned))

    @staticmethod
    def _planned_energy(snapshot: RunSnapshot, power: float | None) -> float | None:
        if power is None or not snapshot.max_iterations or snapshot.iteration_seconds is None:
            return None
        seconds = formulas.planned_seconds(snapshot.max_iterations, snapshot.iteration_seconds,
                                       snapshot.eval_interval, snapshot.eval_overhead_seconds)
        return power * seconds
