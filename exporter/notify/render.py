"""One message, said the same everywhere: the title with severity, alert, run or GPU; the summary,
the description and the alert's own lines while it fires; since when; the link. Kept in two
renderings, Markdown for the services that draw it (apprise turns it into Slack's mrkdwn, a
Discord embed, Telegram's Markdown, an adaptive card, an HTML e-mail) and plain text for the rest,
with the state apprise colours it by, and the Slack webhook payload of the Slack webhook file."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from exporter.alerts.alert import CRITICAL, WARNING
from exporter.alerts.engine import RESOLVED, Notification
from exporter.notify import messages

# apprise's notification types, which set each service's colour (Discord's embed, Slack's bar)
SUCCESS, INFO, WARNING_TYPE, FAILURE = "success", "info", "warning", "failure"
TYPES = {CRITICAL: FAILURE, WARNING: WARNING_TYPE}


@dataclass(frozen=True)
class Message:
    title: str
    headline: str
    lines: tuple[str, ...]
    link: str | None
    kind: str  # SUCCESS, INFO, WARNING_TYPE or FAILURE
    useful_until: float  # Unix seconds: after this the message is no longer worth sending
    slack: dict[str, Any] = field(default_factory=dict)  # the Slack webhook payload

    def markdown(self, escaped: bool = True) -> str:
        """CommonMark: the headline bold, the link a link; the text escaped unless the service
        takes backslashes literally (Slack's mrkdwn)."""
        text = _escaped if escaped else str
        link = [f"[{messages.LINK_TEXT}]({self.link})"] if self.link else []
        return "\n".join([f"**{text(self.headline)}**", *map(text, self.lines), *link])

    def plain(self) -> str:
        link = [f"{messages.LINK_TEXT}: {self.link}"] if self.link else []
        return "\n".join([self.headline, *self.lines, *link])


def _lines(n: Notification) -> tuple[str, tuple[str, ...]]:
    """The headline and the lines under it."""
    since = f"Since: {messages.clock(n.since)}"
    if n.status == RESOLVED:
        return f"Resolved: {n.alert.summary}", (f"{since}, resolved {messages.clock(n.at, with_date=False)}",)
    return n.alert.summary, (n.alert.description, *(f"• {name}: {value}" for name, value in n.alert.details),
                             f"• {since}")


def _kind(n: Notification) -> str:
    return SUCCESS if n.status == RESOLVED else TYPES.get(n.alert.rule.severity, INFO)


def message(n: Notification, link: str, useful_seconds: float) -> Message:
    headline, lines = _lines(n)
    return Message(messages.title(n), headline, lines, link, _kind(n), n.at + useful_seconds,
                   messages.payload(n, link))


def test_message(host: str, link: str | None, now: float | None = None) -> Message:
    """What ``notify-test`` and ``slack-test`` send."""
    return Message(messages.TEST_TITLE, f"Alerts of training-exporter on {host} reach this destination.", (),
                   link, SUCCESS, (time.time() if now is None else now) + 300, messages.slack_test_payload(host, link))


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]"})


def _escaped(text: str) -> str:
    """Text shown as it is in Markdown (an alert's summary may hold ``*`` or ``_``)."""
    return text.translate(_MARKDOWN)
