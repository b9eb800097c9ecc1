"""Overfitting, as information: the val loss worse than its best eval after eval."""

from __future__ import annotations

from math import isfinite

WORSE_BY = 0.005  # worse than the best by more than this share of it (an eval's own noise is less)


class ValWatch:
    def __init__(self) -> None:
        self.best: float | None = None
        self.worse_in_a_row = 0  # the latest evals in a row whose val loss was worse than the best

    def add(self, val_loss: float) -> None:
        if not isfinite(val_loss):
            return
        if self.best is None or val_loss < self.best:
            self.best, self.worse_in_a_row = val_loss, 0
        elif val_loss - self.best > WORSE_BY * abs(self.best):
            self.worse_in_a_row += 1
        else:
            self.worse_in_a_row = 0
