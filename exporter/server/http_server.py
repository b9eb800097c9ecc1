"""The HTTP endpoint: ``/metrics`` and a small table of other routes (``/``: by default a page linking
to /metrics; a route is given the query string, /metrics ignores it), for GET and HEAD; other paths 404, other methods 405,
nothing logged per request. The routes are read-only; their replies say ``no-store`` and carry a
content security policy that lets a page load nothing from elsewhere. Unlike prometheus_client's
``start_http_server`` (a backlog of 5, a thread per connection, no read timeout, metrics on every path):

- the listen backlog is ``BACKLOG`` (Linux caps it at ``net.core.somaxconn``): a burst of scrapers
  waits in the kernel instead of losing SYNs to a 1 s retry;
- one selector thread accepts and reads request heads without blocking. A connection has
  ``timeout`` seconds from its accept to send its head, else it is closed: an idle or slow client
  costs a file descriptor, never a thread. Past ``max_pending`` such connections the oldest is closed;
- complete requests wait in a FIFO for one of ``workers`` threads. When ``max_queued`` wait
  already, a request is answered 503 at once: the selector must keep accepting (else idle
  connections would starve real scrapers), and a quick 503 says more than a time-out;
- the exposition is CPU work under one interpreter lock (a few ms for a few hundred samples), so
  requests for the same one that arrive while it is being generated share the next one
  (:class:`~exporter.server.expositions.SharedExpositions`);
- one request per connection (HTTP/1.0): scrapes come seconds apart, keep-alive would only hold a
  descriptor. The reply goes out in one send with TCP_NODELAY: no Nagle wait for a delayed ACK.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass

from prometheus_client.registry import CollectorRegistry

from exporter.errors import LogOnce
from exporter.server import tls
from exporter.server.expositions import SharedExpositions
from exporter.server.handler import HTML, INDEX_PAGE, Handler, Route
from exporter.server.security import Security

log = logging.getLogger(__name__)

BACKLOG = 1024
HEAD_LIMIT = 16 * 1024  # bytes of request line and headers; a longer head closes the connection
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n\r\n"
FAILED = b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
_LISTENER, _WAKE = "listener", "wake"


@dataclass(slots=True)
class _Pending:
    """A connection still sending its request head."""
    address: tuple
    deadline: float
    shaking: bool = False  # a TLS handshake under way
    head: bytes = b""


class MetricsServer:
    """Serves ``registry`` on ``address``:``port`` and ``routes`` by path (default: ``/``, a link
    page; see the module docstring); binds on creation (``OSError`` when it cannot), serves after
    :meth:`start`, until :meth:`stop`."""

    def __init__(self, registry: CollectorRegistry, address: str, port: int, *,
                 routes: Mapping[str, Route] | None = None, timeout: float = 5.0, workers: int = 16,
                 max_pending: int = 256, max_queued: int = 256, listener: socket.socket | None = None,
                 security: Security | None = None, on_skipped: Callable[[], None] = lambda: None) -> None:
        """``on_skipped``: told of each metric family left out of an exposition (it could not be encoded)."""
        self.expositions = SharedExpositions(registry, on_skipped)
        self.security = security
        self.routes = dict(routes) if routes is not None else {"/": lambda query: (INDEX_PAGE, HTML)}
        self.timeout = timeout
        self.max_pending = max_pending
        self.max_queued = max_queued
        self.socket = listener if listener is not None else listen(address, port)
        self.server_address = self.socket.getsockname()
        self.port: int = self.server_address[1]
        self._pending: dict[socket.socket, _Pending] = {}  # in order of accept, so of deadline
        self._queue: queue.SimpleQueue[tuple[socket.socket, tuple, bytes] | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._log_failure = LogOnce(log, logging.ERROR)
        self._threads = [threading.Thread(target=self._select_loop, name="metrics-http", daemon=True)]
        self._threads += [threading.Thread(target=self._work, name=f"metrics-http-{n}", daemon=True)
                          for n in range(workers)]

    def start(self) -> MetricsServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close waiting connections, let the workers finish what was queued."""
        self._stopping.set()
        self._wake_writer.send(b"\0")
        self._threads[0].join()
        for _ in self._threads[1:]:
            self._queue.put(None)
        for thread in self._threads[1:]:
            thread.join(self.timeout)
        for sock in (self.socket, self._wake_reader, self._wake_writer):
            sock.close()

    def _select_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
            selector.register(self._wake_reader, selectors.EVENT_READ, _WAKE)
            while not self._stopping.is_set():
                for key, _ in selector.select(self._select_timeout()):
                    if key.data is _LISTENER:
                        self._accept(selector)
                    elif key.data is not _WAKE:
                        self._read(selector, key.fileobj)
                self._expire(selector, time.monotonic())
            for conn in list(self._pending):
                self._drop(selector, conn)

    def _select_timeout(self) -> float | None:
        oldest = next(iter(self._pending.values()), None)
        return None if oldest is None else max(0.0, oldest.deadline - time.monotonic())

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(self.max_pending):  # then read what came in, before accepting more
            try:
                conn, address = self.socket.accept()
            except OSError:  # none left (EAGAIN), or the client gave up before the accept
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.security is not None and self.security.context is not None:
                conn = self.security.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            if len(self._pending) >= self.max_pending:
                self._drop(selector, next(iter(self._pending)))
            self._pending[conn] = _Pending(address, time.monotonic() + self.timeout, shaking=isinstance(conn, ssl.SSLSocket))
            selector.register(conn, selectors.EVENT_READ)

    def _read(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        pending = self._pending.get(conn)
        if pending is None:  # dropped earlier in this round
            return
        if pending.shaking and not self._handshake(selector, conn, pending):
            return
        try:
            data = _received(conn)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            data = b""
        pending.head += data
        complete = b"\r\n\r\n" in pending.head or b"\n\n" in pending.head
        if data and not complete and len(pending.head) < HEAD_LIMIT:
            return
        if not complete:  # the client closed, or sent a head too long
            self._drop(selector, conn)
            return
        del self._pending[conn]
        selector.unregister(conn)
        if self._queue.qsize() >= self.max_queued:
            with suppress(OSError):  # a few bytes, one try
                conn.send(BUSY)
            conn.close()
        else:
            self._queue.put((conn, pending.address, pending.head))

    def _handshake(self, selector: selectors.BaseSelector, conn: ssl.SSLSocket, pending: _Pending) -> bool:
        """Go on with a TLS handshake; True once it is done (and the client certificate, if any, is
        among the allowed names), False while it waits or after it failed (plain HTTP to the TLS
        port, a certificate refused: the connection is closed)."""
        try:
            conn.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError:
            self._drop(selector, conn)
            return False
        pending.shaking = False
        settings = self.security.settings if self.security is not None else None
        if settings is not None and not tls.allowed(settings, conn.getpeercert()):
            self._drop(selector, conn)
            return False
        return True

    def _expire(self, selector: selectors.BaseSelector, now: float) -> None:
        while self._pending:
            conn, pending = next(iter(self._pending.items()))
            if pending.deadline > now:
                return
            self._drop(selector, conn)

    def _drop(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        del self._pending[conn]
        selector.unregister(conn)
        conn.close()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            conn, address, head = item
            if self.security is not None:
                self.security.refresh()
            try:
                conn.settimeout(self.timeout)  # for the send: a client that stops reading is let go
                Handler((conn, head), address, self)
            except OSError:  # the client went away
                pass
            except Exception as exc:  # a bug must cost one scrape, not the worker
                self._log_failure(type(exc), "answering a request failed: %s", exc, exc_info=True)
                with suppress(OSError):
                    conn.send(FAILED)
            finally:
                conn.close()


def _received(conn: socket.socket) -> bytes:
    """What the client sent, with what TLS has already decrypted (the selector does not see that)."""
    data = conn.recv(HEAD_LIMIT)
    while data and isinstance(conn, ssl.SSLSocket) and conn.pending() and len(data) < HEAD_LIMIT:
        data += conn.recv(HEAD_LIMIT - len(data))
    return data


def listen(address: str, port: int) -> socket.socket:
    """A listening socket on ``address`` (IPv4 or IPv6, as it resolves), reusable at once."""
    family, _, _, _, sockaddr = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM,
                                                   flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def start(registry: CollectorRegistry, address: str, port: int, routes: Mapping[str, Route] | None = None,
          listener: socket.socket | None = None, security: Security | None = None,
          on_skipped: Callable[[], None] = lambda: None) -> MetricsServer:
    """Bind (``OSError`` when that fails) unless ``listener`` is already bound (by :func:`listen`),
    and serve ``registry`` and ``routes`` on daemon threads, with TLS and basic auth where
    ``security`` asks for them."""
    return MetricsServer(registry, address, port, routes=routes, listener=listener, security=security,
                         on_skipped=on_skipped).start()
