"""llm.c lines (train_gpt2.cu / .c / .py stdout of every generation, and main.log), as printed."""

import math

import pytest

from exporter.events import Checkpoint, Eval, Progress, RunEnd
from exporter.formats import llmc


def test_current_step_line():
    line = "step  120/18865 | loss 5.123456 (+0.12z)| norm 0.5123 (-0.50z)| lr 1.44e-04 | 345.67 ms | 48.3% bf16 MFU | 1516730 tok/s"
    assert llmc.parse(line) == Progress(
        iteration=120, loss=5.123456, max_iterations=18865, iteration_seconds=pytest.approx(0.34567),
        tokens_per_second=1516730.0, mfu_ratio=pytest.approx(0.483), grad_norm=pytest.approx(0.5123),
    )


def test_a_gradient_norm_that_blew_up_is_kept_and_a_negative_one_dropped():
    line = "step  121/18865 | loss nan (+nanz)| norm {} (+nanz)| lr 1.44e-04 | 345.67 ms | 48.3% bf16 MFU | 1516730 tok/s"
    assert math.isnan(llmc.parse(line.format("nan")).grad_norm)
    assert llmc.parse(line.format("inf")).grad_norm == math.inf
    assert llmc.parse(line.format("-1.0")).grad_norm is None
    assert math.isnan(llmc.parse("s:5 trl:7.0 lr:0.0006 norm:nan").grad_norm)


def test_first_step_with_nan_zscore_and_unknown_gpu_mfu():
    event = llmc.parse("step    1/74 | loss 11.010044 (+nanz)| norm 15.4337 (+nanz)| lr 8.57e-06 | 2564.78 ms | -100.0% bf16 MFU | 204415 tok/s")
    assert event.iteration == 1 and event.loss == pytest.approx(11.010044)
    assert event.mfu_ratio is None


def test_june_2024_zscore_variant():
    event = llmc.parse("step   10/5000 | loss 9.876543 (z +0.31)| norm 2.3456 (z -0.12)| lr 6.00e-05 | 98.76 ms | 39.9% bf16 MFU | 5308600 tok/s")
    assert (event.iteration, event.max_iterations, event.loss) == (10, 5000, pytest.approx(9.876543))


def test_may_2024_train_loss_variant():
    event = llmc.parse("step  100/5000 | train loss 4.5123 | norm 1.2000 | lr 6.00e-04 | 120.00 ms | 40.1% A100 fp16 MFU | 4369066 tok/s")
    assert event == Progress(iteration=100, loss=4.5123, max_iterations=5000, iteration_seconds=pytest.approx(0.12),
                             tokens_per_second=4369066.0, mfu_ratio=pytest.approx(0.401), grad_norm=pytest.approx(1.2))


def test_python_reference_step_line():
    event = llmc.parse("step    7/5100 | train loss 9.012345 | norm 3.4567 | lr 4.20e-05 | (234.56 ms | 2235294 tok/s)")
    assert event == Progress(iteration=7, loss=9.012345, max_iterations=5100, iteration_seconds=pytest.approx(0.23456),
                             tokens_per_second=2235294.0, grad_norm=pytest.approx(3.4567))


def test_april_2024_and_cpu_line_prints_the_zero_based_step():
    event = llmc.parse("step 3: train loss 5.270009 (took 1423.59 ms)")
    assert event == Progress(iteration=4, loss=5.270009, iteration_seconds=pytest.approx(1.42359))


def test_short_variant_with_total_and_tokens():
    event = llmc.parse("step   12/74: train loss 4.512345 (123.456000 ms, 33177 tok/s)")
    assert event == Progress(iteration=12, loss=4.512345, max_iterations=74, iteration_seconds=pytest.approx(0.123456),
                             tokens_per_second=33177.0)


def test_nan_loss_is_kept():
    assert math.isnan(llmc.parse("step  500/5000 | loss -nan (+nanz)| norm nan (+nanz)| lr 6.00e-04 | 98.76 ms | 39.9% bf16 MFU | 5308600 tok/s").loss)


def test_val_checkpoint_and_end():
    assert llmc.parse("val loss 3.412345") == Eval({"val": 3.412345})
    assert llmc.parse("Writing checkpoint at step 5000") == Checkpoint(iteration=5000)
    assert llmc.parse("total average iteration time: 98.123456 ms") == RunEnd()


def test_main_log_train_and_val_count_steps_completed():
    # s:N trl is logged for the 0-based step N (N + 1 steps done); s:N tel runs before step N
    assert llmc.parse("s:0 trl:10.9656 lr:0.000006 norm:15.43") == Progress(iteration=1, loss=10.9656, grad_norm=15.43)
    assert llmc.parse("s:41 trl:7.012345") == Progress(iteration=42, loss=7.012345)
    assert llmc.parse("s:250 tel:4.1234") == Eval({"val": 4.1234}, iteration=250)


@pytest.mark.parametrize("line", [
    "s:250 eval:0.2934",  # HellaSwag accuracy: no loss event
    "HellaSwag: 2945/10042 = 0.293268",
    "evaluating HellaSwag: 120/1256",
    "generating:",
    "skipping update due to loss z-score of 5.120000",
    "Deleting checkpoint at step 1000",
    "step 0: train loss 4.2367, val loss 4.2475",  # nanoGPT's eval line
    "step 00042/21400 (0.20%) | loss: 6.123456 | dt: 512.34ms",  # nanochat
])
def test_other_lines_are_not_progress(line):
    # None exactly: not a Progress, and not an Eval, Checkpoint or RunEnd either
    assert llmc.parse(line) is None
