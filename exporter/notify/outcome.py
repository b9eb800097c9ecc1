"""How one post went, from what the service answered: delivered; refused for good (a wrong or
revoked address: retrying cannot help); or worth another try, after the service's Retry-After
where it gave one. Never holds the destination's address."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    why: str = ""  # for the log: a status, an error type, never the address
    final: bool = False  # refused: do not retry
    retry_after: float | None = None  # seconds the service asked to wait (a 429)


DELIVERED = Outcome(True)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header in seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable


def from_status(status: int, retry_after: str | None, now: float, said: str = "") -> Outcome:
    """The outcome of an HTTP answer."""
    if 200 <= status < 300:
        return DELIVERED
    why = f"HTTP {status} {said.strip()[:100]}".strip()
    if status == 429:
        return Outcome(False, why, retry_after=retry_after_seconds(retry_after, now))
    if status >= 500 or status in (408, 425):
        return Outcome(False, why)
    return Outcome(False, why, final=True)


CUT = Outcome(False, "the answer was cut short")


def no_answer(what: str) -> Outcome:
    if what == "deadline":
        return Outcome(False, "no complete answer before the deadline")
    return Outcome(False, f"no answer ({what})")
