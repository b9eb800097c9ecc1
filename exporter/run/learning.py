"""Feeds the health detectors (:mod:`exporter.health`) from the run model's events: every training
loss and gradient norm, in order, line by line or a run of usual lines at once, and each eval."""

from __future__ import annotations

from collections.abc import Mapping
from math import isfinite

from exporter.health import (LearningHealth, SpikeDetector, SpikeSettings, TrendDetector, TrendSettings,
                             ValWatch)

LOSS_SPIKES = SpikeSettings()
# a gradient norm is noisier than the loss and jumps 2x in a healthy run
GRAD_NORM_SPIKES = SpikeSettings(sigmas=8.0, relative=1.0)
VAL_TREND = TrendSettings(window=4, warmup=6, stuck=4)  # evals are few, and each one already smooth


class LearningFeed:
    def __init__(self) -> None:
        self.loss = SpikeDetector(LOSS_SPIKES)
        self.grad_norm: SpikeDetector | None = None  # made at the first gradient norm
        self._latest_grad_norm: float | None = None
        self._train_trend = TrendDetector("train")
        self._val_trend = TrendDetector("val", VAL_TREND)
        self._val = ValWatch()
        self._trained = False  # whether the log has training losses (else evals tell the trend)

    def train(self, iteration: int, loss: float | None, grad_norm: float | None = None) -> None:
        """One line's training loss and gradient norm (either may be missing)."""
        if loss is not None:
            self._trained = True
            self.loss.add(iteration, loss)
            self._take_points()
        if grad_norm is not None:
            self._norms().add(iteration, grad_norm)
            self._latest(grad_norm)

    def trained(self, iterations: list[int], losses: list[float], grad_norms: list | None) -> None:
        """Usual progress lines applied together: their iterations, losses and gradient norms (None
        where a line has none)."""
        self._trained = True
        self.loss.extend(iterations, losses, finite=True)  # the fast path takes finite losses only
        self._take_points()
        if grad_norms and grad_norms[-1] is not None:
            pairs = [(i, g) for i, g in zip(iterations, grad_norms) if g is not None]
            self._norms().extend([i for i, _ in pairs], [g for _, g in pairs])
            self._latest(grad_norms[-1])

    def evaluation(self, iteration: int | None, losses: Mapping[str, float]) -> None:
        val = losses.get("val")
        if val is None:
            return
        self._val.add(val)
        if iteration is not None:
            self._val_trend.add(iteration, val)

    def _norms(self) -> SpikeDetector:
        if self.grad_norm is None:
            self.grad_norm = SpikeDetector(GRAD_NORM_SPIKES)
        self.grad_norm.points.clear()  # no trend is read from them
        return self.grad_norm

    def _latest(self, grad_norm: float) -> None:
        if isfinite(grad_norm):
            self._latest_grad_norm = grad_norm

    def _take_points(self) -> None:
        if self.loss.points:
            for iteration, level in self.loss.points:
                self._train_trend.add(iteration, level)
            self.loss.points.clear()

    def report(self) -> LearningHealth:
        return LearningHealth(
            loss=self.loss.report(),
            grad_norm=self.grad_norm.report() if self.grad_norm is not None else None,
            latest_grad_norm=self._latest_grad_norm,
            trend=(self._train_trend if self._trained else self._val_trend).report(),
            val_evals_since_best=self._val.worse_in_a_row if self._val.best is not None else None,
        )
