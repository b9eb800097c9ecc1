"""Slack messages with the content of ``prometheus/templates/slack.tmpl``: a title with severity,
alert, run or GPU; the summary and description with the alert's own lines while it fires; since
when; the link. Laid out as Alertmanager posts them (one attachment, coloured by severity)."""

from __future__ import annotations

import time
from typing import Any

from exporter.alerts.alert import CRITICAL, WARNING
from exporter.alerts.engine import RESOLVED, Notification

COLORS = {CRITICAL: "danger", WARNING: "warning"}
INFO_COLOR, RESOLVED_COLOR = "#439FE0", "good"
LINK_TEXT = "Open the run's page"
TEST_TITLE = "training-exporter: test message"


def clock(timestamp: float, with_date: bool = True) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC" if with_date else "%H:%M UTC", time.gmtime(timestamp))


def title(n: Notification) -> str:
    severity = n.alert.severity
    gpu = n.alert.label("gpu")
    where = f" · GPU {gpu}" if gpu is not None else f" · run {n.run}"
    return f"{'RESOLVED' if n.status == RESOLVED else severity.upper()}: {n.alert.name}{where}"


def text(n: Notification, link: str) -> str:
    since = f"• Since: {clock(n.since)}"
    if n.status == RESOLVED:
        lines = [f"*Resolved:* {n.alert.summary}", f"{since}, resolved {clock(n.at, with_date=False)}"]
    else:
        lines = [f"*{n.alert.summary}*", n.alert.description,
                 *(f"• {name}: {value}" for name, value in n.alert.details), since]
    return "\n".join([*lines, f"<{link}|{LINK_TEXT}>"])


def color(n: Notification) -> str:
    return RESOLVED_COLOR if n.status == RESOLVED else COLORS.get(n.alert.severity, INFO_COLOR)


def attachment(title_text: str, body: str, link: str, color_name: str) -> dict[str, Any]:
    """A webhook payload of one attachment, as Alertmanager's Slack receiver sends (no title link
    without a link)."""
    linked = {"title_link": link} if link else {}
    return {"attachments": [{"title": title_text, **linked, "text": body, "fallback": title_text,
                             "color": color_name, "mrkdwn_in": ["fallback", "pretext", "text"]}]}


def payload(n: Notification, link: str) -> dict[str, Any]:
    return attachment(title(n), text(n, link), link, color(n))


def slack_test_payload(host: str, link: str | None) -> dict[str, Any]:
    """What ``slack-test`` sends."""
    body = f"Alerts of training-exporter on {host} reach this channel."
    return attachment(TEST_TITLE, body + (f"\n<{link}|{LINK_TEXT}>" if link else ""),
                      link or "", RESOLVED_COLOR)
