"""Slack as a destination: each notification as a Slack message through the sending thread of
:mod:`exporter.notify.delivery`, and ``slack-test``. Another destination is a module like this
one: an object with ``notify``, ``counts`` and ``stop`` (:class:`exporter.alerts.engine.Notifier`)."""

from __future__ import annotations

import logging
import socket

from exporter.alerts.engine import Notification
from exporter.alerts.runs import AlertSettings
from exporter.errors import UsageError
from exporter.notify.delivery import Post, SlackSender, post_json
from exporter.notify.messages import payload, slack_test_payload
from exporter.notify.webhook import read_webhook_url
from exporter.server.addresses import url

log = logging.getLogger(__name__)

EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def page_url(listen_address: str, port: int, tls: bool = False) -> str:
    """This exporter's own page, as another machine reaches it."""
    host = socket.gethostname() if listen_address in EVERY_ADDRESS else listen_address
    return url(host, port, scheme="https" if tls else "http")


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
