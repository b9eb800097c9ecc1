"""The Slack webhook file as a destination: the webhook payload of
``prometheus/templates/slack.tmpl`` (one attachment coloured by severity, as Alertmanager posts it)
posted to the file's URL (Slack's, or a relay on this machine), within one deadline for the whole
post. The standard library logs nothing, so the URL stays out of the logs."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

from exporter.notify import deadline
from exporter.notify.outcome import CUT, Outcome, from_status, no_answer
from exporter.notify.render import Message


def _post(url: str, body: bytes, seconds: float) -> Outcome:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=seconds) as answer:  # noqa: S310 - checked at load
            if answer.headers.defects:
                return CUT
            said = answer.read(200).decode("utf-8", "replace")
            return from_status(answer.status, answer.headers.get("Retry-After"), time.time(), said)
    except urllib.error.HTTPError as exc:
        said = exc.read(200).decode("utf-8", "replace") if exc.fp else ""
        return from_status(exc.code, exc.headers.get("Retry-After") if exc.headers else None, time.time(), said)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return no_answer(type(exc).__name__)


def post_message(url: str, message: Message, seconds: float) -> Outcome:
    """Post ``message``'s Slack payload to the webhook ``url`` within ``seconds``."""
    with deadline.within(seconds) as attempt:
        outcome = _post(url, json.dumps(message.slack).encode("utf-8"), seconds)
    if attempt.expired and not outcome.delivered:
        return no_answer("deadline")
    return outcome
