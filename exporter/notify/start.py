"""Turning notifications on: the notifier of ``serve`` and ``run`` when a destination file is set,
and the link each message carries."""

from __future__ import annotations

import logging
import socket

from exporter.alerts.runs import AlertSettings
from exporter.server.addresses import url
from exporter.notify.sender import DEFAULT_USEFUL_SECONDS, Files, Notifications

log = logging.getLogger(__name__)

EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def page_url(listen_address: str, port: int, tls: bool = False) -> str:
    """This exporter's own page, as another machine reaches it."""
    host = socket.gethostname() if listen_address in EVERY_ADDRESS else listen_address
    return url(host, port, scheme="https" if tls else "http")


def open_notifier(settings: AlertSettings) -> Notifications | None:
    """The notifier, its destinations checked (a mistake is a UsageError) and their threads
    started, when a notify file or a Slack webhook file is set; else None."""
    if not settings.notify_file and not settings.webhook_file:
        return None
    useful = settings.repeat_interval_seconds or DEFAULT_USEFUL_SECONDS
    notifier = Notifications(Files(settings.notify_file, settings.webhook_file), settings.link,
                             useful_seconds=min(useful, DEFAULT_USEFUL_SECONDS))
    names = ", ".join(d.name for d in notifier.destinations())
    log.info("alerts go to %s", names)
    return notifier
