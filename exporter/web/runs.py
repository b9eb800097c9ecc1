"""The page of every run an exporter follows: one :class:`RunApi` (and chart history) per run;
``/api/run?run=NAME`` answers for that run (an unknown name: 404 with the names there are), plain
``/api/run`` for the most recently active one (the latest progress line; a tie, or no progress yet,
goes to the last to appear). Every answer carries an overview of all runs (state, why, progress,
alerts) for the page's switcher, and banners for what is wrong with the other runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from exporter.gpu import GpuReading
from exporter.run import RunSnapshot
from exporter.run_set.entry import RunEntry
from exporter.server.handler import NotFound
from exporter.web.api import Alerts, RunApi, alert_part, finite
from exporter.web.health import health_part

NO_RUN = RunSnapshot(run="", format="none", log_path="", state="waiting")  # before a glob matches a log
TROUBLED = ("crashed", "stalled")  # states another run's page shows as a banner
MAX_BANNERS = 20


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
        api = RunApi(entry.snapshot, energy=entry.energy, readings=self._readings, gpu_error=self._gpu_error,
                     alerts=alerts, clock=self._clock,
                     health=lambda s: health_part(s, entry.slowdown.cause, entry.checkpoints.status(s)[0]))
        if getattr(entry, "watcher", None) is not None:  # a log to read the history back from
            threading.Thread(target=api.backfill, name=f"page-history-{entry.name}"[:60], daemon=True).start()
        return api

    def knows(self, query: str) -> bool:
        """Whether ``query`` names no run, or one followed now."""
        wanted = parse_qs(query[:1000]).get("run", [""])[0]
        return not wanted or any(entry.name == wanted for entry in self._entries())

    def json(self, query: str = "") -> bytes:
        """The run named by ``query``'s ``run`` (else the most recently active one) as JSON;
        :class:`NotFound` (a 404 listing the runs) for a name no run has."""
        wanted = parse_qs(query[:1000]).get("run", [""])[0]
        entries = self._entries()
        apis = self._current(entries)
        names = [entry.name for entry in entries]
        if wanted and wanted not in apis:
            missing = {"error": f"no run named {wanted!r} is followed here", "runs": names}
            raise NotFound(json.dumps(missing).encode(), "application/json")
        api = apis.get(wanted) or (apis[most_recent(entries).name] if entries else None)
        if api is None:
            api = RunApi(lambda: NO_RUN, readings=self._readings, gpu_error=self._gpu_error, clock=self._clock)
        payload = api.payload()
        shown = payload["run"]["run"]
        overview = [self._overview(entry) for entry in entries]
        payload.update(runs=names, overview=finite(overview), banners=banners(overview, shown))
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()

    def _overview(self, entry: RunEntry) -> dict[str, Any]:
        s = entry.snapshot()
        alerts = []
        if self._alerts is not None:
            try:
                alerts = [alert_part(alert) for _, alert in zip(range(MAX_BANNERS), self._alerts(entry.name)())]
            except Exception:  # noqa: BLE001 - the overview goes without this run's alerts
                alerts = []
        return {"name": entry.name, "state": s.state, "reason": s.reason, "progress_ratio": s.progress_ratio,
                "eta_seconds": s.eta_seconds if s.state == "running" else None, "alerts": alerts}


def banners(overview: list[dict[str, Any]], shown: str) -> list[dict[str, Any]]:
    """What is wrong with the runs other than ``shown``: each one crashed or stalled, and each
    alert firing for them, worst first."""
    found = []
    for run in overview:
        if run["name"] == shown:
            continue
        if run["state"] in TROUBLED:
            found.append({"run": run["name"], "severity": "critical", "name": run["state"], "summary": run["reason"]})
        found += [{"run": run["name"], **alert} for alert in run["alerts"]
                  if not (run["state"] in TROUBLED and alert["name"] in ("TrainingCrashed", "TrainingStalled"))]
    found.sort(key=lambda banner: banner["severity"] != "critical")
    return found[:MAX_BANNERS]


def most_recent(entries: Sequence[RunEntry]) -> RunEntry:
    """The entry with the latest progress line; a tie, or no progress yet, goes to the last."""
    latest = [entry.snapshot().last_progress_timestamp for entry in entries]
    return max(zip(entries, latest, range(len(entries))), key=lambda e: (e[1] or float("-inf"), e[2]))[0]
