"""The exporter's own alerting: which alerts fire, and how the messages to each destination fared."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.alerts.alert import RULES
from exporter.collectors.base import Collector, CollectorStats

SLACK_WEBHOOK = "slack-webhook-file"  # the destination name of the Slack webhook file (exporter.notify)


class Alerting(Protocol):
    def firing(self) -> list[dict[str, Any]]: ...

    def delivery_counts(self) -> dict[str, tuple[int, int]] | None: ...


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
            families += _delivery_families(delivery)
        return True, families


def _delivery_families(delivery: dict[str, tuple[int, int]]) -> list[Metric]:
    """Per destination (its service and line, never its address); the Slack webhook file's also
    under the names it had before there were other destinations."""
    sent = CounterMetricFamily("training_exporter_notifications_sent",
                               "Messages a destination accepted.", labels=["destination"])
    given_up = CounterMetricFamily("training_exporter_notifications_given_up",
                                   "Messages given up: refused, unanswered after every retry, past their "
                                   "usefulness, dropped from a full queue, or still queued at exit.",
                                   labels=["destination"])
    for name, (sent_count, given_up_count) in sorted(delivery.items()):
        sent.add_metric([name], sent_count)
        given_up.add_metric([name], given_up_count)
    families: list[Metric] = [sent, given_up]
    if SLACK_WEBHOOK in delivery:
        slack_sent = CounterMetricFamily("training_exporter_slack_messages_sent",
                                         "Slack messages the webhook accepted.")
        slack_sent.add_metric([], delivery[SLACK_WEBHOOK][0])
        slack_failed = CounterMetricFamily("training_exporter_slack_send_failures",
                                           "Slack messages given up: refused, unanswered after every retry, "
                                           "or dropped from a full queue.")
        slack_failed.add_metric([], delivery[SLACK_WEBHOOK][1])
        families += [slack_sent, slack_failed]
    return families
