"""The health part of ``/api/run``: the loss spikes the page marks on its loss chart (bounded, latest
last) and what the learning detectors say now; the line under the iteration time while the step
time is slow; the checkpoint disk's figures."""

from __future__ import annotations

from typing import Any

from exporter.alerts.operations import slowdown_text
from exporter.health import LearningHealth
from exporter.health.checkpoint_disk import UNBOUNDED, CheckpointStatus
from exporter.run import RunSnapshot


def learning_part(h: LearningHealth) -> dict[str, Any]:
    """``loss_spikes``: where each spike began and its peak (at the baseline, with ``finite`` false,
    for a nan/inf loss, which has no height); ``diverging``: rising, stuck or None."""
    return {
        "loss_spikes": [{"iteration": spike.iteration,
                         "loss": spike.value if spike.value is not None else spike.baseline,
                         "finite": spike.value is not None} for spike in h.loss.recent],
        "loss_baseline": h.loss.baseline,
        "diverging": h.trend.reason if h.trend is not None else None,
        "grad_norm": h.latest_grad_norm,
        "val_worse_evals": h.val_evals_since_best,
    }


def slowdown_part(s: RunSnapshot, cause: str | None) -> dict[str, str] | None:
    text = slowdown_text(s, cause)
    return None if text is None or cause is None else {"cause": cause, "text": text}


def checkpoint_part(status: CheckpointStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    fit = status.saves_fit
    return {"path": status.path, "free_bytes": status.disk.free_bytes, "latest_bytes": status.disk.latest_bytes,
            "saves_to_come": status.saves_to_come, "saves_fit": None if fit is None or fit >= UNBOUNDED else fit,
            "will_fill": status.will_fill}


def health_part(s: RunSnapshot, cause: str | None, checkpoint: CheckpointStatus | None) -> dict[str, Any]:
    learning = learning_part(s.learning) if s.learning is not None else {}
    return {**learning, "slowdown": slowdown_part(s, cause), "checkpoint": checkpoint_part(checkpoint)}
