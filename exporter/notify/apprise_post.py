"""One message to one apprise URL, within one deadline. Apprise renders it for its service (the
Markdown rendering where the service draws it, plain text elsewhere) and posts it; what apprise
does not report (the HTTP status, Retry-After, a cut answer) comes from
:mod:`exporter.notify.exchange`, and the deadline from :mod:`exporter.notify.deadline`. A service
apprise reaches without HTTP (e-mail) reports only whether it went: a failure there is retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from exporter.notify import deadline
from exporter.notify.outcome import CUT, DELIVERED, Outcome, from_status, no_answer
from exporter.notify.render import Message

# Services that draw Markdown: a Discord embed coloured by state, Telegram's Markdown, Slack's
# mrkdwn in a coloured attachment, a Teams adaptive card, an HTML e-mail, ntfy's Markdown.
RICH = frozenset({"discord", "telegram", "slack", "workflows", "email", "ntfy"})
# Where the URL must ask for Markdown itself: Discord draws an embed only then; Telegram's
# MarkdownV2, into which apprise escapes the text (a run named gpt2_small stays readable).
MARKDOWN_PARAMETERS = {"discord": "format=markdown", "telegram": "format=markdown&mdv=v2"}
# Services that show a backslash escape as it is.
LITERAL_BACKSLASH = frozenset({"slack", "workflows"})
APP_ID = "training-exporter"

if TYPE_CHECKING:
    from exporter.notify.exchange import Exchanges

# in place of the network (tests): requests.PreparedRequest -> requests.Response
Transport = Callable[[Any], Any]


def _with_markdown(url: str, service: str) -> str:
    """``url`` asking for Markdown, unless it already says which format it wants."""
    if service not in MARKDOWN_PARAMETERS or any(key == "format" for key, _ in parse_qsl(urlsplit(url).query)):
        return url
    return url + ("&" if "?" in url else "?") + MARKDOWN_PARAMETERS[service]


def _plugin(url: str, service: str, link: str):
    import apprise  # noqa: PLC0415

    asset = apprise.AppriseAsset(app_id=APP_ID, app_desc="training run alerts", app_url=link or "")
    return apprise.Apprise.instantiate(_with_markdown(url, service), asset=asset)


def _outcome(sent: bool, seen: Exchanges, now: float) -> Outcome:
    last = seen.answers[-1] if seen.answers else None
    if last is not None and last.cut:
        return CUT
    if sent:
        return DELIVERED
    if seen.no_answer:
        return no_answer(seen.no_answer)
    if last is not None:
        failed = from_status(last.status, last.retry_after, now)
        return failed if not failed.delivered else Outcome(False, f"HTTP {last.status}, but the service "
                                                                  "did not confirm the message")
    return Outcome(False, "the service did not accept it")


def post(url: str, service: str, message: Message, seconds: float, link: str = "",
         transport: Transport | None = None) -> Outcome:
    """Send ``message`` to the apprise URL ``url`` of ``service`` within ``seconds``."""
    from apprise import NotifyFormat  # noqa: PLC0415 - apprise and requests load only where notifications are on

    from exporter.notify import exchange  # noqa: PLC0415

    plugin = _plugin(url, service, link)
    if plugin is None:
        return Outcome(False, "the line is no longer an apprise URL", final=True)
    rich = service in RICH
    body = message.markdown(escaped=service not in LITERAL_BACKSLASH) if rich else message.plain()
    with deadline.within(seconds) as attempt, exchange.observed(transport) as seen:
        try:
            sent = bool(plugin.notify(body=body, title=message.title, notify_type=message.kind,
                                      body_format=NotifyFormat.MARKDOWN if rich else NotifyFormat.TEXT))
        except Exception as exc:  # noqa: BLE001 - a plugin's own bug is one failed attempt
            sent, seen.no_answer = False, type(exc).__name__
    outcome = _outcome(sent, seen, time.time())
    return no_answer("deadline") if attempt.expired and not outcome.delivered else outcome
