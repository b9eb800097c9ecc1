"""Alerts evaluated by the exporter itself, with the meaning of the Prometheus rules, and sent to
Slack without Alertmanager when a webhook file is given."""

from exporter.alerts.engine import AlertEngine
from exporter.alerts.service import AlertSettings, open_notifier, page_url, slack_test

__all__ = ["AlertEngine", "AlertSettings", "open_notifier", "page_url", "slack_test"]
