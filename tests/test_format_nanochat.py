"""nanochat base_train.py lines, current and October 2025 layouts."""

import pytest

from exporter.events import Eval, Progress, RunEnd, RunStart
from exporter.formats import nanochat


def test_current_step_line_counts_steps_completed():
    line = ("step 00042/21400 (0.20%) | loss: 6.123456 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,023,456 | "
            "bf16_mfu: 45.12 | epoch: 0 pq: 3 rg: 12 | total time: 2.56m | eta: 180.3m")
    assert nanochat.parse(line) == Progress(
        iteration=43, loss=6.123456, max_iterations=21400, iteration_seconds=pytest.approx(0.51234),
        tokens_per_second=1023456.0, mfu_ratio=pytest.approx(0.4512),
    )


def test_october_2025_line_without_epoch_and_eta():
    line = "step 00005/05000 (0.10%) | loss: 9.876543 | lrm: 1.00 | dt: 498.10ms | tok/sec: 1,052,584 | mfu: 44.80 | total time: 0.00m"
    assert nanochat.parse(line) == Progress(
        iteration=6, loss=9.876543, max_iterations=5000, iteration_seconds=pytest.approx(0.4981),
        tokens_per_second=1052584.0, mfu_ratio=pytest.approx(0.448),
    )


def test_validation_bpb_before_step_n():
    assert nanochat.parse("Step 00250 | Validation bpb: 0.912345") == Eval({"val": 0.912345}, iteration=250)
    assert nanochat.parse("Step 00250 | Validation bpb: 0.9123") == Eval({"val": 0.9123}, iteration=250)


def test_end_and_resume():
    assert nanochat.parse("Total training time: 123.45m") == RunEnd()
    assert nanochat.parse("Resuming optimization from step 2000") == RunStart(resumed=True)


@pytest.mark.parametrize("line", [
    "Step 00500 | CORE metric: 0.1234",
    "step 00042/21400 (0.20%) | lrm: 1.00",  # no loss or dt
    "step  120/18865 | loss 5.123456 (+0.12z)| norm 0.5123 (-0.50z)| lr 1.44e-04 | 345.67 ms | 48.3% bf16 MFU | 1516730 tok/s",
    "Peak memory usage: 75123.45MiB",
])
def test_other_lines_are_not_progress(line):
    # None exactly: not a Progress, and not an Eval, RunStart or RunEnd either
    assert nanochat.parse(line) is None
