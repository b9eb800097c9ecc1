"""A consistent, read-only view of a run at one moment: what collectors, `status` and rules read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.health.slowdown import SlowdownView
from exporter.health import LearningHealth
from exporter.run.settings import Setting

STATES = ("waiting", "starting", "running", "stalled", "finished", "crashed", "interrupted")


@dataclass(frozen=True)
class RunSnapshot:
    run: str
    format: str
    log_path: str
    state: str
    reason: str | None = None  # why it is in that state: a crash's error line, a stall's silence, ...
    trainer_alive: bool | None = None  # whether the trainer's watched process runs (None: not watched)
    log_problem: str | None = None  # why the log, which exists, cannot be read (the run then reads "waiting")
    iteration: int | None = None
    max_iterations: int | None = None
    progress_ratio: float | None = None
    loss: float | None = None  # the latest finite training loss
    loss_finite: bool = True  # whether the latest training loss was finite (not nan / inf)
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
    checkpoint_dir: str | None = None  # where the trainer said it saves (nanoGPT's out_dir)
    restarts: int = 0
    nonfinite_losses: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lines_read: int = 0
    lines_not_understood: int = 0  # including lines held while the format is still unknown
    log_recognised: bool = True  # a line so far was recognised as some trainer's (its format, or its preamble)
    lines_ignored: int = 0  # lines whose values were outside sane bounds, or that a parser choked on
    trainer_config: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # where max_iterations, eval_interval, ... came from
    slowdown: SlowdownView = field(default_factory=SlowdownView)  # the step time against its baseline
    generation: int = 0  # trainings from scratch in this log after the first: a new one resets its history
    learning: LearningHealth = LearningHealth()  # loss spikes, divergence, gradient norm, overfitting

    @property
    def energy_key(self) -> str:
        """Whose energy the state file holds: the run, and which training from scratch in its log."""
        return self.run if self.generation == 0 else f"{self.run}#{self.generation}"


def progress_fields(iteration: int | None, max_iterations: int | None, tokens: Setting | None,
                    tokens_per_second: float | None, typical: float | None) -> dict[str, Any]:
    """How far the run is, in iterations and tokens; the throughput from the typical iteration
    time where the trainer does not print it."""
    per_iteration = tokens.value if tokens else None
    if tokens_per_second is None and per_iteration and typical:
        tokens_per_second = per_iteration / typical
    return {
        "iteration": iteration,
        "max_iterations": max_iterations,
        "progress_ratio": min(iteration / max_iterations, 1.0) if iteration is not None and max_iterations else None,
        "tokens_per_iteration": per_iteration,
        "tokens_per_second": tokens_per_second,
        "tokens_processed": iteration * per_iteration if iteration is not None and per_iteration else None,
        "tokens_planned": max_iterations * per_iteration if max_iterations and per_iteration else None,
    }


def eta_fields(eta: Any, last_progress: float | None) -> dict[str, Any]:
    """The ETA (an ``estimate.Eta`` or None) and the time it points at, as the snapshot's fields."""
    return {
        "eta_seconds": eta.seconds if eta else None,
        "eta_low_seconds": eta.low if eta else None,
        "eta_high_seconds": eta.high if eta else None,
        "expected_end_timestamp": last_progress + eta.seconds if eta and last_progress is not None else None,
    }
