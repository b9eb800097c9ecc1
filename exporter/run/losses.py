"""A run's losses: the latest training loss, the latest eval loss of each split, the best val loss."""

from __future__ import annotations

import math
from collections.abc import Mapping


class Losses:
    def __init__(self) -> None:
        self.latest: float | None = None  # the latest finite training loss
        self.latest_finite = True  # whether the latest training loss was finite
        self.evals: dict[str, float] = {}
        self.best_val: float | None = None

    def training(self, value: float) -> bool:
        """Record a training loss; False when it is not finite (nan, inf)."""
        self.latest_finite = math.isfinite(value)
        if self.latest_finite:
            self.latest = value
        return self.latest_finite

    def evaluation(self, losses: Mapping[str, float]) -> int:
        """Record an eval's losses by split; returns how many were not finite (those are left out)."""
        nonfinite = 0
        for split, loss in losses.items():
            if not math.isfinite(loss):
                nonfinite += 1
                continue
            self.evals[split] = loss
            if split == "val" and (self.best_val is None or loss < self.best_val):
                self.best_val = loss
        return nonfinite
