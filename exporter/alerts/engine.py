"""Alert state over time, as Prometheus and Alertmanager keep it: an alert is pending until its
rule's ``for:`` has passed, then firing; a firing alert is announced once, announced again every
repeat interval while it lasts, silenced while another firing alert inhibits it, and announced as
resolved when it ends; an alert said once (info, and the few warnings ``Active.once`` names) is
neither repeated nor resolved."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from exporter.alerts.alert import INFO, Active, silenced
from exporter.alerts.gpu_rules import gpu_alerts
from exporter.alerts.learning_rules import learning_alerts
from exporter.alerts.history import Recent
from exporter.alerts.operations import Operations, operations_alerts
from exporter.alerts.run_rules import Spend, run_alerts
from exporter.gpu.reading import GpuReading
from exporter.run import RunSnapshot

log = logging.getLogger(__name__)

FIRING, RESOLVED = "firing", "resolved"


@dataclass(frozen=True)
class Notification:
    status: str  # FIRING or RESOLVED
    alert: Active
    run: str
    since: float  # when it started firing, Unix seconds
    at: float  # when this was said (the end, for a resolution)


class Notifier(Protocol):
    def notify(self, notification: Notification) -> None: ...

    def counts(self) -> dict[str, tuple[int, int]]: ...  # per destination: messages sent, given up

    def stop(self) -> None: ...


@dataclass
class _Tracked:
    alert: Active
    active_since: float
    fired_at: float | None = None
    sent_at: float | None = None  # the latest firing message


class AlertEngine:
    """Evaluate every alert on each :meth:`tick`; ``notifier`` (or None) hears of each
    firing, repeat and resolution. :meth:`firing` may be read from any thread."""

    def __init__(self, *, repeat_seconds: float = 4 * 3600.0, for_cap_seconds: float | None = None,
                 notifier: Notifier | None = None,
                 spend_of: Callable[[RunSnapshot], Spend | None] = lambda snapshot: None) -> None:
        self._repeat_seconds = repeat_seconds
        self._for_cap = for_cap_seconds
        self.notifier = notifier
        self._spend_of = spend_of
        self._recent = Recent()
        self._tracked: dict[tuple, _Tracked] = {}
        self._held: list[_Tracked] = []  # resolutions a pending alert may yet silence
        self._snapshot: RunSnapshot | None = None
        self._started = 0.0  # the first tick's time
        self.last_tick: tuple[RunSnapshot, float] | None = None  # the snapshot and time of the last tick
        self._firing: tuple[dict[str, Any], ...] = ()
        self._lock = threading.Lock()  # one tick at a time (the serve loop; finish at exit)

    @property
    def pending(self) -> bool:
        """Whether an alert holds but has not fired yet (its ``for:`` runs)."""
        return any(tracked.fired_at is None for tracked in self._tracked.values())

    def firing(self) -> list[dict[str, Any]]:
        """The firing alerts that are not silenced: name, severity, summary, since (Unix seconds)."""
        return [dict(alert) for alert in self._firing]

    def delivery_counts(self) -> dict[str, tuple[int, int]] | None:
        """Messages sent and given up per destination, while a notifier is attached."""
        return None if self.notifier is None else self.notifier.counts()

    def tick(self, snapshot: RunSnapshot, readings: Iterable[GpuReading], now: float,
             operations: Operations = Operations()) -> None:
        """Evaluate at ``now``; ``operations``: the slowdown's cause and the checkpoint directory."""
        readings = tuple(readings)
        with self._lock:
            first, self._snapshot = self._snapshot is None, snapshot
            self._started = now if first else self._started
            self.last_tick = (snapshot, now)
            self._recent.observe(snapshot, readings, now)
            spend = self._spend_of(snapshot)
            active = run_alerts(snapshot, self._recent, now, spend) + gpu_alerts(readings, self._recent,
                                                                                 snapshot.run, now)
            active += operations_alerts(snapshot, operations, spend)
            active += learning_alerts(snapshot, self._recent, now, spend)
            self._update({alert.key: alert for alert in active}, now, old_news=first or self._ended_before(snapshot))

    def _ended_before(self, snapshot: RunSnapshot) -> bool:
        """Whether ``snapshot``'s run had finished before this engine started: its last progress line
        was written before (or came with the log read back at the start, with no time of its own),
        whatever the state the first read showed (a long log is read in chunks)."""
        last = snapshot.last_progress_timestamp
        return snapshot.state == "finished" and (last is None or last < self._started)

    def finish(self, now: float) -> None:
        """At exit: once the trainer's process has ended the run's state is final, so a training
        alert still pending (a crash inside its ``for:``) fires now instead of being lost."""
        with self._lock:
            if self._snapshot is None or self._snapshot.trainer_alive is not False:
                return
            for tracked in self._tracked.values():
                if tracked.fired_at is None and tracked.alert.name.startswith("Training"):
                    tracked.active_since = float("-inf")
            self._update({key: tracked.alert for key, tracked in self._tracked.items()}, now)

    def stop(self, now: float) -> None:
        self.finish(now)
        if self.notifier is not None:
            self.notifier.stop()

    def _delay(self, alert: Active) -> float:
        return alert.for_seconds if self._for_cap is None else min(alert.for_seconds, self._for_cap)

    def _update(self, active: dict[tuple, Active], now: float, old_news: bool = False) -> None:
        """``old_news``: an info alert that holds was already true before the exporter started (a
        finished log read again) and is not sent."""
        ended = [self._tracked.pop(key) for key in [key for key in self._tracked if key not in active]]
        for key, alert in active.items():
            tracked = self._tracked.setdefault(key, _Tracked(alert, now))
            tracked.alert = alert
            if tracked.fired_at is None and now - tracked.active_since >= self._delay(alert):
                tracked.fired_at = now
                log.log(logging.INFO if alert.severity == INFO else logging.WARNING, "alert %s firing: %s",
                        alert.name, alert.summary)
        firing = [tracked for tracked in self._tracked.values() if tracked.fired_at is not None]
        firing_alerts = [tracked.alert for tracked in firing]
        for tracked in ended:
            if tracked.fired_at is not None:
                log.info("alert %s resolved: %s", tracked.alert.name, tracked.alert.summary)
        self._resolve([*self._held, *ended], firing_alerts, now)
        shown = [tracked for tracked in firing if not silenced(tracked.alert, firing_alerts)]
        for tracked in shown:
            if old_news and tracked.alert.severity == INFO:
                tracked.sent_at = now
            elif self._due(tracked, now):
                tracked.sent_at = now
                self._notify(FIRING, tracked, now)
        self._firing = tuple({"name": t.alert.name, "severity": t.alert.severity, "summary": t.alert.summary,
                              "since": t.fired_at} for t in shown)

    def _resolve(self, ended: list[_Tracked], firing: list[Active], now: float) -> None:
        """Announce the end of alerts that were announced, unless a firing alert silences it; an
        alert still pending that would silence it holds the resolution until it fires (the
        resolution is then dropped) or ends (it is sent)."""
        pending = [tracked.alert for tracked in self._tracked.values() if tracked.fired_at is None]
        self._held = []
        for tracked in ended:
            if (tracked.sent_at is None or tracked.alert.once or silenced(tracked.alert, firing)
                    or tracked.alert.key in self._tracked):  # it holds again: no end to announce
                continue
            if silenced(tracked.alert, pending):
                self._held.append(tracked)
            else:
                self._notify(RESOLVED, tracked, now)

    def _due(self, tracked: _Tracked, now: float) -> bool:
        if tracked.sent_at is None:
            return True
        if tracked.alert.once or self._repeat_seconds <= 0:
            return False
        return now - tracked.sent_at >= self._repeat_seconds

    def _notify(self, status: str, tracked: _Tracked, now: float) -> None:
        if self.notifier is None or self._snapshot is None:
            return
        self.notifier.notify(Notification(status, tracked.alert, self._snapshot.run, tracked.fired_at or now, now))
