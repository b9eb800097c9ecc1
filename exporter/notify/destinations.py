"""Where alerts go: the lines of the notify file (one apprise URL per line: ``discord://…``,
``tgram://…``, ``ntfys://…``, ``mailtos://…``, ``workflows://…``, ``json://…``, ``slack://…``) and
the Slack webhook file. Both files are read at start (a mistake stops the exporter, naming the
file, the line and the fix, never the content) and again for every message, so a change needs no
restart. A destination is known by its service and line (``discord#2``), which is all a log line
or a metric ever shows of it; the notify file must be readable by its owner only (chmod 600)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from exporter.errors import UsageError
from exporter.notify.webhook import read_webhook_url

MAX_BYTES = 64 * 1024
MAX_DESTINATIONS = 32
SLACK_WEBHOOK = "slack-webhook-file"
FIX = ("put one apprise URL per line in that file (discord://…, tgram://…, ntfys://…, mailtos://…, "
       "workflows://…, json://…, slack://…; see README 'Notifications without Alertmanager'), "
       "readable only by you (chmod 600)")
RETIRED = {"msteams": "Microsoft retired the Teams connector webhooks that msteams:// used: create a Teams "
                      "workflow ('Post to a channel when a webhook request is received') and use its URL as "
                      "workflows://…"}


@dataclass(frozen=True)
class Destination:
    name: str  # service#line, or slack-webhook-file: what logs and metrics show
    service: str  # apprise's plugin (discord, telegram, email, json, …) or slack-webhook-file
    url: str  # never in a log line or a metric


def _plugin(url: str):
    import apprise  # noqa: PLC0415 - loads its plugins on first use; only where notifications are on

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def service_of(plugin) -> str:
    return type(plugin).__name__.removeprefix("Notify").lower()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the notify file {path}: {exc.strerror or exc}; {FIX}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"the notify file {path} can be read by others; it holds secrets: chmod 600 {path}")
    if len(data) > MAX_BYTES:
        raise UsageError(f"the notify file {path} is over {MAX_BYTES // 1024} KiB; {FIX}")
    return data


def _destination(path: str, number: int, url: str) -> Destination:
    scheme = url.partition("://")[0].lower()
    if scheme in RETIRED:
        raise UsageError(f"line {number} of the notify file {path}: {RETIRED[scheme]}")
    plugin = _plugin(url) if url.isprintable() else None
    if plugin is None:
        raise UsageError(f"line {number} of the notify file {path} is not an apprise URL it can use (the line "
                         f"is not shown); {FIX}")
    service = service_of(plugin)
    return Destination(f"{service}#{number}", service, url)


def read_notify_file(path: str) -> list[Destination]:
    """The destinations of the notify file at ``path``; a UsageError naming the file, the line and
    the fix. Blank lines and lines starting with ``#`` are left out."""
    try:
        text = _read(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the notify file {path} is not UTF-8 text; {FIX}") from None
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    found = [_destination(path, number, line) for number, line in lines if line and not line.startswith("#")]
    if not found:
        raise UsageError(f"the notify file {path} holds no destination; {FIX}")
    if len(found) > MAX_DESTINATIONS:
        raise UsageError(f"the notify file {path} holds {len(found)} destinations, more than {MAX_DESTINATIONS}")
    return found


def read_destinations(notify_file: str | None, slack_webhook_file: str | None) -> list[Destination]:
    """Every destination of both files, as they read now."""
    found = read_notify_file(notify_file) if notify_file else []
    if slack_webhook_file:
        found.append(Destination(SLACK_WEBHOOK, SLACK_WEBHOOK, read_webhook_url(slack_webhook_file)))
    return found


def notify_file_problem(path: str) -> str | None:
    """What keeps the notify file at ``path`` from being used, if anything (for the configuration check)."""
    try:
        read_notify_file(path)
    except UsageError as exc:
        return str(exc)
    return None
