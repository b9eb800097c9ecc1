"""A consistent, read-only view of a run at one moment: what collectors, `status` and rules read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATES = ("waiting", "starting", "running", "stalled", "finished", "crashed")


@dataclass(frozen=True)
class RunSnapshot:
    run: str
    format: str
    log_path: str
    state: str
    iteration: int | None = None
    max_iterations: int | None = None
    progress_ratio: float | None = None
    loss: float | None = None
    eval_losses: dict[str, float] = field(default_factory=dict)
    best_val_loss: float | None = None
    iteration_seconds: float | None = None
    eval_overhead_seconds: float | None = None
    eval_overhead_provisional: bool = True
    eval_interval: int | None = None
    evals_left: int | None = None
    tokens_per_iteration: int | None = None
    tokens_per_second: float | None = None
    tokens_processed: float | None = None
    tokens_planned: float | None = None
    parameters: float | None = None
    mfu_ratio: float | None = None
    eta_seconds: float | None = None
    eta_low_seconds: float | None = None
    eta_high_seconds: float | None = None
    expected_end_timestamp: float | None = None
    elapsed_seconds: float | None = None
    last_progress_timestamp: float | None = None
    progress_timeout_seconds: float | None = None
    evals: int = 0
    checkpoints: int = 0
    last_checkpoint_timestamp: float | None = None
    restarts: int = 0
    nonfinite_losses: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lines_read: int = 0
    lines_not_understood: int = 0
    trainer_config: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # where max_iterations, eval_interval, ... came from
    generation: int = 0  # trainings from scratch in this log after the first: a new one resets its history

    @property
    def energy_key(self) -> str:
        """Whose energy the state file holds: the run, and which training from scratch in its log."""
        return self.run if self.generation == 0 else f"{self.run}#{self.generation}"
