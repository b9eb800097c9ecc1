"""The health part of ``/api/run``: the loss spikes the page marks on its loss chart (bounded, latest
last), and what the learning detectors say now."""

from __future__ import annotations

from typing import Any

from exporter.health import LearningHealth


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
