"""One destination's messages, sent in order on a thread of its own (so a slow, refusing or
rate-limited destination holds up no other): a bounded queue (a full one drops the message and
counts it), one deadline per post, retries with growing waits on no answer, a cut answer or a 5xx,
a 429's Retry-After honoured by pausing this destination only, and never past a message's
usefulness (a message that could only arrive after that is given up and counted, not sent late).
Every message ends counted once: sent, or given up with the reason logged (never the address)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from exporter.notify.outcome import Outcome
from exporter.notify.render import Message
from exporter.threads import Repeating

log = logging.getLogger(__name__)

# post(url, message, deadline_seconds) -> Outcome
Post = Callable[[str, Message, float], Outcome]


@dataclass(frozen=True)
class Policy:
    deadline_seconds: float = 10.0  # one post, all of it: connecting, sending, the whole answer
    attempts: int = 6
    first_wait_seconds: float = 2.0
    longest_wait_seconds: float = 300.0
    longest_pause_seconds: float = 3600.0  # a Retry-After longer than this is taken as this
    queue_size: int = 64


@dataclass
class _Pending:
    url: str
    message: Message
    tries: int = 0
    not_before: float = 0.0  # monotonic


class Counts:
    """Messages sent and given up, per destination name; shared by every outbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}

    def add(self, name: str, delivered: bool, title: str = "", why: str = "") -> None:
        with self._lock:
            self._counts.setdefault(name, [0, 0])[0 if delivered else 1] += 1
        if not delivered:
            log.warning("message %r to %s not sent: %s", title, name, why)

    def known(self, name: str) -> None:
        with self._lock:
            self._counts.setdefault(name, [0, 0])

    def by_destination(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            return {name: (sent, failed) for name, (sent, failed) in self._counts.items()}


class Outbox:
    def __init__(self, name: str, post: Post, counts: Counts, policy: Policy = Policy(),
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._post = post
        self._counts = counts
        self._policy = policy
        self._clock, self._monotonic = clock, monotonic
        self._queue: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._paused_until = 0.0  # monotonic: a 429 asked this destination to wait
        self._loop = Repeating(f"notify-{name}", self._step, self._failed, policy.first_wait_seconds)
        counts.known(name)

    def start(self) -> None:
        self._loop.start()

    def send(self, url: str, message: Message) -> None:
        """Queue ``message`` for ``url``; never blocks."""
        with self._lock:
            full = len(self._queue) >= self._policy.queue_size
            if not full:
                self._queue.append(_Pending(url, message))
        if full:
            self._counts.add(self.name, False, message.title, "its queue of unsent messages is full")
        self._wake.set()

    def stop(self, drain_seconds: float) -> None:
        """Send what is queued for up to ``drain_seconds``; every message left is counted as given up."""
        self._closing.set()
        self._wake.set()
        self._loop.join(drain_seconds)
        self._loop.stop(join_seconds=0)
        with self._lock:
            left = list(self._queue)  # the first may be on its way: its answer no longer counts
            self._queue.clear()
        for pending in left:
            self._counts.add(self.name, False, pending.message.title, "the exporter stopped first")

    def _failed(self, exc: Exception) -> None:
        log.error("sending to %s failed: %s", self.name, type(exc).__name__)

    def _step(self) -> float | None:
        with self._lock:
            pending = self._queue[0] if self._queue else None
        if pending is None:
            if self._closing.is_set():
                return None
            self._wake.wait(1.0)
            self._wake.clear()
            return 0
        wait = max(pending.not_before, self._paused_until) - self._monotonic()
        if wait > 0:
            if self._useful_after(pending, wait):
                return min(wait, 1.0)
            return self._give_up(pending, f"it could only go out after {wait:.0f} s, past its usefulness")
        return self._attempt(pending)

    def _useful_after(self, pending: _Pending, seconds: float) -> bool:
        return self._clock() + seconds <= pending.message.useful_until

    def _give_up(self, pending: _Pending, why: str) -> float:
        with self._lock:
            if self._queue and self._queue[0] is pending:
                self._queue.popleft()
        self._counts.add(self.name, False, pending.message.title, why)
        return 0

    def _attempt(self, pending: _Pending) -> float:
        if self._clock() > pending.message.useful_until:
            return self._give_up(pending, "it is no longer useful")
        outcome = self._post(pending.url, pending.message, self._policy.deadline_seconds)
        pending.tries += 1
        done = outcome.delivered or outcome.final or pending.tries >= self._policy.attempts
        with self._lock:
            if not self._queue or self._queue[0] is not pending:
                return 0  # stop() counted it meanwhile
            if done:
                self._queue.popleft()
        if not done:
            self._schedule(pending, outcome)
            return 0
        suffix = "" if outcome.delivered or outcome.final else f" after {pending.tries} attempts"
        self._counts.add(self.name, outcome.delivered, pending.message.title, outcome.why + suffix)
        return 0

    def _schedule(self, pending: _Pending, outcome: Outcome) -> None:
        """The next try: after the service's Retry-After (the whole destination waits), else after
        a growing wait."""
        now = self._monotonic()
        if outcome.retry_after is not None:
            self._paused_until = now + min(outcome.retry_after, self._policy.longest_pause_seconds)
            log.info("%s asked to wait %.0f s (HTTP 429); its other messages wait too", self.name,
                     outcome.retry_after)
        else:
            wait = self._policy.first_wait_seconds * 2 ** (pending.tries - 1)
            pending.not_before = now + min(wait, self._policy.longest_wait_seconds)
        log.info("%s: attempt %d failed (%s); retrying", self.name, pending.tries, outcome.why)
