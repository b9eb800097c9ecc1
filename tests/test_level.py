"""The level: every sample since the last shift, in blocks; and how a shift is found in a backfill."""

import random
import statistics

import pytest

from exporter.events import Progress
from exporter.run.drift import drift_variance, moved_from
from exporter.run.level import MAX_BLOCKS, Level
from exporter.run.timing import IterationTiming


def samples(count, mean=0.1, sd=0.01, seed=0):
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(count)]


def test_one_by_one_and_all_at_once_give_the_same_sums_and_blocks():
    values = samples(5000)
    together, apart = Level(), Level()
    together.add_all(list(range(5000)), values)
    for i, v in enumerate(values):
        apart.add(i, v)
    assert together.sums() == apart.sums() and together.blocks == apart.blocks
    assert len(together.blocks) < MAX_BLOCKS
    assert together.mean() == pytest.approx(statistics.fmean(values))
    assert together.variance() == pytest.approx(statistics.variance(values))
    assert together.centre() == pytest.approx(2499.5)


def test_slow_steps_count_in_the_mean():
    level = Level()
    level.add_all(list(range(100)), [0.1] * 99 + [1.0])
    assert level.mean() == pytest.approx(0.109)


def test_slow_steps_that_come_regularly_average_out_in_the_long_run_variance():
    values = [1.0 if i % 64 == 0 else 0.1 for i in range(6400)]  # one slow step in every 64, like a sync
    level = Level()
    level.add_all(list(range(6400)), values)
    assert level.long_run_variance() < level.variance() / 10


def test_the_latest_samples_of_a_level():
    level = Level()
    level.add_all(list(range(1000)), [0.1] * 500 + [0.2] * 500)
    recent = level.since(600)
    assert recent.mean() == pytest.approx(0.2) and recent.count < 500
    assert level.since(-1) is level and level.mean() == pytest.approx(0.15)


def test_drift_shows_only_beyond_the_scatter():
    rng = random.Random(3)
    flat = [(float(i), 0.1 + rng.gauss(0, 0.001)) for i in range(0, 640, 10)]
    assert drift_variance(flat, 0.0) < 1e-11
    rising = [(x, y + 1e-5 * x) for x, y in flat]
    assert drift_variance(rising, 0.0) == pytest.approx(1e-10, rel=0.2)
    assert drift_variance(rising, 1e-5) < 1e-11  # the trend already says it


def test_recent_samples_on_another_level_than_the_older_ones():
    assert moved_from(0.100, 500, samples(101, mean=0.2, seed=1))
    assert not moved_from(0.100, 500, samples(101, mean=0.103, seed=1))
    assert not moved_from(0.100, 500, samples(5, mean=0.2, seed=1))  # not lasted long enough


def feed(timing, steps):
    """Progress lines of one iteration each, with the trainer's own time of each."""
    previous = Progress(0, iteration_seconds=steps[0])
    timing.start_segment(previous)
    for i, seconds in enumerate(steps[1:], start=1):
        p = Progress(i, iteration_seconds=seconds)
        timing.measure(previous, None, p, None, warm=False)
        previous = p


def test_a_shift_read_in_one_go_before_the_recent_samples_starts_the_level():
    """A backfill: 3,000 steps at 0.1 s, then 1,000 at 0.2 s, all read before the level is settled."""
    timing = IterationTiming()
    feed(timing, samples(3000, 0.1, 0.005) + samples(1000, 0.2, 0.01, seed=2))
    timing.settle_level()
    assert timing.level.mean() == pytest.approx(0.2, rel=0.01)
    assert timing.slowdowns == [pytest.approx(0.69, abs=0.05)]  # log(0.2 / 0.1)


def test_a_steady_backfill_keeps_every_sample():
    timing = IterationTiming()
    feed(timing, samples(4000, 0.1, 0.01))
    timing.settle_level()
    assert timing.level.count == 3999 and timing.slowdowns == []


def test_the_end_of_a_warm_up_is_a_shift_but_not_a_slowdown_that_promises_more():
    timing = IterationTiming()
    feed(timing, samples(40, 0.08, 0.002) + samples(2000, 0.1, 0.005, seed=4))
    timing.settle_level()
    assert timing.level.mean() == pytest.approx(0.1, rel=0.01)  # the faster start is left out
    assert timing.slowdowns == []
