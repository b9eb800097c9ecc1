"""The exporter's own health: build info, each collector's last success and duration, and the
metric families left out of expositions."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter import __version__
from exporter.collectors.base import CollectorStats, gauge


class ExporterCollector:
    """Registered last, so it reports the scrape of every collector before it."""

    def __init__(self, stats: CollectorStats, auth_failures: Callable[[], int] | None = None) -> None:
        """``auth_failures``: requests refused by basic auth so far, when a web configuration is given."""
        self._stats = stats
        self._auth_failures = auth_failures

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        build = gauge("training_exporter_build_info", "Version of the exporter.", ["version", "python"],
                      [__version__, platform.python_version()], 1)
        success = GaugeMetricFamily(
            "training_exporter_collector_success", "1 if the collector read its source.", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            "training_exporter_collector_duration_seconds", "Duration of the collector's scrape.", labels=["collector"]
        )
        for name, (ok, seconds) in sorted(self._stats.snapshot().items()):
            success.add_metric([name], 1 if ok else 0)
            duration.add_metric([name], seconds)
        skipped = CounterMetricFamily("training_exporter_exposition_families_skipped",
                                      "Metric families left out of an exposition: they could not be encoded.")
        skipped.add_metric([], self._stats.families_skipped)
        families = [build, success, duration, skipped]
        if self._auth_failures is not None:
            families.append(CounterMetricFamily("training_exporter_http_auth_failures",
                                                "Requests refused for a missing or wrong user or password.",
                                                value=self._auth_failures()))
        return families
