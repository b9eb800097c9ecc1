"""The live page at ``/`` (``page.html``: one file, inline style and script, nothing fetched from
elsewhere) and its data at ``/api/run`` (:class:`RunApi`), served next to /metrics."""

from __future__ import annotations

from importlib.resources import files

from exporter.server.handler import HTML, NotFound, Route
from exporter.web.api import RunApi
from exporter.web.history import History
from exporter.web.runs import RunPages

__all__ = ["History", "RunApi", "RunPages", "routes"]


def routes(pages: RunPages) -> dict[str, Route]:
    """``/``: the page, ``/api/run``: a run as JSON (``?run=NAME``), made per request; a name no
    run has: 404 (the page then lists the runs there are)."""
    page = files(__package__).joinpath("page.html").read_bytes()

    def page_route(query: str) -> tuple[bytes, str]:
        if not pages.knows(query):
            raise NotFound(page, HTML)  # the page says which runs there are
        return page, HTML

    return {"/": page_route, "/api/run": lambda query: (pages.json(query), "application/json")}
