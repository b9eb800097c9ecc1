"""Sending alerts to people: how a notification becomes a message and reaches its destination
(today Slack: ``slack.py``, over the sending thread of ``delivery.py``). What fires and when is
decided in :mod:`exporter.alerts`; this package only delivers."""

from exporter.notify.slack import open_notifier, page_url, slack_test

__all__ = ["open_notifier", "page_url", "slack_test"]
