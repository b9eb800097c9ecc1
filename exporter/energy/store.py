"""The state file shared by the runs of one exporter: each run's account reads its own state from
it and writes its own back. The states of runs this exporter does not follow (another exporter's,
a run followed before) are kept when the file is written, the most recently updated first, up to
:data:`state_file.MAX_RUNS` states in all."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from exporter.energy import state_file
from exporter.energy.state_file import SavedState

log = logging.getLogger(__name__)


class StateStore:
    def __init__(self, path: str | Path, max_states: int = state_file.MAX_RUNS) -> None:
        """Reads the file at ``path`` now (a corrupt one is kept aside: see :mod:`state_file`);
        ``max_states``: the most states the file holds."""
        self.path = Path(path)
        self._max = max_states
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._found = {state.run: state for state in state_file.load(self.path)}  # what the file held
        self._states: dict[str, SavedState] = {}  # what this exporter's accounts put
        self._announced_drop = False

    def get(self, run: str) -> SavedState | None:
        """The saved state of ``run`` (its energy key), if the file holds one."""
        with self._lock:
            return self._states.get(run) or self._found.get(run)

    def holds_any(self) -> bool:
        with self._lock:
            return bool(self._found or self._states)

    def put(self, state: SavedState, replaces: str | None = None) -> None:
        """Keep ``state`` (in place of the state ``replaces`` names) and write the file (raises OSError)."""
        with self._lock:
            if replaces is not None and replaces != state.run:
                self._states.pop(replaces, None)
                self._found.pop(replaces, None)
            self._states[state.run] = state
        self._write()

    def remove(self, run: str) -> None:
        """Forget ``run``'s state and write the file (raises OSError)."""
        with self._lock:
            found = self._found.pop(run, None)
            if self._states.pop(run, None) is None and found is None:
                return
        self._write()

    def _write(self) -> None:
        with self._write_lock:
            with self._lock:
                states = self._kept()
            if states:
                state_file.save(self.path, states)

    def _kept(self) -> list[SavedState]:
        """This exporter's states, then the others' newest first, ``max_states`` in all."""
        others = sorted((s for run, s in self._found.items() if run not in self._states),
                        key=lambda s: s.updated_at or 0.0, reverse=True)
        states = [*self._states.values(), *others][:self._max]
        left_out = len(self._states) + len(others) - len(states)
        if left_out and not self._announced_drop:
            log.warning("the energy state file %s holds at most %d states: the %d least recently updated "
                        "are left out", self.path, self._max, left_out)
            self._announced_drop = True
        return states
