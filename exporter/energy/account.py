"""The run's energy account: GPU energy deltas plus the rest of the machine, kept across restarts.

:class:`exporter.energy.RunEnergy` feeds it with :meth:`EnergyAccount.update` from the GPU
sampler loop.

``readings`` maps each of the run's GPUs (by UUID) to a cumulative energy figure in joules (a
counter, or integrated power). Only increases are counted: a reading lower than the last one is a
counter reset (driver reload, reboot, exporter restart) and counts from its new value, never
negative. The first reading of a GPU the account has not seen is its baseline. Between updates
less than ``max_gap_seconds`` apart the constant ``other_watts`` is added; the sum is divided by
``psu_efficiency`` (energy at the wall). While ``active`` is false (no run in progress) baselines
move on but nothing is counted.

The run name, energy so far, recent mean power, last readings and tariff are written to
``state_file`` (see :mod:`exporter.energy.state_file`) at most every ``save_interval_seconds`` and on
:meth:`flush`; on start the account resumes from it when the run name matches. ``now`` is Unix
time, so it means the same after a restart.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping

from exporter.energy.state_file import SavedState
from exporter.energy.store import StateStore
from exporter.errors import LogOnce

log = logging.getLogger(__name__)



class EnergyAccount:
    def __init__(
        self,
        run: str,
        *,
        other_watts: float = 0.0,
        psu_efficiency: float = 1.0,
        state_file: str | None = None,
        window_seconds: float = 300.0,
        save_interval_seconds: float = 15.0,
        max_gap_seconds: float = 120.0,
        tariff: tuple[float | None, str | None] = (None, None),
        store: StateStore | None = None,
    ) -> None:
        """``tariff`` (price per kWh, currency) is kept in the state file for readers of it;
        ``store``: the state file shared with other runs (else one of ``state_file``'s own)."""
        self.run = run
        self._other_watts = other_watts
        self._psu_efficiency = psu_efficiency
        self._store = store or (StateStore(state_file) if state_file else None)
        self._stored_as: str | None = None  # the run name of this account's state in the file
        self._window = window_seconds
        self._save_interval = save_interval_seconds
        self._max_gap = max_gap_seconds
        self._lock = threading.Lock()
        self._joules = 0.0
        self._last: dict[str, float] = {}
        self._last_time: float | None = None
        self._history: deque[tuple[float, float]] = deque()  # (time, joules) while active
        self._saved_at: float | None = None
        self._dirty = False
        self._log_save_error = LogOnce(log)
        self._tariff = tariff
        self.saved_tariff: tuple[float | None, str | None] = (None, None)  # what the state file held
        self._saved_power: float | None = None  # the recent mean power the state file holds
        self.has_data = False
        self.finished = False
        self.resumed = self._resume()

    # ---- reading ---------------------------------------------------------------------------------

    def energy_joules(self) -> float:
        """Energy of the run so far, at the wall."""
        with self._lock:
            return self._joules

    def reading(self) -> tuple[float, float | None]:
        """Energy so far and mean power, read together."""
        with self._lock:
            return self._joules, self._mean_power()

    def mean_power_watts(self) -> float | None:
        """Mean power over the recent window (None until two active updates are in it); the saved
        figure of a resumed account until this one has updated."""
        with self._lock:
            return self._mean_power()

    def _mean_power(self) -> float | None:
        if len(self._history) < 2:
            return self._saved_power if self._last_time is None else None
        (t0, e0), (t1, e1) = self._history[0], self._history[-1]
        return (e1 - e0) / (t1 - t0) if t1 > t0 else None

    # ---- accounting ------------------------------------------------------------------------------

    def restart(self, run: str, now: float) -> None:
        """A new run begins (``run`` names it): its energy counts from zero, GPU baselines stay."""
        with self._lock:
            self.run = run
            self._joules = 0.0
            self._history.clear()
            self._saved_power = None
            self.finished = False
            self._dirty = True
        log.info("new run %r: energy counts from zero", run)
        self.flush(now)

    def update(self, readings: Mapping[str, float], now: float, *, active: bool = True,
               finished: bool = False, other_share: float = 1.0) -> None:
        """Count the energy since the last update (see the module docstring); ``finished`` is kept
        in the state file, so that a finished run's energy is not carried into the next run;
        ``other_share``: the part of ``other_watts`` that is this run's (runs sharing the machine)."""
        with self._lock:
            changed = self._last_time is None or finished != self.finished \
                or any(self._last.get(u) != v for u, v in readings.items())
            self.finished = finished
            added = 0.0
            for uuid, value in readings.items():
                last = self._last.get(uuid)
                if last is not None:
                    added += value - last if value >= last else value
                self._last[uuid] = value
            if self._last_time is not None and 0 < now - self._last_time <= self._max_gap:
                added += self._other_watts * other_share * (now - self._last_time)
            self._last_time = now
            # with no GPU readings and no other_watts there is nothing to measure: no made-up zeros
            self.has_data = self.has_data or bool(readings) or self._other_watts > 0
            if active:
                self._joules += added / self._psu_efficiency
                self._history.append((now, self._joules))
                while len(self._history) > 2 and self._history[1][0] <= now - self._window:
                    self._history.popleft()
            else:
                self._history.clear()
            self._dirty = self._dirty or changed or (active and added > 0)  # nothing new: no write
            due = self._saved_at is None or now - self._saved_at >= self._save_interval
        if due:
            self.flush(now)

    # ---- persistence -----------------------------------------------------------------------------

    def flush(self, now: float | None = None) -> None:
        """Write the state file now (if one is configured and something changed)."""
        if self._store is None:
            return
        with self._lock:
            if not self._dirty:
                return
            state = SavedState(run=self.run, energy_joules=self._joules, readings=dict(self._last),
                               power_watts=self._mean_power(), updated_at=self._last_time,
                               finished=self.finished, price_per_kwh=self._tariff[0], currency=self._tariff[1])
            self._dirty = False
            if now is not None:
                self._saved_at = now
        try:
            self._store.put(state, replaces=self._stored_as)
            self._stored_as = state.run
            self._log_save_error.clear()
        except OSError as exc:
            message = f"cannot write energy state file {self._store.path}: {exc.strerror or exc}"
            self._log_save_error(message, "%s; energy so far will not survive a restart", message)
            with self._lock:
                self._dirty = True

    def forget(self) -> None:
        """Remove this run's state from the state file (a run no longer followed)."""
        if self._store is None or self._stored_as is None:
            return
        try:
            self._store.remove(self._stored_as)
        except OSError as exc:
            log.warning("cannot write energy state file %s: %s", self._store.path, exc.strerror or exc)

    def _resume(self) -> bool:
        if self._store is None:
            return False
        saved = self._store.get(self.run)
        if saved is None:
            if self._store.holds_any():
                log.info("energy state file %s holds no state of run %r; starting from zero", self._store.path,
                         self.run)
            return False
        self._stored_as = saved.run
        self._joules = saved.energy_joules
        self._last = dict(saved.readings)
        self._saved_power = saved.power_watts
        self.saved_tariff = (saved.price_per_kwh, saved.currency)
        self.finished = saved.finished
        self.has_data = True
        log.info("resuming run %r at %.0f J from %s", self.run, self._joules, self._store.path)
        return True
