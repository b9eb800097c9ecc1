"""What a log has shown so far, counted: these carry on across trainings in one log, as counters do."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

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

    def checkpoint_saved(self, path: str | None, arrived: float | None) -> None:
        self.checkpoints += 1
        self.checkpoint_dir = path or self.checkpoint_dir
        if arrived is not None:
            self.last_checkpoint_timestamp = arrived

    def ignored(self, line: str, exc: Exception, where: str) -> None:
        """Count a line of ``where`` that a parser or the model could not take; log the first few."""
        self.lines_ignored += 1
        if self.lines_ignored <= LOGGED_IGNORED_LINES:
            reason = str(exc) if isinstance(exc, Ignored) else f"{type(exc).__name__}: {exc}"
            log.warning("%s: ignored line %r: %s%s", where, line[:80], reason[:200],
                        "; further ignored lines are only counted (training_exporter_log_lines_ignored_total)"
                        if self.lines_ignored == LOGGED_IGNORED_LINES else "")
