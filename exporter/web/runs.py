"""The page of every run an exporter follows: one :class:`RunApi` (and chart history) per run;
``/api/run?run=NAME`` answers for that run, plain ``/api/run`` for the most recently active one
(the latest progress line; a tie, or no progress yet, goes to the last to appear), and both list
the names of all of them so the page can offer the others."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs

from exporter.gpu import GpuReading
from exporter.run import RunSnapshot
from exporter.run_set.entry import RunEntry
from exporter.web.api import Alerts, RunApi
from exporter.web.health import health_part

NO_RUN = RunSnapshot(run="", format="none", log_path="", state="waiting")  # before a glob matches a log


class RunPages:
    def __init__(self, entries: Callable[[], Sequence[RunEntry]], *,
                 readings: Callable[[], Sequence[GpuReading]] = tuple, gpu_error: str | None = None,
                 alerts: Callable[[str], Alerts] | None = None, clock: Callable[[], float] = time.time) -> None:
        """``alerts(run)``: the provider of that run's firing alerts."""
        self._entries = entries
        self._readings = readings
        self._gpu_error = gpu_error
        self._alerts = alerts
        self._clock = clock
        self._apis: dict[str, RunApi] = {}
        self._lock = threading.Lock()

    def sample(self) -> None:
        """A chart point for each run that advanced."""
        for api in self._current(self._entries()).values():
            api.sample()

    def _current(self, entries: Sequence[RunEntry]) -> dict[str, RunApi]:
        """The page of each run followed now; a run no longer followed loses its history."""
        with self._lock:
            self._apis = {entry.name: self._apis.get(entry.name) or self._api(entry) for entry in entries}
            return self._apis

    def _api(self, entry: RunEntry) -> RunApi:
        alerts = None if self._alerts is None else self._alerts(entry.name)
        return RunApi(entry.snapshot, energy=entry.energy, readings=self._readings, gpu_error=self._gpu_error,
                      alerts=alerts, clock=self._clock,
                      health=lambda s: health_part(s, entry.slowdown.cause, entry.checkpoints.status(s)[0]))

    def json(self, query: str = "") -> bytes:
        """The run named by ``query``'s ``run`` (else the most recently active one) as JSON."""
        wanted = parse_qs(query[:1000]).get("run", [""])[0]
        entries = self._entries()
        apis = self._current(entries)
        names = [entry.name for entry in entries]
        api = apis.get(wanted) or (apis[most_recent(entries).name] if entries else None)
        if api is None:
            api = RunApi(lambda: NO_RUN, readings=self._readings, gpu_error=self._gpu_error, clock=self._clock)
        payload = api.payload()
        payload["runs"] = names
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def most_recent(entries: Sequence[RunEntry]) -> RunEntry:
    """The entry with the latest progress line; a tie, or no progress yet, goes to the last."""
    latest = [entry.snapshot().last_progress_timestamp for entry in entries]
    return max(zip(entries, latest, range(len(entries))), key=lambda e: (e[1] or float("-inf"), e[2]))[0]
