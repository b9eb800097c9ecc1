"""Figures no run can have: an MFU of 10^9 % is left out (the line's iteration and loss are kept),
and a step time of 0.0 ms is an unmeasured step, never an ETA of 0 with most of the run to go."""

import pytest

from exporter.run import RunModel

PREAMBLE = ["Overriding config with config/x.py:", "max_iters = 10000", "log_interval = 10", ""]


def _snapshot(lines, arrivals=None):
    model = RunModel("r", "train.log")
    model.log_present = True
    if arrivals is None:
        model.feed_lines(lines, None)
        model.mark_activity(1_000.0)
        return model.snapshot(1_001.0)
    for line, arrived in zip(lines, arrivals):
        model.feed_lines([line], arrived)
    return model.snapshot(arrivals[-1])


@pytest.mark.parametrize("lines", [
    [f"iter {i}: loss 3.0, time 100.0ms, mfu 1000000000.00%" for i in range(0, 3001, 10)],  # in bulk
    ["iter 3000: loss 3.0, time 100.0ms, mfu 1000000000.00%"],  # one line
], ids=["bulk", "single"])
def test_an_mfu_of_a_billion_percent_is_left_out_and_the_line_kept(lines):
    snapshot = _snapshot(PREAMBLE + lines)
    assert snapshot.mfu_ratio is None
    assert snapshot.iteration == 3000 and snapshot.loss == 3.0


def test_an_mfu_above_100_percent_from_a_trainer_assuming_a_slower_gpu_is_kept():
    lines = [f"iter {i}: loss 3.0, time 100.0ms, mfu 150.00%" for i in range(0, 3001, 10)]
    assert _snapshot(PREAMBLE + lines).mfu_ratio == pytest.approx(1.5)


def test_a_zero_step_time_gives_no_eta_of_zero_at_30_percent():
    lines = [f"iter {i}: loss 3.0, time 0.0ms, mfu 10.00%" for i in range(0, 3001, 10)]
    snapshot = _snapshot(PREAMBLE + lines)
    assert snapshot.progress_ratio == pytest.approx(0.3)
    assert snapshot.eta_seconds is None or snapshot.eta_seconds > 0
    assert snapshot.iteration_seconds is None or snapshot.iteration_seconds > 0


def test_a_zero_step_time_followed_live_is_timed_by_the_lines_arrival():
    lines = [f"iter {i}: loss 3.0, time 0.0ms, mfu 10.00%" for i in range(0, 3001, 10)]
    snapshot = _snapshot(PREAMBLE + lines, [float(n) for n in range(len(PREAMBLE) + len(lines))])
    assert snapshot.iteration_seconds == pytest.approx(0.1)  # a line a second, 10 iterations a line
    assert snapshot.eta_seconds == pytest.approx(700, rel=0.05)
