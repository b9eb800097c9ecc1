"""The energy of the followed run: whose it is, when it counts, and what it will come to.

:class:`RunEnergy` is the one place that decides which run the energy belongs to (the snapshot's
``energy_key``: a second training from scratch in the same log is a new run), when it counts (while
the trainer is at work: see :func:`trainer_running`; a trainer that died is never charged for its
silence, and a nan loss does not stop the count), when it starts from zero (a new run, or a
saved run that had already finished), and how the energy at the finish is projected. ``serve``, ``status`` and the collectors all ask it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from exporter import units
from exporter.energy.account import EnergyAccount
from exporter.energy.store import StateStore
from exporter.run import RunSnapshot

log = logging.getLogger(__name__)

LIVE_STATES = frozenset({"starting", "running"})  # and "stalled" while the trainer's process still runs


@dataclass(frozen=True)
class EnergySettings:
    other_watts: float = 0.0
    psu_efficiency: float = 1.0
    state_file: str | None = None
    price_per_kwh: float = 0.15
    currency: str = "USD"
    carbon_g_per_kwh: float | None = None
    budget: float | None = None  # the most the run's electricity may cost, in currency


def trainer_running(s: RunSnapshot, now: float) -> bool:
    """Whether the trainer is at work, so that its energy counts: starting or running; stalled only
    while its process is known to run (a hung trainer); crashed by a nan loss alone while its
    process runs or its lines keep coming (a nan does not stop a trainer)."""
    if s.state in LIVE_STATES:
        return True
    nan_only = s.state == "crashed" and not s.loss_finite and not any(s.errors.values())
    if s.state != "stalled" and not nan_only:
        return False
    if s.trainer_alive is not None:  # its process is watched
        return s.trainer_alive
    if s.state == "stalled" or s.last_progress_timestamp is None or s.progress_timeout_seconds is None:
        return False
    return now - s.last_progress_timestamp <= s.progress_timeout_seconds


def projected_joules(joules: float, watts: float | None, eta_seconds: float | None) -> float | None:
    """Energy at the finish: energy so far + power × time left (None if either is unknown)."""
    if watts is None or eta_seconds is None:
        return None
    return joules + watts * max(eta_seconds, 0.0)


@dataclass(frozen=True, slots=True)
class EnergyFigures:
    joules: float
    power_watts: float | None
    projected_joules: float | None


class RunEnergy:
    def __init__(self, settings: EnergySettings, account: EnergyAccount) -> None:
        self.settings = settings
        self._account = account

    @classmethod
    def open(cls, settings: EnergySettings, first: RunSnapshot, now: float,
             store: StateStore | None = None) -> RunEnergy:
        """The account of the run ``first`` shows, resumed from the state file (``store``, shared by
        the runs of one exporter) where it is this run's; a saved run that had finished is over, so
        a live one counts from zero."""
        energy = cls(settings, cls._account_for(settings, first.energy_key, store))
        if energy._account.finished and first.state != "finished":
            energy._account.restart(first.energy_key, now)
        return energy

    @classmethod
    def saved(cls, settings: EnergySettings, snapshot: RunSnapshot) -> RunEnergy | None:
        """The energy the state file holds for ``snapshot``'s run (``status``), or None; priced at
        the tariff the serving exporter saved with it."""
        if not settings.state_file:
            return None
        account = cls._account_for(settings, snapshot.energy_key)
        if not account.resumed:
            return None
        price, currency = account.saved_tariff
        if price is not None and currency is not None:
            settings = replace(settings, price_per_kwh=price, currency=currency)
        return cls(settings, account)

    @staticmethod
    def _account_for(settings: EnergySettings, key: str, store: StateStore | None = None) -> EnergyAccount:
        return EnergyAccount(key, other_watts=settings.other_watts, psu_efficiency=settings.psu_efficiency,
                             state_file=settings.state_file, tariff=(settings.price_per_kwh, settings.currency),
                             store=store)

    def tick(self, snapshot: RunSnapshot, readings: Mapping[str, float], now: float, *,
             other_share: float = 1.0, counting: bool | None = None) -> None:
        """Count the GPUs' energy ``readings`` (cumulative joules by UUID) at ``now`` (Unix time);
        ``other_share``: this run's part of ``other_watts``; ``counting``: whether the run counts
        now, when the caller knows (default: :func:`trainer_running`)."""
        if snapshot.energy_key != self._account.run:
            self._account.restart(snapshot.energy_key, now)
        active = trainer_running(snapshot, now) if counting is None else counting
        self._account.update(readings, now, active=active,
                             finished=snapshot.state == "finished", other_share=other_share)

    def flush(self) -> None:
        self._account.flush()

    def forget(self) -> None:
        """The run is no longer followed: its state leaves the state file."""
        self._account.forget()

    # ---- figures -----------------------------------------------------------------------------

    @property
    def has_data(self) -> bool:
        return self._account.has_data

    @property
    def known(self) -> bool:
        """Whether the energy so far is known: resumed from the state file, or counted here. A run
        that had finished before this exporter first saw it, with no state file, is not: not 0."""
        return self._account.resumed or self._account.energy_joules() > 0

    def figures(self, snapshot: RunSnapshot) -> EnergyFigures:
        """Energy so far, recent mean power and energy at the finish of ``snapshot``'s run, read
        together: what was spent for a finished run, else :func:`projected_joules` at the recent
        mean power and ``snapshot``'s ETA. A run that is not yet counted has spent nothing."""
        if snapshot.energy_key != self._account.run:  # a new run the sampler loop has not counted yet
            return EnergyFigures(0.0, None, None)
        joules, power = self._account.reading()
        projected = joules if snapshot.state == "finished" else projected_joules(joules, power, snapshot.eta_seconds)
        return EnergyFigures(joules, power, projected)

    def cost(self, joules: float) -> float:
        return units.cost(joules, self.settings.price_per_kwh)

    def emissions_grams(self, joules: float) -> float | None:
        carbon = self.settings.carbon_g_per_kwh
        return None if carbon is None else units.emissions_grams(joules, carbon)
