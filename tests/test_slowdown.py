"""Slowdown with its cause: the step time against the segment's own baseline (pure), the cause
from the GPUs (pure), and generated runs with the event injected at a known iteration played live
through the model, a stand-in NVML, the serve loop's evidence and the alert engine: the right
cause, the alert within the stated bound, the Slack text; none for the trainer's own schedule."""

import pytest

from exporter.alerts.operations import Operations, operations_alerts
from exporter.health import slowdown_cause as sc
from exporter.health.slowdown import (BASELINE_SECONDS, SETTLE_SECONDS, SLOW_SECONDS, SegmentSlowdown,
                                      SlowdownView, eta_cost_seconds)
from exporter.notify.messages import text, title
from exporter.run import RunSnapshot
from health_scenarios import Scenario, schedule, second_process, thermal, utilisation_falls

BOUND_LINES = 3  # the median of 5 samples turns after 3 slow ones


def fed(steps, every=10):
    """A detector fed one sample per ``every`` iterations, ``steps(i)`` seconds each."""
    detector = SegmentSlowdown()
    for iteration in range(0, 20_000, every):
        detector.add(iteration, steps(iteration))
    return detector


def test_the_baseline_is_taken_after_the_warm_up_stretch_and_stays():
    detector = fed(lambda i: 0.9 if i < 100 else 0.4)  # 90 s of slow warm-up iterations first
    assert detector.baseline == 0.4
    assert detector.view() == SlowdownView(0.4)


def test_no_baseline_before_settle_and_baseline_seconds_of_training():
    detector = SegmentSlowdown()
    seconds = 0.0
    for iteration in range(0, 10_000, 10):
        detector.add(iteration, 0.1)
        seconds += 1.0
        if detector.baseline is not None:
            break
    assert seconds >= SETTLE_SECONDS + BASELINE_SECONDS


def test_a_step_time_40_percent_up_is_slow_from_the_third_slow_line_with_its_duration_in_training_time():
    detector = fed(lambda i: 0.4 if i < 2000 else 0.56)
    view = detector.view()
    assert view.slow_since_iteration == 2000 + 10 * (BOUND_LINES - 1)
    assert view.ratio == pytest.approx(1.4)
    assert view.slow_for_seconds == pytest.approx((19_990 - view.slow_since_iteration) * 0.56)


def test_stray_slow_steps_and_a_10_percent_drift_are_not_slow():
    assert fed(lambda i: 2.0 if i % 100 == 0 else 0.4).view().slow_for_seconds == 0
    assert fed(lambda i: 0.44 if i > 3000 else 0.4).view().slow_for_seconds == 0


def test_slow_ends_when_the_step_time_is_back_within_10_percent():
    detector = fed(lambda i: 0.56 if 2000 <= i < 4000 else 0.43)
    assert detector.view() == SlowdownView(detector.baseline)


def test_bulk_samples_give_the_same_state_as_one_by_one():
    steps = [0.4] * 600 + [0.56] * 300 + [0.4] * 300
    one, bulk = SegmentSlowdown(), SegmentSlowdown()
    iterations = list(range(0, 12_000, 10))
    for i, s in zip(iterations, steps):
        one.add(i, s)
    for start in range(0, len(steps), 97):
        bulk.add_all(iterations[start:start + 97], steps[start:start + 97])
        assert bulk.view() == one.view() if start + 97 >= len(steps) else True
    assert bulk.view() == one.view() and bulk.baseline == one.baseline


def test_the_eta_cost_is_the_iterations_left_at_the_difference():
    view = SlowdownView(0.4, 0.56, 400.0, 1000)
    assert eta_cost_seconds(view, 10_000) == pytest.approx(1600.0)
    assert eta_cost_seconds(SlowdownView(0.4), 10_000) is None


def _samples(count, reasons=("sw_power_cap",), utilization=0.97, pids=(1,)):
    return [sc.GpuSample(float(t), frozenset(reasons), utilization, frozenset(pids)) for t in range(count)]


@pytest.mark.parametrize("slow, cause", [
    (_samples(20, ("sw_power_cap", "sw_thermal_slowdown")), sc.THERMAL),
    (_samples(20, ("sw_power_cap", "hw_slowdown")), sc.HW_SLOWDOWN),
    (_samples(20, pids=(1, 7)), sc.OTHER_PROCESS),
    (_samples(20, utilization=0.7), sc.LOW_UTILIZATION),
    (_samples(20), sc.WORKLOAD),
    (_samples(20, utilization=None), sc.UNKNOWN),
    ([], sc.UNKNOWN),
])
def test_the_cause_is_what_changed_since_the_healthy_stretch(slow, cause):
    assert sc.cause(_samples(40), slow) == cause


