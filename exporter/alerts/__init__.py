"""Alerts evaluated by the exporter itself, with the meaning of the Prometheus rules: what fires,
when, and what it says. Delivering them is :mod:`exporter.notify`'s job."""

from exporter.alerts.engine import AlertEngine
from exporter.alerts.runs import AlertSettings, RunAlerts

__all__ = ["AlertEngine", "AlertSettings", "RunAlerts"]
