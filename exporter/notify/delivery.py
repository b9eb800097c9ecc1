"""Sending to Slack on a thread of its own: a bounded queue (a full one drops the message and
counts it as failed), a timeout on every post, retries with growing waits on no answer, 429 or
5xx (a Retry-After is honoured), and counters of messages sent and given up. Nothing here ever
waits for Slack on behalf of a scrape, the log watcher or the serve loop. The URL never reaches a
log line: failures are told by status and error type."""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.errors import UsageError
from exporter.notify.webhook import read_webhook_url
from exporter.threads import Repeating

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    retry_after: str | None = None
    body: str = ""


# post(url, body, timeout_seconds) -> Reply; OSError when there is no answer
Post = Callable[[str, bytes, float], Reply]


def post_json(url: str, body: bytes, timeout: float) -> Reply:
    """POST ``body`` as JSON (the standard library logs nothing, so the URL stays out of logs)."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - checked at load
            return Reply(answer.status, answer.headers.get("Retry-After"), answer.read(200).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers.get("Retry-After") if exc.headers else None,
                     exc.read(200).decode("utf-8", "replace") if exc.fp else "")
    except (http.client.HTTPException, ValueError) as exc:
        raise OSError(f"bad answer ({type(exc).__name__})") from None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header in seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def _said(exc: OSError, url: str) -> str:
    """An error as a log line may show it: its type, and its text with the URL cut out."""
    text = str(exc).replace(url, "<webhook>")
    path = url.split("://", 1)[-1].partition("/")[2]
    return f"{type(exc).__name__}: {text.replace(path, '<webhook>') if path else text}"


class SlackSender:
    def __init__(self, webhook_file: str, post: Post = post_json, *, timeout_seconds: float = 10.0,
                 queue_size: int = 64, attempts: int = 6, first_wait_seconds: float = 2.0,
                 longest_wait_seconds: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self._file = webhook_file
        self._post = post
        self._timeout = timeout_seconds
        self._attempts = attempts
        self._first_wait = first_wait_seconds
        self._longest_wait = longest_wait_seconds
        self._clock = clock
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(queue_size)
        self._closing = threading.Event()  # send what is queued, then end
        self._loop = Repeating("slack-sender", self._step, self._failed, first_wait_seconds)
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.sent, self.failed

    def send(self, payload: dict[str, Any]) -> None:
        """Queue ``payload``; never blocks."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self._count(False, payload, "the queue of unsent Slack messages is full")

    def start(self) -> None:
        self._loop.start()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Send what is queued for up to ``drain_seconds``; what is left is counted as failed."""
        self._closing.set()
        self._loop.join(drain_seconds)
        self._loop.stop(join_seconds=0)
        while True:
            try:
                self._count(False, self._queue.get_nowait(), "the exporter stopped first")
            except queue.Empty:
                return

    def _step(self) -> float | None:
        try:
            payload = self._queue.get(timeout=0.1)
        except queue.Empty:
            return None if self._closing.is_set() else 0
        delivered, why = self.deliver(payload)
        self._count(delivered, payload, why)
        return 0

    def _failed(self, exc: Exception) -> None:
        log.error("sending to Slack failed: %s", type(exc).__name__)

    def _count(self, delivered: bool, payload: dict[str, Any], why: str) -> None:
        with self._lock:
            if delivered:
                self.sent += 1
            else:
                self.failed += 1
        if not delivered:
            title = payload.get("attachments", [{}])[0].get("title", "")
            log.warning("Slack message %r not sent: %s", title, why)

    def deliver(self, payload: dict[str, Any]) -> tuple[bool, str]:
        """Post ``payload`` now, retrying; whether Slack accepted it, else why not."""
        body = json.dumps(payload).encode("utf-8")
        wait, why = self._first_wait, ""
        for attempt in range(1, self._attempts + 1):
            try:
                url = read_webhook_url(self._file)
            except UsageError as exc:
                return False, str(exc)
            try:
                reply = self._post(url, body, self._timeout)
            except OSError as exc:
                why, pause = f"no answer ({_said(exc, url)})", wait
            else:
                if 200 <= reply.status < 300:
                    return True, ""
                why = f"HTTP {reply.status} {reply.body.strip()[:100]}".strip()
                if reply.status != 429 and reply.status < 500:
                    return False, why  # a wrong or revoked webhook: retrying cannot help
                pause = retry_after_seconds(reply.retry_after, self._clock())
                pause = wait if pause is None else pause
            if attempt == self._attempts or self._loop.stopping.wait(min(pause, self._longest_wait)):
                break
            wait *= 2
        return False, f"{why} after {attempt} attempt(s)"
