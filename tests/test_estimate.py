"""ETA maths with hand-checked numbers."""

import pytest

from exporter.run import estimate


def test_evals_between_counts_the_eval_at_max_iters():
    assert estimate.evals_between(1300, 20000, 500) == 38  # 1500, 2000, ..., 20000
    assert estimate.evals_between(1500, 20000, 500) == 37  # the eval at 1500 is done
    assert estimate.evals_between(-1, 1000, 500) == 3  # 0, 500, 1000
    assert estimate.evals_between(100, 100, 500) == 0
    assert estimate.evals_between(100, 1000, None) == 0


def test_scenario_two_eta():
    seconds = estimate.eta_seconds(18700, 0.17, 38, 5.8)
    assert seconds == pytest.approx(18700 * 0.17 + 38 * 5.8)  # 3399.4 s, about 57 min
    assert seconds == pytest.approx(3400, rel=0.001)
    assert estimate.eta_seconds(-5, 0.17, -1, 5.8) == 0.0  # past the end: nothing left


def test_provisional_eval_cost_from_eval_iters():
    # 2 splits x 200 batches, each a forward of one micro-batch = (0.170 / 4) / 3
    assert estimate.provisional_eval_seconds(0.170, 200, 4) == pytest.approx(5.667, abs=0.001)


def test_percentile_and_spread():
    assert estimate.percentile([3, 1, 2], 0.5) == 2
    assert estimate.percentile([0, 10], 0.25) == 2.5
    assert estimate.spread([0.17] * 9 + [5.97]) == pytest.approx((0.17, 0.17, 0.75))  # one outlier is trimmed


def test_the_typical_iteration_is_sum_true_on_right_skewed_times():
    """Occasional slow steps: the median is short of the mean, and a sum of iterations is a sum."""
    times = [0.214] * 80 + [0.220] * 15 + [0.260] * 5
    mean = sum(times) / len(times)
    typical = estimate.spread(times)[1]
    assert estimate.percentile(times, 0.5) < 0.995 * mean
    assert typical == pytest.approx(mean, rel=0.005)


def test_progress_timeout():
    assert estimate.progress_timeout(1.7, 0.0, 120) == 120
    assert estimate.progress_timeout(60, 0.0, 1) == 180
    assert estimate.progress_timeout(1.7, 40.0, 1) == pytest.approx(3 * 1.7 + 2 * 40)
