"""The run model on nanoGPT logs: ETA, eval overhead, warm-up, resume, crash, finish, stall."""

import pytest

from exporter.commands.config import Config
from exporter.run import RunModel, StallTimeouts, TrainerSettings
from exporter.commands.serve import open_run
from exporter.units import duration
from nanogpt_fixture import preamble, progress_lines


def model_from(lines, config=Config(), arrived=None, modified=1_000.0):
    model = open_run(config.replace(run="test", log="train.log"))
    model.log_present = True
    for line in lines:
        model.feed_line(line, arrived)
    model.mark_activity(modified)
    return model


def test_scenario_two_eta_counts_regular_iterations_and_evals():
    s = model_from(preamble() + progress_lines(0, 1300)).snapshot(1_001.0)
    assert s.iteration == 1300 and s.max_iterations == 20000
    assert s.progress_ratio == pytest.approx(0.065)
    assert s.iteration_seconds == pytest.approx(0.170, rel=0.02)
    assert s.eval_overhead_seconds == pytest.approx(5.8, rel=0.03)
    assert not s.eval_overhead_provisional
    assert s.evals_left == 38
    assert s.eta_seconds == pytest.approx(3400, rel=0.05)
    assert s.eta_low_seconds < s.eta_seconds < s.eta_high_seconds
    assert s.expected_end_timestamp == pytest.approx(1_000.0 + s.eta_seconds)
    assert s.tokens_per_iteration == 32768 and s.tokens_processed == 1300 * 32768
    assert s.tokens_planned == 20000 * 32768


def test_naive_average_would_be_wrong_but_the_estimate_is_not():
    """The mean of printed times includes warm-up and evals; the typical time must not."""
    lines = progress_lines(0, 1300)
    times = [float(l.split("time ")[1].split("ms")[0]) for l in lines if l.startswith("iter")]
    naive = sum(times) / len(times) / 1000
    s = model_from(preamble() + lines).snapshot(1_001.0)
    assert naive > 0.3  # thrown off by compile and eval pauses
    assert s.iteration_seconds == pytest.approx(0.170, rel=0.02)


def test_eval_cost_is_provisional_until_an_eval_after_warmup_is_seen():
    s = model_from(preamble() + progress_lines(0, 400)).snapshot(1_001.0)
    assert s.eval_overhead_provisional
    # 2 splits x 200 eval batches x one forward (1/3 of a micro-step of 170 ms / 4)
    assert s.eval_overhead_seconds == pytest.approx(2 * 200 * 0.170 / 4 / 3, rel=0.03)
    assert s.eta_seconds == pytest.approx(19600 * 0.170 + 39 * s.eval_overhead_seconds, rel=0.02)


def test_resume_counts_a_restart_keeps_history_and_skips_warmup():
    lines = preamble() + progress_lines(0, 1200) + ["Resuming training from out-small"]
    lines += progress_lines(1000, 1300, seed=2, warmup_ms=40_000)
    s = model_from(lines).snapshot(1_001.0)
    assert s.restarts == 1
    assert s.iteration == 1300
    assert s.best_val_loss is not None and s.evals == 3 + 1  # 0, 500, 1000 and 1000 again
    assert s.iteration_seconds == pytest.approx(0.170, rel=0.02)
    assert s.eval_overhead_seconds == pytest.approx(5.8, rel=0.03)  # the 40 s warm-up eval is left out


def test_iterations_going_back_without_a_resume_line_is_a_restart():
    s = model_from(preamble() + progress_lines(0, 300) + progress_lines(100, 200, seed=3)).snapshot(1_001.0)
    assert s.restarts == 1 and s.iteration == 200


def test_traceback_and_oom_crash_the_run_until_progress_resumes():
    lines = preamble() + progress_lines(0, 300) + [
        "Traceback (most recent call last):",
        '  File "train.py", line 300, in <module>',
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
    ]
    model = model_from(lines)
    s = model.snapshot(1_001.0)
    assert s.state == "crashed" and s.reason == lines[-1]
    assert s.errors == {"oom": 1, "traceback": 1}
    model.feed_line("Resuming training from out-small", 1_010.0)
    model.feed_line("iter 300: loss 4.0000, time 170.00ms, mfu 30.00%", 1_011.0)
    assert model.snapshot(1_012.0).state == "running"


def test_nonfinite_loss_is_counted_and_crashes_the_run():
    lines = preamble() + progress_lines(0, 100) + ["iter 110: loss nan, time 170.00ms, mfu 30.00%"]
    s = model_from(lines).snapshot(1_001.0)
    assert s.state == "crashed" and s.nonfinite_losses == 1 and s.reason == "NaN/inf loss at iteration 110"
    assert s.loss is not None and s.loss == s.loss  # the last finite loss is kept


