"""The live page at ``/`` (``page.html``: one file, inline style and script, nothing fetched from
elsewhere) and its data at ``/api/run`` (:class:`RunApi`), served next to /metrics."""

from __future__ import annotations

from importlib.resources import files

from exporter.http_server import HTML, Route
from exporter.web.api import RunApi
from exporter.web.history import History

__all__ = ["History", "RunApi", "routes"]


def routes(api: RunApi) -> dict[str, Route]:
    """``/``: the page, ``/api/run``: the run as JSON, made per request."""
    page = files(__package__).joinpath("page.html").read_bytes()
    return {"/": lambda: (page, HTML), "/api/run": lambda: (api.json(), "application/json")}
