"""The state file shared by the runs of one exporter: each run's account reads its own state from
it and writes its own back. The file holds the runs this exporter counts: a state of a run it does
not follow is read by no one and left out when the file is next written."""

from __future__ import annotations

import threading
from pathlib import Path

from exporter.energy import state_file
from exporter.energy.state_file import SavedState


class StateStore:
    def __init__(self, path: str | Path) -> None:
        """Reads the file at ``path`` now (a corrupt one is kept aside: see :mod:`state_file`)."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._found = {state.run: state for state in state_file.load(self.path)}
        self._states: dict[str, SavedState] = {}  # what this exporter's accounts put

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
            self._states[state.run] = state
        self._write()

    def remove(self, run: str) -> None:
        """Forget ``run``'s state and write the file (raises OSError)."""
        with self._lock:
            self._found.pop(run, None)
            if self._states.pop(run, None) is None:
                return
        self._write()

    def _write(self) -> None:
        with self._write_lock:
            with self._lock:
                states = list(self._states.values())
            if states:
                state_file.save(self.path, states)
