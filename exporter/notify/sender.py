"""The exporter's own notifier (:class:`exporter.alerts.engine.Notifier`): each notification
becomes one message (:mod:`exporter.notify.render`), read against the destination files as they
are now, and handed to each destination's :class:`Outbox`. Nothing here waits for a service on
behalf of the serve loop: ``notify`` renders, reads two small local files and queues."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from exporter.alerts.engine import Notification
from exporter.errors import UsageError
from exporter.notify import apprise_post, slack
from exporter.notify.destinations import SLACK_WEBHOOK, Destination, read_destinations
from exporter.notify.outbox import Counts, Outbox, Policy, Post
from exporter.notify.render import Message, message

log = logging.getLogger(__name__)

DEFAULT_USEFUL_SECONDS = 4 * 3600.0


@dataclass(frozen=True)
class Files:
    notify_file: str | None = None
    slack_webhook_file: str | None = None


def poster(destination: Destination, link: str) -> Post:
    """How a message reaches ``destination``: the Slack webhook file's own post, else apprise."""
    if destination.service == SLACK_WEBHOOK:
        return slack.post_message
    return lambda url, msg, seconds: apprise_post.post(url, destination.service, msg, seconds, link)


class Notifications:
    """Every destination of ``files``, each on its :class:`Outbox`."""

    def __init__(self, files: Files, link: str, useful_seconds: float = DEFAULT_USEFUL_SECONDS,
                 policy: Policy = Policy(),
                 poster_of: Callable[[Destination, str], Post] = poster) -> None:
        self._files = files
        self._link = link
        self._useful = useful_seconds
        self._policy = policy
        self._poster_of = poster_of
        self.tally = Counts()
        self._outboxes: dict[str, Outbox] = {}
        self._lock = threading.Lock()
        self._stopped = False
        for destination in self.destinations():  # a mistake stops the exporter before it starts
            self._outbox(destination)

    def destinations(self) -> list[Destination]:
        return read_destinations(self._files.notify_file, self._files.slack_webhook_file)

    def _outbox(self, destination: Destination) -> Outbox:
        outbox = self._outboxes.get(destination.name)
        if outbox is None:
            outbox = Outbox(destination.name, self._poster_of(destination, self._link), self.tally, self._policy)
            self._outboxes[destination.name] = outbox
            outbox.start()
        return outbox

    def notify(self, notification: Notification) -> None:
        self.send(message(notification, self._link, self._useful))

    def send(self, msg: Message) -> None:
        """Queue ``msg`` for every destination the files name now."""
        try:
            destinations = self.destinations()
        except UsageError as exc:
            with self._lock:
                names = list(self._outboxes)
            for name in names:
                self.tally.add(name, False, msg.title, str(exc))
            return
        with self._lock:
            outboxes = [] if self._stopped else [(self._outbox(d), d.url) for d in destinations]
        if not outboxes:
            for destination in destinations:
                self.tally.add(destination.name, False, msg.title, "the exporter stopped first")
        for outbox, url in outboxes:
            outbox.send(url, msg)

    def counts(self) -> dict[str, tuple[int, int]]:
        """Messages sent and given up, per destination name."""
        return self.tally.by_destination()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Send what is queued for up to ``drain_seconds`` (all destinations at once); what is left
        is counted as given up."""
        with self._lock:
            self._stopped = True
            outboxes = list(self._outboxes.values())
        stoppers = [threading.Thread(target=o.stop, args=(drain_seconds,)) for o in outboxes]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
