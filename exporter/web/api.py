"""The page's data (``/api/run``): the run's snapshot, its energy and cost, the latest GPU readings,
firing alerts and the history for the charts, as JSON. Only what a wall screen shows: no trainer
settings (a trainer config may hold keys); each part fails on its own (``null``), never the whole."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from exporter.energy import RunEnergy
from exporter.energy.service import trainer_running
from exporter.errors import LogOnce
from exporter.gpu import GpuReading
from exporter.run import RunSnapshot
from exporter.web.backfill import log_points
from exporter.web.health import learning_part
from exporter.web.history import COLUMNS, History

log = logging.getLogger(__name__)

RUN_FIELDS = (
    "run", "format", "log_path", "state", "reason", "trainer_alive", "log_problem", "iteration", "max_iterations",
    "progress_ratio", "loss", "loss_finite", "eval_losses", "best_val_loss", "iteration_seconds",
    "eval_overhead_seconds", "evals_left", "tokens_per_second", "tokens_processed", "tokens_planned", "mfu_ratio",
    "eta_seconds", "eta_low_seconds", "eta_high_seconds", "expected_end_timestamp", "elapsed_seconds",
    "last_progress_timestamp", "progress_timeout_seconds", "evals", "checkpoints", "restarts",
    "nonfinite_losses", "errors",
)
ALERT_FIELDS = ("name", "severity", "summary", "since")
MAX_ALERTS = 50
Alerts = Callable[[], Iterable[Mapping[str, Any]]]  # firing alerts: name, severity, summary, since


class RunApi:
    """Builds ``/api/run`` from ``snapshot`` (the watcher's latest), ``energy``, ``readings``
    (the GPU sampler's latest) and ``alerts``; :meth:`sample` adds a point to the history."""

    def __init__(self, snapshot: Callable[[], RunSnapshot], *, energy: RunEnergy | None = None,
                 readings: Callable[[], Sequence[GpuReading]] = tuple, gpu_error: str | None = None,
                 alerts: Alerts | None = None, history: History | None = None,
                 clock: Callable[[], float] = time.time,
                 health: Callable[[RunSnapshot], dict[str, Any]] | None = None) -> None:
        self._snapshot = snapshot
        self._energy = energy
        self._readings = readings
        self._gpu_error = gpu_error
        self._alerts = alerts
        self.history = history or History()
        self._clock = clock
        self._log_failure = LogOnce(log, logging.ERROR)
        self._health = health or (lambda s: learning_part(s.learning))  # the health detectors' part of a snapshot
        self._sampled: RunSnapshot | None = None  # the snapshot of the last sample

    def sample(self) -> None:
        snapshot = self._snapshot()
        if snapshot is self._sampled:
            return  # the same snapshot: the run has not advanced, no new point
        self._sampled = snapshot
        readings = self._readings()
        powers = [r.power_watts for r in readings if r.up and r.power_watts is not None]
        self.history.record(snapshot, sum(powers) if powers else None, self._clock())

    def backfill(self) -> None:
        """The chart history read back from the run's log: a restarted exporter draws the whole run."""
        s = self._snapshot()
        if s.log_path and s.state != "waiting":
            self.history.fill(s.energy_key, log_points(s.log_path, s.format))

    def payload(self) -> dict[str, Any]:
        """The JSON's content; one snapshot for all of it, so that run, ETA and cost agree."""
        snapshot, now = self._snapshot(), self._clock()
        return finite({
            "now": now,
            "run": {name: getattr(snapshot, name) for name in RUN_FIELDS},
            "energy": self._part("energy", lambda: self._energy_part(snapshot, now)),
            "gpus": self._part("gpus", lambda: [gpu_part(r) for r in self._readings()]),
            "gpu_error": self._gpu_error,
            "alerts": self._part("alerts", self._alerts_part),
            "health": self._part("health", lambda: self._health(snapshot)),
            "history": {"columns": COLUMNS, "points": self.history.points()},
        })

    def json(self) -> bytes:
        return json.dumps(self.payload(), separators=(",", ":"), allow_nan=False).encode()

    def _part(self, name: str, build: Callable[[], Any]) -> Any:
        try:
            return build()
        except Exception as exc:  # one part missing, never the page
            self._log_failure(name, "the page's %s failed: %s", name, exc, exc_info=True)
            return None

    def _energy_part(self, snapshot: RunSnapshot, now: float) -> dict[str, Any] | None:
        if self._energy is None:
            return None
        figures, energy = self._energy.figures(snapshot), self._energy
        projected = figures.projected_joules if snapshot.state == "running" else None
        return {
            "known": energy.known, "counts": self._power_counts(),
            "joules": figures.joules, "power_watts": figures.power_watts, "projected_joules": projected,
            "cost": energy.cost(figures.joules),
            "projected_cost": None if projected is None else energy.cost(projected),
            "currency": energy.settings.currency, "price_per_kwh": energy.settings.price_per_kwh,
            "budget": energy.settings.budget,
            "emissions_grams": energy.emissions_grams(figures.joules),
            "projected_emissions_grams": None if projected is None else energy.emissions_grams(projected),
            "counting": trainer_running(snapshot, now),
        }

    def _power_counts(self) -> str:
        """What the power figure counts: the GPUs' measured power, the other watts given, or both."""
        measured = any(r.up and r.power_watts is not None for r in self._readings())
        other = self._energy.settings.other_watts if self._energy else 0.0
        rest = f"{other:g} W rest of machine"
        if measured:
            return f"GPUs measured + {rest}" if other else "GPUs measured"
        return f"only the {rest} (--other-watts): GPU power not measured" if other else "no power measured"

    def _alerts_part(self) -> list[dict[str, Any]] | None:
        if self._alerts is None:
            return []
        alerts = []
        for alert in self._alerts():
            if len(alerts) == MAX_ALERTS:
                break
            alerts.append(alert_part(alert))
        return alerts


def alert_part(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _alert_value(key, alert.get(key)) for key in ALERT_FIELDS}


def _alert_value(key: str, value: Any) -> Any:
    if key == "since":
        return float(value) if isinstance(value, (int, float)) else None
    return None if value is None else str(value)[:500]


def gpu_part(r: GpuReading) -> dict[str, Any]:
    """What the page shows of one GPU: power vs limit, temperature vs slowdown, memory, clock events."""
    return {
        "index": r.index, "name": r.name, "up": r.up, "power_watts": r.power_watts,
        "power_limit_watts": r.power_limit_watts, "temperature_celsius": r.temperature_celsius,
        "slowdown_celsius": r.temperature_thresholds_celsius.get("slowdown"),
        "shutdown_celsius": r.temperature_thresholds_celsius.get("shutdown"),
        "memory_used_bytes": r.memory_used_bytes, "memory_total_bytes": r.memory_total_bytes,
        "utilization_ratio": r.utilization_ratio,
        "clock_events": sorted(reason for reason, active in r.clock_events_active.items() if active),
    }


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite (nan, inf) as None: JSON has no such number."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value