def test_finished_run_has_no_time_left():
    config_text = "eval_interval = 100\neval_iters = 10\nlog_interval = 10\nmax_iters = 300\n"
    lines = preamble(config_text) + progress_lines(0, 300, eval_interval=100)
    s = model_from(lines).snapshot(1_001.0)
    assert s.state == "finished" and s.eta_seconds == 0 and s.progress_ratio == 1.0


def test_user_overrides_win_over_the_log():
    s = model_from(preamble() + progress_lines(0, 100), Config(max_iters=5000)).snapshot(1_001.0)
    assert s.max_iterations == 5000
    model = RunModel("t", "train.log", settings=TrainerSettings(flag_values={"eval_interval": 250}))
    model.log_present = True
    for line in preamble() + progress_lines(0, 100):
        model.feed_line(line, None)
    assert model.snapshot(0.0).eval_interval == 250


def test_backfill_uses_the_file_time_so_a_restart_is_neither_progress_nor_a_stall():
    model = model_from(preamble() + progress_lines(0, 1300), modified=5_000.0)
    s = model.snapshot(5_030.0)
    assert s.last_progress_timestamp == 5_000.0 and s.state == "running"
    assert model.snapshot(5_000.0 + s.progress_timeout_seconds + 1).state == "stalled"


def test_stall_timeout_covers_an_eval_that_is_due():
    model = RunModel("t", "train.log", timeouts=StallTimeouts(min_progress_seconds=1))
    model.log_present = True
    clock = 0.0
    for line in preamble() + progress_lines(0, 1290):
        if line.startswith("iter"):
            clock += 1.7  # ten iterations of 170 ms between lines
        model.feed_line(line, clock)
    s = model.snapshot(clock)
    # iter 1290 -> the next line is iter 1300 with no eval: a few 1.7 s gaps
    assert 1.7 * 2 < s.progress_timeout_seconds < 10
    for line in progress_lines(1300, 1490, seed=5):
        if line.startswith("iter"):
            clock += 1.7
        model.feed_line(line, clock)
    due = model.snapshot(clock)
    # iter 1490 -> the line for 1500 carries a ~5.8 s eval: its timeout leaves room for it
    assert due.progress_timeout_seconds > 1.7 + 2 * 5.8
    assert model.snapshot(clock + 1.7 + 5.8).state == "running"
    assert model.snapshot(clock + due.progress_timeout_seconds + 1).state == "stalled"


def test_states_waiting_and_starting():
    model = RunModel("t", "train.log")
    assert model.snapshot(0.0).state == "waiting"
    model.log_present = True
    model.mark_activity(100.0)
    model.feed_line("compiling the model... (takes a ~minute)", 100.0)
    assert model.snapshot(200.0).state == "starting"
    assert model.snapshot(100.0 + StallTimeouts().startup_seconds + 1).state == "stalled"


def test_lines_read_and_not_understood_are_counted():
    model = model_from(["iter 0: loss 1.0, time 1.00ms", "garbage", "\x00\x00"])
    model.count_not_understood(1)
    s = model.snapshot(0.0)
    assert s.lines_read == 4 and s.lines_not_understood == 3


def test_a_loss_without_its_iteration_updates_the_loss_only():
    bar = " 10%|#         | 100/1000 [00:50<07:30,  2.00it/s]"
    model = model_from([bar, "{'loss': 3.5, 'epoch': 0.1}", "{'loss': inf, 'epoch': 0.2}"], Config(format="hf"))
    s = model.snapshot(1_001.0)
    assert s.loss == 3.5 and s.iteration == 100 and s.nonfinite_losses == 1 and s.state == "crashed"


def test_eval_at_an_unprinted_iteration_is_not_read_from_the_next_line():
    """log_interval 7 does not divide eval_interval 500: the iteration after an eval is regular."""
    config_text = "eval_interval = 500\neval_iters = 200\nlog_interval = 7\nmax_iters = 20000\n" \
                  "batch_size = 16\nblock_size = 512\ngradient_accumulation_steps = 4\n"
    lines = preamble(config_text) + [
        line for line in progress_lines(0, 1300, log_interval=1) if not line.startswith("iter") or
        int(line.split()[1].rstrip(":")) % 7 == 0
    ]
    s = model_from(lines).snapshot(1_001.0)
    # the eval's cost cannot be seen in a backfill: it stays a provisional estimate, never 0
    assert s.eval_overhead_provisional
    assert s.eval_overhead_seconds == pytest.approx(2 * 200 * 0.170 / 4 / 3, rel=0.03)
    assert s.iteration_seconds == pytest.approx(0.170, rel=0.02)


