"""modded-nanogpt log lines (2024 and 2025 records), including the source dump at the top of the file."""

import pytest

from exporter.events import Eval, Progress, RunEnd
from exporter.formats import FormatReader, modded


def test_train_line_reports_the_training_clock_as_printed():
    assert modded.parse("step:370/1393 train_time:45678ms step_avg:123.45ms") == Progress(
        iteration=370, max_iterations=1393, elapsed_seconds=pytest.approx(45.678)
    )


def test_val_line_is_an_eval_at_its_step():
    assert modded.parse("step:125/1393 val_loss:4.4043 train_time:14281ms step_avg:124.19ms") == Eval({"val": 4.4043}, iteration=125)
    assert modded.parse("step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms") == Eval({"val": 10.8258}, iteration=0)


def test_nan_step_avg_in_the_first_steps():
    assert modded.parse("step:3/1393 train_time:18019ms step_avg:nanms") == Progress(
        iteration=3, max_iterations=1393, elapsed_seconds=pytest.approx(18.019)
    )


def test_timer_reset_after_warmup_is_reported_as_printed():
    before = modded.parse("step:10/3200 train_loss:5.4321 train_time:18872ms step_avg:nanms")
    after = modded.parse("step:11/3200 train_loss:5.4012 train_time:124ms step_avg:nanms")
    assert (before.elapsed_seconds, after.elapsed_seconds) == (pytest.approx(18.872), pytest.approx(0.124))


def test_october_2024_variant_with_train_loss():
    assert modded.parse("step:500/3200 train_loss:3.8765 train_time:104321ms step_avg:213.33ms") == Progress(
        iteration=500, loss=3.8765, max_iterations=3200, elapsed_seconds=pytest.approx(104.321)
    )


def test_seconds_variant():
    assert modded.parse("step:40/1750 train_time:5.098s step_avg:0.13s") == Progress(
        iteration=40, max_iterations=1750, elapsed_seconds=pytest.approx(5.098)
    )


def test_june_2024_llmc_derived_line():
    event = modded.parse("step  250/9536 | train loss 5.123456 | norm 0.8765 | lr 1.80e-03 | (98.76 ms | 5308600 tok/s)")
    assert event == Progress(iteration=250, loss=5.123456, max_iterations=9536, iteration_seconds=pytest.approx(0.09876),
                             tokens_per_second=5308600.0, grad_norm=pytest.approx(0.8765))


def test_end_of_run_memory_line():
    assert modded.parse("peak memory allocated: 37653 MiB reserved: 39236 MiB") == RunEnd()


SOURCE_DUMP = [
    "import os",
    "    val_loss_every = 125 # every how many steps to evaluate val loss? 0 for only at the end",
    '        print0(f"step:{step}/{train_steps} val_loss:{val_loss:.4f} train_time:{training_time_ms:.0f}ms step_avg:{training_time_ms/(timed_steps-1):.2f}ms", console=True)',
    '    print0(f"step:{step+1}/{train_steps} train_time:{approx_time:.0f}ms step_avg:{approx_time/timed_steps:.2f}ms", console=True)',
    'print0(f"step:{step+1}/{args.num_iterations} train_loss:{train_loss.item():.4f} train_time:{approx_time:.0f}ms")',
    "step:{step}/{train_steps} train_time:{training_time_ms:.0f}ms",
    "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |",
    "=" * 100,
]


@pytest.mark.parametrize("line", SOURCE_DUMP)
def test_source_dump_lines_are_not_progress(line):
    # None exactly: not a Progress, and not an Eval or RunEnd either
    assert modded.parse(line) is None


def test_detection_skips_the_source_dump_and_replays_it():
    reader = FormatReader()
    events = [event for line in [*SOURCE_DUMP, "step:0/1393 val_loss:10.8258 train_time:0ms step_avg:nanms",
                                 "step:1/1393 train_time:17608ms step_avg:nanms"] for event in reader.feed(line)]
    assert reader.name == "modded"
    assert [e for e in events if e is not None] == [
        Eval({"val": 10.8258}, iteration=0),
        Progress(iteration=1, max_iterations=1393, elapsed_seconds=pytest.approx(17.608)),
    ]
