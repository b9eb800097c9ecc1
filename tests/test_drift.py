"""Step times that move, on small literal sequences: a level shift, a single outlier, a linear ramp,
a staged ramp, and the bounds that keep a projection sane."""

import random

import pytest

from exporter.run.drift import History, level_start, mean_ahead, trend_slope


def noisy(level, count, seed=0):
    rng = random.Random(seed)
    return [level * rng.uniform(0.98, 1.02) for _ in range(count)]


def test_a_level_shift_is_found_where_it_happened():
    samples = noisy(0.100, 80) + noisy(0.200, 12, seed=1)
    assert level_start(samples) == 80


def test_a_new_level_counts_only_once_it_has_lasted():
    assert level_start(noisy(0.100, 80) + noisy(0.200, 4, seed=1)) == 0


def test_a_single_outlier_or_a_few_slow_steps_are_not_a_shift():
    samples = noisy(0.100, 90)
    samples[85] = 0.400
    assert level_start(samples) == 0
    samples = noisy(0.100, 90) + [0.100, 0.300, 0.100, 0.100, 0.310, 0.100, 0.100, 0.100, 0.290, 0.100]
    assert level_start(samples) == 0


def test_steady_noise_has_no_shift_and_no_trend():
    samples = noisy(0.100, 101, seed=3)
    assert level_start(samples) == 0
    assert trend_slope([(i * 10.0, v) for i, v in enumerate(samples[:64])]) == 0.0


def test_a_linear_ramp_has_its_slope():
    points = [(float(i), 0.100 + 0.0001 * i + 0.001 * ((i * 7) % 3 - 1)) for i in range(0, 640, 10)]
    assert trend_slope(points) == pytest.approx(0.0001, rel=0.05)


def test_a_staged_ramp_has_no_clear_trend_inside_a_stage_and_keeps_the_level():
    """Stages (33 ms, then 60 ms): most pairs of points lie within a stage, so no trend is read
    into them; the level after the step is the current one (the shift resets it)."""
    samples = noisy(0.033, 60) + noisy(0.060, 40, seed=2)
    assert level_start(samples) == 60
    points = [(float(i), v) for i, v in enumerate(samples[:64])]
    assert trend_slope(points) == 0.0


def test_the_projection_follows_the_trend_and_is_bounded():
    # 0.1 s at iteration 1000, +0.0001 s per iteration: the next 1000 iterations average 0.2 s
    assert mean_ahead(0.1, 1000, 0.0001, 1000, 1000) == pytest.approx(0.15)
    assert mean_ahead(0.1, 1000, 0.01, 1000, 1000) == pytest.approx(0.2)  # at most twice the level
    assert mean_ahead(0.1, 1000, -0.01, 1000, 1000) == pytest.approx(0.05)  # at least half
    assert mean_ahead(0.1, 1000, 0.0, 1000, 1000) == 0.1


def test_history_keeps_a_bounded_number_of_points_over_the_whole_run():
    history = History()
    for i in range(100_000):
        history.add(i, 0.1 + i * 1e-6)
    assert 32 <= len(history.points) <= 64
    assert history.points[0][0] < 2_000 and history.points[-1][0] > 95_000
    assert trend_slope(history.points) == pytest.approx(1e-6, rel=0.01)


def test_a_trend_the_current_level_contradicts_is_not_projected():
    """A staircase reads as a trend over the run, but within its last stage the step time holds."""
    from exporter.run.drift import level_trend
    stage = [(float(i), v) for i, v in zip(range(0, 320, 10), noisy(0.060, 32, seed=5))]
    assert level_trend(stage, 1e-4) == 0.0
    ramp = [(x, y + 1e-4 * x) for x, y in stage]
    assert level_trend(ramp, 1e-4) == 1e-4
    assert level_trend(stage[:4], 1e-4) == 1e-4  # too few points to say
