"""The health detectors on plain numbers: spikes against a robust rolling baseline (nan/inf too),
alarms only for a spike that does not come back or repeats, a loss rising or stuck above its best,
val loss worse than its best; taking values at once changes nothing."""

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.health import SpikeDetector, TrendDetector, TrendSettings, ValWatch
from exporter.health.report import NOT_RECOVERED, REPEATED, RISING, STUCK


def noisy(n, level=2.0, seed=1):
    rng = random.Random(seed)
    return [level * (1 + rng.gauss(0, 0.02)) for _ in range(n)]


def fed(values, detector=None):
    detector = detector or SpikeDetector()
    for iteration, value in enumerate(values):
        detector.add(iteration, value)
    return detector


def alarms(detector):
    return dict(detector.report().alarms)


def test_steady_noise_has_no_spike_and_a_baseline_at_its_level():
    report = fed(noisy(2000)).report()
    assert report.spikes == 0 and abs(report.baseline - 2.0) < 0.02


def test_a_spike_that_recovers_is_counted_without_an_alarm():
    values = noisy(1000)
    values[600:603] = [6.0, 6.1, 5.9]
    report = fed(values).report()
    assert report.spikes == 1 and report.alarm_count == 0 and not report.ongoing
    assert report.last.iteration == 600 and report.last.value == 6.1 and 2.9 < report.last.ratio < 3.2


def test_a_spike_still_there_ten_iterations_later_raises_one_alarm():
    values = noisy(1000)
    values[600:620] = [6.0] * 20
    detector = SpikeDetector()
    fed(values[:610], detector)
    assert alarms(detector)[NOT_RECOVERED] == 0  # iteration 609: 9 after the start
    detector.add(610, 6.0)
    assert alarms(detector)[NOT_RECOVERED] == 1
    for iteration in range(611, 1000):
        detector.add(iteration, values[iteration])
    assert alarms(detector) == {NOT_RECOVERED: 1, REPEATED: 0}


def test_the_third_spike_within_200_values_is_an_alarm_the_second_is_not():
    values = noisy(1000)
    for start in (500, 560):
        values[start] = 6.0
    assert fed(values).report().alarm_count == 0
    values[650] = 6.0
    assert alarms(fed(values)) == {NOT_RECOVERED: 0, REPEATED: 1}
    spread = noisy(1000)
    for start in (300, 550, 800):  # 250 values apart: not a repeat
        spread[start] = 6.0
    assert fed(spread).report().alarm_count == 0


def test_nan_and_inf_are_spikes_even_in_the_warm_up():
    report = fed([4.0, 3.9, math.nan, 3.8]).report()
    assert report.spikes == 1 and report.last.value is None and report.last.ratio == math.inf
    assert fed([4.0, math.inf]).report().spikes == 1


def test_a_loss_that_falls_fast_in_the_warm_up_is_no_spike():
    report = fed([10.0 * math.exp(-i / 30) + 1.5 for i in range(500)]).report()
    assert report.spikes == 0


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=1500), max_size=6),
       spikes=st.lists(st.integers(min_value=0, max_value=1499), max_size=8))
def test_values_taken_at_once_or_one_by_one_give_the_same_report(cuts, spikes):
    values = noisy(1500)
    for at in spikes:
        values[at] *= 4
    one_by_one = fed(values)
    at_once = SpikeDetector()
    edges = sorted({0, *cuts, len(values)})
    for start, end in zip(edges, edges[1:]):
        at_once.extend(list(range(start, end)), values[start:end])
    assert at_once.report() == one_by_one.report()
    assert at_once.points == one_by_one.points


def trend(levels, settings=TrendSettings()):
    detector = TrendDetector("train", settings)
    for index, level in enumerate(levels):
        detector.add(index * 100, level)
    return detector.report()


def test_a_falling_loss_is_not_diverging_and_a_rising_one_is():
    assert trend([5.0 - 0.1 * i for i in range(20)]).reason is None
    rising = trend([3.0] * 12 + [3.0 * (1 + 0.05 * i) for i in range(1, 7)])
    assert rising.reason == RISING and rising.window_iterations == 500 and rising.slope_per_iteration > 0
    assert rising.rise_ratio > 0.1


def test_a_loss_stuck_far_above_its_best_is_diverging_a_plateau_at_its_best_is_not():
    assert trend([3.0] * 12 + [4.0] * 8).reason == STUCK
    assert trend([3.0] * 30).reason is None


def test_no_verdict_in_the_warm_up():
    assert trend([3.0, 3.1, 3.5, 4.0, 4.5, 5.0, 6.0]) is None


def test_val_worse_than_its_best_counts_evals_in_a_row():
    watch = ValWatch()
    for val in (3.0, 2.5, 2.6, 2.7, 2.8):
        watch.add(val)
    assert watch.worse_in_a_row == 3
    watch.add(2.501)  # within its noise: no longer counted as worse
    assert watch.worse_in_a_row == 0
    watch.add(math.nan)
    assert watch.best == 2.5
