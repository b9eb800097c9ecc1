"""The Slack webhook file: the incoming-webhook URL alone in a file, never on the command line,
in a log line or in a metric. Read at start (a mistake stops the exporter, naming the fix) and
again for every message, so a new URL needs no restart."""

from __future__ import annotations

from urllib.parse import urlsplit

from exporter.errors import UsageError

MAX_BYTES = 4096
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})  # plain http only to a relay on this machine
FIX = ("put the Slack incoming-webhook URL (https://hooks.slack.com/services/...) alone in that file, "
       "readable only by you (chmod 600)")


def _acceptable(url: str) -> bool:
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and host in LOOPBACK


def read_webhook_url(path: str) -> str:
    """The URL in the file at ``path``; a UsageError naming the file and the fix (never its content)."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the Slack webhook file {path}: {exc.strerror or exc}; {FIX}") from None
    try:
        url = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        url = ""
    if len(data) > MAX_BYTES or not _acceptable(url):
        raise UsageError(f"the Slack webhook file {path} does not hold an https:// URL (its content is not "
                         f"shown); {FIX}")
    return url


def webhook_problem(path: str) -> str | None:
    """What keeps the file at ``path`` from being used, if anything (for the configuration check)."""
    try:
        read_webhook_url(path)
    except UsageError as exc:
        return str(exc)
    return None
