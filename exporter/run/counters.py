"""What a log has shown so far, counted: these carry on across trainings in one log, as counters do."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import Any

from exporter.run.bounds import Ignored

log = logging.getLogger(__name__)

LOGGED_IGNORED_LINES = 10  # the first ignored lines are logged with their reason; later ones only counted


@dataclass
class Counters:
    evals: int = 0
    checkpoints: int = 0
    last_checkpoint_timestamp: float | None = None
    checkpoint_dir: str | None = None  # where the trainer said it saves (nanoGPT's out_dir)
    restarts: int = 0
    nonfinite_losses: int = 0
    errors: dict[str, int] = field(default_factory=lambda: {"oom": 0, "traceback": 0})
    lines_read: int = 0
    lines_not_understood: int = 0
    lines_ignored: int = 0
    _backfilled_checkpoint_elapsed: float | None = field(default=None, repr=False)  # the trainer's time at it

    def checkpoint(self, path: str | None, arrived: float | None, elapsed: float) -> None:
        """A checkpoint saved to ``path`` (where the trainer said) at ``arrived`` (None in a
        backfill: its time is worked out at the backfill's end from ``elapsed``, the trainer's time
        so far)."""
        self.checkpoints += 1
        self.checkpoint_dir = path or self.checkpoint_dir
        self.last_checkpoint_timestamp = arrived
        self._backfilled_checkpoint_elapsed = elapsed if arrived is None else None

    def backfill_ended(self, timestamp: float, elapsed: float) -> None:
        """The backfill's last line was written at ``timestamp``, at trainer time ``elapsed``: a
        backfilled checkpoint was saved the trainer time since it earlier."""
        if (at := self._backfilled_checkpoint_elapsed) is not None:
            self.last_checkpoint_timestamp = timestamp - max(0.0, elapsed - at)
            self._backfilled_checkpoint_elapsed = None

    def figures(self) -> dict[str, Any]:
        """The counters by name, for a snapshot."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def ignored(self, line: str, exc: Exception, where: str) -> None:
        """Count a line of ``where`` that a parser or the model could not take; log the first few."""
        self.lines_ignored += 1
        if self.lines_ignored <= LOGGED_IGNORED_LINES:
            reason = str(exc) if isinstance(exc, Ignored) else f"{type(exc).__name__}: {exc}"
            log.warning("%s: ignored line %r: %s%s", where, line[:80], reason[:200],
                        "; further ignored lines are only counted (training_exporter_log_lines_ignored_total)"
                        if self.lines_ignored == LOGGED_IGNORED_LINES else "")
