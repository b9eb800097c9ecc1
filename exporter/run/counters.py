"""What a log has shown so far, counted: these carry on across trainings in one log, as counters do."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counters:
    evals: int = 0
    checkpoints: int = 0
    last_checkpoint_timestamp: float | None = None
    restarts: int = 0
    nonfinite_losses: int = 0
    errors: dict[str, int] = field(default_factory=lambda: {"oom": 0, "traceback": 0})
    lines_read: int = 0
    lines_not_understood: int = 0
    lines_ignored: int = 0
