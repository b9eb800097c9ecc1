"""Shared collector frame: each source is scraped independently and reports its own success."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.errors import LogOnce

log = logging.getLogger(__name__)


def gauge(name: str, help_text: str, labels: list[str], values: list[str], value: float) -> GaugeMetricFamily:
    """A gauge family with one sample."""
    family = GaugeMetricFamily(name, help_text, labels=labels)
    family.add_metric(values, value)
    return family


class CollectorStats:
    """Success and duration of each collector's last scrape, read by the self-metrics collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[bool, float]] = {}
        self.families_skipped = 0  # families left out of an exposition: they could not be encoded

    def family_skipped(self) -> None:
        with self._lock:
            self.families_skipped += 1

    def record(self, name: str, success: bool, seconds: float) -> None:
        with self._lock:
            self._last[name] = (success, seconds)

    def snapshot(self) -> dict[str, tuple[bool, float]]:
        with self._lock:
            return dict(self._last)

    def last(self, name: str) -> tuple[bool, float] | None:
        with self._lock:
            return self._last.get(name)


class Collector(ABC):
    """A custom collector that never lets its source break the scrape.

    Subclasses implement :meth:`scrape`, returning ``(success, families)``; a collector of the run
    snapshot takes it as an argument (see :class:`SnapshotCollectors`). An exception is logged
    once per distinct message and counts as ``success 0`` with no families.
    """

    name: str

    def __init__(self, stats: CollectorStats) -> None:
        self._stats = stats
        self._log_failure = LogOnce(log, logging.ERROR)

    @abstractmethod
    def scrape(self, *source: Any) -> tuple[bool, Iterable[Metric]]:
        """Read the source now and build this collector's metric families."""

    def describe(self) -> list[Metric]:
        # Registering must not trigger a scrape of the source.
        return []

    def collect(self, *source: Any) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            success, families = self.scrape(*source)
            families = list(families)
            self._log_failure.clear()
        except Exception as exc:  # a broken source must not break the whole scrape
            message = f"{type(exc).__name__}: {exc}"
            self._log_failure(message, "collector %s failed: %s", self.name, message, exc_info=True)
            success, families = False, []
        self._stats.record(self.name, success, time.perf_counter() - started)
        yield from families


class SnapshotCollectors:
    """The collectors of one run snapshot. Each scrape reads the published snapshot once and hands
    that same snapshot to every one of them, so one exposition never contradicts itself."""

    def __init__(self, snapshot: Callable[[], Any], collectors: Sequence[Collector], stats: CollectorStats) -> None:
        self._snapshot = snapshot
        self.collectors = collectors
        self._stats = stats
        self._log_failure = LogOnce(log, logging.ERROR)

    def describe(self) -> list[Metric]:
        return []

    def collect(self, snapshot_of: Callable[[], Any] | None = None) -> Iterator[Metric]:
        """``snapshot_of``: where to read the snapshot this once (default: the run's)."""
        try:
            snapshot = (snapshot_of or self._snapshot)()
            self._log_failure.clear()
        except Exception as exc:  # without a snapshot each of its collectors fails alone
            message = f"{type(exc).__name__}: {exc}"
            self._log_failure(message, "reading the run snapshot failed: %s", message, exc_info=True)
            for collector in self.collectors:
                self._stats.record(collector.name, False, 0.0)
            return
        for collector in self.collectors:
            yield from collector.collect(snapshot)


def with_labels(families: Iterable[Metric], labels: dict[str, str]) -> Iterator[Metric]:
    """``families`` with ``labels`` added to every sample."""
    for family in families:
        family.samples = [sample._replace(labels={**sample.labels, **labels}) for sample in family.samples]
        yield family


class Labelled:
    """A collector whose every sample gets ``labels`` too (the ``node`` label); its source, if
    any, is passed through. A family the collector yields again (the same object, built once for
    several scrapes) is labelled only the first time."""

    def __init__(self, collector: Collector, labels: dict[str, str]) -> None:
        self._collector = collector
        self._labels = labels
        self.name = collector.name
        self._labelled: dict[int, Metric] = {}  # the families of the last scrape, by id

    def describe(self) -> list[Metric]:
        return []

    def collect(self, *source: Any) -> Iterator[Metric]:
        labelled, self._labelled = self._labelled, {}
        for family in self._collector.collect(*source):
            if labelled.get(id(family)) is not family:
                family, = with_labels([family], self._labels)
            self._labelled[id(family)] = family
            yield family
