"""Alerting inside the exporter: the engine for ``serve``, with Slack attached when a webhook file
is given, and ``slack-test``."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from exporter.alerts.engine import Notification
from exporter.alerts.messages import payload, slack_test_payload
from exporter.alerts.run_rules import Spend
from exporter.alerts.slack import Post, SlackSender, post_json
from exporter.alerts.webhook import read_webhook_url
from exporter.energy import RunEnergy
from exporter.errors import UsageError
from exporter.run import RunSnapshot

log = logging.getLogger(__name__)

EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True)
class AlertSettings:
    webhook_file: str | None = None
    repeat_interval_seconds: float = 4 * 3600.0
    link: str = ""
    for_cap_seconds: float | None = None


def page_url(listen_address: str, port: int) -> str:
    """This exporter's own page, as another machine reaches it."""
    host = socket.gethostname() if listen_address in EVERY_ADDRESS else listen_address
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class SlackNotifier:
    """Each notification as a Slack message, through a :class:`SlackSender`."""

    def __init__(self, sender: SlackSender, link: str) -> None:
        self.sender = sender
        self._link = link

    def notify(self, notification: Notification) -> None:
        self.sender.send(payload(notification, self._link))

    def counts(self) -> tuple[int, int]:
        return self.sender.counts()

    def stop(self) -> None:
        self.sender.stop()


def spend_of(energy: RunEnergy) -> Callable[[RunSnapshot], Spend | None]:
    def spend(snapshot: RunSnapshot) -> Spend | None:
        if not energy.has_data:
            return None
        joules = energy.figures(snapshot).joules
        return Spend(joules, energy.cost(joules), energy.settings.currency)

    return spend


def open_notifier(settings: AlertSettings, post: Post = post_json) -> SlackNotifier | None:
    """Slack's sender, started, when ``settings.webhook_file`` is set (checked here); else None."""
    if not settings.webhook_file:
        return None
    read_webhook_url(settings.webhook_file)
    sender = SlackSender(settings.webhook_file, post)
    sender.start()
    log.info("alerts go to Slack (webhook in %s)", settings.webhook_file)
    return SlackNotifier(sender, settings.link)


def slack_test(webhook_file: str | None, link: str | None = None, post: Post = post_json) -> int:
    """Send one test message; 0 when Slack accepted it, 1 when not (said on stdout)."""
    if not webhook_file:
        raise UsageError("no webhook: pass --slack-webhook-file PATH (a file holding the Slack webhook URL)")
    read_webhook_url(webhook_file)
    delivered, why = SlackSender(webhook_file, post, attempts=3).deliver(slack_test_payload(socket.gethostname(),
                                                                                            link))
    if delivered:
        print(f"Slack accepted the test message (webhook in {webhook_file})")
        return 0
    print(f"Slack did not accept the test message: {why}; check the webhook URL in {webhook_file}")
    return 1
