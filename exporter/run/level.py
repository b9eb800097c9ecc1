"""The current level of the step time: every regular sample since the last level shift (of which
the ETA reads those of the last few horizons, see :meth:`Level.since`).

A sum of future iterations is a sum, so its per-iteration cost is the plain mean of the samples,
slow steps included (they happen, and they cost time). The samples are kept as at most
``MAX_BLOCKS`` blocks of equal sample counts (each block twice as long once they are full), which
is enough for the mean, the spread of the block means (how well the mean is known, whatever the
samples' correlation), the drift of the blocks and for finding an older shift among them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import reduce
from operator import add, mul

MAX_BLOCKS = 64
MIN_BLOCKS_FOR_SPREAD = 16  # below this, the mean's uncertainty comes from the samples' variance


class Level:
    """Sums of the samples since the level started, whole and in blocks."""

    def __init__(self) -> None:
        self.reset((), ())

    def reset(self, iterations: Sequence[int], seconds: Sequence[float]) -> None:
        """Start a new level with the samples ``zip(iterations, seconds)``."""
        # each block and the open one: (sum of seconds, of their squares, of the iterations, count)
        self.blocks: list[tuple[float, float, float, int]] = []
        self._per_block = 1
        self._open = (0.0, 0.0, 0.0, 0)
        self.add_all(iterations, seconds)

    def add_all(self, iterations: Sequence[int], seconds: Sequence[float]) -> None:
        """Add the samples in order, a block's worth at a time."""
        start, end = 0, len(seconds)
        total, squares, at, count = self._open
        while start < end:
            stop = min(start + self._per_block - count, end)
            part = seconds[start:stop]
            total = reduce(add, part, total)
            squares = reduce(add, map(mul, part, part), squares)
            at = reduce(add, iterations[start:stop], at)
            count += stop - start
            start = stop
            if count == self._per_block:
                self._close((total, squares, at, count))
                total, squares, at, count = 0.0, 0.0, 0.0, 0
        self._open = (total, squares, at, count)
        self._sums = None

    def add(self, iteration: int, seconds: float) -> None:
        """:meth:`add_all` of one sample, with the same sums."""
        total, squares, at, count = self._open
        block = (total + seconds, squares + seconds * seconds, at + iteration, count + 1)
        self._open = block
        self._sums = None
        if block[3] == self._per_block:
            self._close(block)
            self._open = (0.0, 0.0, 0.0, 0)

    def _close(self, block: tuple[float, float, float, int]) -> None:
        self.blocks.append(block)
        if len(self.blocks) >= MAX_BLOCKS:
            self.blocks = [tuple(map(add, a, b)) for a, b in zip(self.blocks[::2], self.blocks[1::2])]
            self._per_block *= 2

    def drop_blocks(self, first: int) -> None:
        """Forget the blocks before ``first``: the level shifted there."""
        self.blocks = self.blocks[first:]
        self._sums = None

    def sums(self) -> tuple[float, float, float, int]:
        """The sums over every sample of the level: seconds, their squares, iterations, count."""
        if self._sums is None:
            self._sums = tuple(map(sum, zip(self._open, *self.blocks)))
        return self._sums

    @property
    def count(self) -> int:
        return self.sums()[3]

    def since(self, iteration: float) -> Level:
        """The level's latest samples: the blocks from the first whose samples' mean iteration is
        ``iteration`` or later, and the open one (the whole level where that leaves nothing)."""
        first = next((i for i, block in enumerate(self.blocks) if block[2] / block[3] >= iteration), len(self.blocks))
        if first == 0 or (first == len(self.blocks) and not self._open[3]):
            return self
        view = copy.copy(self)
        view.drop_blocks(first)
        return view

    def mean(self) -> float:
        total, _, _, count = self.sums()
        return total / count

    def centre(self) -> float:
        """The iteration the mean stands for: the samples' mean iteration."""
        _, _, at, count = self.sums()
        return at / count

    def variance(self) -> float:
        """The samples' variance (0 for fewer than two)."""
        total, squares, _, count = self.sums()
        if count < 2:
            return 0.0
        return max(squares - total * total / count, 0.0) / (count - 1)

    def block_means(self) -> list[float]:
        return [block[0] / block[3] for block in self.blocks]

    def points(self) -> list[tuple[float, float]]:
        """Each block as ``(mean iteration, mean seconds)``."""
        return [(at / count, total / count) for total, _, at, count in self.blocks]

    def long_run_variance(self) -> float:
        """The variance per sample that a sum of many samples shows (batch means): the spread of
        the block means × the samples in a block, where there are enough blocks, else the
        samples' variance. Slow steps that come regularly (a periodic sync or save) average out
        in it; a level that wanders adds to it."""
        if len(self.blocks) < MIN_BLOCKS_FOR_SPREAD:
            return self.variance()
        means = self.block_means()
        centre = sum(means) / len(means)
        return self._per_block * sum((m - centre) ** 2 for m in means) / (len(means) - 1)

    def mean_variance(self) -> float:
        """The variance of :meth:`mean` as an estimate of the level."""
        count = self.count
        return self.long_run_variance() / count if count else 0.0