def test_eval_at_an_unprinted_iteration_is_measured_from_arrival_times_when_live():
    config_text = "eval_interval = 500\neval_iters = 200\nlog_interval = 7\nmax_iters = 20000\n"
    model = RunModel("t", "train.log")
    model.log_present = True
    clock = 0.0
    previous = 0
    for line in preamble(config_text) + progress_lines(0, 1300, log_interval=1):
        if line.startswith("iter"):
            iteration = int(line.split()[1].rstrip(":"))
            if iteration % 7:
                continue
            clock += 0.170 * (iteration - previous) + (5.8 if previous < 500 <= iteration or
                                                       previous < 1000 <= iteration else 0.0)
            previous = iteration
        model.feed_line(line, clock)
    s = model.snapshot(clock)
    assert not s.eval_overhead_provisional
    assert s.eval_overhead_seconds == pytest.approx(5.8, rel=0.05)


def test_evals_seen_in_the_log_win_over_the_trainers_default_interval():
    # no config in the log: nanoGPT's default eval_interval (2000) would be wrong
    lines = [line for line in progress_lines(0, 450, eval_interval=100)]
    s = model_from(lines).snapshot(1_001.0)
    assert s.eval_interval == 100


def test_a_new_training_from_scratch_in_the_same_log_starts_a_fresh_history():
    lines = preamble() + progress_lines(0, 1300) + preamble() + progress_lines(0, 200, seed=4)
    s = model_from(lines).snapshot(1_001.0)
    assert s.generation == 1 and s.restarts == 1
    assert s.iteration == 200 and s.best_val_loss == pytest.approx(11.55, abs=0.01)  # the new run's eval at 0
    assert s.evals == 4  # counters carry on
    assert s.eval_overhead_provisional  # the old run's measured evals no longer count


def test_a_resume_keeps_the_generation():
    lines = preamble() + progress_lines(0, 600) + ["Resuming training from out-small"] + progress_lines(500, 700)
    assert model_from(lines).snapshot(1_001.0).generation == 0


def _printed_to_1000(max_iters):
    """A run logged every 5 iterations whose last line so far is iter 1000, and the clock then."""
    config_text = f"eval_interval = 500\neval_iters = 20\nlog_interval = 5\nmax_iters = {max_iters}\n"
    model = RunModel("t", "train.log")
    model.log_present = True
    clock = 0.0
    for line in preamble(config_text) + progress_lines(0, 1000, log_interval=5):
        clock += 0.85 if line.startswith("iter") else 0.0
        model.feed_line(line, clock)
    return model, clock


def test_silence_after_the_last_printed_iteration_before_max_iters_is_a_finish_not_a_stall():
    """max_iters 1003 with a log every 5 iterations: the trainer prints iter 1000 and exits."""
    model, clock = _printed_to_1000(1003)
    running = model.snapshot(clock + 1)
    assert running.state == "running" and running.iteration == 1000
    assert model.snapshot(clock + running.progress_timeout_seconds + 1).state == "finished"


def test_silence_short_of_the_last_printed_iteration_is_still_a_stall():
    model, clock = _printed_to_1000(1005)
    timeout = model.snapshot(clock).progress_timeout_seconds
    assert model.snapshot(clock + timeout + 1).state == "stalled"  # iter 1005 was due and never came


def test_the_trainers_process_ending_near_max_iters_is_a_finish():
    model, clock = _printed_to_1000(1003)
    model.trainer_ended()
    s = model.snapshot(clock + 1)
    assert s.state == "finished" and s.errors.get("process_gone", 0) == 0


def test_the_trainers_process_ending_short_of_max_iters_is_a_crash_at_once():
    model, clock = _printed_to_1000(5000)
    model.trainer_ended()
    s = model.snapshot(clock + 1)
    assert s.state == "crashed" and s.errors["process_gone"] == 1


def test_a_nan_run_whose_process_ends_stays_a_nan_crash_not_a_second_kind():
    model, clock = _printed_to_1000(5000)
    model.feed_line("iter 1005: loss nan, time 170.00ms, mfu 30.00%", clock + 1)
    model.trainer_ended()
    s = model.snapshot(clock + 2)
    assert s.state == "crashed" and not s.loss_finite and s.errors.get("process_gone", 0) == 0


def test_a_run_the_user_stopped_is_interrupted_even_with_the_traceback_ctrl_c_prints():
    model, clock = _printed_to_1000(5000)
    model.feed_lines(["Traceback (most recent call last):", "KeyboardInterrupt"], clock + 1)
    model.trainer_ended(interrupted=True)
    s = model.snapshot(clock + 2)
    assert s.state == "interrupted" and s.errors.get("process_gone", 0) == 0


