"""The ETA's 80 % range: simulated runs of known variance, and the parts of its maths by hand."""

import math
import random

import pytest

from exporter.run import interval
from exporter.run.interval import EvalUncertainty, StepUncertainty
from exporter.run.level import Level

CUTS = 1000


def simulated_cut(rng: random.Random, mean: float, sd: float, evals: tuple[float, float] | None = None) -> bool:
    """One cut of a steady run: step times of ``mean`` ± ``sd`` (normal), some measured, more
    to come, and (with ``evals``: their mean and sd) an eval every 100 iterations. Whether the
    true time left lies in the 80 % range worked out from what was measured."""
    done, left = rng.randint(200, 4000), rng.randint(50, 6000)
    level = Level()
    level.add_all(list(range(done)), [rng.gauss(mean, sd) for _ in range(done)])
    truth = sum(rng.gauss(mean, sd) for _ in range(left))
    steps = StepUncertainty(level.mean_variance(), level.long_run_variance(), lag=done / 2)
    seconds, overhead, evals_left = level.mean() * left, EvalUncertainty(0.0, 0.0), 0
    if evals is not None:
        measured = [rng.gauss(*evals) for _ in range(done // 100)]
        evals_left = left // 100
        eval_mean = sum(measured) / len(measured)
        spread = sum((v - eval_mean) ** 2 for v in measured) / (len(measured) - 1)
        overhead = EvalUncertainty(spread / len(measured), spread)
        seconds += evals_left * eval_mean
        truth += sum(rng.gauss(*evals) for _ in range(evals_left))
    variance = interval.remaining_variance(left, steps, evals_left, overhead)
    low, high = interval.eta_range(seconds, variance)
    return low <= truth <= high


def coverage(seed: int, **kwargs) -> float:
    rng = random.Random(seed)
    return sum(simulated_cut(rng, **kwargs) for _ in range(CUTS)) / CUTS


def test_the_range_holds_the_truth_four_times_in_five_on_a_steady_run_of_known_variance():
    assert 0.75 <= coverage(29, mean=0.100, sd=0.010) <= 0.85


def test_the_range_holds_the_truth_four_times_in_five_with_noisy_evals_too():
    assert 0.75 <= coverage(31, mean=0.100, sd=0.020, evals=(3.0, 1.0)) <= 0.85


def test_the_noise_of_the_iterations_left_averages_out_with_the_square_root_of_their_number():
    steps = StepUncertainty(level_variance=0.0, step_variance=0.01)
    none = EvalUncertainty(0.0, 0.0)
    assert interval.remaining_variance(100, steps, 0, none) == pytest.approx(1.0)
    assert interval.remaining_variance(400, steps, 0, none) == pytest.approx(4.0)  # sd 2×, not 4×


def test_the_level_s_uncertainty_counts_once_for_every_iteration_left():
    steps = StepUncertainty(level_variance=1e-6, step_variance=0.0)
    assert interval.remaining_variance(1000, steps, 0, EvalUncertainty(0.0, 0.0)) == pytest.approx(1.0)


def test_a_drift_grows_with_the_horizon_but_is_carried_only_so_far():
    none = EvalUncertainty(0.0, 0.0)
    steps = StepUncertainty(level_variance=0.0, step_variance=0.0, drift=1e-10, lag=500)
    # the mean step time 100 iterations ahead lies 500 + 50 iterations past where it was measured
    assert interval.remaining_variance(100, steps, 0, none) == pytest.approx(100**2 * 1e-10 * 550**2)
    # far ahead, no further than 4 × 500
    assert interval.remaining_variance(10_000, steps, 0, none) == pytest.approx(10_000**2 * 1e-10 * 2000**2)


def test_evals_add_the_uncertainty_of_their_mean_for_each_and_their_own_noise():
    steps = StepUncertainty(0.0, 0.0)
    assert interval.remaining_variance(0, steps, 10, EvalUncertainty(0.5, 2.0)) == pytest.approx(100 * 0.5 + 10 * 2.0)


def test_the_range_is_log_normal_around_the_estimate():
    low, high = interval.eta_range(100.0, 10.0**2)
    assert low == pytest.approx(100 * math.exp(-interval.Z_80 * 0.1))
    assert high == pytest.approx(100 * math.exp(interval.Z_80 * 0.1))
    assert low * high == pytest.approx(100.0**2)
    assert interval.eta_range(0.0, 4.0) == (0.0, 0.0)


def test_slowdowns_seen_raise_only_the_high_end():
    assert interval.more_slowdowns(0.001, [], 1000) == (0.0, 0.0)
    rate = interval.slowdown_rate(1, 1000, 3000)  # one in 1,000 iterations, with a 3,000-iteration run as prior
    assert rate == pytest.approx(1 / 4000)
    mean, variance = interval.more_slowdowns(rate, [math.log(2)], 2000)
    assert mean == pytest.approx(0.5 * math.log(2) / 2)  # half a slowdown expected, halfway on average
    assert variance == pytest.approx(0.5 * math.log(2) ** 2 / 3)
    low, high = interval.eta_range(100.0, 1.0, (mean, variance))
    assert low == interval.eta_range(100.0, 1.0)[0]
    assert high > 100 * math.exp(mean)


def test_absurd_figures_give_a_finite_range():
    low, high = interval.eta_range(1.0, 1e300, interval.more_slowdowns(1.0, [27.0] * 1000, 10**12))
    assert 0 < low < 1 < high < math.inf
