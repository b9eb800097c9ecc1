"""The families of every followed run in one exposition: each run's snapshot is read once per
scrape and handed to its training and energy collectors (:class:`SnapshotCollectors`); families of
the same name from several runs are merged into one. Also each run's share of each GPU and the GPU
energy no run took. The energy families carry the ``node`` label; the training families (read from
the log, which one node follows) do not."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorStats, Labelled, SnapshotCollectors
from exporter.collectors.checkpoint import CheckpointCollector
from exporter.collectors.energy import EnergyCollector
from exporter.collectors.health import SlowdownCollector
from exporter.collectors.training import TrainingCollector
from exporter.run_set.entry import RunEntry
from exporter.run_set.registry import RunSet

SHARE_HELP = ("The run's share of this GPU, 0-1, by which the GPU's energy is split: the memory its processes "
              "use on it over that of all compute processes there (runs on it share equally where the GPU does "
              "not say); what no run takes is training_energy_unattributed_joules_total.")
UNATTRIBUTED_HELP = ("Energy of the watched GPUs that no counted run took (no run's process on them), at the GPUs, "
                     "since the exporter started; never added to a run.")


def merged(families: Iterable[Metric]) -> list[Metric]:
    """One family per name, holding the samples of every family of that name, in first-seen order."""
    by_name: dict[str, Metric] = {}
    for family in families:
        if family.name in by_name:
            by_name[family.name].samples.extend(family.samples)
        else:
            by_name[family.name] = family
    return list(by_name.values())


class RunsCollector:
    def __init__(self, runs: RunSet, stats: CollectorStats, node: str) -> None:
        self._runs = runs
        self._stats = stats
        self._node = {"node": node}
        self._per_run: dict[RunEntry, SnapshotCollectors] = {}

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        entries = self._runs.entries()
        self._per_run = {entry: self._per_run.get(entry) or self._collectors(entry) for entry in entries}
        families: list[Metric] = []
        outcomes: dict[str, list[tuple[bool, float]]] = {}
        for entry in entries:
            collectors = self._per_run[entry]
            families += collectors.collect()
            for collector in collectors.collectors:
                outcomes.setdefault(collector.name, []).append(self._stats.last(collector.name) or (False, 0.0))
        for name, results in outcomes.items():
            self._stats.record(name, all(ok for ok, _ in results), sum(seconds for _, seconds in results))
        yield from merged(families)
        yield from self._gpu_families()

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
