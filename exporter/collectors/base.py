"""Shared collector frame: each source is scraped independently and reports its own success."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

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

    def record(self, name: str, success: bool, seconds: float) -> None:
        with self._lock:
            self._last[name] = (success, seconds)

    def snapshot(self) -> dict[str, tuple[bool, float]]:
        with self._lock:
            return dict(self._last)


class Collector(ABC):
    """A custom collector that never lets its source break the scrape.

    Subclasses implement :meth:`scrape`, returning ``(success, families)``. An exception is logged
    once per distinct message and counts as ``success 0`` with no families.
    """

    name: str

    def __init__(self, stats: CollectorStats) -> None:
        self._stats = stats
        self._last_error: str | None = None

    @abstractmethod
    def scrape(self) -> tuple[bool, Iterable[Metric]]:
        """Read the source now and build this collector's metric families."""

    def describe(self) -> list[Metric]:
        # Registering must not trigger a scrape of the source.
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            success, families = self.scrape()
            families = list(families)
            self._last_error = None
        except Exception as exc:  # a broken source must not break the whole scrape
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                log.exception("collector %s failed: %s", self.name, message)
                self._last_error = message
            success, families = False, []
        self._stats.record(self.name, success, time.perf_counter() - started)
        yield from families
