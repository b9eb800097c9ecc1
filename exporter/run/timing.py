"""How long a run's iterations and evals take, from consecutive progress lines.

Choosing which clock to trust for one gap between progress lines (:func:`interval`, pure) is kept
apart from recording what it says (:class:`IterationTiming`)."""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import chain
from operator import add, mul, sub

from exporter.events import Progress
from exporter.health.slowdown import SegmentSlowdown
from exporter.run import drift, estimate
from exporter.run.interval import StepUncertainty
from exporter.run.level import Level

ITERATION_WINDOW = 101
WARMUP_ITERATIONS = 5  # the first iterations after a start or resume include compilation and warm-up
EVAL_WINDOW = 20
WINDOW_HORIZONS = 4  # the ETA's level reads the samples of this many horizons (iterations left) back


@dataclass(frozen=True, slots=True)
class Interval:
    """What one gap between two progress lines says: the wall time it adds to the run, the time of
    one regular iteration in it, and the extra time an eval in it took (each None when unknown)."""

    elapsed: float = 0.0
    iteration_seconds: float | None = None
    eval_overhead: float | None = None


def _typical(samples: Sequence[float]) -> float | None:
    return estimate.robust_mean(samples) if samples else None


def interval(previous: Progress, p: Progress, wall: float | None, eval_here: bool,
             last_eval_iteration: int | None, samples: Sequence[float], warm: bool) -> Interval:
    """Read the gap from ``previous`` to ``p``: the trainer's own per-iteration time, else its
    cumulative clock, else the arrival times (``wall``); ``eval_here`` when an eval was printed in
    between. An eval's overhead is measured against the typical iteration time of ``samples``
    (with this gap's own, unless ``warm``: warm-up iterations are not typical)."""
    steps = p.iteration - previous.iteration
    clock = None
    if p.elapsed_seconds is not None and previous.elapsed_seconds is not None:
        clock = p.elapsed_seconds - previous.elapsed_seconds
        if clock <= 0:
            clock = None  # the trainer's timer was reset
    # Does the trainer's own timing of this line carry the eval? nanoGPT's one-iteration time
    # does when the eval ran at that very iteration; a progress bar's clock spans everything.
    if p.iteration_seconds is not None:
        eval_in_own_time = p.includes_eval and last_eval_iteration == p.iteration
    else:
        eval_in_own_time = p.includes_eval and clock is not None
    if eval_here and eval_in_own_time:
        span, iterations = (p.iteration_seconds, 1) if p.iteration_seconds is not None else (clock, steps)
        typical = _typical(samples)
        overhead = None if typical is None else span - iterations * typical
        return Interval(span, None, overhead)
    if p.iteration_seconds is not None:
        regular = Interval(p.iteration_seconds * steps, p.iteration_seconds)
    elif clock is not None:
        regular = Interval(clock, clock / steps)
    elif wall is not None and not eval_here:
        regular = Interval(wall, wall / steps)
    else:
        regular = Interval()
    if not eval_here or wall is None:
        return regular
    # the eval's cost is outside the trainer's timing of this line: measure it from arrival
    # stamps (in a backfill it stays unmeasured, and the estimate provisional)
    if clock is not None:
        expected = clock
    elif p.iteration_seconds is not None and steps == 1:
        expected = p.iteration_seconds
    else:
        recorded = [*samples, regular.iteration_seconds] if regular.iteration_seconds is not None and not warm else samples
        typical = _typical(recorded)
        if typical is None:
            return regular
        expected = steps * typical
    # not clipped at 0: arrival times come a poll at a time, and an eval that cost nothing must
    # average out at nothing, not at the mean of the polls' rounding up
    overhead = wall - expected
    timed = p.iteration_seconds is not None or clock is not None
    return Interval(regular.elapsed + (max(overhead, 0.0) if timed else wall), regular.iteration_seconds, overhead)


