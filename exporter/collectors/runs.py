"""The families of every followed run in one exposition: each run's snapshot is read once per
scrape and handed to its training and energy collectors (:class:`SnapshotCollectors`); families of
the same name from several runs are merged into one (:class:`MergedFamily`). A run whose snapshot,
energy figures and GPU peak are those of the last scrape (a finished or idle run) gives the same
family objects again, which the exposition does not encode again. Also each run's share of each
GPU and the GPU energy no run took. The energy families carry the ``node`` label; the training
families (read from the log, which one node follows) do not."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorStats, Labelled, SnapshotCollectors
from exporter.collectors.checkpoint import CheckpointCollector
from exporter.collectors.energy import EnergyCollector
from exporter.collectors.health import SlowdownCollector
from exporter.collectors.training import TrainingCollector
from exporter.run_set.entry import RunEntry
from exporter.run_set.registry import RunSet
from exporter.server.expositions import MergedFamily

SHARE_HELP = ("The run's share of this GPU, 0-1, by which the GPU's energy is split: the memory its processes "
              "use on it over that of all compute processes there (runs on it share equally where the GPU does "
              "not say); what no run takes is training_energy_unattributed_joules_total.")
UNATTRIBUTED_HELP = ("Energy of the watched GPUs that no counted run took (no run's process on them), at the GPUs, "
                     "since the exporter started; never added to a run.")


def merged(families: Iterable[Metric], last: dict[str, Metric] | None = None) -> dict[str, Metric]:
    """One family per name, holding the samples of every family of that name, in first-seen order;
    the families themselves are left as they are. A merged family of ``last`` (the previous result)
    whose parts are the same objects is given again."""
    by_name: dict[str, list[Metric]] = {}
    for family in families:
        by_name.setdefault(family.name, []).append(family)
    result: dict[str, Metric] = {}
    for name, parts in by_name.items():
        before = (last or {}).get(name)
        if len(parts) == 1:
            result[name] = parts[0]
        elif isinstance(before, MergedFamily) and len(before.parts) == len(parts) \
                and all(map(operator.is_, before.parts, parts)):
            result[name] = before
        else:
            result[name] = MergedFamily(parts)
    return result


@dataclass(eq=False)
class _RunScrape:
    """One run's families and its collectors' outcomes, with what they were made from."""
    made_from: tuple
    families: list[Metric]
    outcomes: list[tuple[str, tuple[bool, float]]]


class RunsCollector:
    def __init__(self, runs: RunSet, stats: CollectorStats, node: str) -> None:
        self._runs = runs
        self._stats = stats
        self._node = {"node": node}
        self._per_run: dict[RunEntry, SnapshotCollectors] = {}
        self._last: dict[RunEntry, _RunScrape] = {}
        self._merged: dict[str, Metric] = {}  # the families of the last scrape, by name

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        entries = self._runs.entries()
        self._per_run = {entry: self._per_run.get(entry) or self._collectors(entry) for entry in entries}
        last, self._last = self._last, {}
        families: list[Metric] = []
        outcomes: dict[str, list[tuple[bool, float]]] = {}
        for entry in entries:
            scrape = self._last[entry] = self._scrape(entry, last.get(entry))
            families += scrape.families
            for name, outcome in scrape.outcomes:
                outcomes.setdefault(name, []).append(outcome)
        for name, results in outcomes.items():
            self._stats.record(name, all(ok for ok, _ in results), sum(seconds for _, seconds in results))
        self._merged = merged(families, self._merged)
        yield from self._merged.values()
        yield from self._gpu_families()

    def _scrape(self, entry: RunEntry, last: _RunScrape | None) -> _RunScrape:
        """The run's families: those of the last scrape while what they are made from is the same
        (the same snapshot object, energy figures and GPU peak)."""
        snapshot = entry.snapshot()
        energy = entry.energy.has_data and entry.energy.figures(snapshot)
        made_from = (snapshot, energy, self._runs.peak_flops(entry.name) if entry.watcher else None)
        if last is not None and last.made_from[0] is snapshot and last.made_from[1:] == made_from[1:]:
            return last
        collectors = self._per_run[entry]
        families = list(collectors.collect(lambda: snapshot))
        outcomes = [(c.name, self._stats.last(c.name) or (False, 0.0)) for c in collectors.collectors]
        return _RunScrape(made_from, families, outcomes)

    def _collectors(self, entry: RunEntry) -> SnapshotCollectors:
        energy = Labelled(EnergyCollector(entry.energy, self._stats), self._node)
        if entry.watcher is None:
            return SnapshotCollectors(entry.snapshot, [energy], self._stats)
        training = TrainingCollector(self._stats, lambda: self._runs.peak_flops(entry.name))
        slowdown = SlowdownCollector(self._stats, lambda: entry.slowdown.cause)
        checkpoint = CheckpointCollector(self._stats, entry.checkpoints)
        return SnapshotCollectors(entry.snapshot, [training, energy, slowdown, checkpoint], self._stats)

    def _gpu_families(self) -> Iterator[Metric]:
        shares, readings = self._runs.latest()
        index = {r.uuid: str(r.index) for r in readings}
        share = GaugeMetricFamily("training_run_gpu_share_ratio", SHARE_HELP, labels=["run", "node", "gpu", "uuid"])
        for uuid, by_run in sorted(shares.shares.items()):
            for run, value in sorted(by_run.items()):
                share.add_metric([run, self._node["node"], index.get(uuid, ""), uuid], value)
        if share.samples:
            yield share
        split = self._runs.split
        if split.has_readings:
            unattributed = CounterMetricFamily("training_energy_unattributed_joules", UNATTRIBUTED_HELP,
                                               labels=["node"])
            unattributed.add_metric([self._node["node"]], split.unattributed_joules)
            yield unattributed
