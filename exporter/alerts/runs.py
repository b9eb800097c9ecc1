"""The alerts of every run an exporter follows: one engine per run, one notifier for all.

A run's GPU alerts are those of the GPUs its processes are on; with a single run, every GPU of the
node is its own (as before there were several), so a lost or idle GPU still alerts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.alerts.engine import AlertEngine
from exporter.alerts.engine import Notifier
from exporter.alerts.operations import Operations
from exporter.alerts.run_rules import Spend
from exporter.energy import RunEnergy
from exporter.gpu.reading import GpuReading
from exporter.run import RunSnapshot
from exporter.run_set.attribution import GpuShares
from exporter.run_set.entry import RunEntry

log = logging.getLogger(__name__)

# A run whose snapshot has not changed, with no GPU of its own and no alert pending, is evaluated this
# often, not at every tick: a directory of past runs costs next to nothing.
IDLE_EVALUATION_SECONDS = 10.0


@dataclass(frozen=True)
class AlertSettings:
    webhook_file: str | None = None  # the Slack webhook file
    notify_file: str | None = None  # one apprise URL per line
    repeat_interval_seconds: float = 4 * 3600.0
    link: str = ""
    for_cap_seconds: float | None = None


def spend_of(energy: RunEnergy) -> Callable[[RunSnapshot], Spend | None]:
    def spend(snapshot: RunSnapshot) -> Spend | None:
        if not energy.has_data:
            return None
        figures = energy.figures(snapshot)
        projected = None if figures.projected_joules is None else energy.cost(figures.projected_joules)
        return Spend(figures.joules, energy.cost(figures.joules), energy.settings.currency, projected,
                     energy.settings.budget)

    return spend


class RunAlerts:
    """Evaluated on each :meth:`tick` of the serve loop; :meth:`firing` may be read from any thread."""

    def __init__(self, settings: AlertSettings, notifier: Notifier | None) -> None:
        self._settings = settings
        self.notifier = notifier
        self._engines: dict[str, AlertEngine] = {}
        self._lock = threading.Lock()

    def tick(self, entries: Sequence[RunEntry], shares: GpuShares, readings: Sequence[GpuReading],
             now: float) -> None:
        alone = len(entries) == 1
        engines = {}
        for entry in entries:
            engine = self._engines.get(entry.name) or self._engine(entry)
            used = shares.uuids_of(entry.name) if readings else ()
            own = readings if alone else [r for r in readings if r.uuid in used]
            snapshot, last = entry.snapshot(), engine.last_tick
            if own or last is None or last[0] is not snapshot or engine.pending \
                    or now - last[1] >= IDLE_EVALUATION_SECONDS:
                engine.tick(snapshot, own, now, Operations(entry.slowdown.cause, entry.checkpoints.status(snapshot)[0]))
            engines[entry.name] = engine
        with self._lock:
            for name in self._engines.keys() - engines.keys():
                log.info("run %r is no longer followed: its alerts end without a message", name)
            self._engines = engines

    def _engine(self, entry: RunEntry) -> AlertEngine:
        return AlertEngine(repeat_seconds=self._settings.repeat_interval_seconds,
                           for_cap_seconds=self._settings.for_cap_seconds, notifier=self.notifier,
                           spend_of=spend_of(entry.energy))

    def firing(self, run: str | None = None) -> list[dict[str, Any]]:
        """The firing alerts of ``run`` (default: of every run): name, severity, summary, since."""
        with self._lock:
            engines = [e for name, e in self._engines.items() if run is None or name == run]
        return [alert for engine in engines for alert in engine.firing()]

    def delivery_counts(self) -> dict[str, tuple[int, int]] | None:
        """Messages sent and given up per destination, while notifications are on."""
        return None if self.notifier is None else self.notifier.counts()

    def stop(self, now: float) -> None:
        """At exit: a crash still pending is sent (see :meth:`AlertEngine.finish`), then the notifier's
        queue is drained and its thread stopped."""
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            engine.finish(now)
        if self.notifier is not None:
            self.notifier.stop()