class IterationTiming:
    """Recent iteration times, eval overheads and gaps between lines, the iterations evals ran at,
    and the training wall time so far."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=ITERATION_WINDOW)
        self.sampled_at: deque[int] = deque(maxlen=ITERATION_WINDOW)  # the iteration of each sample
        self.history = drift.History()
        self.level = Level()  # every sample since the last level shift
        self.slowdowns: list[float] = []  # the size of each shift up so far: log(new level / old)
        self.eval_overheads: deque[float] = deque(maxlen=EVAL_WINDOW)
        self.line_gaps: deque[int] = deque(maxlen=ITERATION_WINDOW)
        self.eval_iterations: deque[int] = deque(maxlen=8)
        self.eval_pending = False  # an eval was printed since the last progress line
        self.elapsed = 0.0
        self.slowdown = SegmentSlowdown()  # of the current segment
        # the recent samples when the level was last settled: every snapshot asks for it, and
        # while a log is followed it seldom changes
        self._settled: tuple[float, ...] = ()

    def start_segment(self, p: Progress) -> None:
        """The first line of a segment (a start or resume): only its own time is known."""
        self.elapsed += p.iteration_seconds or 0.0
        self.slowdown = SegmentSlowdown()

    def measure_run(self, previous: int, iterations: list[int], seconds_each: list[float], warm_until: int) -> None:
        """Record usual lines together, as :meth:`measure` would one by one: ``previous`` is the
        iteration before the first of ``iterations``, each with its step time in ``seconds_each``;
        samples are kept from iteration ``warm_until`` on. The sums run in the order line by line
        would, so the figures are the same to the last bit."""
        steps = list(map(sub, iterations, chain((previous,), iterations)))
        self.line_gaps.extend(steps[-ITERATION_WINDOW:])
        self.elapsed = reduce(add, map(mul, seconds_each, steps), self.elapsed)
        warm = bisect_left(iterations, warm_until)
        if warm < len(iterations):
            self.sample_all(iterations[warm:], seconds_each[warm:])

    def measure(self, previous: Progress, previous_arrived: float | None, p: Progress,
                arrived: float | None, warm: bool) -> None:
        """Record the gap between two progress lines of one segment (``warm``: still warming up,
        so no samples are kept)."""
        steps = p.iteration - previous.iteration
        self.line_gaps.append(steps)
        if p.iteration_seconds is not None and not self.eval_pending:  # the common case, kept short
            self.elapsed += p.iteration_seconds * steps
            if not warm:
                self._sample(p.iteration, p.iteration_seconds)
        else:
            wall = arrived - previous_arrived if arrived is not None and previous_arrived is not None else None
            gap = interval(previous, p, wall, self.eval_pending, self.last_eval_iteration(), self.samples, warm)
            self.elapsed += gap.elapsed
            if not warm:
                if gap.iteration_seconds is not None:
                    self._sample(p.iteration, gap.iteration_seconds)
                if gap.eval_overhead is not None:
                    self.eval_overheads.append(gap.eval_overhead)

    def _sample(self, iteration: int, seconds: float) -> None:
        self.samples.append(seconds)
        self.sampled_at.append(iteration)
        self.history.add(iteration, seconds)
        self.level.add(iteration, seconds)
        self.slowdown.add(iteration, seconds)

    def sample_all(self, iterations: Sequence[int], seconds: Sequence[float]) -> None:
        """Record the samples ``zip(iterations, seconds)`` in order, as many :meth:`_sample` calls do."""
        self.samples.extend(seconds[-ITERATION_WINDOW:])
        self.sampled_at.extend(iterations[-ITERATION_WINDOW:])
        self.history.add_all(iterations, seconds)
        self.level.add_all(iterations, seconds)
        self.slowdown.add_all(iterations, seconds)

    def settle_level(self) -> None:
        """Start the level afresh after a shift (see :meth:`_shift`), noting the size of a slowdown
        from a level that had lasted ``ITERATION_WINDOW`` samples (not the end of a warm-up)."""
        if tuple(self.samples) == self._settled:
            return
        old, lasted = self._shift()
        if lasted >= ITERATION_WINDOW and 0 < old < self.level.mean():
            self.slowdowns.append(math.log(self.level.mean() / old))
        self._settled = tuple(self.samples)

    def _shift(self) -> tuple[float, int]:
        """Find a shift among the recent samples (those before it are dropped), among the level's
        blocks (read in one go, a log's shift can lie before the recent samples), or between the
        recent samples and the level's older ones (one too recent to show among the blocks), and
        start the level after it. Returns the old level's mean and how many samples it had lasted
        (0 without a shift)."""
        samples = list(self.samples)
        total, _, _, count = self.level.sums()
        if split := drift.level_start(samples):
            for _ in range(split):
                self.samples.popleft()
                self.sampled_at.popleft()
            self.level.reset(list(self.sampled_at), list(self.samples))
            return sum(samples[:split]) / split, count - len(self.samples)
        if first := drift.level_start(self.level.block_means(), least=2):
            dropped = self.level.blocks[:first]
            self.level.drop_blocks(first)
            while len(self.samples) > self.level.count:
                self.samples.popleft()
                self.sampled_at.popleft()
            lasted = sum(b[3] for b in dropped)
            return sum(b[0] for b in dropped) / lasted, lasted
        older = count - len(samples)
        if older > 0 and drift.moved_from(old := (total - sum(samples)) / older, older, samples):
            self.level.reset(list(self.sampled_at), samples)
            return old, older
        return 0.0, 0

    def trend(self) -> float:
        """How much the step time grows per iteration over the run (0 without a clear trend)."""
        return self.history.trend()

    def fields(self, started: bool) -> dict:
        """The snapshot's training wall time so far and the current segment's slowdown."""
        return {"elapsed_seconds": self.elapsed if started else None, "slowdown": self.slowdown.view()}

    def eval_seen(self, iteration: int | None) -> None:
        self.eval_pending = True
        if iteration is not None and (not self.eval_iterations or self.eval_iterations[-1] != iteration):
            self.eval_iterations.append(iteration)

    def last_eval_iteration(self) -> int | None:
        return self.eval_iterations[-1] if self.eval_iterations else None

    def observed_eval_interval(self) -> int | None:
        """The eval interval the log shows: the most common gap between evals (a final eval at the
        last step makes one short gap)."""
        seen = list(self.eval_iterations)
        gaps = [b - a for a, b in zip(seen, seen[1:]) if b > a]
        if gaps:
            return max(set(gaps), key=lambda gap: (gaps.count(gap), gap))
        return seen[0] if len(seen) == 1 and seen[0] > 0 else None

    def level_ahead(self, iteration: int | None, remaining: int | None) -> Level:
        """The samples that speak for the ``remaining`` iterations after ``iteration``: the level's
        since ``WINDOW_HORIZONS`` × ``remaining`` iterations back (a drift too slow to count as a
        shift weighs less on a short horizon), all of them when the run's length is not known."""
        if iteration is None or remaining is None:
            return self.level
        return self.level.since(iteration - WINDOW_HORIZONS * max(remaining, 1))

    def step_uncertainty(self, level: Level, iteration: int) -> StepUncertainty:
        """What ``level`` tells of the step time after ``iteration``: see :mod:`exporter.run.interval`."""
        return StepUncertainty(
            level_variance=level.mean_variance(),
            step_variance=level.long_run_variance(),
            drift=drift.drift_variance(level.points(), self.trend()),
            lag=max(iteration - level.centre(), 0.0),
        )

    def seen_since(self, iteration: int) -> float:
        """Iterations from the run's first samples to ``iteration``."""
        return iteration - self.history.points[0][0] if self.history.points else 0.0

    def eval_spread(self) -> tuple[float, float, float] | None:
        # every eval's cost is real (a checkpoint save after some evals only): a plain mean
        if not self.eval_overheads:
            return None
        return tuple(max(v, 0.0) for v in estimate.spread(self.eval_overheads, statistics.fmean))

    def steps_per_line(self) -> float:
        return estimate.percentile(self.line_gaps, 0.5) if self.line_gaps else 1
