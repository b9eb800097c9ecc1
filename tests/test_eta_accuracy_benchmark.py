"""The ETA accuracy benchmark's arithmetic, on two small generated logs (the real logs are not needed)."""

import re

import pytest

from benchmarks import eta_accuracy, eta_logs
from benchmarks.eta_accuracy import Estimate, summarize
from exporter.events import Progress

# 100 ms every iteration, a line every 10, no eval after the one before iteration 0
STEADY = eta_logs.Scenario("tiny_steady", "nanogpt", 400, eta_logs.steady(100), 1000, 2.0)
# modded style, no prefixes: the truth is the train_time clock, which leaves validation out
RAMP = eta_logs.Scenario("tiny_ramp", "modded", 300, eta_logs.linear(30, 60), 50, 1.0, log_interval=1,
                         stamped=False, seed=9)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("eta_logs")
    return {s.name: eta_logs.write_log(s, directory) for s in (STEADY, RAMP)}


NINE_CUTS = tuple(round(0.1 * i, 1) for i in range(1, 10))


@pytest.fixture(scope="module")
def steady(logs):
    trace = eta_accuracy.read_trace(logs["tiny_steady"])
    return trace, eta_accuracy.measure(trace, NINE_CUTS)


@pytest.fixture(scope="module")
def ramp(logs):
    trace = eta_accuracy.read_trace(logs["tiny_ramp"])
    return trace, eta_accuracy.measure(trace, NINE_CUTS)


def test_truth_from_unix_time_prefixes(steady):
    trace, cuts = steady
    assert trace.truth.startswith("arrival stamps")
    assert trace.max_iters is None  # the config echo says max_iters = 400
    assert [c.iteration for c in cuts] == [30, 70, 110, 150, 190, 240, 280, 320, 360]
    for c in cuts:
        assert c.true_remaining == pytest.approx((400 - c.iteration) * 0.1, abs=1e-4)


def test_naive_and_tqdm_are_exact_on_a_perfectly_steady_log(steady):
    _, cuts = steady
    for name in ("naive", "tqdm"):
        summary = summarize(cuts, name)
        assert summary.cuts == 9 and summary.missing == 0
        assert summary.p90 == pytest.approx(0.0, abs=1e-6)
        assert summary.coverage is None  # only the exporter gives a range


def test_exporter_estimates_come_with_a_range(steady, ramp):
    for _, cuts in (steady, ramp):
        for name in ("exporter/status", "exporter/serve"):
            summary = summarize(cuts, name)
            assert summary.missing == 0
            assert 0.0 <= summary.coverage <= 1.0
            assert all(c.estimates[name].low <= c.estimates[name].seconds <= c.estimates[name].high for c in cuts)


def test_truth_from_the_trainers_clock(logs, ramp):
    trace, cuts = ramp
    assert trace.truth.startswith("trainer's clock")
    clock = {int(step): int(ms) / 1000 for step, ms in
             re.findall(r"^step:(\d+)/300 train_time:(\d+)ms", logs["tiny_ramp"].read_text(), re.M)}
    for c in cuts:
        assert c.true_remaining == pytest.approx(clock[300] - clock[c.iteration])
    # the ramp makes the naive estimate short at every cut
    assert all(c.estimates["naive"].seconds < c.true_remaining for c in cuts)


def test_tqdm_ema_matches_tqdm_arithmetic():
    points = [(0, 0, 0.0), (1, 10, 1.0), (2, 20, 3.0)]
    # tqdm: EMA(dt) / EMA(dn), bias-corrected: (0.3*2 + 0.21*1) / (0.3*10 + 0.21*10) s per iteration
    assert eta_accuracy.tqdm_ema(points, 2, 10).seconds == pytest.approx(10 * 0.81 / 5.1)
    assert eta_accuracy.naive(points, 2, 10).seconds == pytest.approx(1.5)


def test_clocks_without_prefixes():
    nanogpt = [Progress(0, iteration_seconds=9.0), Progress(10, iteration_seconds=0.1),
               Progress(20, iteration_seconds=2.1), Progress(30, iteration_seconds=0.1)]
    # the eval iteration 20 carries the eval: counted once, the 9 iterations before it at 0.1 s
    assert eta_accuracy.printed_clock(nanogpt, [False, False, True, False]) == pytest.approx([0, 1.0, 4.0, 5.0])
    modded = [Progress(9, elapsed_seconds=17.0), Progress(10, elapsed_seconds=18.0),
              Progress(11, elapsed_seconds=0.1), Progress(12, elapsed_seconds=0.2)]
    assert eta_accuracy.trainer_clock(modded) == pytest.approx([17.0, 18.0, 18.1, 18.2])


def test_a_log_without_any_clock_is_skipped(tmp_path):
    path = tmp_path / "main.log"
    path.write_text("".join(f"s:{i} trl:{3 - i / 100:.4f}\n" for i in range(50)))
    assert eta_accuracy.read_trace(path).startswith("skipped: no clock")


def test_estimate_defaults_have_no_range():
    assert summarize([eta_accuracy.Cut(0.5, 1, 2.0, {"naive": Estimate(1.0)})], "naive").median == 0.5


def test_the_eval_after_the_last_progress_line_is_part_of_the_run(tmp_path):
    """modded-nanogpt validates after its last step's line: with a wall clock, the run ends there."""
    scenario = eta_logs.Scenario("tiny_modded", "modded", 300, eta_logs.steady(30), 100, 2.0, log_interval=1)
    trace = eta_accuracy.read_trace(eta_logs.write_log(scenario, tmp_path))
    assert trace.truth.startswith("arrival stamps")
    for c in eta_accuracy.measure(trace, NINE_CUTS):
        evals = 3 - c.iteration // 100  # at 100, 200 and 300 (after the last progress line)
        assert c.true_remaining == pytest.approx((300 - c.iteration) * 0.03 + evals * 2.0, abs=1e-4)
