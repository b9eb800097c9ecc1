"""The exporter's own alerting: which alerts fire, and how the Slack messages fared."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.alerts.alert import RULES
from exporter.collectors.base import Collector, CollectorStats


class Alerting(Protocol):
    def firing(self) -> list[dict[str, Any]]: ...

    def delivery_counts(self) -> tuple[int, int] | None: ...


class AlertsCollector(Collector):
    name = "alerts"

    def __init__(self, engine: Alerting, stats: CollectorStats) -> None:
        super().__init__(stats)
        self._engine = engine

    def scrape(self) -> tuple[bool, Iterable[Metric]]:
        counts = Counter(alert["name"] for alert in self._engine.firing())
        firing = GaugeMetricFamily("training_exporter_alerts_firing",
                                   "Alerts the exporter evaluates itself that fire now (silenced ones left out).",
                                   labels=["alertname"])
        for name in RULES:
            firing.add_metric([name], counts[name])
        families: list[Metric] = [firing]
        delivery = self._engine.delivery_counts()
        if delivery is not None:
            sent = CounterMetricFamily("training_exporter_slack_messages_sent",
                                       "Slack messages the webhook accepted.")
            sent.add_metric([], delivery[0])
            failed = CounterMetricFamily("training_exporter_slack_send_failures",
                                         "Slack messages given up: refused, unanswered after every retry, "
                                         "or dropped from a full queue.")
            failed.add_metric([], delivery[1])
            families += [sent, failed]
        return True, families
