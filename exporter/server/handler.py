"""One HTTP request whose head the server has read: basic auth when the web configuration asks for
it, then ``/metrics``, a route, or 404; GET and HEAD only. The reply is collected and sent in one
piece, with the configured headers."""

from __future__ import annotations

import io
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Protocol
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder, gzip_accepted

from exporter.server.auth import CHALLENGE
from exporter.server.expositions import SharedExpositions
from exporter.server.security import Security

INDEX_PAGE = (b'<!doctype html>\n<html><head><title>training-exporter</title></head>\n'
              b'<body><h1>training-exporter</h1><p><a href="/metrics">/metrics</a></p></body></html>\n')
HTML = "text/html; charset=utf-8"
# a page may run its own inline script and style and fetch from this server, nothing else
ROUTE_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                 ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
                  "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'")]
Route = Callable[[str], tuple[bytes, str]]  # given the query string: the body and its content type, made per request


class NotFound(Exception):
    """What a route raises for a query that names nothing it has: a 404 with ``body`` (which says
    what there is)."""

    def __init__(self, body: bytes, content_type: str) -> None:
        super().__init__("not found")
        self.body, self.content_type = body, content_type


class Served(Protocol):
    """What a request is answered from (the server)."""
    routes: dict[str, Route]
    expositions: SharedExpositions
    security: Security | None


class Handler(BaseHTTPRequestHandler):
    """One request whose head the selector has read (``request`` is the socket and that head);
    the reply is collected and sent in one piece."""

    server: Served

    def setup(self) -> None:
        self.connection, head = self.request
        self.rfile = io.BytesIO(head)
        self.wfile = io.BytesIO()

    def finish(self) -> None:
        self.connection.sendall(self.wfile.getvalue())

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.command not in ("GET", "HEAD"):
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"only GET and HEAD\n", extra=[("Allow", "GET, HEAD")])
            return False
        security = self.server.security
        if security is not None and security.auth is not None \
                and not security.auth.allows(self.headers.get("Authorization")):
            self._reply(HTTPStatus.UNAUTHORIZED, b"Unauthorized\n", extra=[("WWW-Authenticate", CHALLENGE)])
            return False
        return True

    def do_GET(self) -> None:
        path, query = urlsplit(self.path)[2:4]
        route = self.server.routes.get(path)
        if path == "/metrics":
            self._metrics()
        elif route is not None:
            try:
                body, content_type = route(query)
            except NotFound as missing:
                self._reply(HTTPStatus.NOT_FOUND, missing.body, missing.content_type, ROUTE_HEADERS)
                return
            self._reply(HTTPStatus.OK, body, content_type, ROUTE_HEADERS)
        else:
            served = ", ".join(["/metrics", *self.server.routes])
            self._reply(HTTPStatus.NOT_FOUND, f"not found: served are {served}\n".encode())

    do_HEAD = do_GET

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept"))
        gzipped = gzip_accepted(self.headers.get("Accept-Encoding"))
        body = self.server.expositions.get(encoder, content_type, gzipped)
        self._reply(HTTPStatus.OK, body, content_type, [("Content-Encoding", "gzip")] if gzipped else ())

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain; charset=utf-8",
               extra: list[tuple[str, str]] | tuple = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        configured = self.server.security.headers if self.server.security is not None else []
        names = {name for name, _ in configured}
        for name, value in [*(pair for pair in extra if pair[0] not in names), *configured]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        """Nothing per request: one line per scrape would drown the exporter's own log."""


