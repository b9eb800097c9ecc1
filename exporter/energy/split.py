"""Each GPU's energy split among the runs that use it, the rest kept apart as no run's.

:meth:`EnergySplit.add` takes the GPUs' cumulative energy (joules by UUID, as the sampler counts
it) and each GPU's shares per run (see :mod:`exporter.run_set.attribution`), and hands each run's
part of each GPU's increase to that run: a GPU used by two runs at once is split by their shares
of the memory their processes use on it. What no run takes (a GPU with no counted run's process)
adds to :attr:`EnergySplit.unattributed_joules`, never to a run. A run gets energy only from the
interval after it was :meth:`track`-ed. :meth:`readings` gives a run's part per GPU as a cumulative
figure, which its :class:`~exporter.energy.EnergyAccount` counts like a GPU's own counter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping


class EnergySplit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._runs: dict[str, dict[str, float]] = {}
        self._unattributed = 0.0

    @property
    def has_readings(self) -> bool:
        """Whether a GPU's energy has been read."""
        with self._lock:
            return bool(self._last)

    @property
    def unattributed_joules(self) -> float:
        """GPU energy no run took, since the exporter started."""
        with self._lock:
            return self._unattributed

    def track(self, run: str) -> None:
        """``run`` takes its share from the next :meth:`add` on."""
        with self._lock:
            self._runs.setdefault(run, {})

    def forget(self, run: str) -> None:
        with self._lock:
            self._runs.pop(run, None)

    def add(self, readings: Mapping[str, float], shares: Mapping[str, Mapping[str, float]]) -> None:
        """Split each GPU's increase since the last call (a reading lower than the last one is a
        reset and counts from its new value); shares of runs not tracked stay no run's."""
        with self._lock:
            for uuid, value in readings.items():
                last = self._last.get(uuid)
                self._last[uuid] = value
                if last is None:
                    continue
                increase = value - last if value >= last else value
                taken = 0.0
                for run, share in shares.get(uuid, {}).items():
                    if run in self._runs and share > 0:
                        self._runs[run][uuid] = self._runs[run].get(uuid, 0.0) + increase * share
                        taken += share
                self._unattributed += increase * max(0.0, 1.0 - taken)

    def readings(self, run: str) -> dict[str, float]:
        """``run``'s part of each GPU's energy so far, by UUID (every GPU seen, 0 where it took none)."""
        with self._lock:
            taken = self._runs.get(run, {})
            return {uuid: taken.get(uuid, 0.0) for uuid in self._last}
