"""The live page at ``/`` (``page.html``: one file, inline style and script, nothing fetched from
elsewhere) and its data at ``/api/run`` (:class:`RunApi`), served next to /metrics."""

from __future__ import annotations

from importlib.resources import files

from exporter.server.http_server import HTML, Route
from exporter.web.api import RunApi
from exporter.web.history import History
from exporter.web.runs import RunPages

__all__ = ["History", "RunApi", "RunPages", "routes"]


def routes(pages: RunPages) -> dict[str, Route]:
    """``/``: the page, ``/api/run``: a run as JSON (``?run=NAME``), made per request."""
    page = files(__package__).joinpath("page.html").read_bytes()
    return {"/": lambda query: (page, HTML), "/api/run": lambda query: (pages.json(query), "application/json")}
