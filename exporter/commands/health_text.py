"""The learning detectors' lines of the ``status`` report: spikes, divergence, gradient norm,
overfitting; nothing for a run that is learning quietly."""

from __future__ import annotations

from exporter.health import LearningHealth, SpikeReport
from exporter.health.report import RISING

OVERFITTING_EVALS = 3


def _spikes(what: str, r: SpikeReport) -> str:
    last = r.last
    size = "nan/inf" if last.value is None else f"{last.ratio:.1f}× its median {last.baseline:.4g}"
    return (f"{what} spikes: {r.spikes} (latest at iteration {last.iteration:,}, {size}"
            + (", not back yet)" if r.ongoing else ")"))


def learning_lines(h: LearningHealth) -> list[str]:
    lines = []
    if h.loss.last is not None:
        lines.append(_spikes("loss", h.loss))
    if (t := h.trend) is not None and t.reason is not None:
        lines.append(f"diverging: the loss changed by {t.rise_ratio * 100:+.0f} % over the last {t.window_iterations:,} "
                     f"iterations (slope {t.slope_per_iteration:+.3g} per iteration), "
                     + ("rising" if t.reason == RISING else f"stuck {t.above_best_ratio * 100:.0f} % above its best"))
    if h.latest_grad_norm is not None:
        lines.append(f"gradient norm {h.latest_grad_norm:.4g}")
    if h.grad_norm is not None and h.grad_norm.last is not None:
        lines.append(_spikes("gradient norm", h.grad_norm))
    if h.val_evals_since_best is not None and h.val_evals_since_best >= OVERFITTING_EVALS:
        lines.append(f"val loss worse than its best for {h.val_evals_since_best} evals in a row: overfitting?")
    return lines
