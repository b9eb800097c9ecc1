"""What apprise does not tell: apprise's plugins post with ``requests`` and report only whether a
message went, while the sender needs each answer's HTTP status, its ``Retry-After``, and whether
the answer was cut short. Inside :func:`observed`, on this thread only, each request apprise makes
goes through :func:`_send`, which notes the answer (:class:`Answer`), refuses to start once the
post's deadline (:mod:`exporter.notify.deadline`) has passed, keeps each read's timeout within it,
and hands apprise an answer without rate-limit headers: pausing is the sender's job (a plugin that
read ``X-RateLimit-Reset`` would sleep for as long as the server says, past any deadline). Outside
that context ``requests`` behaves as it always does."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from exporter.notify import deadline

RATE_HEADERS = ("X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Remaining", "Retry-After")


@dataclass
class Answer:
    status: int
    retry_after: str | None = None
    cut: bool = False  # the status line came, the rest of the head did not


@dataclass
class Exchanges:
    """The answers of one post, in order, and the error type of a request that got none."""

    answers: list[Answer] = field(default_factory=list)
    no_answer: str | None = None
    # in place of the network (tests): PreparedRequest -> Response
    transport: Callable[[requests.PreparedRequest], requests.Response] | None = None


_current: contextvars.ContextVar[Exchanges | None] = contextvars.ContextVar("notify_exchanges", default=None)
_original = requests.Session.send
_lock = threading.Lock()


def _cut(response: requests.Response) -> bool:
    head = getattr(getattr(response.raw, "_original_response", None), "msg", None)
    return bool(getattr(head, "defects", None))


def _send(session: requests.Session, request: requests.PreparedRequest, **kwargs) -> requests.Response:
    seen = _current.get()
    if seen is None:
        return _original(session, request, **kwargs)
    attempt = deadline.current()
    if attempt is not None:
        left = attempt.left()
        if left <= 0:
            seen.no_answer = "deadline"
            raise requests.Timeout("the post's deadline passed")
        asked = kwargs.get("timeout")
        connect, read = asked if isinstance(asked, tuple) else (asked, asked)
        kwargs["timeout"] = (min(connect or left, left), min(read or left, left))
    try:
        response = seen.transport(request) if seen.transport else _original(session, request, **kwargs)
    except requests.RequestException as exc:
        seen.no_answer = "deadline" if attempt is not None and attempt.expired else type(exc).__name__
        raise
    seen.answers.append(Answer(response.status_code, response.headers.get("Retry-After"), _cut(response)))
    for name in RATE_HEADERS:
        response.headers.pop(name, None)
    if seen.answers[-1].cut:
        response.status_code = 502  # what the plugin then reports as a failure
    return response


def _install() -> None:
    with _lock:
        if requests.Session.send is not _send:
            requests.Session.send = _send  # type: ignore[method-assign]


@contextmanager
def observed(transport: Callable[[requests.PreparedRequest], requests.Response] | None = None
             ) -> Iterator[Exchanges]:
    """Note every HTTP answer the body receives through ``requests`` on this thread (from
    ``transport`` instead of the network when one is given)."""
    _install()
    seen = Exchanges(transport=transport)
    token = _current.set(seen)
    try:
        yield seen
    finally:
        _current.reset(token)