@pytest.mark.parametrize(("returncode", "state", "kind"), [
    (-9, "crashed", "killed"), (1, "crashed", "exited"), (None, "crashed", "process_gone"), (0, "finished", None),
])
def test_how_the_trainers_process_ended_short_of_max_iters(returncode, state, kind):
    model, clock = _printed_to_1000(5000)
    model.trainer_ended(returncode=returncode)
    s = model.snapshot(clock + 1)
    assert s.state == state
    assert {k for k, n in s.errors.items() if n} == ({kind} if kind else set())
    assert s.reason == {-9: "the trainer was killed by SIGKILL", 1: "the trainer exited with status 1",
                        None: "the trainer's process is gone (its exit status not known)",
                        0: "finished at iteration 1,000"}[returncode]


def test_a_crash_reads_as_its_tracebacks_last_line_and_a_stall_as_its_silence():
    model, clock = _printed_to_1000(5000)
    model.feed_lines(["Traceback (most recent call last):", '  File "train.py", line 3, in <module>'], clock + 1)
    assert model.snapshot(clock + 2).reason == "a Python traceback"
    model.feed_line("RuntimeError: CUDA error: an illegal memory access was encountered", clock + 2)
    s = model.snapshot(clock + 3)
    assert s.state == "crashed" and s.reason == "RuntimeError: CUDA error: an illegal memory access was encountered"
    stalled, clock = _printed_to_1000(5000)
    s = stalled.snapshot(clock + 14 * 60)
    assert s.state == "stalled" and s.reason == f"no progress for 14 min (timeout {duration(s.progress_timeout_seconds)})"
    assert model_from([]).snapshot(1_001.0).reason in ("waiting for the log train.log",
                                                       "the log is there; no progress line yet")


def test_an_error_line_outside_a_traceback_crashes_nothing():
    model, clock = _printed_to_1000(5000)
    model.feed_line("ValueError: a warning the trainer printed", clock + 1)
    assert model.snapshot(clock + 2).state == "running"


def test_an_iteration_time_of_zero_never_breaks_the_snapshot():  # an unmeasured step: no ETA, not 0
    model = RunModel("zero")
    model.feed_lines(["iter 0: loss 3.2871, time 170.42ms, mfu 31.52%"]
                     + [f"iter {i}: loss 3.2871, time 0ms, mfu 31.52%" for i in range(5, 400, 5)], None)
    snapshot = model.snapshot(0.0)
    assert snapshot.iteration == 395 and snapshot.eta_seconds is None


@pytest.mark.parametrize("lines", [
    # a frame quoting the exception, then the exception's own line
    ["Traceback (most recent call last):", '  File "train.py", line 300, in <module>',
     '    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")',
     "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"],
    # a chained exception: two tracebacks, both naming the OOM
    ["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory.", "",
     "The above exception was the direct cause of the following exception:", "",
     "Traceback (most recent call last):",
     "torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised: OutOfMemoryError: CUDA out of memory."],
    # two ranks printing the same OOM
    ["[rank0]: torch.OutOfMemoryError: CUDA out of memory.", "[rank1]: torch.OutOfMemoryError: CUDA out of memory."],
])
def test_one_oom_is_one_error_however_many_lines_name_it(lines):
    model, clock = _printed_to_1000(5000)
    model.feed_lines(lines, clock + 1)
    s = model.snapshot(clock + 2)
    assert s.state == "crashed" and s.errors["oom"] == 1 and s.errors["traceback"] <= 1


def test_a_crash_after_the_run_went_on_again_is_counted_again():
    model, clock = _printed_to_1000(5000)
    for step in range(2):
        model.feed_lines(["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory."],
                         clock + 1 + step)
        model.feed_line(f"iter {1005 + 5 * step}: loss 3.0000, time 170.00ms, mfu 30.00%", clock + 1.5 + step)
    assert model.snapshot(clock + 3).errors == {"oom": 2, "traceback": 2}


def test_what_an_interrupt_makes_the_trainer_print_is_no_crash_while_it_stops():
    model, clock = _printed_to_1000(5000)
    model.stopping = True  # the run wrapper forwarded Ctrl-C and the trainer does not ignore it
    model.feed_lines(["Traceback (most recent call last):", "KeyboardInterrupt"], clock + 1)
    s = model.snapshot(clock + 1.5)
    assert s.state == "running" and s.errors["traceback"] == 0  # never a transient `crashed`
    model.trainer_ended(interrupted=True, returncode=-2)
    assert model.snapshot(clock + 2).state == "interrupted"


def test_an_interrupt_the_trainer_did_not_end_by_is_a_crash_when_another_signal_kills_it():
    model, clock = _printed_to_1000(5000)
    model.stopping = True
    model.trainer_ended(interrupted=False, returncode=-9)  # kill -9 after the interrupt
    s = model.snapshot(clock + 2)
    assert s.state == "crashed" and s.errors.get("killed") == 1
