"""One deadline for a whole post, whatever library makes it. A socket's own timeout applies to each
read, so a server that sends one byte every few seconds would hold a post for as long as it likes;
here every socket connected on this thread inside :func:`within` is shut down when the deadline
passes, which ends the blocked read at once. Sockets are seen through Python's ``socket.connect``
audit event, so this holds for apprise's ``requests``, ``smtplib`` and ``urllib`` alike."""

from __future__ import annotations

import contextvars
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Attempt:
    """The sockets of one post and whether its deadline cut it short."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def left(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


_current: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar("notify_attempt", default=None)
_installed = False
_install_lock = threading.Lock()


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        attempt = _current.get()
        if attempt is not None and isinstance(args[0], socket.socket):
            attempt.watch(args[0])


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)  # one hook for the process; it costs a lookup per audit event
            _installed = True


def current() -> Attempt | None:
    """The attempt under way on this thread, if any."""
    return _current.get()


@contextmanager
def within(seconds: float) -> Iterator[Attempt]:
    """Run the body with every socket it connects shut down after ``seconds``."""
    _install()
    attempt = Attempt(seconds)
    timer = threading.Timer(seconds, attempt.expire)
    timer.daemon = True
    token = _current.set(attempt)
    timer.start()
    try:
        yield attempt
    finally:
        timer.cancel()
        _current.reset(token)