def test_the_usual_power_cap_is_no_cause_but_a_new_one_is():
    assert sc.cause(_samples(40), _samples(20)) == sc.WORKLOAD
    assert sc.cause(_samples(40, reasons=()), _samples(20)) == sc.POWER_CAP


def test_without_a_healthy_stretch_only_what_needs_no_comparison_counts():
    assert sc.cause([], _samples(20, ("sw_thermal_slowdown",))) == sc.THERMAL
    assert sc.cause([], _samples(20)) == sc.WORKLOAD  # a power cap alone is normal under load
    assert sc.cause([], _samples(20, utilization=0.4)) == sc.LOW_UTILIZATION


# ---- generated runs: 400 ms per step, +40 % from iteration 1000, one line per 10 iterations ---------

@pytest.fixture(scope="module", params=[(thermal, "thermal"), (second_process, "other_process"),
                                        (utilisation_falls, "low_utilization")], ids=lambda p: p[1])
def played(request):
    change, cause = request.param
    return Scenario(change=change).play(), cause


def test_each_injected_slowdown_fires_once_with_its_cause_within_the_bound(played):
    scenario, cause = played
    (fired,) = scenario.fired()
    assert fired.alert.labels == (("cause", cause),) and fired.alert.severity == "warning"
    # 5 min of training at the slow pace after the third slow line (the eval at 1000 gives none),
    # found at the next tick of the serve loop
    slow_step = scenario.base * scenario.factor
    bound = scenario.slow_from + 10 * (BOUND_LINES + 1) + (SLOW_SECONDS + scenario.tick_seconds) / slow_step
    assert scenario.slow_from + SLOW_SECONDS / slow_step < scenario.first_fired_iteration() <= bound


def test_the_slack_message_names_the_cause_and_the_cost_in_eta(played):
    scenario, cause = played
    (fired,) = scenario.fired()
    message = text(fired, "http://page")
    assert title(fired) == "WARNING: TrainingSlowdown · run gpt2"
    assert f"*Run gpt2 is 40 % slower than its baseline: {sc.WHY[cause]}*" in message
    assert (f"Step time +40 % over this run's baseline (400 ms → 560 ms) for 5 min since iteration 1030: "
            f"{sc.WHY[cause]}; +9 min to the finish. Check first: ") in message


def test_the_exposition_carries_the_baseline_the_slow_level_its_duration_cost_and_cause(played):
    scenario, cause = played
    _, _, families = scenario.ticks[-1]
    samples = {s.name + str(sorted(s.labels.items())): s.value for f in families for s in f.samples}
    assert samples["training_iteration_baseline_seconds[('run', 'gpt2')]"] == pytest.approx(0.4)
    assert samples["training_iteration_slow_seconds[('run', 'gpt2')]"] == pytest.approx(0.56)
    assert samples["training_slowdown_duration_seconds[('run', 'gpt2')]"] >= SLOW_SECONDS
    assert samples[f"training_slowdown_cause[('cause', '{cause}'), ('run', 'gpt2')]"] == 1
    assert samples["training_slowdown_eta_cost_seconds[('run', 'gpt2')]"] > 0


def test_the_trainers_own_heavier_steps_on_a_busy_gpu_raise_no_alert_but_show_on_the_page():
    scenario = Scenario(change=schedule).play()
    assert scenario.fired() == []
    _, _, families = scenario.ticks[-1]
    causes = [s.labels["cause"] for f in families if f.name == "training_slowdown_cause" for s in f.samples]
    assert causes == [sc.WORKLOAD]


def test_a_healthy_run_has_a_baseline_and_nothing_else():
    scenario = Scenario(factor=1.0).play()
    assert scenario.heard.notifications == []
    _, _, families = scenario.ticks[-1]
    names = {f.name for f in families}
    assert "training_iteration_baseline_seconds" in names and "training_slowdown_cause" not in names


def _slow(seconds, state="running"):
    return RunSnapshot(run="gpt2", format="nanogpt", log_path="train.log", state=state, iteration=2000,
                       max_iterations=5000, slowdown=SlowdownView(0.4, 0.56, seconds, 1000))


def test_without_gpu_readings_the_slowdown_is_an_info_note_sent_once():
    (alert,) = operations_alerts(_slow(301.0), Operations(sc.UNKNOWN), None)
    assert (alert.severity, alert.once) == ("info", True)
    assert "no GPU reading shows why; +8 min to the finish" in alert.description


def test_no_slowdown_alert_before_5_minutes_while_stalled_or_once_the_run_ended():
    assert operations_alerts(_slow(299.0), Operations(sc.THERMAL), None) == []
    assert operations_alerts(_slow(400.0, "finished"), Operations(sc.THERMAL), None) == []
    assert operations_alerts(_slow(400.0, "stalled"), Operations(sc.THERMAL), None) == []
